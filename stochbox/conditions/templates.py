"""Prompt templates: the words every model is told, as data a researcher can vary and audit.

Contract:

* :class:`PromptTemplates` holds every text the agents send (native and tool
  system prompts, the user prompt, the answer instructions, the retry notes).
  Each template is a ``str.format`` string whose named fields stochbox fills
  in; :data:`TEMPLATE_FIELDS` lists the fields each template may use and
  :data:`REQUIRED_FIELDS` the ones it must use. A template with an unknown
  field, a missing required one, or attribute/index access is refused when
  the file is read, never when an episode renders it.
* The built-in defaults are the file ``default_prompts.yaml`` shipped in the
  package (:func:`default_templates_path`); ``stochbox prompts show-default``
  prints it. A templates file may leave any template out: it keeps the
  default one; the resolved set (all templates, full text) is what a run
  records in ``run.json``.
* :func:`load_prompt_templates` raises :class:`PromptTemplateError` (one line
  naming the file and the field) for any problem.
* ``digest`` identifies the text of a set (not its name): two runs whose
  digests are equal asked with identical words.
"""

from __future__ import annotations

import hashlib
import json
import string
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from stochbox.errors import ConfigError

DEFAULT_FILE = "default_prompts.yaml"

#: Fields each template may use (filled in by stochbox; see docs/models.md).
TEMPLATE_FIELDS: dict[str, frozenset[str]] = {
    "native_system": frozenset({"per_sample", "answer_instructions", "answer", "n", "key", "marker"}),
    "native_answer_json": frozenset({"key", "answer", "n"}),
    "native_answer_text": frozenset({"marker", "answer", "n", "example"}),
    "user": frozenset({"prompt"}),
    "user_batch": frozenset({"prompt", "n", "answer"}),
    "sandbox_facts": frozenset({"exec_timeout_s", "output_cap", "max_tool_calls", "max_model_calls"}),
    "tool_system": frozenset({"sandbox_facts", "tool_lines", "key", "answer", "n"}),
    "code_system": frozenset({"sandbox_facts", "functions", "marker", "answer", "example", "n"}),
    "last_turn": frozenset(),
    "submit_again": frozenset({"reason"}),
}

#: Fields a template must use: without them the model is not asked the scenario, or not told its tools.
REQUIRED_FIELDS: dict[str, frozenset[str]] = {
    "native_system": frozenset({"answer_instructions"}),
    "user": frozenset({"prompt"}),
    "user_batch": frozenset({"prompt"}),
    "tool_system": frozenset({"tool_lines"}),
}


class PromptTemplateError(ConfigError):
    """A prompt templates file is unreadable or invalid (the message names the file and the field)."""


def template_fields(text: str) -> list[str]:
    """The named fields of a ``str.format`` template, in order; raises ValueError for a malformed one."""
    names = []
    for _, name, _, _ in string.Formatter().parse(text):
        if name is None:
            continue
        if name == "" or name.isdigit():
            raise ValueError("positional fields ({} or {0}) are not allowed; name the field")
        if not name.isidentifier():
            raise ValueError(f"field '{{{name}}}' is not a plain name (no attributes or indexes)")
        names.append(name)
    return names


def check_template(key: str, text: str) -> None:
    """Raise ValueError when ``text`` is not a valid template for ``key``."""
    used = set(template_fields(text))
    unknown = sorted(used - TEMPLATE_FIELDS[key])
    if unknown:
        allowed = ", ".join(sorted(TEMPLATE_FIELDS[key])) or "none"
        raise ValueError(f"unknown field {{{unknown[0]}}} (this template may use: {allowed}; write a literal brace as {{{{ or }}}})")
    missing = sorted(REQUIRED_FIELDS.get(key, frozenset()) - used)
    if missing:
        raise ValueError(f"required field {{{missing[0]}}} is missing")


class PromptTemplates(BaseModel):
    """One complete prompt set. ``name`` labels it in reports; ``digest`` identifies its text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="default", min_length=1, max_length=128)
    source: str | None = None  # the file it was read from (None: built in)
    native_system: str
    native_answer_json: str
    native_answer_text: str
    user: str
    user_batch: str
    sandbox_facts: str
    tool_system: str
    code_system: str
    last_turn: str
    submit_again: str

    @model_validator(mode="after")
    def _valid_templates(self) -> "PromptTemplates":
        for key in TEMPLATE_FIELDS:
            check_template(key, getattr(self, key))
        return self

    @property
    def texts(self) -> dict[str, str]:
        return {key: getattr(self, key) for key in TEMPLATE_FIELDS}

    @property
    def digest(self) -> str:
        """First 12 hex digits of the SHA-256 of the templates' text (canonical JSON; name and source excluded)."""
        blob = json.dumps(self.texts, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def render(self, template: str, /, **fields: Any) -> str:
        """Template ``template`` filled with ``fields`` (fields it does not use are ignored)."""
        return getattr(self, template).format_map(fields)

    def label(self) -> str:
        return f"{self.name} ({self.digest})"


def default_templates_path() -> Path:
    return Path(__file__).with_name(DEFAULT_FILE)


@lru_cache(maxsize=1)
def default_templates() -> PromptTemplates:
    """The built-in templates (read once from :func:`default_templates_path`)."""
    data = yaml.safe_load(default_templates_path().read_text(encoding="utf-8"))
    return PromptTemplates.model_validate(data)


def templates_from_mapping(data: Any, *, source: str, default_name: str) -> PromptTemplates:
    """Templates from a parsed YAML mapping (missing templates keep the defaults); errors name ``source``."""
    if not isinstance(data, dict):
        raise PromptTemplateError(f"prompts file '{source}': expected a mapping of template names to text")
    allowed = {"name", *TEMPLATE_FIELDS}
    for key, value in data.items():
        if key not in allowed:
            raise PromptTemplateError(
                f"prompts file '{source}': unknown field '{key}'", hint=f"fields are: name, {', '.join(TEMPLATE_FIELDS)}"
            )
        if not isinstance(value, str):
            raise PromptTemplateError(f"prompts file '{source}': field '{key}' must be text, not {type(value).__name__}")
        if key in TEMPLATE_FIELDS:
            try:
                check_template(key, value)
            except ValueError as exc:
                raise PromptTemplateError(f"prompts file '{source}': field '{key}': {exc}") from None
    merged = {**default_templates().texts, "name": default_name, **data, "source": source}
    return PromptTemplates.model_validate(merged)


def read_yaml_file(path: Path, what: str, error: type[ConfigError] = ConfigError) -> Any:
    """The YAML document of ``path``; ``error`` with one line naming ``what`` (e.g. "prompts file") and the
    file when it cannot be read or is not YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{what} '{path}' cannot be read: {exc.strerror or exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise error(f"{what} '{path}' is not valid YAML: {first}") from None


def load_prompt_templates(path: Path | str) -> PromptTemplates:
    """Read a templates file (YAML); its name defaults to the file's stem."""
    path = Path(path).expanduser()
    data = read_yaml_file(path, "prompts file", PromptTemplateError)
    return templates_from_mapping(data, source=str(path.resolve()), default_name=path.stem)
