"""``run.json``: what a run was asked to do and with what software.

Contract: :class:`RunInfo` is written once when a run folder is created
(atomically) and read back by ``--resume``, ``report`` and audit tools. It
holds the full :class:`~stochbox.run.config.RunConfig`, a frozen copy of every
scenario the run uses (so a later edit of a pack cannot silently change a
resumed run or its report), where each scenario's reference lives in the
truth cache, which scenarios were left out because their ground truth failed
(:mod:`stochbox.reference.exclusions`; not in ``scenarios``), versions of stochbox and its key dependencies, the agents'
and the sandbox's self-descriptions, and the creation time. It never holds
secrets: API keys are referenced by variable name only.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stochbox.run.config import RunConfig
from stochbox.conditions.templates import PromptTemplates
from stochbox.errors import RunStoreError
from stochbox.reference.exclusions import ExcludedScenario
from stochbox.reference.cache import ReferenceRef, atomic_write
from stochbox.scenarios.models import Scenario

RUN_FILE = "run.json"
SCHEMA_VERSION = 1
TRACKED_PACKAGES = ("stochbox", "langgraph", "langchain-core", "numpy", "scipy", "pydantic", "structlog")


def package_versions() -> dict[str, str | None]:
    """Installed versions of stochbox and the libraries that shape its results (None: not installed)."""
    out: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def new_run_id() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


class RunInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    run_id: str
    created_at: str
    config: RunConfig
    seed: int
    models: list[dict[str, Any]]  # each agent's describe()
    sandbox: dict[str, Any]  # Sandbox.describe() at creation
    versions: dict[str, str | None] = Field(default_factory=package_versions)
    scenarios: list[Scenario]  # frozen copies, in run order
    references: list[ReferenceRef]  # one per scenario, same order
    excluded: list[ExcludedScenario] = Field(default_factory=list)  # left out: their ground truth failed
    resumed_at: list[str] = Field(default_factory=list)
    #: The built-in prompt templates when the run was created (its episodes without --prompts, a condition's
    #: or a pack's templates use these, also on --resume with a later stochbox); None in older runs.
    default_prompts: PromptTemplates | None = None

    def reference_for(self, scenario_id: str) -> ReferenceRef:
        return next(r for r in self.references if r.scenario == scenario_id)


def write_run_info(run_dir: Path | str, info: RunInfo) -> None:
    atomic_write(Path(run_dir) / RUN_FILE, (info.model_dump_json(indent=2) + "\n").encode())


def read_run_info(run_dir: Path | str) -> RunInfo:
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise RunStoreError(f"{path} not found", hint="give a folder made by 'stochbox run --out'")
    try:
        return RunInfo.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise RunStoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"]))
        raise RunStoreError(f"{path}: field '{where}': {err['msg']}", hint="was it written by another stochbox version?") from None
