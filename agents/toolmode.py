"""Tool-mode graphs: the model may use tools until it submits an answer.

Two protocols share one shape (model -> act -> model ... -> answer), started from the
prompt messages (:func:`tool_prompt`, the graph's input):

* ``functions``: tools and a ``submit`` tool are bound with ``bind_tools``; a
  ``submit`` call with a valid answer ends the episode. A reply without tool
  calls is parsed as a text answer.
* ``code``: no tools are bound; fenced Python blocks are run (see
  :mod:`stochbox.agents.code_protocol`) and the final answer is parsed from text.

Contract: every tool or code execution is counted against ``max_tool_calls``
and traced (``tool_call``, ``sandbox_exec``, ``tool_result``); a tool that
raises, gets invalid arguments or is over the limit produces an error message
to the model, never an exception out of the graph. An unusable answer is
reported back to the model (``parse`` event with the reason) and the model may
answer again while it has model calls left. On its last allowed call the model
is told so. Limits end the graph by :class:`~stochbox.agents.ledger.LimitReached`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from pydantic import ValidationError

from stochbox.agents import code_protocol
from stochbox.agents.base import EpisodeContext
from stochbox.agents.ledger import CODE_BLOCK, EpisodeLedger
from stochbox.agents.parsing import ParsedAnswer, answer_json_schema, parse_answer, parse_value
from stochbox.agents.prompts import code_system, describe_answer, last_turn, submit_again, templates_for, tool_system, user_prompt
from stochbox.agents.tools import SUBMIT, Tool, ToolError, format_exec_result
from stochbox.scenarios.models import AnswerFormat
from stochbox.unicode_text import valid_unicode

Protocol = Literal["functions", "code"]


class EpisodeState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    parsed: ParsedAnswer | None
    raw_answer: str | None


def episode_of(config: RunnableConfig) -> tuple[EpisodeContext, EpisodeLedger]:
    conf = config["configurable"]
    return conf["ctx"], conf["ledger"]


def model_of(config: RunnableConfig) -> BaseChatModel | Runnable:
    return config["configurable"]["model"]


def submit_schema(fmt: AnswerFormat, n: int) -> dict[str, Any]:
    """The ``submit`` function offered next to the registry tools."""
    return {
        "type": "function",
        "function": {
            "name": SUBMIT,
            "description": f"Submit your final answer: {describe_answer(fmt, n)}. Ends the conversation.",
            "parameters": answer_json_schema(fmt, n),
        },
    }


async def run_tool(tool: Tool, raw_args: Any, call_id: str, ledger: EpisodeLedger) -> tuple[str, bool]:
    """Validate arguments and run one tool; returns (text for the model, ok). Never raises."""
    ledger.emit("tool_call", tool=tool.name, args=raw_args, call_id=call_id)
    error = None
    try:
        args = tool.args_schema.model_validate(raw_args if isinstance(raw_args, dict) else {})
        output = await tool.arun(args, ledger)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
        error = f"invalid arguments for {tool.name}: {problems}"
    except ToolError as exc:
        error = f"{tool.name} failed: {exc}"
    except Exception as exc:  # a broken tool must not end the run; the model and the trace are told
        error = f"{tool.name} raised {type(exc).__name__}: {exc}"
        ledger.emit("error", where=f"tool:{tool.name}", message=error)
    if error is not None:
        ledger.emit("tool_result", tool=tool.name, call_id=call_id, ok=False, output=None, error=error)
        return f"Error: {error}", False
    output, replaced = valid_unicode(output if isinstance(output, str) else str(output))  # a tool's text is outside text too
    extra = {"unicode_replaced": replaced} if replaced else {}
    ledger.emit("tool_result", tool=tool.name, call_id=call_id, ok=True, output=output, error=None, **extra)
    return output, True


def _answer_or_retry(parsed: ParsedAnswer, ledger: EpisodeLedger) -> bool:
    """True when ``parsed`` ends the episode; False when the model should try again."""
    if parsed.samples:
        return True
    return ledger.n_model_calls >= ledger.limits.max_model_calls


def function_schemas(tools: dict[str, Tool]) -> list[dict[str, Any]]:
    """The registry tools' function schemas, in ``tools`` order (``submit`` is added per call)."""
    return [t.function_schema() for t in tools.values()]


def tool_prompt(protocol: Protocol, ctx: EpisodeContext, tools: dict[str, Tool], output_cap: int) -> list[BaseMessage]:
    """The system and user messages that open a tool-mode episode (the graph's input ``messages``)."""
    n, sc = ctx.n_samples, ctx.scenario
    templates = templates_for(ctx)
    if protocol == "functions":
        lines = [f"- {t.name}: {t.description}" for t in tools.values()]
        system = tool_system(sc, n, ctx.limits, lines, output_cap=output_cap, templates=templates)
    else:
        lines = [sig for t in tools.values() if (sig := t.code_signature())]
        system = code_system(sc, n, ctx.limits, lines, output_cap=output_cap, templates=templates)
    return [SystemMessage(system), HumanMessage(user_prompt(sc, n, templates=templates))]


