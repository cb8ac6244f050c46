"""Replay a run from its trace: re-execute sandbox code, re-run episodes without calling a model.

Contract: :func:`replay_run` never calls a model provider and never writes
into the run folder. It does two things and reports both:

1. **Executions.** Every ``sandbox_exec`` event is run again in a fresh
   sandbox with its recorded code, globals, seed, timeout and output cap
   (traces written before those were recorded: the oracle's execution is
   rebuilt with :func:`stochbox.reference.truth.program_for`, timeout and output cap
   come from the run's limits). A replay is ``identical`` when stdout and exit code
   equal the recorded ones; when the recorded stdout was cut for the trace
   (``truncated``), the recorded text must be a prefix of the new one.
2. **Episodes.** Each LLM episode is run again through the same agent graph
   (native or tool mode, same tool protocol, same episode seed, same limits)
   with a scripted chat model that answers with the recorded
   ``model_response`` events in order. Tools really run in the sandbox, so a
   model reply whose tool calls depend on outputs is fed the new outputs; the
   episode is ``identical`` when the same valid samples and status come out.
   Baseline episodes have no model responses and are replayed by their
   executions only.

Backend differences are results, not errors: a replay on another backend may
legitimately differ (a different numpy), and says so per execution.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stochbox.agents.base import AgentLimits, AgentOptions, EpisodeContext
from stochbox.conditions import run_conditions
from stochbox.results import Mode
from stochbox.traces.run_trace import EpisodeTrace, RunTrace, content_text, load_run_trace
from stochbox.sandbox import Sandbox, SandboxSpec, open_sandbox
from stochbox.sandbox.base import TOOL_OUTPUT_CAP, TRUTH_OUTPUT_CAP
from stochbox.scenarios.samples import coerce_sample
from stochbox.run.trace import TraceEvent

REPLAY_SCHEMA_VERSION = 1


class ExecReplay(BaseModel):
    """One recorded execution run again."""

    model_config = ConfigDict(extra="forbid")

    episode_id: str
    step: int | None
    tool: str | None
    seed: int
    identical: bool
    detail: str = ""  # what differs (empty when identical)


class EpisodeReplay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    episode_id: str
    replayed: bool  # False: nothing to replay through a graph (baselines, episodes without model responses)
    identical: bool | None = None
    recorded_samples: list[Any] = Field(default_factory=list)
    replayed_samples: list[Any] = Field(default_factory=list)
    recorded_status: str | None = None
    replayed_status: str | None = None
    detail: str = ""


class ReplayReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = REPLAY_SCHEMA_VERSION
    run_id: str | None
    sandbox: str
    executions: list[ExecReplay]
    episodes: list[EpisodeReplay]

    @property
    def executions_identical(self) -> int:
        return sum(e.identical for e in self.executions)

    @property
    def episodes_identical(self) -> int:
        return sum(bool(e.identical) for e in self.episodes if e.replayed)

    @property
    def all_identical(self) -> bool:
        return all(e.identical for e in self.executions) and all(e.identical for e in self.episodes if e.replayed)

    def to_json(self) -> str:
        data = self.model_dump(mode="json")
        data["summary"] = {
            "executions": len(self.executions),
            "executions_identical": self.executions_identical,
            "episodes_replayed": sum(e.replayed for e in self.episodes),
            "episodes_identical": self.episodes_identical,
            "all_identical": self.all_identical,
        }
        return json.dumps(data, indent=2, default=str) + "\n"


def _limits(run: RunTrace) -> AgentLimits:
    return run.info.config.agent_options().limits if run.info is not None else AgentLimits()


def _exec_request(run: RunTrace, ep: EpisodeTrace, ev: TraceEvent) -> tuple[str, dict[str, Any], float, int]:
    """(code, globals, timeout_s, output_cap) the recorded execution ran with."""
    p = ev.payload
    limits = _limits(run)
    if "globals" not in p and ep.model == "baseline:oracle" and run.info is not None:
        # Older oracle traces hold the pack's program, not the harness it ran; rebuild what it executed.
        from stochbox.reference.truth import program_for

        scenario = next(s for s in run.info.scenarios if s.id == ep.scenario)
        cfg = run.info.config
        code, globals_ = program_for(scenario, cfg.episodes_per_scenario * cfg.samples_per_episode)
        return code, globals_, scenario.ground_truth.timeout_s, TRUTH_OUTPUT_CAP
    return (
        str(p.get("code") or ""),
        dict(p.get("globals") or {}),
        float(p.get("timeout_s") or limits.exec_timeout_s),
        int(p.get("output_cap") or limits.tool_output_cap or TOOL_OUTPUT_CAP),
    )


def _compare(ev: TraceEvent, stdout: str, exit_code: int | None) -> str:
    p = ev.payload
    recorded = str(p.get("stdout") or "")
    if exit_code != p.get("exit_code"):
        return f"exit code {exit_code} (recorded {p.get('exit_code')})"
    same = stdout.startswith(recorded) if p.get("truncated") and len(stdout) >= len(recorded) else stdout == recorded
    if not same:
        at = next((i for i, (a, b) in enumerate(zip(stdout, recorded)) if a != b), min(len(stdout), len(recorded)))
        return f"stdout differs at character {at}: {stdout[at:at + 40]!r} (recorded {recorded[at:at + 40]!r})"
    return ""


async def _replay_exec(run: RunTrace, ep: EpisodeTrace, ev: TraceEvent, sandbox: Sandbox) -> ExecReplay:
    code, globals_, timeout_s, cap = _exec_request(run, ep, ev)
    seed = int(ev.payload.get("seed") or 0)
    res = await sandbox.aexecute(code, timeout_s=timeout_s, seed=seed, output_cap=cap, globals_=globals_)
    detail = f"sandbox error: {res.sandbox_error}" if res.sandbox_error and not ev.payload.get("sandbox_error") else ""
    detail = detail or _compare(ev, res.stdout, res.exit_code)
    return ExecReplay(
        episode_id=ep.episode_id, step=ev.step, tool=ev.payload.get("tool"), seed=seed, identical=not detail, detail=detail
    )


def _model_info(run: RunTrace, model: str) -> dict[str, Any]:
    if run.info is None:
        return {}
    return next((m for m in run.info.models if m.get("name") == model), {})


async def _replay_episode(run: RunTrace, ep: EpisodeTrace, sandbox: Sandbox) -> EpisodeReplay:
    from stochbox.agents.llm import LLMAgent, ModelBackend
    from stochbox.agents.scripted import ScriptedChatModel, ScriptToolCall, ScriptTurn

    recorded_status = ep.status
    responses = ep.of("model_response")
    if not responses or run.info is None:
        why = "no model responses in the trace (baseline)" if not responses else "run.json is missing"
        return EpisodeReplay(episode_id=ep.episode_id, replayed=False, recorded_status=recorded_status, detail=why)
    turns = [
        ScriptTurn(
            text=content_text(r.payload.get("content")),
            tool_calls=[
                ScriptToolCall(name=c["name"], args=c.get("args") or {}, id=c.get("id"))
                for c in r.payload.get("tool_calls") or []
            ],
        )
        for r in responses
    ]
    protocol = _model_info(run, ep.model).get("tool_protocol") or "functions"

    def model_for(_: EpisodeContext) -> ScriptedChatModel:
        return ScriptedChatModel(turns=turns, tool_calling=protocol == "functions", source=f"trace of {ep.episode_id}")

    backend = ModelBackend(kind="replay", model_for=model_for, tool_calling=protocol == "functions", structured=None, details={})
    limits = _limits(run)
    agent = LLMAgent(ep.model, backend, AgentOptions(tool_protocol=protocol, limits=limits))
    scenario = next(s for s in run.info.scenarios if s.id == ep.scenario)
    mode = Mode(ep.mode)
    ctx = EpisodeContext(
        run_id=run.run_id or "replay",
        episode_id=ep.episode_id,
        scenario=scenario,
        mode=mode,
        n_samples=run.info.config.samples_per_episode,
        seed=int(ep.seed or 0),
        emit=lambda *a, **k: None,
        sandbox=sandbox if mode is Mode.tool else None,
        limits=limits,
        # the episode's condition: its templates decide the retry and last-turn messages the graph adds
        condition={c.name: c for c in run_conditions(run.info)}.get(ep.condition) if run.info is not None else None,
    )
    outcome = await agent.arun_episode(ctx)
    samples = []
    for s in outcome.samples[: ctx.n_samples]:
        try:
            samples.append(coerce_sample(s, scenario.answer_format))
        except ValueError:
            pass
    recorded = ep.samples
    identical = samples == recorded and recorded_status in (None, outcome.status.value)
    detail = "" if identical else f"samples {json.dumps(samples, default=str)[:120]} (recorded {json.dumps(recorded, default=str)[:120]}); status {outcome.status.value} (recorded {recorded_status}); {outcome.reason or ''}".strip("; ")
    return EpisodeReplay(
        episode_id=ep.episode_id,
        replayed=True,
        identical=identical,
        recorded_samples=recorded,
        replayed_samples=samples,
        recorded_status=recorded_status,
        replayed_status=outcome.status.value,
        detail=detail,
    )


async def areplay(run: RunTrace, sandbox: Sandbox, episode_ids: list[str] | None = None, *, concurrency: int = 4) -> ReplayReport:
    """Replay ``run`` (or only ``episode_ids``) in ``sandbox``; see the module contract."""
    eps = [run.episode(i) for i in episode_ids] if episode_ids else list(run.episodes.values())
    gate = asyncio.Semaphore(max(1, concurrency))

    async def bounded(coro):
        async with gate:
            return await coro

    execs = await asyncio.gather(*(bounded(_replay_exec(run, ep, ev, sandbox)) for ep in eps for ev in ep.of("sandbox_exec")))
    episodes = await asyncio.gather(*(bounded(_replay_episode(run, ep, sandbox)) for ep in eps))
    return ReplayReport(
        run_id=run.run_id, sandbox=sandbox.name, executions=list(execs), episodes=list(episodes)
    )


def replay_run(
    run_dir: Path | str, *, episode_ids: list[str] | None = None, sandbox: str | None = None, concurrency: int = 4
) -> ReplayReport:
    """Replay the run in ``run_dir`` in a fresh sandbox (``sandbox``: backend name, default the run's)."""
    run = load_run_trace(run_dir)
    if episode_ids:
        for i in episode_ids:
            run.episode(i)  # unknown ids are the user's mistake: say so before opening a sandbox
    backend = sandbox or (run.info.config.sandbox if run.info is not None else "auto")
    box = open_sandbox(SandboxSpec(backend=backend, pool_size=max(1, min(concurrency, 8))))
    try:
        return asyncio.run(areplay(run, box, episode_ids, concurrency=concurrency))
    finally:
        box.close()
