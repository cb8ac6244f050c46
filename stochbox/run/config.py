"""Run configuration: every option of ``stochbox run``, validated once.

Contract: :class:`RunConfig` is the whole description of a run. It is saved
in ``run.json`` and ``stochbox run --resume DIR`` rebuilds the run from it
alone, so everything that changes *results* lives here. Fields in
:data:`RUNTIME_FIELDS` change only *how* a run executes (sandbox backend,
concurrency, cache folder); they may differ on resume. ``from_options``
turns command-line values into a config or raises :class:`ConfigError`
naming the option; pydantic errors never escape to the user.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from stochbox.agents.base import AgentLimits, AgentOptions
from stochbox.conditions import Condition, ResolvedCondition, StructuredOutputChoice, effective_conditions
from stochbox.errors import ConfigError
from stochbox.run.executors.registry import EXECUTOR_OPTIONS, EXECUTORS, executor_needed
from stochbox.conditions.templates import PromptTemplates
from stochbox.results import Mode, Protocol
from stochbox.sandbox.base import known_backend

#: Fields that may change on ``--resume`` without changing any result.
RUNTIME_FIELDS = frozenset({"sandbox", "concurrency", "jobs", "cache_dir", "max_connections", "executor", "ray_address", "workers"})

#: Command-line spelling of each field, for error messages.
OPTION_NAMES = {
    "models": "--model",
    "packs": "--pack",
    "scenarios": "--scenario",
    "modes": "--mode",
    "n": "--n",
    "protocol": "--protocol",
    "seed": "--seed",
    "reference_n": "--reference-n",
    "alpha": "--alpha",
    "preset": "--preset",
    "tool_protocol": "--tool-protocol",
    "base_url": "--base-url",
    "api_key_env": "--api-key-env",
    "threads": "--threads",
    "temperature": "--temperature",
    "max_tokens": "--max-tokens",
    "openai_client": "--openai-client",
    "prompts": "--prompts",
    "structured_output": "--structured-output",
    "model_options": "--model-option",
    "conditions": "--condition",
    "max_model_calls": "--max-model-calls",
    "max_tool_calls": "--max-tool-calls",
    "exec_timeout_s": "--exec-timeout",
    "episode_timeout_s": "--episode-timeout",
    "max_retries": "--max-retries",
    "request_timeout_s": "--request-timeout",
    "max_connections": "--max-connections",
    "executor": "--executor",
    "ray_address": "--ray-address",
    "workers": "--workers",
    "sandbox": "--sandbox",
    "concurrency": "--concurrency",
    "jobs": "--jobs",
    "cache_dir": "--cache-dir",
}


class RunConfig(BaseModel):
    """Everything ``stochbox run`` was asked to do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: list[str] = Field(min_length=1)
    packs: list[str] | None = None  # built-in names or absolute folder paths; None = all built-in
    scenarios: list[str] | None = None  # None = every scenario of the packs
    modes: list[Mode] = Field(default_factory=lambda: [Mode.native], min_length=1)
    n: int = Field(default=100, ge=1, le=1_000_000)
    protocol: Protocol = Protocol.independent
    seed: int = Field(default=0, ge=0, lt=2**63)
    reference_n: int = Field(default=10_000, ge=1, le=10_000_000)
    alpha: float | None = Field(default=None, gt=0, lt=1)  # None: the preset's default
    preset: Literal["stochbox", "unpredictabench", "unpredictabench-mc", "unpredictabench-v1"] = "stochbox"
    # agent options
    tool_protocol: Literal["auto", "functions", "code"] = "auto"
    base_url: str | None = None
    api_key_env: str | None = None  # the variable's *name*; the key itself is never stored
    threads: int = Field(default=1, ge=1, le=256)
    temperature: float | None = Field(default=None, ge=0, le=2)  # None: the model's own default
    max_tokens: int | None = Field(default=None, ge=1)  # per model reply; None: the model's own default
    openai_client: Literal["stochbox", "langchain"] = "stochbox"  # the HTTP client behind openai: models
    # experiment conditions (stochbox.conditions): templates are kept as full text, so run.json says what was sent
    prompts: PromptTemplates | None = None  # None: each scenario pack's templates, else the built-in defaults
    structured_output: StructuredOutputChoice = "auto"  # off: no response_format; the reply is parsed from text
    model_options: dict[str, Any] = Field(default_factory=dict)  # extra provider request fields
    conditions: list[Condition] = Field(default_factory=list)  # named conditions, paired by episode seed
    max_model_calls: int = Field(default=8, ge=1)
    max_tool_calls: int = Field(default=6, ge=0)
    exec_timeout_s: float = Field(default=10.0, gt=0)
    episode_timeout_s: float = Field(default=300.0, gt=0)
    max_retries: int = Field(default=6, ge=0, le=100)  # per model call, on 429/5xx/timeouts (stochbox.agents.retry)
    request_timeout_s: float | None = Field(default=None, gt=0)  # per model-call attempt
    # runtime only (see RUNTIME_FIELDS)
    sandbox: str = "auto"  # a name of stochbox.sandbox.base.SANDBOXES, or auto
    concurrency: int = Field(default=8, ge=1, le=4096)
    jobs: int = Field(default=2, ge=1, le=256)  # concurrent ground-truth executions
    cache_dir: str | None = None
    max_connections: int | None = Field(default=None, ge=1, le=4096)  # per provider (stochbox.agents.limiter)
    executor: str = "local"  # where episodes run: a name of stochbox.run.executors.registry.EXECUTORS
    ray_address: str | None = None  # None with --executor ray: a local Ray cluster
    workers: int | None = Field(default=None, ge=1, le=256)  # --executor processes; None: one per CPU

    @field_validator("models")
    @classmethod
    def _distinct_models(cls, models: list[str]) -> list[str]:
        if len(set(models)) != len(models):
            raise ValueError("each model may be given once")
        if any(not m.strip() for m in models):
            raise ValueError("model strings must not be empty")
        return models

    @field_validator("sandbox")
    @classmethod
    def _known_sandbox(cls, name: str) -> str:
        return known_backend(name)

    @field_validator("executor")
    @classmethod
    def _known_executor(cls, name: str) -> str:
        if name not in EXECUTORS:
            raise ValueError(f"must be one of {', '.join(EXECUTORS.names())}")
        return name

    @field_validator(*EXECUTOR_OPTIONS)
    @classmethod
    def _option_of_the_executor(cls, value: Any, info: ValidationInfo) -> Any:
        if owner := executor_needed(info.field_name, value, info.data.get("executor", "local")):
            raise ValueError(f"needs --executor {owner}")
        return value

    @field_validator("conditions")
    @classmethod
    def _distinct_conditions(cls, conditions: list[Condition]) -> list[Condition]:
        names = [c.name for c in conditions]
        if len(set(names)) != len(names):
            raise ValueError("each condition name may be given once")
        return conditions

    def effective_conditions(self) -> list[ResolvedCondition]:
        """The run's conditions (one implicit condition named None without --condition)."""
        return effective_conditions(
            prompts=self.prompts, structured_output=self.structured_output,
            model_options=self.model_options, conditions=self.conditions,
        )

    @field_validator("modes")
    @classmethod
    def _distinct_modes(cls, modes: list[Mode]) -> list[Mode]:
        return sorted(set(modes), key=[Mode.native, Mode.tool].index)

    @property
    def samples_per_episode(self) -> int:
        return 1 if self.protocol is Protocol.independent else self.n

    @property
    def episodes_per_scenario(self) -> int:
        """Episodes per (model, mode, condition, scenario)."""
        return self.n if self.protocol is Protocol.independent else 1

    def agent_options(self) -> AgentOptions:
        return AgentOptions(
            tool_protocol=self.tool_protocol,
            base_url=self.base_url,
            api_key_env=self.api_key_env,
            threads=self.threads,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            openai_client=self.openai_client,
            limits=AgentLimits(
                max_model_calls=self.max_model_calls,
                max_tool_calls=self.max_tool_calls,
                exec_timeout_s=self.exec_timeout_s,
                episode_timeout_s=self.episode_timeout_s,
                max_retries=self.max_retries,
                request_timeout_s=self.request_timeout_s,
                max_connections=self.max_connections,
            ),
        )

    @classmethod
    def from_options(cls, **options: Any) -> "RunConfig":
        """Build from command-line values; ``None`` means "not given" (use the default)."""
        given = {k: v for k, v in options.items() if v is not None}
        if "mode" in given:
            given["modes"] = parse_mode(given.pop("mode"))
        if given.get("packs"):
            given["packs"] = [normalise_pack(p) for p in given["packs"]]
        return validate_config(cls, given)


