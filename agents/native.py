"""The native graph: model -> parse (no tools), started from the scenario prompt.

The prompt messages are the graph's input (:func:`native_prompt`), not a node:
building them is plain string work, and every LangGraph step costs a fixed
~0.25 ms, more than an instant model's whole call.

Contract: one model call per episode (plus, once per agent, a retry without
structured output when the provider rejects it). Where the model supports
structured output, the request carries a JSON schema of the answer
(``response_format``) so decoding is constrained; the reply is parsed by the
same :func:`~stochbox.agents.parsing.parse_answer` either way, so a model that
ignores the schema still gets robust text extraction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from stochbox.agents.base import EpisodeContext
from stochbox.agents.ledger import EpisodeLedger, NotRetried
from stochbox.agents.parsing import ParsedAnswer, answer_json_schema, parse_answer
from stochbox.agents.prompts import native_system, user_prompt


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


class EpisodeState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    parsed: ParsedAnswer | None
    raw_answer: str | None


def episode_of(config: RunnableConfig) -> tuple[EpisodeContext, EpisodeLedger]:
    conf = config["configurable"]
    return conf["ctx"], conf["ledger"]


def model_of(config: RunnableConfig) -> BaseChatModel | Runnable:
    return config["configurable"]["model"]


def native_prompt(ctx: EpisodeContext, structured: StructuredOutput | None = None) -> list[BaseMessage]:
    """The system and user messages that open a native episode (the graph's input ``messages``)."""
    use_schema = structured is not None and structured.enabled
    return [
        SystemMessage(native_system(ctx.scenario, ctx.n_samples, structured=use_schema)),
        HumanMessage(user_prompt(ctx.scenario, ctx.n_samples)),
    ]


def build_native_graph(structured: StructuredOutput | None = None):
    """Compile the native graph.

    Invoke with ``{"messages": native_prompt(ctx, structured)}`` (the same ``structured``) and
    ``config={"configurable": {"ctx": EpisodeContext, "ledger": EpisodeLedger, "model": chat model}}``.
    """

    async def call_model(state: EpisodeState, config: RunnableConfig) -> dict[str, Any]:
        ctx, ledger = episode_of(config)
        model = model_of(config)
        messages = state["messages"]
        schema = answer_json_schema(ctx.scenario.answer_format, ctx.n_samples)
        while structured is not None and structured.enabled:
            fmt = structured.response_format(schema)
            try:
                msg = await ledger.call_model(
                    model.bind(response_format=fmt), messages, permanent=rejected_response_format
                )
                return {"messages": [msg]}
            except NotRetried as exc:
                structured.reject()  # this provider does not take this form; try the next, then plain text
                ledger.emit("error", where="structured_output", message=f"{fmt['type']} rejected: {exc}")
        msg = await ledger.call_model(model, messages)
        return {"messages": [msg]}

    async def parse(state: EpisodeState, config: RunnableConfig) -> dict[str, Any]:
        ctx, ledger = episode_of(config)
        last = state["messages"][-1]
        text = last.text if isinstance(last, AIMessage) else str(last.content)
        parsed = parse_answer(text, ctx.scenario.answer_format, ctx.n_samples)
        ledger.record_parse(parsed, source="text")
        return {"parsed": parsed, "raw_answer": text}

    graph = StateGraph(EpisodeState)
    graph.add_node("model", call_model)
    graph.add_node("parse", parse)
    graph.add_edge(START, "model")
    graph.add_edge("model", "parse")
    graph.add_edge("parse", END)
    return graph.compile()
