"""A stochbox run folder as an Inspect eval log (``stochbox export RUN --format inspect --out FILE.eval``).

Contract of :func:`run_to_eval_log` (one :class:`inspect_ai.log.EvalLog` per run):

* One Inspect sample per episode (finished or not), id = the episode id
  (``model/mode/scenario/index``), epoch 1, in trace order. ``input`` is the
  first prompt the model got; ``messages`` the last conversation sent plus
  the final reply (and tool results after it); ``output`` the final reply;
  ``metadata`` the episode's record fields (scenario, mode, model, index,
  seed, status, reason, samples, ...).
* Events, in step order: each ``model_request``/``model_response`` pair a
  ``ModelEvent``; each ``tool_call``/``tool_result`` pair a ``ToolEvent``;
  each ``sandbox_exec`` a ``SandboxEvent`` (``exec``; ``input`` = the code,
  ``result`` = exit code, ``output`` = stdout then stderr; seed, limits and
  kill reason in ``options``); ``parse``, ``limit_hit``, ``error``, ``retry``
  and ``sample_submitted`` an ``InfoEvent`` with source ``stochbox/<event>``
  and the trace payload as data; finally a ``ScoreEvent`` with the verdict.
* Scores: each sample's score, under the name of its arm (``<mode>``, or
  ``<model> <mode>`` when the run has several models), is its *scenario's*
  verdict under the run's preset (value ``C`` passed / ``I`` failed, as
  Inspect's accuracy reads them; test, statistic, p-value and reason in
  ``metadata``): KS@N is a property of a scenario's N episodes, not of one.
  ``results`` holds one score per arm with ``ks_at_n``, ``ci_low``,
  ``ci_high``, ``passed`` and ``scenarios``.
* Status ``success`` when every planned episode is stored, else ``cancelled``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from inspect_ai.event import InfoEvent, ModelEvent, SandboxEvent, ScoreEvent, ToolEvent
from inspect_ai.log import (
    EvalConfig,
    EvalDataset,
    EvalLog,
    EvalMetric,
    EvalResults,
    EvalSample,
    EvalScore,
    EvalSpec,
    EvalStats,
    write_eval_log,
)
from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageTool,
    ChatMessageUser,
    GenerateConfig,
    ModelOutput,
    ModelUsage,
)
from inspect_ai.scorer import Score
from inspect_ai.tool import ToolCall, ToolCallError, ToolInfo

from stochbox import __version__
from stochbox.errors import RunStoreError
from stochbox.evaluators import get_preset, summarize
from stochbox.analysis import load_run
from stochbox.evaluators.models import ScenarioTestResult
from stochbox.run.plan import plan_episodes
from stochbox.traces.run_trace import EpisodeTrace, RunTrace, load_run_trace
from stochbox.run.trace import TraceEvent

_INFO_EVENTS = ("parse", "limit_hit", "error", "retry", "sample_submitted")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [c.get("text", "") if isinstance(c, dict) else str(c) for c in content]
        return "".join(parts)
    return "" if content is None else str(content)


def _tool_calls(calls: Any) -> list[ToolCall] | None:
    out = [
        ToolCall(id=str(c.get("id") or f"call-{i}"), function=str(c.get("name")), arguments=c.get("args") or {})
        for i, c in enumerate(calls or [])
        if isinstance(c, dict)
    ]
    return out or None


def chat_message(message: dict[str, Any]) -> ChatMessage:
    """A LangChain message dict (``{"type", "data"}``, as the trace records them) as an Inspect message."""
    kind, data = message.get("type"), message.get("data") or {}
    content = _text(data.get("content"))
    if kind == "system":
        return ChatMessageSystem(content=content)
    if kind == "ai":
        return ChatMessageAssistant(content=content, tool_calls=_tool_calls(data.get("tool_calls")))
    if kind == "tool":
        return ChatMessageTool(content=content, tool_call_id=data.get("tool_call_id"), function=data.get("name"))
    return ChatMessageUser(content=content)


def _reply(payload: dict[str, Any]) -> ChatMessageAssistant:
    return ChatMessageAssistant(content=_text(payload.get("content")), tool_calls=_tool_calls(payload.get("tool_calls")))


def _output(model: str, payload: dict[str, Any] | None, fallback: str = "") -> ModelOutput:
    if payload is None:
        return ModelOutput.from_content(model=model, content=fallback)
    usage = payload.get("usage") or {}
    stop = "tool_calls" if payload.get("tool_calls") else "stop"
    return ModelOutput(
        model=model,
        choices=[ChatCompletionChoice(message=_reply(payload), stop_reason=stop)],
        usage=ModelUsage(
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            total_tokens=int(usage.get("total_tokens") or 0),
        )
        if usage
        else None,
    )


def _when(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


def _events(ep: EpisodeTrace, score: Score | None) -> list[Any]:
    """The episode's trace events as Inspect events (see the module contract)."""
    t0 = _when(ep.events[0].ts) if ep.events else None

    def base(ev: TraceEvent) -> dict[str, Any]:
        when = _when(ev.ts)
        return {"timestamp": when, "working_start": (when - t0).total_seconds() if t0 else 0.0}

    out: list[Any] = []
    request: TraceEvent | None = None
    calls: dict[str, TraceEvent] = {}
    for ev in ep.events:
        p = ev.payload
        if ev.event == "model_request":
            request = ev
        elif ev.event == "model_response":
            messages = [chat_message(m) for m in (request.payload.get("messages") or [])] if request else []
            tools = [ToolInfo(name=str(t), description=f"stochbox tool '{t}'") for t in (request.payload.get("tools") or [])] if request else []
            out.append(
                ModelEvent(
                    **base(request or ev),
                    model=ep.model,
                    input=messages,
                    tools=tools,
                    tool_choice="auto" if tools else "none",
                    config=GenerateConfig(),
                    output=_output(ep.model, p),
                    completed=_when(ev.ts),
                    working_time=p.get("latency_s"),
                )
            )
            request = None
        elif ev.event == "tool_call":
            calls[str(p.get("call_id"))] = ev
        elif ev.event == "tool_result":
            call = calls.pop(str(p.get("call_id")), None)
            args = (call.payload.get("args") if call else None) or {}
            error = None if p.get("ok") else ToolCallError("unknown", str(p.get("error") or "failed"))
            out.append(
                ToolEvent(
                    **base(call or ev),
                    id=str(p.get("call_id")),
                    function=str(p.get("tool")),
                    arguments=args if isinstance(args, dict) else {"args": args},
                    result=str(p.get("output") or ""),
                    error=error,
                    completed=_when(ev.ts),
                )
            )
        elif ev.event == "sandbox_exec":
            options = {k: p.get(k) for k in ("tool", "seed", "timeout_s", "output_cap", "timed_out", "duration_s", "truncated", "killed_reason", "sandbox_error", "backend") if p.get(k) is not None}
            stderr = p.get("stderr") or ""
            out.append(
                SandboxEvent(
                    **base(ev),
                    action="exec",
                    cmd="python3 -c <code>",
                    options=json.loads(json.dumps(options, default=str)),
                    input=p.get("code"),
                    result=p.get("exit_code"),
                    output=(p.get("stdout") or "") + (("\n[stderr]\n" + stderr) if stderr else ""),
                    completed=_when(ev.ts),
                )
            )
        elif ev.event in _INFO_EVENTS:
            out.append(InfoEvent(**base(ev), source=f"stochbox/{ev.event}", data=json.loads(json.dumps(p, default=str))))
    if score is not None and ep.events:
        out.append(ScoreEvent(**base(ep.events[-1]), score=score, target=""))
    return out


