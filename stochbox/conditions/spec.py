"""Experiment conditions: what a run varies besides the model and the mode.

A condition is a named set of (prompt templates, structured output, provider
options). ``stochbox run`` takes the run-wide settings (``--prompts``,
``--structured-output``, ``--model-option``) and, optionally, named
conditions (``--condition NAME=FILE``) that override them. Every condition
runs every (model, scenario, index, mode), with the same episode seed, so
conditions pair episode by episode exactly as native and tool do.

Contract:

* :class:`Condition` is what ``run.json`` keeps per condition (templates as
  full text). :func:`effective_conditions` turns a config's run-wide settings
  and conditions into :class:`ResolvedCondition` objects, one per condition;
  a run without ``--condition`` has one implicit condition named ``None``
  (old runs read the same way).
* Episode ids and arm labels: with a named condition ``C`` an episode of mode
  ``M`` is ``<model>/<M>@<C>/<scenario>/<index>`` and its arm is
  ``(model, "M@C")`` (:func:`arm_mode`); without conditions both are
  unchanged, so old runs keep their ids.
* A condition file (YAML) holds ``prompts`` (a templates file, relative to the
  condition file, or an inline mapping of templates), ``structured_output``
  and ``model_options``; a plain templates file is also accepted as a
  condition (prompts only). Errors are one line naming the file and field.
* :func:`parse_model_option` reads ``KEY=VALUE``: VALUE as JSON when it
  parses (``0.9``, ``true``, ``{"a": 1}``), else as a string.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from stochbox.errors import ConfigError
from stochbox.conditions.templates import (
    TEMPLATE_FIELDS,
    PromptTemplateError,
    PromptTemplates,
    default_templates,
    load_prompt_templates,
    read_yaml_file,
    templates_from_mapping,
)

StructuredOutputChoice = Literal["auto", "off"]
CONDITION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: Request fields stochbox sets itself; a --model-option may not replace them (they are recorded elsewhere).
RESERVED_OPTIONS = frozenset(
    {"model", "messages", "tools", "tool_choice", "response_format", "stream", "n", "seed", "temperature", "max_tokens"}
)


class Condition(BaseModel):
    """A named condition as given (``None`` fields: the run-wide setting)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=CONDITION_NAME.pattern)
    source: str | None = None  # the condition file
    prompts: PromptTemplates | None = None
    structured_output: StructuredOutputChoice | None = None
    model_options: dict[str, Any] = Field(default_factory=dict)


class ResolvedCondition(BaseModel):
    """What one condition's episodes run with. ``prompts`` None: the scenario pack's templates, else the defaults."""

    model_config = ConfigDict(frozen=True)

    name: str | None
    prompts: PromptTemplates | None = None
    structured_output: StructuredOutputChoice = "auto"
    model_options: dict[str, Any] = Field(default_factory=dict)
    #: The built-in templates as recorded in run.json when the run was created (None: this version's).
    default_prompts: PromptTemplates | None = None

    @property
    def fallback_prompts(self) -> PromptTemplates:
        return self.default_prompts or default_templates()

    def describe(self, scenarios: list[Any] = ()) -> dict[str, Any]:
        """The condition as reports show it (deterministic: no paths, no times). ``prompts``: the label
        (name and digest) of every template set its episodes use: its own, else each scenario pack's
        (``scenarios``, the run's frozen copies), else the built-in defaults."""
        if self.prompts is not None:
            used = [self.prompts.label()]
        else:
            fallback = self.fallback_prompts.label()
            used = sorted({sc.prompts.label() if sc.prompts is not None else fallback for sc in scenarios}) or [fallback]
        return {
            "condition": self.name,
            "prompts": used,
            "structured_output": self.structured_output,
            "model_options": dict(sorted(self.model_options.items())),
        }


def arm_mode(mode: str, condition: str | None) -> str:
    """The mode label of an arm: ``native`` or, in a named condition, ``native@hint``."""
    return mode if condition is None else f"{mode}@{condition}"


def split_arm_mode(label: str) -> tuple[str, str | None]:
    """Inverse of :func:`arm_mode`: ``native@hint`` -> (``native``, ``hint``)."""
    mode, _, condition = label.partition("@")
    return mode, condition or None


def effective_conditions(
    *,
    prompts: PromptTemplates | None,
    structured_output: StructuredOutputChoice,
    model_options: dict[str, Any],
    conditions: list[Condition],
) -> list[ResolvedCondition]:
    """The run's conditions in order: each named one over the run-wide settings, or the one implicit condition."""
    if not conditions:
        return [ResolvedCondition(name=None, prompts=prompts, structured_output=structured_output, model_options=model_options)]
    return [
        ResolvedCondition(
            name=c.name,
            prompts=c.prompts if c.prompts is not None else prompts,
            structured_output=c.structured_output or structured_output,
            model_options={**model_options, **c.model_options},
        )
        for c in conditions
    ]


