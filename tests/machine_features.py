"""The rule for tests that need a machine feature (Docker engine, bubblewrap jail, the llama extra, Chromium, R).

A missing feature skips the test -- unless the matching ``STOCHBOX_REQUIRE_*=1``
variable is set (as ``.ci/run`` does), in which case its absence is a failure,
so CI cannot pass by skipping. Test files import this module by name
(``from machine_features import require_or_skip``: pytest puts ``tests/`` on
``sys.path`` because the root ``tests/conftest.py`` is not inside a package),
not the root conftest.
"""

from __future__ import annotations

import os

import pytest


def require_or_skip(flag: str, available: bool, why: str) -> None:
    """Return when ``available``; else fail if ``flag`` is ``1`` in the environment, skip otherwise."""
    if available:
        return
    if os.environ.get(flag) == "1":
        pytest.fail(f"{why} but {flag}=1 makes it mandatory")
    pytest.skip(why)
