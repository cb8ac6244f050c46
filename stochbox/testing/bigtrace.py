"""A synthetic run folder with a large, realistic trace (for viewer tests and benchmarks).

Each episode is a tool-mode conversation of :data:`EVENTS_PER_EPISODE`
events shaped like the ones the real graphs emit (growing model requests,
tool calls with code, sandbox executions with output), so the viewer has to
deal with the same payloads as on a real run. Written as JSON lines directly
(the trace writer's fsync per line would make 100,000 events take minutes).
"""

from __future__ import annotations

import json
from pathlib import Path

from stochbox.run.trace import SCHEMA_VERSION, TRACE_FILE

EVENTS_PER_EPISODE = 20
SCENARIOS = ("die-roll", "expo", "coin", "poisson", "walk")
MODELS = ("openai:gpt-4o-mini", "local:smollm2", "scripted:demo.yaml")
SYSTEM = "You answer questions about random processes by producing a random outcome. " * 6


def _episode_events(i: int) -> list[tuple[str, dict]]:
    scenario, model = SCENARIOS[i % len(SCENARIOS)], MODELS[(i // len(SCENARIOS)) % len(MODELS)]
    messages = [{"type": "system", "data": {"content": SYSTEM}}, {"type": "human", "data": {"content": f"Roll it ({scenario})."}}]
    events: list[tuple[str, dict]] = [("episode_start", {"scenario": scenario, "mode": "tool", "model": model, "index": i, "seed": 2**62 + i})]
    for k in range(4):
        code = f"import numpy as np\nx = np.random.exponential(1.0, size={k + 1})\nprint(x[-1])"
        call = {"name": "python", "args": {"code": code}, "id": f"call_{k}", "type": "tool_call"}
        events.append(("model_request", {"messages": list(messages), "tools": ["python", "submit"]}))
        events.append(("model_response", {"content": "", "tool_calls": [call], "latency_s": 0.4, "usage": {"input_tokens": 300, "output_tokens": 20}}))
        events.append(("tool_call", {"tool": "python", "args": {"code": code}, "call_id": f"call_{k}"}))
        out = f"{(i * 7 + k) % 1000 / 997:.6f}\n"
        events.append(("sandbox_exec", {"tool": "python", "exec_index": k, "code": code, "globals": {}, "seed": 2**61 + i * 4 + k,
                                        "stdout": out, "stderr": "", "exit_code": 0, "timed_out": False, "duration_s": 0.02,
                                        "truncated": False, "killed_reason": None, "sandbox_error": None, "backend": "docker"}))
        messages += [{"type": "ai", "data": {"content": "", "tool_calls": [call]}}, {"type": "tool", "data": {"content": out}}]
    value = float(events[-1][1]["stdout"])
    events += [
        ("parse", {"ok": True, "value": value, "reason": None, "strategy": "structured", "source": "submit"}),
        ("sample_submitted", {"samples": [value]}),
        ("episode_end", {"status": "ok", "n_samples": 1, "reason": None}),
    ]
    assert len(events) == EVENTS_PER_EPISODE
    return events


def write_big_run(run_dir: Path, n_events: int = 100_000) -> Path:
    """A run folder holding only ``trace.jsonl`` with ``n_events`` events (a multiple of 20, plus 2 run events)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    n_episodes = (n_events - 2) // EVENTS_PER_EPISODE
    ts = "2026-01-01T00:00:00.000000+00:00"
    with open(run_dir / TRACE_FILE, "w", encoding="utf-8") as fh:
        def line(event: str, episode_id: str | None, step: int | None, fields: dict) -> None:
            fh.write(json.dumps({"event": event, "run_id": "big", "episode_id": episode_id, "step": step, **fields,
                                 "ts": ts, "schema_version": SCHEMA_VERSION}) + "\n")

        line("run_start", None, None, {"config": {}, "versions": {}, "sandbox": {"backend": "docker"}, "unconfined": False})
        for i in range(n_episodes):
            eid = f"{MODELS[(i // len(SCENARIOS)) % len(MODELS)]}/tool/{SCENARIOS[i % len(SCENARIOS)]}/{i}"
            for step, (event, fields) in enumerate(_episode_events(i)):
                line(event, eid, step, fields)
        line("run_end", None, None, {"status": "complete", "episodes": n_episodes})
    return run_dir
