"""A readable transcript of one episode (``stochbox trace DIR --episode ID``).

Contract: :func:`episode_transcript` turns an episode's trace events into
rich renderables in step order -- prompts, model outputs, tool calls with
their code, sandbox outputs, parse results -- and ends with the verdict
(stored status, samples, audit flags). Each block is titled with its step,
so a flag's ``(episode, step)`` link can be found by eye. Prompts repeated
in later model requests are shown once: each request shows only the
messages the previous one did not have. Nothing is shortened except tool
outputs and prompts longer than ``max_chars``.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from stochbox.traces.audit import AuditFlag
from stochbox.traces.run_trace import EpisodeTrace, content_text
from stochbox.run.trace import TraceEvent

MAX_CHARS = 4000


def _clip(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[:max_chars] + f"\n... ({len(text) - max_chars} more characters)"


def _message_text(msg: dict[str, Any]) -> tuple[str, str]:
    """(role, text) of a LangChain message dict."""
    data = msg.get("data", msg)
    role = msg.get("type") or data.get("type") or "?"
    text = content_text(data.get("content"))
    calls = data.get("tool_calls") or []
    if calls:
        text += "".join(f"\n-> {c.get('name')}({json.dumps(c.get('args'), default=str)})" for c in calls)
    return role, text.strip("\n")


def _code(code: str) -> Syntax:
    return Syntax(code, "python", theme="ansi_dark", line_numbers=True, word_wrap=True)


def _title(ev: TraceEvent, what: str) -> str:
    return f"[bold]step {ev.step}[/] · {escape(what)}"


def episode_transcript(
    ep: EpisodeTrace, flags: list[AuditFlag] | None = None, *, max_chars: int = MAX_CHARS
) -> list[RenderableType]:
    """Renderables for ``ep`` (see the module contract)."""
    out: list[RenderableType] = []
    seen_messages = 0
    head = Table.grid(padding=(0, 2))
    for key, value in (
        ("episode", ep.episode_id),
        ("scenario", ep.scenario),
        ("model", ep.model),
        ("mode", ep.mode),
        ("index", ep.index),
        ("seed", ep.seed),
    ):
        head.add_row(Text(key, style="dim"), Text(str(value)))
    out.append(Panel(head, title="episode", border_style="cyan"))
    for ev in ep.events:
        p = ev.payload
        name = ev.event
        if name == "model_request":
            messages = p.get("messages") or []
            new = messages[seen_messages:] if len(messages) >= seen_messages else messages
            seen_messages = len(messages)
            body = Group(*(Text.assemble((f"{role}: ", "bold magenta"), _clip(text, max_chars)) for role, text in map(_message_text, new)))
            tools = ", ".join(p.get("tools") or []) or "none"
            out.append(Panel(body, title=_title(ev, f"model request (tools: {tools})"), border_style="magenta"))
        elif name == "model_response":
            seen_messages += 1  # the reply is part of the next request's history
            role, text = _message_text({"type": "ai", "data": p})
            meta = f"{p.get('latency_s', 0):.3g} s"
            usage = p.get("usage") or {}
            if usage:
                meta += f", {usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out tokens"
            if p.get("reasoning"):  # the provider's reasoning, shown apart: it is never parsed as the answer
                out.append(Panel(Text(_clip(str(p["reasoning"]), max_chars), style="dim"), title=_title(ev, "model reasoning"), border_style="green"))
            out.append(Panel(Text(_clip(text, max_chars) or "(empty)"), title=_title(ev, f"model response ({meta})"), border_style="green"))
        elif name == "tool_call":
            args = p.get("args")
            code = args.get("code") if isinstance(args, dict) else None
            body = _code(code) if isinstance(code, str) else Text(json.dumps(args, indent=1, default=str))
            out.append(Panel(body, title=_title(ev, f"tool call {p.get('tool')} [{p.get('call_id')}]"), border_style="yellow"))
        elif name == "sandbox_exec":
            status = "timed out" if p.get("timed_out") else f"exit {p.get('exit_code')}"
            if p.get("killed_reason"):
                status += f", killed: {p.get('killed_reason')}"
            if p.get("truncated"):
                status += ", truncated"
            parts: list[RenderableType] = [Text(_clip(str(p.get("stdout") or ""), max_chars) or "(no stdout)")]
            if p.get("stderr"):
                parts.append(Text(_clip(str(p["stderr"]), max_chars), style="red"))
            if p.get("sandbox_error"):
                parts.append(Text(f"sandbox error: {p['sandbox_error']}", style="bold red"))
            title = f"sandbox {p.get('backend') or ''} (seed {p.get('seed')}, {status}, {p.get('duration_s', 0):.3g} s)"
            out.append(Panel(Group(*parts), title=_title(ev, title), border_style="blue"))
        elif name == "tool_result":
            if p.get("tool") in ("python", "code_block") and p.get("ok"):
                continue  # the sandbox block above shows it
            text = p.get("output") if p.get("ok") else p.get("error")
            style = "white" if p.get("ok") else "red"
            out.append(Panel(Text(_clip(str(text), max_chars), style=style), title=_title(ev, f"tool result {p.get('tool')}"), border_style="yellow"))
        elif name == "parse":
            verdict = "ok" if p.get("ok") else f"failed: {p.get('reason')}"
            value = json.dumps(p.get("value"), default=str)
            out.append(Text.from_markup(f"{_title(ev, 'parse')} ({p.get('source')}, {p.get('strategy')}): {verdict} -> ") + Text(_clip(value, 300)))
        elif name == "sample_submitted":
            out.append(Text.from_markup(f"{_title(ev, 'samples submitted')}: ") + Text(_clip(json.dumps(p.get("samples"), default=str), 300), style="bold"))
        elif name in ("limit_hit", "error", "retry"):
            detail = {k: v for k, v in p.items() if k not in ("run_id",)}
            out.append(Text.from_markup(f"{_title(ev, name)}: ", style="red") + Text(json.dumps(detail, default=str)))
        elif name in ("episode_start", "episode_end"):
            continue
        else:  # an event this version does not know: show it raw rather than hide it
            out.append(Text.from_markup(f"{_title(ev, name)}: ") + Text(_clip(json.dumps(p, default=str), 300)))
    out.append(_verdict(ep, flags or []))
    return out


def _verdict(ep: EpisodeTrace, flags: list[AuditFlag]) -> Panel:
    grid = Table.grid(padding=(0, 2))
    rec = ep.record
    grid.add_row(Text("status", style="dim"), Text(str(ep.status or "unfinished"), style="bold"))
    if rec is not None:
        grid.add_row(Text("samples", style="dim"), Text(_clip(json.dumps(rec.samples, default=str), 300)))
        if rec.reason:
            grid.add_row(Text("reason", style="dim"), Text(rec.reason))
        grid.add_row(
            Text("calls", style="dim"),
            Text(f"{rec.n_model_calls} model, {rec.n_tool_calls} tool; {rec.duration_s:.3g} s"),
        )
    for f in flags:
        grid.add_row(Text("flag", style="dim"), Text.assemble((f.flag.value, "bold red"), f" (step {f.step}): {f.detail}"))
    if not flags:
        grid.add_row(Text("flags", style="dim"), Text("none", style="green"))
    return Panel(grid, title="verdict", border_style="red" if flags else "green")


def print_transcript(ep: EpisodeTrace, flags: list[AuditFlag] | None = None, *, console: Console | None = None) -> None:
    console = console or Console()
    for block in episode_transcript(ep, flags):
        console.print(block)
