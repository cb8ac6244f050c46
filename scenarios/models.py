"""Pydantic models of scenario packs: the on-disk format, validated.

A pack is a folder with ``pack.yaml`` (:class:`PackManifest`) and one YAML file
per scenario (:class:`Scenario`). These models are the *only* definition of the
format; docs and error messages are derived from them.

Contract for ground-truth programs (:class:`GroundTruth`):

* ``batch: false`` -- one execution prints one sample as JSON on its last
  non-empty stdout line.
* ``batch: true`` -- the program finds an int ``N`` in its globals and prints
  a JSON list of ``N`` samples on its last non-empty stdout line.

Programs take their randomness from ``random`` / ``numpy.random`` (the sandbox
seeds both per execution); they must not seed themselves.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator, model_validator

from stochbox.conditions.templates import PromptTemplates

SCENARIO_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,127}$"


class Kind(StrEnum):
    canonical = "canonical"
    program = "program"
    narrative = "narrative"


class Support(StrEnum):
    continuous = "continuous"
    discrete = "discrete"
    categorical = "categorical"
    multivariate = "multivariate"
    permutation = "permutation"


class AnswerType(StrEnum):
    number = "number"  # one real number
    integer = "integer"  # one integer
    label = "label"  # one label from ``labels``
    vector = "vector"  # a list of ``dim`` numbers (or integers, see ``element``)
    list = "list"  # an ordering of ``items`` (permutations)


def item_key(value: Any) -> tuple[str, Any]:
    """How permutation items compare: numbers by value (``3`` is ``3.0``), strings stripped, others as they are."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return ("number", float(value))
    if isinstance(value, str):
        return ("text", value.strip())
    return ("other", value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnswerFormat(_Strict):
    """What one sample looks like.

    ``labels`` is required for ``label``; ``dim`` for ``vector``; ``items`` for
    ``list`` (the sample is a permutation of exactly these items: any JSON
    scalars -- strings, integers, finite floats, booleans, null -- distinct
    as text and as numbers, so ``1`` and ``1.0`` cannot both be items).
    """

    type: AnswerType
    labels: list[str] | None = None
    dim: int | None = Field(default=None, ge=1)
    element: Literal["number", "integer"] = "number"
    items: list[StrictBool | StrictInt | StrictFloat | str | None] | None = None

    @model_validator(mode="after")
    def _check_shape(self) -> "AnswerFormat":
        t = self.type
        if t is AnswerType.label:
            if not self.labels or len(self.labels) < 2:
                raise ValueError("type 'label' needs 'labels': a list of at least two labels")
            if len(set(self.labels)) != len(self.labels):
                raise ValueError("'labels' must be distinct")
        if t is AnswerType.vector and self.dim is None:
            raise ValueError("type 'vector' needs 'dim': the length of one sample")
        if t is AnswerType.list:
            if not self.items or len(self.items) < 2:
                raise ValueError("type 'list' needs 'items': the elements a sample orders")
            if any(isinstance(i, float) and not math.isfinite(i) for i in self.items):
                raise ValueError("'items' must be finite numbers, strings, booleans or null")
            if len({item_key(i) for i in self.items}) != len(self.items) or len(set(map(str, self.items))) != len(self.items):
                raise ValueError("'items' must be distinct")
        return self


class GroundTruth(_Strict):
    """The program whose output distribution defines the right answer.

    Exactly one of ``code`` (inline Python) and ``file`` (a path relative to
    the scenario file) is given; the loader resolves ``file`` into ``code``.
    """

    code: str | None = None
    file: str | None = None
    batch: bool = False
    timeout_s: float = Field(default=60.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _one_source(self) -> "GroundTruth":
        if (self.code is None) == (self.file is None):
            raise ValueError("give exactly one of 'code' (inline Python) or 'file' (a .py in the pack)")
        return self


class ReferenceDistribution(_Strict):
    """Optional closed form of the ground truth, for goodness-of-fit checks.

    ``dist`` names a ``scipy.stats`` distribution (e.g. ``norm``, ``poisson``,
    ``dirichlet``); ``args``/``kwds`` are passed to it as given.
    """

    dist: str
    args: list[Any] = Field(default_factory=list)
    kwds: dict[str, Any] = Field(default_factory=dict)


_SUPPORT_FORMATS: dict[Support, set[AnswerType]] = {
    Support.continuous: {AnswerType.number},
    Support.discrete: {AnswerType.integer},
    Support.categorical: {AnswerType.label},
    Support.multivariate: {AnswerType.vector},
    Support.permutation: {AnswerType.list},
}


class Scenario(_Strict):
    """One problem: a prompt, what a sample looks like, and its ground truth.

    ``pack`` and ``source`` are filled in by the loader, not written in files.
    ``tools``: names of tools the scenario allows in tool mode (None = all of
    the pack's and the built-ins).
    """

    id: str = Field(pattern=SCENARIO_ID_PATTERN)
    title: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    kind: Kind
    support: Support
    dimension: int | None = Field(default=None, ge=2)
    answer_format: AnswerFormat
    ground_truth: GroundTruth
    tags: list[str] = Field(default_factory=list)
    notes: str | None = None
    reference: ReferenceDistribution | None = None
    tools: list[str] | None = None
    pack: str | None = None
    source: str | None = None
    prompts: PromptTemplates | None = None  # the pack's own default templates (pack.yaml ``prompts``), set by the loader

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        bad = [t for t in tags if not re.fullmatch(r"[a-z0-9][a-z0-9_:.-]*", t)]
        if bad:
            raise ValueError(f"tags must be lowercase words like 'family:normal'; bad: {bad}")
        return tags

    @model_validator(mode="after")
    def _consistent(self) -> "Scenario":
        allowed = _SUPPORT_FORMATS[self.support]
        if self.answer_format.type not in allowed:
            names = ", ".join(sorted(a.value for a in allowed))
            raise ValueError(
                f"support '{self.support.value}' needs answer_format.type {names}, "
                f"not '{self.answer_format.type.value}'"
            )
        if self.support is Support.multivariate:
            if self.dimension is None:
                raise ValueError("support 'multivariate' needs 'dimension' (the vector length)")
            if self.answer_format.dim != self.dimension:
                raise ValueError(
                    f"answer_format.dim ({self.answer_format.dim}) must equal dimension ({self.dimension})"
                )
        elif self.dimension is not None:
            raise ValueError("'dimension' is only for support 'multivariate'")
        return self

    @property
    def labels(self) -> list[str] | None:
        return self.answer_format.labels


class ToolDeclaration(_Strict):
    """A domain tool a pack provides: ``function`` in ``module`` (a .py in the pack).

    The function runs inside the sandbox, never in the host process.
    """

    name: str = Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")
    module: str
    function: str
    description: str = Field(min_length=1)


class PackManifest(_Strict):
    """``pack.yaml``."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    version: str
    description: str
    tools: list[ToolDeclaration] = Field(default_factory=list)
    prompts: str | None = None  # a prompt templates file in the pack folder: this pack's default templates


class Pack(BaseModel):
    """A loaded pack: its manifest, folder and scenarios (in file-name order)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    manifest: PackManifest
    path: Path
    scenarios: list[Scenario]

    @property
    def name(self) -> str:
        return self.manifest.name