def build_tool_graph(protocol: Protocol):
    """Compile the tool-mode graph for ``protocol``.

    Invoke with ``{"messages": tool_prompt(protocol, ctx, tools, ledger.output_cap)}`` and
    ``config={"configurable": {"ctx", "ledger", "model", "tools": {name: Tool}}}``; optionally
    ``"tool_schemas"``: ``function_schemas(tools)`` computed once by a caller that reuses ``tools``
    (pydantic builds a JSON schema afresh on every call, which costs more than an instant model).
    """

    async def call_model(state: EpisodeState, config: RunnableConfig) -> dict[str, Any]:
        ctx, ledger = episode_of(config)
        tools: dict[str, Tool] = config["configurable"]["tools"]
        model = model_of(config)
        new: list[Any] = []
        if ledger.last_model_call and ledger.n_model_calls > 0:
            new.append(HumanMessage(last_turn(templates_for(ctx))))
        messages = state["messages"] + new
        if protocol == "functions":
            offered = config["configurable"].get("tool_schemas")
            schemas = (offered if offered is not None else function_schemas(tools)) + [
                submit_schema(ctx.scenario.answer_format, ctx.n_samples)
            ]
            msg = await ledger.call_model(model.bind_tools(schemas), messages, tools=schemas)
        else:
            msg = await ledger.call_model(model, messages, tools=[])
        return {"messages": new + [msg]}

    def after_model(state: EpisodeState) -> str:
        last = state["messages"][-1]
        text = last.text if isinstance(last, AIMessage) else ""
        if protocol == "functions":
            return "act" if isinstance(last, AIMessage) and last.tool_calls else "answer"
        if code_protocol.has_final_answer(text) or not code_protocol.code_blocks(text):
            return "answer"
        return "act"

    async def act_functions(state: EpisodeState, config: RunnableConfig) -> dict[str, Any]:
        ctx, ledger = episode_of(config)
        tools: dict[str, Tool] = config["configurable"]["tools"]
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        replies: list[Any] = []
        for call in last.tool_calls:
            call_id = call.get("id") or f"call-{ledger.n_model_calls}-{len(replies)}"
            name, args = call["name"], call.get("args") or {}
            if name == SUBMIT:
                ledger.emit("tool_call", tool=SUBMIT, args=args, call_id=call_id)
                parsed = parse_value(args, ctx.scenario.answer_format, ctx.n_samples)
                ledger.record_parse(parsed, source="submit")
                ok = bool(parsed.samples)
                ledger.emit("tool_result", tool=SUBMIT, call_id=call_id, ok=ok, output="accepted" if ok else None, error=parsed.reason)
                if _answer_or_retry(parsed, ledger):
                    return {"parsed": parsed, "raw_answer": json.dumps(args, default=str)}
                replies.append(ToolMessage(submit_again(parsed.reason, templates_for(ctx)), tool_call_id=call_id, name=SUBMIT, status="error"))
                continue
            tool = tools.get(name)
            if tool is None:
                text, ok = f"Error: unknown tool '{name}'; available: {', '.join(list(tools) + [SUBMIT])}", False
                ledger.emit("tool_call", tool=name, args=args, call_id=call_id)
                ledger.emit("tool_result", tool=name, call_id=call_id, ok=False, output=None, error=text)
            elif ledger.n_tool_calls >= ledger.limits.max_tool_calls:
                ledger.hit("max_tool_calls", ledger.limits.max_tool_calls)
                text, ok = "Error: tool call limit reached; call submit with your answer now.", False
            else:
                ledger.n_tool_calls += 1
                text, ok = await run_tool(tool, args, call_id, ledger)
            replies.append(ToolMessage(text, tool_call_id=call_id, name=name, status="success" if ok else "error"))
        return {"messages": replies}

    async def act_code(state: EpisodeState, config: RunnableConfig) -> dict[str, Any]:
        ctx, ledger = episode_of(config)
        tools: dict[str, Tool] = config["configurable"]["tools"]
        last = state["messages"][-1]
        prelude, pre_globals = code_protocol.prelude(list(tools.values()))
        parts = []
        for i, block in enumerate(code_protocol.code_blocks(last.text), start=1):
            call_id = f"block-{ledger.n_model_calls}-{i}"
            if ledger.n_tool_calls >= ledger.limits.max_tool_calls:
                ledger.hit("max_tool_calls", ledger.limits.max_tool_calls)
                parts.append(f"Code block {i} was not run: the limit of code executions is reached. Give your answer now.")
                break
            ledger.n_tool_calls += 1
            ledger.emit("tool_call", tool=CODE_BLOCK, args={"code": block}, call_id=call_id)
            res = await ledger.execute(prelude + block, tool=CODE_BLOCK, globals_=pre_globals, agent_code=block)
            output = format_exec_result(res, timeout_s=ctx.limits.exec_timeout_s)
            ledger.emit("tool_result", tool=CODE_BLOCK, call_id=call_id, ok=res.ok, output=output, error=None if res.ok else output)
            parts.append(code_protocol.observation(i, output))
        parts.append(code_protocol.OBSERVATION_FOOTER)
        return {"messages": [HumanMessage("\n\n".join(parts))]}

    async def answer(state: EpisodeState, config: RunnableConfig) -> dict[str, Any]:
        ctx, ledger = episode_of(config)
        last = state["messages"][-1]
        text = last.text if isinstance(last, AIMessage) else str(last.content)
        parsed = parse_answer(text, ctx.scenario.answer_format, ctx.n_samples)
        ledger.record_parse(parsed, source="text")
        if _answer_or_retry(parsed, ledger):
            return {"parsed": parsed, "raw_answer": text}
        return {"messages": [HumanMessage(submit_again(parsed.reason, templates_for(ctx)))], "raw_answer": text}

    def after_act(state: EpisodeState) -> str:
        return END if state.get("parsed") is not None else "model"

    graph = StateGraph(EpisodeState)
    graph.add_node("model", call_model)
    graph.add_node("act", act_functions if protocol == "functions" else act_code)
    graph.add_node("answer", answer)
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", after_model, {"act": "act", "answer": "answer"})
    graph.add_conditional_edges("act", after_act, {END: END, "model": "model"})
    graph.add_conditional_edges("answer", after_act, {END: END, "model": "model"})
    return graph.compile()

