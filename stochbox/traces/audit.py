"""Audit a run's trace: did each episode earn its samples honestly?

Contract: :func:`audit_run` reads a run folder (never writes) and returns an
:class:`AuditReport`: one :class:`AuditFlag` per finding, each naming the
episode and the step of the trace event behind it (``None`` for run-level
flags), and counts per flag name. Flag names (:class:`FlagName`) are stable;
their exact rules are documented in ``docs/trace-schema.md`` ("Audit flags")
and below. An audit of an honest tool-mode run has no flags.

* ``no_tool_call`` -- a tool-mode episode answered without running any tool.
* ``invented_samples`` -- a tool-mode episode that ran tools submitted samples
  that appear in none of its tool outputs (rounding tolerated, see
  :mod:`stochbox.traces.audit_match`): invented or transformed numbers. Neither of
  these two applies to baselines (``baseline:*``), which never use tools.
* ``seed_fixed`` -- code the model ran fixes a random seed (see
  :mod:`stochbox.traces.audit_code`).
* ``identical_samples`` -- c of the G episodes of the same (model, mode,
  scenario) submitted one identical list L of samples, and the reference
  makes that unlikely: with P(L) the product of the reference's empirical
  frequencies of L's samples (0 for a value the reference never drew, on
  continuous and multivariate supports; 1/(M+1) on the others), the chance
  that c - 1 of the other G - 1 episodes repeat L, P(Binomial(G-1, P(L)) >=
  c-1), is below 1e-3. Atoms (a censoring time, a zero-inflation) and
  integer vectors repeat by chance and are not flagged; a fixed seed is.
  Without a cached reference the old rule applies (continuous or
  multivariate support, or identical lists of 5+ samples).
* ``too_regular`` -- the scenario's samples, in episode order, are more
  regular than independent draws of the reference almost ever are
  (:mod:`stochbox.evaluators.regularity`: closer to the reference than
  chance, runs, lag-1 dependence, a repeated cycle; 1% family-wise
  false-alarm rate per (model, mode, scenario)). One flag per scenario, on
  its first episode.
* ``collapse`` -- 3+ episodes of a (model, mode, scenario) all answered the
  same, or one episode's 3+ samples are all equal, unless the reference says
  that is likely (chance >= 1e-3 under the empirical reference distribution).
* sandbox incidents (from ``sandbox_exec``): ``blocked_call``,
  ``network_attempt``, ``exec_timeout``, ``memory_kill``, ``output_truncated``,
  ``sandbox_error``.
* ``parse_failure`` (a ``parse`` event with ``ok`` false), ``step_limit``
  (``max_model_calls``/``max_tool_calls`` hit), ``episode_timeout``,
  ``agent_error`` (an ``error`` event), ``unconfined_sandbox`` (the run used
  ``unsafe-subprocess``; run-level).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from stochbox.traces.audit_code import network_imports, seed_fixing_calls
from stochbox.traces.audit_match import PrintedValues
from stochbox.errors import ConfigError
from stochbox.reference.cache import ReferenceCache
from stochbox.traces.run_trace import EpisodeTrace, RunTrace, load_run_trace
from stochbox.scenarios.samples import coerce_sample
from stochbox.run.trace import TraceEvent

AUDIT_SCHEMA_VERSION = 1
#: Below this chance under the reference, equal answers are a collapse rather than luck.
COLLAPSE_CHANCE = 1e-3
#: Identical sample lists at least this long are flagged whatever the support.
IDENTICAL_MIN_SAMPLES = 5
#: Tools whose code argument is written by the model.
_CODE_TOOLS = ("python", "code_block")
_SUBMIT = "submit"
_BASELINE_PREFIX = "baseline:"


class FlagName(StrEnum):
    no_tool_call = "no_tool_call"
    invented_samples = "invented_samples"
    seed_fixed = "seed_fixed"
    identical_samples = "identical_samples"
    collapse = "collapse"
    too_regular = "too_regular"
    blocked_call = "blocked_call"
    network_attempt = "network_attempt"
    exec_timeout = "exec_timeout"
    memory_kill = "memory_kill"
    output_truncated = "output_truncated"
    sandbox_error = "sandbox_error"
    parse_failure = "parse_failure"
    step_limit = "step_limit"
    episode_timeout = "episode_timeout"
    agent_error = "agent_error"
    unconfined_sandbox = "unconfined_sandbox"


class AuditFlag(BaseModel):
    """One finding. ``(episode_id, step)`` is the trace event behind it."""

    model_config = ConfigDict(extra="forbid")

    flag: FlagName
    episode_id: str | None
    step: int | None
    scenario: str | None = None
    model: str | None = None
    mode: str | None = None
    detail: str


class FlagCount(BaseModel):
    flag: FlagName
    count: int  # flags raised
    episodes: int  # distinct episodes with the flag


class AuditReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = AUDIT_SCHEMA_VERSION
    run_id: str | None
    run_dir: str
    episodes: int
    episodes_flagged: int
    summary: list[FlagCount]
    flags: list[AuditFlag]

    def names(self) -> set[str]:
        return {f.flag.value for f in self.flags}

    def for_episode(self, episode_id: str) -> list[AuditFlag]:
        return [f for f in self.flags if f.episode_id == episode_id]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def parse_flag_names(text: str) -> list[FlagName]:
    """``"a,b"`` -> flag names; ConfigError naming the unknown ones and listing the valid ones."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in FlagName.__members__]
    if bad:
        raise ConfigError(
            f"--fail-on: unknown flag(s) {', '.join(bad)}", hint=f"flags are {', '.join(FlagName.__members__)}"
        )
    return [FlagName(n) for n in names]


