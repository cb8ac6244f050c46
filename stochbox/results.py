"""Result records shared by the runner, the run store, evaluators and audit.

Contract: :class:`EpisodeRecord` is what the run store keeps per finished
episode; evaluators read only these (plus reference samples), never traces.
``samples`` holds only *valid* samples (normalised by ``coerce_sample``);
``n_requested - len(samples)`` are missing and count against the model.
Field names are stable (they appear in exports and ``report --json``).
Every string in a record is valid Unicode: outside text is made valid where
it enters (:mod:`stochbox.unicode_text`, counted on the trace event), and a
record built from a string that slipped past gets U+FFFD in its place here
rather than failing (which would lose the episode).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from stochbox.unicode_text import valid_unicode_data


class Mode(StrEnum):
    native = "native"
    tool = "tool"


class Protocol(StrEnum):
    independent = "independent"  # N episodes of one sample each (UnpredictaBench)
    batch = "batch"  # one episode asking for N samples


class EpisodeStatus(StrEnum):
    ok = "ok"  # all requested samples parsed
    partial = "partial"  # some samples parsed (batch protocol)
    parse_error = "parse_error"  # answer given but unusable
    limit = "limit"  # a step/time limit ended the episode before a valid answer
    failed = "failed"  # an error (provider, sandbox) ended the episode


class EpisodeRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    episode_id: str
    scenario: str
    pack: str | None = None
    model: str
    mode: Mode
    condition: str | None = None  # the named condition (stochbox.conditions); None: the run has none
    index: int = Field(ge=0)  # episode number within (scenario, model, mode, condition)
    seed: int
    n_requested: int = Field(ge=1)
    samples: list[Any] = Field(default_factory=list)
    status: EpisodeStatus
    reason: str | None = None  # why not ok: parse failure text, limit name, error message
    raw_answer: str | None = None
    n_model_calls: int = 0
    n_tool_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    duration_s: float = 0.0
    started_at: str | None = None
    finished_at: str | None = None
    tool_code: list[str] = Field(default_factory=list)  # code the agent ran, in order (tool mode)

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any, info: ValidationInfo) -> Any:
        # JSON input is the run store's own rows, written from records already made valid here
        if info.mode == "json" or not isinstance(data, dict):
            return data
        return valid_unicode_data(data)[0]