def _messages(ep: EpisodeTrace) -> tuple[list[ChatMessage], list[ChatMessage], dict[str, Any] | None]:
    """(input, final conversation, last reply payload)."""
    requests = ep.of("model_request")
    responses = ep.of("model_response")
    if not requests:
        return [], [], None
    first = [chat_message(m) for m in requests[0].payload.get("messages") or []]
    last_request = requests[-1]
    messages = [chat_message(m) for m in last_request.payload.get("messages") or []]
    reply = next((r for r in reversed(responses) if r.step is not None and last_request.step is not None and r.step > last_request.step), None)
    if reply is not None:
        messages.append(_reply(reply.payload))
        for ev in ep.events:
            if ev.event == "tool_result" and ev.step is not None and reply.step is not None and ev.step > reply.step:
                p = ev.payload
                content = str(p.get("output") if p.get("ok") else p.get("error") or "")
                messages.append(ChatMessageTool(content=content, tool_call_id=str(p.get("call_id")), function=str(p.get("tool"))))
    return first, messages, reply.payload if reply is not None else None


def _arm_name(model: str, mode: str, several_models: bool) -> str:
    return f"{model} {mode}" if several_models else mode


def _verdict(result: ScenarioTestResult) -> Score:
    detail = f"{result.test}: p = {result.pvalue:.3g}" if result.pvalue is not None else result.test
    return Score(
        value="C" if result.passed else "I",
        explanation=f"scenario {result.scenario}: {'passed' if result.passed else 'failed'} ({detail}; "
        f"{result.n_valid}/{result.n} valid){'; ' + result.reason if result.reason else ''}",
        metadata=json.loads(result.model_dump_json()),
    )


