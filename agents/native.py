"""The native path: the scenario prompt -> one model call -> parse (no tools).

A native episode is a straight async function, :func:`answer_natively`, not a
LangGraph graph: it has no loop, branch or tool to route, and LangGraph's
per-invoke machinery (task preparation, channel writes, checkpoints, config
merging) cost 2.0 ms of CPU per episode at 128 episodes in flight, 60% of a
whole native episode against an OpenAI-compatible server
(``benchmarks/concurrency.py``, docs/benchmarks.md). Tool mode, where the
agent loop is, is the LangGraph graph of :mod:`stochbox.agents.toolmode`.
Both record the same trace events through the same
:class:`~stochbox.agents.ledger.EpisodeLedger`.

Contract: one model call per episode (plus, once per agent, a retry without
structured output when the provider rejects it). Where the model supports
structured output and the episode's condition says ``structured_output: auto``
(the default; ``off`` sends no ``response_format`` at all), the request carries a JSON schema of the answer
(``response_format``) so decoding is constrained; the reply is parsed by the
same :func:`~stochbox.agents.parsing.parse_answer` either way, so a model that
ignores the schema still gets robust text extraction. Errors of the model
call (after retries) and :class:`~stochbox.agents.ledger.LimitReached`
propagate to the caller, as they do out of the tool graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable

from stochbox.agents.base import EpisodeContext
from stochbox.agents.ledger import EpisodeLedger, NotRetried
from stochbox.agents.parsing import ParsedAnswer, answer_json_schema, parse_answer
from stochbox.agents.prompts import native_system, templates_for, user_prompt
from stochbox.conditions import option_error, rejected_option


@dataclass
class StructuredOutput:
    """How to ask a model for schema-constrained JSON.

    ``formats`` turn an answer JSON schema into a ``response_format`` value, in order of
    preference; when a provider rejects one, :meth:`reject` moves to the next, and after
    the last the agent asks for plain text.
    """

    formats: list[Callable[[dict[str, Any]], dict[str, Any]]]
    current: int = 0

    @property
    def enabled(self) -> bool:
        return self.current < len(self.formats)

    def response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        return self.formats[self.current](schema)

    def reject(self) -> None:
        self.current += 1


def openai_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's structured outputs (also vLLM, Ollama)."""
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


def json_object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """llama.cpp's form (llama-cpp-python server and in-process): JSON mode with a schema grammar."""
    return {"type": "json_object", "schema": schema}


def rejected_response_format(exc: Exception) -> bool:
    """True when a provider error says it does not take this ``response_format`` (not a transient failure)."""
    status = getattr(exc, "status_code", None)
    if status in (400, 422):
        return True
    return status == 500 and "response_format" in str(exc)  # llama-cpp-python reports validation errors as 500


def native_prompt(ctx: EpisodeContext, structured: StructuredOutput | None = None) -> list[BaseMessage]:
    """The system and user messages that open a native episode."""
    use_schema = structured is not None and structured.enabled
    templates = templates_for(ctx)
    return [
        SystemMessage(native_system(ctx.scenario, ctx.n_samples, structured=use_schema, templates=templates)),
        HumanMessage(user_prompt(ctx.scenario, ctx.n_samples, templates=templates)),
    ]


async def answer_natively(
    ctx: EpisodeContext,
    ledger: EpisodeLedger,
    model: BaseChatModel | Runnable,
    messages: list[BaseMessage],
    structured: StructuredOutput | None = None,
) -> tuple[ParsedAnswer, str]:
    """Ask ``model`` once with ``messages`` (from :func:`native_prompt` with the same ``structured``)
    and parse the reply; returns the parsed answer and the reply's text."""
    schema = answer_json_schema(ctx.scenario.answer_format, ctx.n_samples)
    msg: AIMessage | None = None
    while msg is None and structured is not None and structured.enabled:
        fmt = structured.response_format(schema)
        try:
            msg = await ledger.call_model(model.bind(response_format=fmt), messages, permanent=rejected_response_format)
        except NotRetried as exc:
            options = ctx.condition.model_options if ctx.condition is not None else {}
            if (key := rejected_option(exc.error, options)) is not None:  # the option, not the schema, was refused
                ledger.emit("error", where="model", message=str(exc))
                raise option_error(exc.error, key, ctx.condition.name if ctx.condition else None) from None
            structured.reject()  # this provider does not take this form; try the next, then plain text
            ledger.emit("error", where="structured_output", message=f"{fmt['type']} rejected: {exc}")
    if msg is None:
        msg = await ledger.call_model(model, messages)
    text = msg.text
    parsed = parse_answer(text, ctx.scenario.answer_format, ctx.n_samples)
    ledger.record_parse(parsed, source="text")
    return parsed, text
