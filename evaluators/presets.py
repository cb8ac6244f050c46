"""Pass rules (presets) by name.

* ``stochbox`` (default): the support-aware test of :mod:`.dispatch`; a
  scenario passes when p >= alpha (default 0.05) *and* all N samples are
  valid (missing or unparseable samples count against the model).
* ``unpredictabench``: the UnpredictaBench paper's current rule, for
  comparison with its numbers: the first N valid values, the count-based
  permutation KS (exact, :func:`.smirnov.ks_exact`) on finite supports and
  ``ks_2samp(method="exact")`` otherwise, pass when p > 1e-4.
* ``unpredictabench-mc``: the same with the paper's 10^6-draw Monte Carlo.
* ``unpredictabench-v1``: the paper's earlier rule: scipy's continuous
  two-sample KS on every support, on the first N valid values.

The three paper rules live in :mod:`.unpredictabench`. They are known to be
lenient (alpha = 1e-4; v1 far more so); reports state the preset beside
every number.
"""

from __future__ import annotations

from stochbox.errors import ConfigError
from stochbox.evaluators.models import Preset

STOCHBOX = "stochbox"
UNPREDICTABENCH = "unpredictabench"
UNPREDICTABENCH_MC = "unpredictabench-mc"
UNPREDICTABENCH_V1 = "unpredictabench-v1"
UNPREDICTABENCH_ALPHA = 1e-4
PAPER_PRESETS = (UNPREDICTABENCH, UNPREDICTABENCH_MC, UNPREDICTABENCH_V1)
PRESET_NAMES = (STOCHBOX, *PAPER_PRESETS)


def get_preset(name: str = STOCHBOX, alpha: float | None = None) -> Preset:
    """The named preset; ``alpha`` overrides the preset's default. ConfigError for a bad name or alpha."""
    if alpha is not None and not 0 < alpha < 1:
        raise ConfigError(f"alpha must be between 0 and 1, not {alpha}", hint="e.g. --alpha 0.05")
    if name == STOCHBOX:
        return Preset(name=STOCHBOX, alpha=0.05 if alpha is None else alpha)
    if name in PAPER_PRESETS:
        return Preset(name=name, alpha=UNPREDICTABENCH_ALPHA if alpha is None else alpha)
    raise ConfigError(f"unknown preset '{name}'", hint=f"choose one of: {', '.join(PRESET_NAMES)}")


def passes(pvalue: float, preset: Preset) -> bool:
    """The preset's pass rule: p >= alpha (stochbox) or p > alpha (the paper's presets, as published)."""
    if preset.name in PAPER_PRESETS:
        return pvalue > preset.alpha
    return pvalue >= preset.alpha