def run_to_eval_log(run_dir: Path | str, *, sandbox: str | None = None) -> EvalLog:
    """Build the eval log of a run folder (see the module contract)."""
    trace: RunTrace = load_run_trace(run_dir)
    if trace.info is None:
        raise RunStoreError(f"{trace.run_dir}/run.json not found", hint="give a folder made by 'stochbox run --out'")
    info, config = trace.info, trace.info.config
    data = load_run(trace.run_dir, sandbox=sandbox)
    preset = get_preset(config.preset, config.alpha)
    several = len(config.models) > 1
    verdicts: dict[tuple[str, str, str], ScenarioTestResult] = {}
    scores = []
    for arm in data.arms:
        results = data.evaluate(arm, preset)
        for r in results:
            verdicts[(arm[0], arm[1], r.scenario)] = r
        summary = summarize(results, parse_rate=data.parse_rate(arm))
        name = _arm_name(arm[0], arm[1], several)
        values = {"ks_at_n": summary.ks_at_n, "ci_low": summary.ci_low, "ci_high": summary.ci_high,
                  "passed": summary.passed, "scenarios": summary.scenarios, "parse_rate": summary.parse_rate}
        scores.append(
            EvalScore(
                name=name,
                scorer="stochbox/verdict",
                scored_samples=sum(len(v) for v in data.records.get(arm, {}).values()),
                params={"preset": preset.name, "alpha": preset.alpha, "n": config.n, "model": arm[0], "mode": arm[1]},
                metrics={k: EvalMetric(name=k, value=float(v)) for k, v in values.items()},
            )
        )
    samples = []
    usage: dict[str, ModelUsage] = {}
    for ep in trace.episodes.values():
        rec = ep.record
        verdict = verdicts.get((ep.model, ep.mode, ep.scenario))
        score = _verdict(verdict) if verdict is not None else None
        first, messages, reply = _messages(ep)
        answer = json.dumps(rec.samples if rec else ep.samples, default=str)
        if not messages:  # baselines answer without a model call
            first = [ChatMessageUser(content=f"scenario {ep.scenario}, episode {ep.index}")]
            messages = [*first, ChatMessageAssistant(content=answer)]
        metadata = json.loads(rec.model_dump_json()) if rec else {
            "scenario": ep.scenario, "mode": ep.mode, "model": ep.model, "index": ep.index, "seed": ep.seed, "status": None
        }
        if score is not None:
            score = score.model_copy(update={"answer": answer})
        samples.append(
            EvalSample(
                id=ep.episode_id,
                epoch=1,
                input=first,
                target="",
                messages=messages,
                output=_output(ep.model, reply, fallback=answer),
                scores={_arm_name(ep.model, ep.mode, several): score} if score is not None else None,
                metadata=metadata,
                events=_events(ep, score),
                started_at=rec.started_at if rec else None,
                completed_at=rec.finished_at if rec else None,
                total_time=rec.duration_s if rec else None,
                working_time=rec.duration_s if rec else None,
            )
        )
        if rec is not None and (rec.tokens_in or rec.tokens_out):
            u = usage.setdefault(rec.model, ModelUsage())
            u.input_tokens += rec.tokens_in
            u.output_tokens += rec.tokens_out
            u.total_tokens += rec.tokens_in + rec.tokens_out
    planned = len(plan_episodes(config, info.scenarios).episodes)
    stored = sum(1 for ep in trace.episodes.values() if ep.record is not None)
    finished = [ep.record.finished_at for ep in trace.episodes.values() if ep.record and ep.record.finished_at]
    packs = ",".join(config.packs) if config.packs else "all"
    return EvalLog(
        status="success" if stored >= planned else "cancelled",
        eval=EvalSpec(
            created=info.created_at,
            run_id=info.run_id,
            eval_id=info.run_id,
            task="stochbox/sampling",
            task_id=info.run_id,
            task_args={"pack": packs, "n": config.n, "mode": ",".join(m.value for m in config.modes),
                       "preset": preset.name, "alpha": preset.alpha, "seed": config.seed},
            dataset=EvalDataset(name=f"stochbox:{packs}", samples=len(samples), sample_ids=[s.id for s in samples]),
            model=",".join(config.models),
            config=EvalConfig(epochs=1),
            packages={"stochbox": __version__},
            metadata={"stochbox_run_dir": str(trace.run_dir), "sandbox": json.loads(json.dumps(info.sandbox, default=str))},
        ),
        results=EvalResults(total_samples=planned, completed_samples=stored, scores=scores),
        stats=EvalStats(started_at=info.created_at, completed_at=max(finished) if finished else "", model_usage=usage),
        samples=samples,
    )


def write_inspect_log(run_dir: Path | str, out: Path | str, *, sandbox: str | None = None) -> Path:
    """Write the run's eval log to ``out`` (``.eval``: Inspect's zip format; ``.json``: its JSON format)."""
    out = Path(out).expanduser()
    log = run_to_eval_log(run_dir, sandbox=sandbox)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_eval_log(log, str(out), format="json" if out.suffix == ".json" else "eval")
    except OSError as exc:
        raise RunStoreError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out
