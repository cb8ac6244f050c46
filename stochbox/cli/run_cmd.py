"""``stochbox run`` and ``stochbox truth``.

Thin: options become a :class:`~stochbox.run.config.RunConfig` /
:class:`~stochbox.run.config.TruthConfig`; the work is in
:mod:`stochbox.run.runner` and :mod:`stochbox.reference.cache`. Every mistake is a
StochboxError (one line, exit 2 for bad input); Ctrl-C leaves every finished
episode stored and says how to resume. A run that finished but had episodes
failed by an internal error exits 6 (see :mod:`stochbox.run.internal_failure`).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.table import Table

from stochbox.agents.resolve import supported_forms
from stochbox.run.config import OPTION_NAMES, RunConfig, TruthConfig
from stochbox.errors import ConfigError
from stochbox.run.executors.registry import executors_help
from stochbox.run.runinfo import RUN_FILE, RunInfo
from stochbox.sandbox.base import backends_help

if TYPE_CHECKING:  # the runner and the report load agents and evaluators (scipy): imported when a command runs
    from stochbox.run.runner import RunOutcome

console = Console(stderr=True)

_SANDBOX_HELP = f"Sandbox backend: {backends_help()}."


def run_command(
    model: Optional[list[str]] = typer.Option(None, "--model", "-m", help=f"Model string (repeatable): {supported_forms()}."),
    pack: Optional[list[str]] = typer.Option(None, "--pack", "-p", help="Built-in pack name or folder (repeatable); default: all built-in packs."),
    scenario: Optional[list[str]] = typer.Option(None, "--scenario", "-s", help="Only these scenario ids (repeatable)."),
    mode: Optional[str] = typer.Option(None, "--mode", help="native | tool | both (default native)."),
    n: Optional[int] = typer.Option(None, "--n", help="Samples per scenario, N (default 100)."),
    protocol: Optional[str] = typer.Option(None, "--protocol", help="independent (N one-sample episodes, default) | batch (one N-sample episode)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Root seed (default 0); every episode, reference and oracle seed derives from it."),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="New run folder (must not exist or be empty)."),
    reference_n: Optional[int] = typer.Option(None, "--reference-n", help="Reference samples per scenario (default 10000)."),
    sandbox: Optional[str] = typer.Option(None, "--sandbox", help=_SANDBOX_HELP),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", "-c", help="Episodes in flight at once (default 8)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="Ground-truth programs run at once (default 2)."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Significance level of the pass rule (default: the preset's)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="stochbox (default) | unpredictabench | unpredictabench-mc | unpredictabench-v1."),
    tool_protocol: Optional[str] = typer.Option(None, "--tool-protocol", help="auto | functions | code."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server URL."),
    api_key_env: Optional[str] = typer.Option(None, "--api-key-env", help="Name of the environment variable holding the API key."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Threads for local models."),
    temperature: Optional[float] = typer.Option(None, "--temperature", help="Sampling temperature, 0-2 (default: the model's own)."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Tokens per model reply (default: the model's own; local models 128)."),
    openai_client: Optional[str] = typer.Option(None, "--openai-client", help="Client behind openai: models: stochbox (lean aiohttp, default) | langchain (langchain-openai)."),
    prompts: Optional[Path] = typer.Option(None, "--prompts", help="Prompt templates file (YAML); see 'stochbox prompts show-default' and docs/models.md. Default: the pack's, else the built-in templates."),
    structured_output: Optional[str] = typer.Option(None, "--structured-output", help="auto (default: native requests carry the answer's JSON schema where the model takes one) | off (no response_format; the reply is parsed from text)."),
    model_option: Optional[list[str]] = typer.Option(None, "--model-option", help="Extra provider request field KEY=VALUE (repeatable; VALUE parsed as JSON when it parses), e.g. top_p=0.9, reasoning_effort=high."),
    condition: Optional[list[str]] = typer.Option(None, "--condition", help="Named condition NAME=FILE (repeatable): a condition file (prompts, structured_output, model_options) or a prompt templates file; conditions are paired by episode seed."),
    max_model_calls: Optional[int] = typer.Option(None, "--max-model-calls", help="Model calls per episode (default 8)."),
    max_tool_calls: Optional[int] = typer.Option(None, "--max-tool-calls", help="Tool calls per episode, tool mode (default 6)."),
    exec_timeout: Optional[float] = typer.Option(None, "--exec-timeout", help="Seconds per sandbox execution (default 10)."),
    episode_timeout: Optional[float] = typer.Option(None, "--episode-timeout", help="Seconds per episode (default 300)."),
    max_retries: Optional[int] = typer.Option(None, "--max-retries", help="Retries per model call on rate limits, server errors and timeouts (default 6)."),
    request_timeout: Optional[float] = typer.Option(None, "--request-timeout", help="Seconds per model-call attempt (default: only the episode limit)."),
    executor: Optional[str] = typer.Option(None, "--executor", help=f"Where episodes run: {executors_help()}."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes for --executor processes (default: one per CPU)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster address for --executor ray (default: start a local cluster)."),
    max_connections: Optional[int] = typer.Option(None, "--max-connections", help="Concurrent calls per provider (default: only --concurrency)."),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", help="Truth cache folder (default $STOCHBOX_CACHE_DIR or the user cache dir)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Finish the run in this folder (settings come from its run.json)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no per-scenario rows."),
    strict: bool = typer.Option(False, "--strict", help="Stop when any scenario's ground truth fails (default: leave it out, warn, record it in run.json)."),
) -> None:
    """Run models on scenarios and print the KS@N table."""
    from stochbox.conditions import parse_condition, parse_model_options
    from stochbox.conditions.templates import load_prompt_templates
    from stochbox.analysis.report import build_report, print_report
    from stochbox.run.runner import resume_run, start_run

    runtime = {"sandbox": sandbox, "concurrency": concurrency, "jobs": jobs, "cache_dir": cache_dir, "max_connections": max_connections,
               "executor": executor, "ray_address": ray_address, "workers": workers}
    result_opts = {
        "models": model or None, "packs": pack or None, "scenarios": scenario or None, "mode": mode, "n": n,
        "protocol": protocol, "seed": seed, "reference_n": reference_n, "alpha": alpha, "preset": preset,
        "tool_protocol": tool_protocol, "base_url": base_url, "api_key_env": api_key_env, "threads": threads,
        "temperature": temperature, "max_tokens": max_tokens, "openai_client": openai_client,
        "prompts": load_prompt_templates(prompts) if prompts is not None else None,
        "structured_output": structured_output, "model_options": parse_model_options(model_option) or None,
        "conditions": [parse_condition(c) for c in condition or []] or None,
        "max_model_calls": max_model_calls, "max_tool_calls": max_tool_calls,
        "exec_timeout_s": exec_timeout, "episode_timeout_s": episode_timeout,
        "max_retries": max_retries, "request_timeout_s": request_timeout,
    }
    if resume is not None:
        if out_dir is not None and out_dir.resolve() != resume.resolve():
            raise ConfigError("give either --out (new run) or --resume DIR (continue a run), not both")
        given = sorted(OPTION_NAMES.get(k, "--" + k.replace("_", "-")) for k, v in result_opts.items() if v is not None)
        if given:
            raise ConfigError(
                f"--resume takes the run's settings from {resume}/run.json; drop {', '.join(given)}",
                hint="start a new run with --out to use other settings",
            )
        if strict:
            raise ConfigError("--strict applies when a run starts; a resumed run keeps the exclusions recorded in its run.json")
        run_dir = resume
        do_run = lambda hook: resume_run(resume, overrides=runtime, progress=hook, on_start=warn_at_start)  # noqa: E731
    else:
        if not model:
            raise ConfigError("--model is required (e.g. --model baseline:oracle)")
        if out_dir is None:
            raise ConfigError("--out DIR is required: the new run folder")
        config = RunConfig.from_options(**result_opts, **runtime)
        run_dir = out_dir
        do_run = lambda hook: start_run(config, out_dir, progress=hook, on_start=warn_at_start, strict=strict)  # noqa: E731
    outcome = with_progress(do_run, run_dir, quiet=quiet)
    console.print(
        f"run {outcome.run_id}: {outcome.ran} episode(s) run, {outcome.done}/{outcome.total} stored "
        f"({', '.join(f'{k} {v}' for k, v in sorted(outcome.statuses.items())) or 'nothing to do'}) in {run_dir}"
        + (f"; {outcome.internal_errors} failed by an internal error" if outcome.internal_errors else "")
    )
    print_report(build_report(run_dir), per_scenario=not quiet)
    if outcome.internal_errors:
        from stochbox.run.internal_failure import EXIT_INTERNAL_ERRORS

        typer.echo(
            f"error: {outcome.internal_errors} episode(s) failed by an internal stochbox error (stored as failed; "
            f"the trace's error events with where=internal name the exception); please report it",
            err=True,
        )
        raise typer.Exit(EXIT_INTERNAL_ERRORS)


def warn_at_start(info: RunInfo) -> None:
    """A run's ``on_start`` hook: warn on stderr when its sandbox does not isolate, and once per scenario left out."""
    if not info.sandbox.get("isolating", True):
        typer.echo(f"warning: sandbox '{info.sandbox.get('backend')}' does not isolate; model code and ground truth run unconfined", err=True)
    for e in info.excluded:
        typer.echo(f"warning: scenario '{e.scenario}' ({e.source}) left out of the run: {e.reason} (--strict stops instead)", err=True)