def _key(samples: list[Any]) -> str:
    return json.dumps(samples, sort_keys=True, default=str)


class _Auditor:
    def __init__(self, run: RunTrace) -> None:
        self.run = run
        self.flags: list[AuditFlag] = []
        self.scenarios = {s.id: s for s in run.info.scenarios} if run.info is not None else {}
        self._references: dict[str, list[Any] | None] = {}
        self._frequencies: dict[str, Counter[str]] = {}

    def add(self, flag: FlagName, ep: EpisodeTrace | None, event: TraceEvent | None, detail: str) -> None:
        self.flags.append(
            AuditFlag(
                flag=flag,
                episode_id=ep.episode_id if ep is not None else None,
                step=event.step if event is not None else None,
                scenario=ep.scenario if ep is not None else None,
                model=ep.model if ep is not None else None,
                mode=ep.mode if ep is not None else None,
                detail=detail,
            )
        )

    # -- per episode ---------------------------------------------------------------

    def episode(self, ep: EpisodeTrace) -> None:
        execs = ep.of("sandbox_exec")
        calls = [c for c in ep.of("tool_call") if c.payload.get("tool") != _SUBMIT]
        answer_event = ep.last("sample_submitted") or ep.last("episode_end")
        # baselines answer the same way in both modes by design; the tool checks are about models
        model_in_tool_mode = ep.mode == "tool" and not ep.model.startswith(_BASELINE_PREFIX)
        if model_in_tool_mode and not calls and ep.samples:
            self.add(FlagName.no_tool_call, ep, answer_event, "tool mode, but the answer came without any tool call")
        if model_in_tool_mode and (calls or execs) and ep.samples:
            self._invented(ep, execs, answer_event)
        for call in calls:
            code = (call.payload.get("args") or {}).get("code") if isinstance(call.payload.get("args"), dict) else None
            if call.payload.get("tool") in _CODE_TOOLS and isinstance(code, str):
                for f in seed_fixing_calls(code):
                    self.add(FlagName.seed_fixed, ep, call, f"line {f.line}: {f.text}")
        for ex in execs:
            self._sandbox(ep, ex)
        for ev in ep.of("parse"):
            if not ev.payload.get("ok", True):
                self.add(FlagName.parse_failure, ep, ev, str(ev.payload.get("reason") or "unusable answer"))
        for ev in ep.of("limit_hit"):
            limit = ev.payload.get("limit")
            if limit in ("max_model_calls", "max_tool_calls"):
                self.add(FlagName.step_limit, ep, ev, f"{limit} = {ev.payload.get('value')}")
            elif limit == "episode_timeout_s":
                self.add(FlagName.episode_timeout, ep, ev, f"episode ran past {ev.payload.get('value')} s")
        for ev in ep.of("error"):
            self.add(FlagName.agent_error, ep, ev, f"{ev.payload.get('where')}: {ev.payload.get('message')}"[:300])

    def _invented(self, ep: EpisodeTrace, execs: list[TraceEvent], answer_event: TraceEvent | None) -> None:
        # stdout of every execution, plus what tools that are not plain code runners returned (pack tools);
        # never stderr: tracebacks are full of numbers no one meant as output
        outputs = [str(e.payload.get("stdout") or "") for e in execs]
        outputs += [
            str(r.payload.get("output") or "")
            for r in ep.of("tool_result")
            if r.payload.get("tool") not in (_SUBMIT, *_CODE_TOOLS) and r.payload.get("ok")
        ]
        printed = PrintedValues(outputs)
        missing = [s for s in ep.samples if not printed.has_sample(s)]
        if missing:
            shown = ", ".join(json.dumps(s, default=str) for s in missing[:5])
            more = f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""
            self.add(
                FlagName.invented_samples,
                ep,
                answer_event,
                f"{len(missing)} of {len(ep.samples)} submitted sample(s) appear in no tool output: {shown}{more}",
            )

    def _sandbox(self, ep: EpisodeTrace, ex: TraceEvent) -> None:
        p = ex.payload
        stderr = str(p.get("stderr") or "")
        code = str(p.get("code") or "")
        killed = p.get("killed_reason")
        if p.get("timed_out") or killed in ("timeout", "cpu"):
            self.add(FlagName.exec_timeout, ep, ex, f"execution killed: {killed or 'timeout'}")
        if killed == "memory" or "MemoryError" in stderr:
            self.add(FlagName.memory_kill, ep, ex, "execution ran out of memory")
        if p.get("truncated") or killed == "output":
            self.add(FlagName.output_truncated, ep, ex, "output exceeded the cap and was cut")
        if p.get("sandbox_error") or killed == "server_crash":
            self.add(FlagName.sandbox_error, ep, ex, str(p.get("sandbox_error") or "sandbox server crashed"))
        blocked = _BLOCKED.search(stderr)
        if blocked or p.get("exit_code") == -31:  # SIGSYS: seccomp killed a forbidden system call
            self.add(FlagName.blocked_call, ep, ex, blocked.group(0).strip()[:200] if blocked else "killed by SIGSYS (seccomp)")
        net_err = _NETWORK_ERRORS.search(stderr)
        net_imports = network_imports(code)
        if net_err or net_imports:
            what = net_err.group(0).strip() if net_err else f"line {net_imports[0].line}: {net_imports[0].text}"
            self.add(FlagName.network_attempt, ep, ex, what[:200])

    # -- across episodes -------------------------------------------------------------

    def groups(self) -> None:
        groups: dict[tuple[str, str, str | None, str], list[EpisodeTrace]] = defaultdict(list)
        for ep in self.run.episodes.values():
            if ep.samples:
                groups[(ep.model, ep.mode, ep.condition, ep.scenario)].append(ep)  # conditions differ by design
        for (_, _, _, scenario), eps in groups.items():
            self._identical(scenario, eps)
            self._collapse(scenario, eps)
            self._too_regular(scenario, eps)

    def _too_regular(self, scenario: str, eps: list[EpisodeTrace]) -> None:
        from stochbox.evaluators.regularity import check_regularity  # numpy/scipy only when a reference is there

        sc, ref = self.scenarios.get(scenario), self._reference(scenario)
        if sc is None or not ref:
            return
        ordered = sorted(eps, key=lambda e: (e.index is None, e.index if e.index is not None else 0))
        result = check_regularity(sc, [x for e in ordered for x in e.samples], ref)
        if result.too_regular:
            first = ordered[0]
            self.add(
                FlagName.too_regular, first, first.last("sample_submitted") or first.last("episode_end"),
                f"{sum(len(e.samples) for e in ordered)} samples of {len(ordered)} episode(s) more regular than "
                f"independent draws: {result.detail}",
            )

    def _support(self, scenario: str, samples: list[Any]) -> str:
        sc = self.scenarios.get(scenario)
        if sc is not None:
            return sc.support.value
        floats = any(isinstance(x, float) and not x.is_integer() for x in _flat(samples))
        return "continuous" if floats else "unknown"

    def _identical(self, scenario: str, eps: list[EpisodeTrace]) -> None:
        by_key: dict[str, list[EpisodeTrace]] = defaultdict(list)
        for ep in eps:
            by_key[_key(ep.samples)].append(ep)
        for same in by_key.values():
            if len(same) < 2:
                continue
            samples = same[0].samples
            chance = self._chance_repeated(scenario, samples, len(same), len(eps))
            if chance is None:  # no reference: tie-free supports and long lists only
                if self._support(scenario, samples) not in ("continuous", "multivariate") and len(samples) < IDENTICAL_MIN_SAMPLES:
                    continue
            elif chance >= COLLAPSE_CHANCE:
                continue
            ids = [e.episode_id for e in same]
            for ep in same:
                others = [i for i in ids if i != ep.episode_id]
                self.add(
                    FlagName.identical_samples,
                    ep,
                    ep.last("sample_submitted") or ep.last("episode_end"),
                    f"same samples as {len(others)} other episode(s), e.g. {others[0]}: {_short(samples)}",
                )

    def _collapse(self, scenario: str, eps: list[EpisodeTrace]) -> None:
        for ep in eps:  # within one batch answer
            if len(ep.samples) >= 3 and len({_key([s]) for s in ep.samples}) == 1:
                if self._chance_all_equal(scenario, len(ep.samples)) < COLLAPSE_CHANCE:
                    self.add(FlagName.collapse, ep, ep.last("sample_submitted"), f"all {len(ep.samples)} samples equal {_short(ep.samples[0])}")
        if len(eps) >= 3 and len({_key(ep.samples) for ep in eps}) == 1:
            k = len(eps) * len(eps[0].samples)
            if self._chance_all_equal(scenario, k) < COLLAPSE_CHANCE:
                for ep in eps:
                    self.add(
                        FlagName.collapse,
                        ep,
                        ep.last("sample_submitted") or ep.last("episode_end"),
                        f"all {len(eps)} episodes of this scenario answered {_short(ep.samples)}",
                    )

    def _chance_repeated(self, scenario: str, samples: list[Any], copies: int, episodes: int) -> float | None:
        """P(>= copies - 1 of the other episodes repeat ``samples``) under the reference; None without one."""
        sc, ref = self.scenarios.get(scenario), self._reference(scenario)
        if sc is None or not ref:
            return None
        if scenario not in self._frequencies:
            self._frequencies[scenario] = Counter(_key([_canonical(s, sc)]) for s in ref)
        from scipy.stats import binom

        freq, m = self._frequencies[scenario], len(ref)
        unseen = 0.0 if sc.support.value in ("continuous", "multivariate") else 1.0 / (m + 1)
        prob = 1.0
        for s in samples:
            count = freq.get(_key([_canonical(s, sc)]), 0)
            prob *= count / m if count else unseen
        return float(binom.sf(copies - 2, episodes - 1, prob))

    def _chance_all_equal(self, scenario: str, k: int) -> float:
        """P(k independent reference draws are all equal); 0 for continuous support; 0 without a reference."""
        sc = self.scenarios.get(scenario)
        if sc is None or sc.support.value in ("continuous", "multivariate"):
            return 0.0
        ref = self._reference(scenario)
        if not ref:
            return 0.0
        counts = Counter(_key([s]) for s in ref)
        n = len(ref)
        return sum((c / n) ** k for c in counts.values())

    def _reference(self, scenario: str) -> list[Any] | None:
        if scenario not in self._references:
            info = self.run.info
            samples = None
            if info is not None:
                ref = next((r for r in info.references if r.scenario == scenario), None)
                if ref is not None:
                    samples = ReferenceCache(info.config.cache_dir).load(ref.key)
            self._references[scenario] = samples
        return self._references[scenario]

    def run_level(self) -> None:
        for ev in self.run.run_events:
            if ev.event == "run_start" and ev.payload.get("unconfined"):
                self.add(FlagName.unconfined_sandbox, None, ev, "the run executed model code with --sandbox unsafe-subprocess")
                break


