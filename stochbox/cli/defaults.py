"""Option defaults the command modules show in ``--help``, without importing what they configure.

Contract: each constant equals the one named beside it (a test checks); they
live here so that building the CLI imports no scipy, matplotlib or langgraph
(``stochbox --help`` stays fast). Change the source constant and this one
together.
"""

PRESET_NAMES = ("stochbox", "unpredictabench", "unpredictabench-mc", "unpredictabench-v1")  # stochbox.evaluators.presets.PRESET_NAMES
DEFAULT_BOOTSTRAP = 9999  # stochbox.analysis.compare.DEFAULT_BOOTSTRAP
DEFAULT_M = 1000  # stochbox.analysis.fidelity.DEFAULT_M
DEFAULT_MAX_PROGRAMS = 20  # stochbox.analysis.fidelity.DEFAULT_MAX_PROGRAMS
DEFAULT_TRIALS = 200  # stochbox.analysis.calibration.DEFAULT_TRIALS
