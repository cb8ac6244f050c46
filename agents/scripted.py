"""A chat model that replays a script of assistant turns (``--model scripted:PATH``).

It is a real :class:`~langchain_core.language_models.BaseChatModel` that
really implements ``bind_tools``, so tests and demos exercise the same
LangGraph graphs, tool routing and trace events as a provider model.

Script files are YAML or JSONL. JSONL: one turn per line. YAML: either a list
of turns, or a mapping::

    tool_calling: true        # false: a text-only model (bind_tools raises; tool mode uses code blocks)
    on_end: error             # or repeat_last: what happens when an episode needs more turns
    turns: [...]              # turns for every scenario and mode, unless overridden below
    native: [...]             # turns for native mode
    tool: [...]               # turns for tool mode
    scenarios:                # per scenario id: the same three keys
      die-roll: {tool: [...], native: [...]}
    when_prompt:              # prompt-dependent turns: the first entry whose `contains` is in the
      - contains: "do not set seeds"   # opening system or user message wins; same keys as above
        tool: [...]

A turn is ``{text: "...", tool_calls: [{name: python, args: {code: "..."}}]}``.
Turn *k* of an episode is the reply to a conversation holding *k* assistant
messages, so every episode replays its script from the start (the model is
stateless). Placeholders let a turn use what the previous tool or code
execution printed: ``"{{last_output_line}}"`` (the last non-empty line of its
stdout; as a whole argument value it is JSON-decoded when possible) and
``"{{last_output}}"`` (all of it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stochbox.errors import ModelSpecError

LAST_LINE = "{{last_output_line}}"
LAST_OUTPUT = "{{last_output}}"


class ScriptToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None


class ScriptTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = ""
    tool_calls: list[ScriptToolCall] = Field(default_factory=list)


class ScriptSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    turns: list[ScriptTurn] | None = None
    native: list[ScriptTurn] | None = None
    tool: list[ScriptTurn] | None = None

    def for_mode(self, mode: str) -> list[ScriptTurn] | None:
        specific = self.native if mode == "native" else self.tool
        return specific if specific is not None else self.turns


class ScriptBranch(ScriptSection):
    """Turns (with per-scenario overrides) for one scenario and mode."""

    scenarios: dict[str, ScriptSection] = Field(default_factory=dict)

    def turns_for(self, scenario_id: str, mode: str) -> list[ScriptTurn] | None:
        section = self.scenarios.get(scenario_id)
        found = section.for_mode(mode) if section is not None else None
        return found if found is not None else self.for_mode(mode)


class PromptBranch(ScriptBranch):
    """Turns used when the opening prompt (system and first user message) contains ``contains``."""

    contains: str = Field(min_length=1)


class Script(ScriptBranch):
    tool_calling: bool = True
    on_end: Literal["error", "repeat_last"] = "error"
    when_prompt: list[PromptBranch] = Field(default_factory=list)


def load_script(path: str | Path) -> Script:
    """Read a script file; raises :class:`ModelSpecError` naming the file and the problem."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelSpecError(f"scripted model file '{path}' cannot be read: {exc.strerror or exc}") from None
    try:
        if path.suffix == ".jsonl":
            data: Any = {"turns": [json.loads(line) for line in text.splitlines() if line.strip()]}
        else:
            data = yaml.safe_load(text)
            if isinstance(data, list):
                data = {"turns": data}
        if not isinstance(data, dict):
            raise ValueError("expected a list of turns or a mapping with turns/native/tool/scenarios")
        return Script.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(map(str, err["loc"]))
        raise ModelSpecError(f"scripted model file '{path}': field '{loc}': {err['msg']}") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise ModelSpecError(f"scripted model file '{path}' is not valid: {exc}") from None


def _last_observation(messages: list[BaseMessage]) -> str:
    """Stdout of the latest tool or code execution the conversation shows ('' if none)."""
    for msg in reversed(messages):
        if isinstance(msg, AIMessage):
            break
        if isinstance(msg, (ToolMessage, HumanMessage)):
            content = msg.content if isinstance(msg.content, str) else str(msg.content)
            fenced = re.search(r"```\n(.*?)\n```", content, re.S)
            body = fenced.group(1) if fenced else content
            return body.split("\n[stderr]")[0]
    return ""


_HARNESS_NOTE = re.compile(r"^\[(stderr|exit code|killed|output truncated|sandbox error)")