def parse_mode(mode: str) -> list[Mode]:
    """``native`` | ``tool`` | ``both`` -> the modes to run."""
    if mode == "both":
        return [Mode.native, Mode.tool]
    try:
        return [Mode(mode)]
    except ValueError:
        raise ConfigError(f"--mode must be native, tool or both, not '{mode}'") from None


def normalise_pack(pack: str) -> str:
    """Folder paths become absolute (so ``--resume`` works from anywhere); names stay names."""
    path = Path(pack).expanduser()
    if os.sep in pack or pack.startswith(".") or (path.is_dir() and (path / "pack.yaml").is_file()):
        return str(path.resolve())
    return pack


def validate_config(model: type[BaseModel], values: dict[str, Any]) -> Any:
    """Validate ``values`` into ``model``; the first problem becomes a one-line ConfigError."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        option = OPTION_NAMES.get(field, field)
        got = err.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        raise ConfigError(f"{option}: {err['msg']}{shown}") from None


class TruthConfig(BaseModel):
    """Options of ``stochbox truth``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    packs: list[str] | None = None
    scenarios: list[str] | None = None
    n: int = Field(default=10_000, ge=1, le=10_000_000)
    seed: int = Field(default=0, ge=0, lt=2**63)
    cache_dir: str | None = None
    sandbox: str = "auto"  # a name of stochbox.sandbox.base.SANDBOXES, or auto
    jobs: int = Field(default=2, ge=1, le=256)

    @field_validator("sandbox")
    @classmethod
    def _known_sandbox(cls, name: str) -> str:
        return known_backend(name)

    @classmethod
    def from_options(cls, **options: Any) -> "TruthConfig":
        given = {k: v for k, v in options.items() if v is not None}
        if given.get("packs"):
            given["packs"] = [normalise_pack(p) for p in given["packs"]]
        return validate_config(cls, given)
