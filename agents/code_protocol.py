"""The code-block protocol, for models without function calling.

The model writes fenced Python blocks (```python ... ```); the harness runs
each block in the sandbox (one execution = one tool call) and replies with the
output as a user message. A reply with an ``ANSWER:`` line, or without any
code block, is the final answer and is parsed from text. Pack tools are
offered as predefined functions inside every block (see
:meth:`~stochbox.agents.tools.Tool.code_prelude`).
"""

from __future__ import annotations

import re
from typing import Any

from stochbox.agents.prompts import ANSWER_MARKER
from stochbox.agents.tools import Tool

_BLOCK = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:```|\Z)", re.S)
_CODE_HINT = re.compile(r"^\s*(import |from \w+ import |def |for |while |print\(|[A-Za-z_]\w*\s*=)", re.M)


def code_blocks(text: str) -> list[str]:
    """Python blocks in ``text`` in order. Untagged blocks count when they look like Python;
    an unclosed block at the end (a reply cut by the token limit) counts too."""
    out = []
    for m in _BLOCK.finditer(text or ""):
        lang, body = m.group(1).lower(), m.group(2)
        if not body.strip():
            continue
        if lang in ("python", "py", "python3") or (lang == "" and _CODE_HINT.search(body)):
            out.append(body.rstrip() + "\n")
    return out


def has_final_answer(text: str) -> bool:
    """True when the reply states its answer (an ``ANSWER:`` line outside code blocks)."""
    outside = _BLOCK.sub(" ", text or "")
    return ANSWER_MARKER.lower() in outside.lower()


def prelude(tools: list[Tool]) -> tuple[str, dict[str, Any]]:
    """Code and globals that predefine the tools' functions inside a block."""
    code, globals_ = "", {}
    for tool in tools:
        part = tool.code_prelude()
        if part is not None:
            code += part[0]
            globals_.update(part[1])
    return code, globals_


def observation(index: int, output: str) -> str:
    """The user message that answers one executed block."""
    return f"Output of code block {index}:\n```\n{output}\n```"


OBSERVATION_FOOTER = f"Run more code if you need to; otherwise reply without code and end with `{ANSWER_MARKER} <value>`."
