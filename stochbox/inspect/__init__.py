"""stochbox for Inspect (``pip install 'stochbox[inspect]'``; registered through Inspect's
``inspect_ai`` entry point group, so nothing needs importing by hand).

Public surface::

    from stochbox.inspect import (
        sampling,                                        # the task: inspect eval stochbox/sampling -T pack=canonical -T n=20
        sample_answer, ks_at_n, scenario_pvalues,        # its scorer and metrics (stochbox's parser and tests)
        StochboxSandboxEnvironment, StochboxSandboxConfig,  # sandbox="stochbox" in any Inspect task
        write_inspect_log,                               # a stochbox run folder as an Inspect .eval log
    )

Needs ``inspect-ai`` (the ``inspect`` extra); importing without it raises
:class:`~stochbox.errors.MissingExtraError`.
"""

from stochbox.errors import MissingExtraError

try:
    import inspect_ai  # noqa: F401
except ImportError:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("stochbox.inspect", "inspect") from None

from stochbox.inspect.eval_log import run_to_eval_log, write_inspect_log
from stochbox.inspect.sandbox_env import StochboxSandboxConfig, StochboxSandboxEnvironment
from stochbox.inspect.scoring import ks_at_n, sample_answer, scenario_pvalues
from stochbox.inspect.task import sampling

__all__ = [
    "StochboxSandboxConfig",
    "StochboxSandboxEnvironment",
    "ks_at_n",
    "run_to_eval_log",
    "sample_answer",
    "sampling",
    "scenario_pvalues",
    "write_inspect_log",
]
