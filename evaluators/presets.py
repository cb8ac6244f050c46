"""Pass rules (presets) by name.

* ``stochbox`` (default): the support-aware test of :mod:`.dispatch`; a
  scenario passes when p >= alpha (default 0.05) *and* all N samples are
  valid (missing or unparseable samples count against the model).
* ``unpredictabench``: the UnpredictaBench paper's rule, for comparison with
  its numbers: scipy's continuous two-sample KS on whatever valid values are
  among the first N (missing ones silently dropped), pass when p > 1e-4.
  Non-numeric answers are encoded as the paper did: labels as their index in
  the declared label list, orderings as their rank among all orderings of the
  items, vectors flattened. It is known to be far too lenient (a constant
  answerer passes often at small N); reports state the preset beside every
  number.
"""

from __future__ import annotations

from stochbox.errors import ConfigError
from stochbox.evaluators.models import Preset

STOCHBOX = "stochbox"
UNPREDICTABENCH = "unpredictabench"
UNPREDICTABENCH_ALPHA = 1e-4
PRESET_NAMES = (STOCHBOX, UNPREDICTABENCH)


def get_preset(name: str = STOCHBOX, alpha: float | None = None) -> Preset:
    """The named preset; ``alpha`` overrides the preset's default. ConfigError for a bad name or alpha."""
    if alpha is not None and not 0 < alpha < 1:
        raise ConfigError(f"alpha must be between 0 and 1, not {alpha}", hint="e.g. --alpha 0.05")
    if name == STOCHBOX:
        return Preset(name=STOCHBOX, alpha=0.05 if alpha is None else alpha)
    if name == UNPREDICTABENCH:
        return Preset(name=UNPREDICTABENCH, alpha=UNPREDICTABENCH_ALPHA if alpha is None else alpha)
    raise ConfigError(f"unknown preset '{name}'", hint=f"choose one of: {', '.join(PRESET_NAMES)}")


def passes(pvalue: float, preset: Preset) -> bool:
    """The preset's pass rule: p >= alpha (stochbox) or p > alpha (unpredictabench, as published)."""
    if preset.name == UNPREDICTABENCH:
        return pvalue > preset.alpha
    return pvalue >= preset.alpha
