"""Run-level analysis: load run folders, evaluate, compare, calibrate, render reports.

Public surface::

    from stochbox.analysis import (
        load_run,                  # a run folder, laid out for the evaluators
        compare_runs,              # paired native-vs-tool (or model-vs-model) statistics
        calibrate,                 # how often each test rejects a correct sampler
        program_fidelity,          # re-run agents' programs against the reference
        write_html_report,         # one static HTML file for run folders
    )

The statistics themselves are :mod:`stochbox.evaluators` (pure functions of samples);
``stochbox report`` is :mod:`stochbox.analysis.report`.
"""

from stochbox.analysis.calibration import calibrate
from stochbox.analysis.compare import compare_runs
from stochbox.analysis.fidelity import program_fidelity
from stochbox.analysis.html_report import write_html_report
from stochbox.analysis.runs import load_run

__all__ = ["calibrate", "compare_runs", "load_run", "program_fidelity", "write_html_report"]