def with_progress(do_run, run_dir: Path, *, quiet: bool) -> RunOutcome:
    """``do_run(progress_hook)`` under the live progress display; Ctrl-C exits 130 saying how to resume."""
    from stochbox.run.progress import RunProgress

    progress = RunProgress(console, disable=quiet or not console.is_terminal)
    try:
        with progress:
            return do_run(progress.hook)
    except KeyboardInterrupt:
        if (run_dir / RUN_FILE).is_file():
            typer.echo(f"interrupted: finished episodes are saved in {run_dir}; resume with: stochbox run --resume {run_dir}", err=True)
        else:
            typer.echo("interrupted before the run started; nothing was saved", err=True)
        sys.exit(130)


def truth_command(
    pack: Optional[list[str]] = typer.Option(None, "--pack", "-p", help="Built-in pack name or folder (repeatable)."),
    scenario: Optional[list[str]] = typer.Option(None, "--scenario", "-s", help="Only these scenario ids (repeatable)."),
    n: Optional[int] = typer.Option(None, "--n", help="Reference samples per scenario (default 10000)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Root seed (default 0); reference seed = derive_seed(seed, 'reference', id)."),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", help="Cache folder (default $STOCHBOX_CACHE_DIR or the user cache dir)."),
    sandbox: Optional[str] = typer.Option(None, "--sandbox", help=_SANDBOX_HELP),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Ground-truth programs run at once (default 2)."),
) -> None:
    """Run ground-truth programs in the sandbox and cache their reference samples."""
    from stochbox.reference.cache import ReferenceCache, fill_cache
    from stochbox.analysis.report import report_console
    from stochbox.run.episode import open_run_sandbox
    from stochbox.scenarios import resolve_packs, select_scenarios

    cfg = TruthConfig.from_options(packs=pack or None, scenarios=scenario or None, n=n, seed=seed, cache_dir=cache_dir, sandbox=sandbox, jobs=jobs)
    scenarios = select_scenarios(resolve_packs(cfg.packs), cfg.scenarios)
    cache = ReferenceCache(cfg.cache_dir)
    missing = [sc for sc in scenarios if cache.load(cache.ref(sc, cfg.n, cfg.seed).key) is None]
    if not missing:  # a sandbox is opened only when some ground truth has to run
        outcomes = asyncio.run(fill_cache(scenarios, cfg.n, cfg.seed, cache, None, cfg.jobs))
    else:
        with open_run_sandbox(cfg.sandbox, cfg.jobs) as sb:
            if not sb.isolating:
                typer.echo(f"warning: sandbox '{sb.name}' does not isolate; ground truth runs unconfined", err=True)
            outcomes = asyncio.run(fill_cache(scenarios, cfg.n, cfg.seed, cache, sb, cfg.jobs))
    table = Table(title=f"reference samples in {cache.root}")
    for col in ("scenario", "n", "status", "seconds"):
        table.add_column(col, justify="right" if col in ("n", "seconds") else "left")
    for o in outcomes:
        status = "failed" if o.error else ("cached" if o.cached else "generated")
        table.add_row(o.scenario, str(o.n), status, f"{o.seconds:.2f}")
    report_console().print(table)
    failed = [o for o in outcomes if o.error]
    for o in failed:
        typer.echo(f"error: {o.error}", err=True)
    if failed:
        raise typer.Exit(5)


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("truth")(truth_command)