def _last_line(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.strip() and not _HARNESS_NOTE.match(ln)]
    return lines[-1].strip() if lines else ""


def _fill(value: Any, output: str) -> Any:
    if isinstance(value, str):
        if value == LAST_LINE:
            line = _last_line(output)
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return line
        return value.replace(LAST_LINE, _last_line(output)).replace(LAST_OUTPUT, output)
    if isinstance(value, list):
        return [_fill(v, output) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, output) for k, v in value.items()}
    return value


class ScriptedChatModel(BaseChatModel):
    """Replays ``turns``; see the module docstring for the file format."""

    turns: list[ScriptTurn]
    on_end: Literal["error", "repeat_last"] = "error"
    tool_calling: bool = True
    source: str = "<script>"
    #: (text, turns): the turns of the first entry whose text is in the opening prompt replace ``turns``
    prompt_turns: list[tuple[str, list[ScriptTurn]]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "stochbox-scripted"

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any) -> Any:
        if not self.tool_calling:
            raise NotImplementedError(f"scripted model {self.source} is text-only (tool_calling: false)")
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._reply(messages, kwargs.get("tools", []))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # The reply is pure computation: answering on the event loop spares the thread hop
        # langchain-core's default _agenerate makes, and gives exactly _generate's result.
        return self._reply(messages, kwargs.get("tools", []))

    def _turns_for(self, messages: list[BaseMessage]) -> list[ScriptTurn]:
        if not self.prompt_turns:
            return self.turns
        opening = []
        for msg in messages:
            if not isinstance(msg, (SystemMessage, HumanMessage)):
                break
            opening.append(msg.content if isinstance(msg.content, str) else str(msg.content))
        text = "\n".join(opening)
        return next((turns for needle, turns in self.prompt_turns if needle in text), self.turns)

    def _reply(self, messages: list[BaseMessage], tools: list[dict[str, Any]]) -> ChatResult:
        """Turn *k* for a conversation holding *k* assistant messages; ``tools`` are the bound schemas."""
        k = sum(isinstance(m, AIMessage) for m in messages)
        turns = self._turns_for(messages)
        if k >= len(turns):
            if self.on_end != "repeat_last" or not turns:
                raise RuntimeError(f"scripted model {self.source}: script has {len(turns)} turn(s), turn {k + 1} requested")
            k = len(turns) - 1
        turn = turns[k]
        output = _last_observation(messages)
        bound = {t["function"]["name"] for t in tools}
        calls = []
        for i, call in enumerate(turn.tool_calls):
            if not bound:
                raise RuntimeError(f"scripted model {self.source}: turn {k + 1} calls '{call.name}' but no tools are bound")
            calls.append({"name": call.name, "args": _fill(call.args, output), "id": call.id or f"call_{k}_{i}", "type": "tool_call"})
        text = _fill(turn.text, output)
        prompt_chars = sum(len(m.content) if isinstance(m.content, str) else len(str(m.content)) for m in messages)
        out_chars = len(text) + sum(len(json.dumps(c["args"])) for c in calls)
        usage = {  # rough 4-characters-per-token estimate, so token columns are not all zero
            "input_tokens": prompt_chars // 4,
            "output_tokens": out_chars // 4,
            "total_tokens": prompt_chars // 4 + out_chars // 4,
        }
        msg = AIMessage(content=text, tool_calls=calls, usage_metadata=usage, response_metadata={"finish_reason": "stop"})
        return ChatResult(generations=[ChatGeneration(message=msg)])


def scripted_model(script: Script, scenario_id: str, mode: str, *, source: str) -> ScriptedChatModel:
    """The model replaying ``script`` for one scenario and mode; raises ModelSpecError if it has no turns for them."""
    turns = script.turns_for(scenario_id, mode)
    branches = [(b.contains, t) for b in script.when_prompt if (t := b.turns_for(scenario_id, mode)) is not None]
    if turns is None and branches:
        turns = []  # only prompt-dependent turns: a prompt that matches none fails the episode, naming the script
    if turns is None:
        raise ModelSpecError(
            f"scripted model file '{source}' has no turns for scenario '{scenario_id}' in {mode} mode",
            hint="add 'turns', a mode key (native/tool) or a scenarios entry",
        )
    return ScriptedChatModel(
        turns=turns, on_end=script.on_end, tool_calling=script.tool_calling, source=source, prompt_turns=branches
    )