def run_conditions(info: Any) -> list[ResolvedCondition]:
    """The conditions of a run (a :class:`~stochbox.run.runinfo.RunInfo`), with the built-in templates it recorded."""
    recorded = getattr(info, "default_prompts", None)
    return [c.model_copy(update={"default_prompts": recorded}) for c in info.config.effective_conditions()]


def parse_model_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> (key, value); VALUE is JSON when it parses, else the string itself."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--model-option '{text}': expected KEY=VALUE (e.g. top_p=0.9)")
    check_option_key(key, "--model-option")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key, value


def check_option_key(key: str, where: str) -> None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key):
        raise ConfigError(f"{where} '{key}': option names are words like top_p or reasoning_effort")
    if key in RESERVED_OPTIONS:
        raise ConfigError(
            f"{where} '{key}': stochbox sets this request field itself",
            hint="use --temperature/--max-tokens; --structured-output decides response_format; seeds derive from the episode seed",
        )


def parse_model_options(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, value = parse_model_option(item)
        out[key] = value
    return out


def load_condition(name: str, path: Path | str) -> Condition:
    """Read ``--condition NAME=FILE``: a condition file, or a templates file (prompts only)."""
    if not CONDITION_NAME.fullmatch(name):
        raise ConfigError(f"--condition '{name}': names are letters, digits, '_', '.', '-' (at most 64, e.g. hint)")
    path = Path(path).expanduser()
    source = str(path.resolve())
    data = read_yaml_file(path, "condition file")
    if not isinstance(data, dict):
        raise ConfigError(f"condition file '{path}': expected a mapping (prompts, structured_output, model_options)")
    condition_keys = {"prompts", "structured_output", "model_options"}
    if any(k in TEMPLATE_FIELDS for k in data) and not (condition_keys & set(data)):
        return Condition(name=name, source=source, prompts=templates_from_mapping(data, source=source, default_name=path.stem))
    for key in data:
        if key not in condition_keys:
            raise ConfigError(
                f"condition file '{path}': unknown field '{key}'",
                hint="fields are prompts, structured_output, model_options (or give a prompt templates file)",
            )
    prompts = data.get("prompts")
    if isinstance(prompts, str):
        try:
            templates: PromptTemplates | None = load_prompt_templates(path.parent / prompts)
        except PromptTemplateError as exc:
            raise PromptTemplateError(f"condition file '{path}': field 'prompts': {exc.message}", hint=exc.hint) from None
    elif isinstance(prompts, dict):
        templates = templates_from_mapping(prompts, source=f"{source}#prompts", default_name=name)
    elif prompts is None:
        templates = None
    else:
        raise ConfigError(f"condition file '{path}': field 'prompts' must be a file name or a mapping of templates")
    structured = data.get("structured_output")
    if structured is False:  # YAML reads a bare `off` as false
        structured = "off"
    if structured not in (None, "auto", "off"):
        raise ConfigError(f"condition file '{path}': field 'structured_output' must be auto or off, not {structured!r}")
    options = data.get("model_options") or {}
    if not isinstance(options, dict):
        raise ConfigError(f"condition file '{path}': field 'model_options' must be a mapping (e.g. {{top_p: 0.9}})")
    for key in options:
        check_option_key(str(key), f"condition file '{path}': model_options")
    return Condition(name=name, source=source, prompts=templates, structured_output=structured, model_options=options)


def parse_condition(text: str) -> Condition:
    """``NAME=FILE`` from the command line."""
    name, sep, file = text.partition("=")
    if not sep or not name.strip() or not file.strip():
        raise ConfigError(f"--condition '{text}': expected NAME=FILE (e.g. hint=prompts/hint.yaml)")
    return load_condition(name.strip(), file.strip())


__all__ = [
    "Condition",
    "ModelOptionError",
    "PromptTemplateError",
    "ResolvedCondition",
    "arm_mode",
    "effective_conditions",
    "load_condition",
    "parse_condition",
    "parse_model_option",
    "parse_model_options",
    "split_arm_mode",
]


class ModelOptionError(ConfigError):
    """The provider refused a request because of a ``--model-option`` (a configuration mistake: the run stops)."""


def rejected_option(exc: BaseException, options: dict[str, Any]) -> str | None:
    """The ``--model-option`` key a provider error (HTTP 400/422) names, if any.

    A 400 that names none of the options (a prompt too long, say) is an
    ordinary episode failure; one that names an option would fail every
    episode the same way, so the caller raises :class:`ModelOptionError`."""
    if not options:
        return None
    status = getattr(exc, "status_code", None)
    if status is None:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
    if status not in (400, 422):
        return None
    text = str(exc)
    for key in options:
        if re.search(rf"(?<![A-Za-z0-9_]){re.escape(key)}(?![A-Za-z0-9_])", text):
            return key
    return None


def option_error(exc: BaseException, key: str, condition: str | None) -> ModelOptionError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    where = f" (condition {condition})" if condition else ""
    return ModelOptionError(
        f"the provider rejected --model-option {key}{where}: {first}",
        hint="drop or rename the option; the run's finished episodes are kept",
    )
