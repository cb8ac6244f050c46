"""Inspect's entry point (group ``inspect_ai``, name ``stochbox``): importing this registers
the ``stochbox/sampling`` task, its scorer and metrics, and the ``stochbox`` sandbox."""

# ruff: noqa: F401
from stochbox.inspect.sandbox_env import StochboxSandboxEnvironment
from stochbox.inspect.scoring import ks_at_n, sample_answer, scenario_pvalues
from stochbox.inspect.task import sampling