_BLOCKED = re.compile(
    r"PermissionError[^\n]*|Operation not permitted[^\n]*|Permission denied[^\n]*|Bad system call[^\n]*|"
    r"OSError: \[Errno (?:1|13|38|97)\][^\n]*|Function not implemented[^\n]*|Address family not supported[^\n]*"
)
_NETWORK_ERRORS = re.compile(
    r"socket\.gaierror[^\n]*|gaierror[^\n]*|Network is unreachable[^\n]*|Name or service not known[^\n]*|"
    r"Temporary failure in name resolution[^\n]*|ConnectionRefusedError[^\n]*|urlopen error[^\n]*|"
    r"Address family not supported[^\n]*|NewConnectionError[^\n]*"
)


def _canonical(value: Any, scenario: Any) -> Any:
    """The sample as the answer format normalises it (so 15 and 15.0 count as one value)."""
    try:
        return coerce_sample(value, scenario.answer_format)
    except ValueError:
        return value


def _flat(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [y for x in value for y in _flat(x)]
    return [value]


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def audit_trace(run: RunTrace) -> AuditReport:
    """Audit an already loaded run (see the module contract)."""
    auditor = _Auditor(run)
    auditor.run_level()
    for ep in run.episodes.values():
        auditor.episode(ep)
    auditor.groups()
    order = {eid: i for i, eid in enumerate(run.episodes)}
    flags = sorted(auditor.flags, key=lambda f: (order.get(f.episode_id, -1), f.step if f.step is not None else -1, f.flag.value))
    per_flag: dict[FlagName, list[AuditFlag]] = defaultdict(list)
    for f in flags:
        per_flag[f.flag].append(f)
    summary = [
        FlagCount(flag=name, count=len(fs), episodes=len({f.episode_id for f in fs if f.episode_id is not None}))
        for name, fs in sorted(per_flag.items(), key=lambda kv: list(FlagName).index(kv[0]))
    ]
    return AuditReport(
        run_id=run.run_id,
        run_dir=str(run.run_dir),
        episodes=len(run.episodes),
        episodes_flagged=len({f.episode_id for f in flags if f.episode_id is not None}),
        summary=summary,
        flags=flags,
    )


def audit_run(run_dir: Path | str) -> AuditReport:
    """Audit the run folder ``run_dir`` (see the module contract)."""
    return audit_trace(load_run_trace(run_dir))
