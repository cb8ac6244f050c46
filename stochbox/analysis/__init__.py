"""Run-level analysis: load run folders, evaluate, compare, calibrate, render reports.

Public surface::

    from stochbox.analysis import (
        load_run,                  # a run folder, laid out for the evaluators
        compare_runs,              # paired native-vs-tool (or model-vs-model) statistics
        calibrate,                 # how often each test rejects a correct sampler
        program_fidelity,          # re-run agents' programs against the reference
    )
    from stochbox.analysis.report import build_report, print_report     # ``stochbox report``
    from stochbox.analysis.html_report import write_html_report         # one static HTML file (matplotlib)

The statistics themselves are :mod:`stochbox.evaluators` (pure functions of
samples). The HTML report and its plots load matplotlib, so they are imported
from their modules, not from here: the text report never loads it.
"""

from stochbox.analysis.calibration import calibrate
from stochbox.analysis.compare import compare_runs
from stochbox.analysis.fidelity import program_fidelity
from stochbox.analysis.runs import load_run

__all__ = ["calibrate", "compare_runs", "load_run", "program_fidelity"]
