"""Per-episode bookkeeping shared by the native and tool-mode graphs.

Contract: an :class:`EpisodeLedger` is the only way the graphs call a model
or the sandbox, so every call is counted against :class:`AgentLimits` and
traced through ``ctx.emit``:

* :meth:`call_model` emits ``model_request`` (messages as LangChain message
  dicts, tools offered) and ``model_response`` (content, tool_calls,
  latency_s, usage); it raises :class:`LimitReached` instead of calling past
  ``max_model_calls`` or the episode deadline. ``model_response`` also
  carries ``reasoning``: the provider's reasoning text, or null
  (:mod:`stochbox.agents.reasoning`). Transient provider failures
  (429, 5xx, timeouts, lost connections) are retried through
  :func:`stochbox.agents.retry.call_with_retry` under the provider's adaptive
  limiter, each retry emitting ``retry`` [where, attempt, delay_s, reason,
  message]; other provider exceptions, and
  :class:`~stochbox.agents.retry.RetriesExhausted`, propagate (the agent turns
  them into a ``failed`` outcome).
* Outside text is made valid Unicode here, before anything else sees it
  (:mod:`stochbox.unicode_text`): the reply's content, tool calls, reasoning
  and metadata, and the sandbox's stdout, stderr and error; the count of
  replaced code points is the event's ``unicode_replaced`` (absent when 0).
* :meth:`execute` runs the k-th execution of the episode with seed
  ``derive_seed(ctx.seed, "exec", k)`` and emits ``sandbox_exec``; it never
  raises for what the code or the sandbox does.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, messages_to_dict
from langchain_core.runnables import Runnable

from stochbox.agents.base import EpisodeContext, EpisodeOutcome
from stochbox.agents.exec_event import sandbox_exec_fields, valid_exec_result
from stochbox.agents.parsing import ParsedAnswer
from stochbox.agents.reasoning import reasoning_text
from stochbox.agents.limiter import limiter_for, provider_key
from stochbox.results import EpisodeStatus
from stochbox.agents.retry import RetryPolicy, call_with_retry
from stochbox.sandbox.base import ExecResult
from stochbox.seeding import derive_seed
from stochbox.unicode_text import valid_unicode_data

#: ``tool`` name recorded for executions of fenced code blocks (code-block protocol).
CODE_BLOCK = "code_block"
#: Tools whose executed code is the model's own (kept in ``EpisodeOutcome.tool_code``).
_MODEL_CODE_TOOLS = ("python", CODE_BLOCK)


#: Bytes of tool output per requested sample component, so a batch answer printed by a tool fits the cap.
BYTES_PER_VALUE = 32


def tool_output_cap(ctx: EpisodeContext) -> int:
    """Output cap for this episode's executions: ``limits.tool_output_cap``, raised for large batch answers."""
    fmt = ctx.scenario.answer_format
    width = fmt.dim or len(fmt.items or []) or 1
    return max(ctx.limits.tool_output_cap, BYTES_PER_VALUE * width * ctx.n_samples)


@functools.lru_cache(maxsize=64)
def _retry_policy(max_retries: int, attempt_timeout_s: float | None) -> RetryPolicy:
    return RetryPolicy(max_retries=max_retries, attempt_timeout_s=attempt_timeout_s)  # frozen: safe to share


def valid_message(msg: AIMessage) -> tuple[AIMessage, int]:
    """``msg`` with valid Unicode in its content, tool calls (names and arguments), reasoning and
    metadata (:mod:`stochbox.unicode_text`); the number of code points replaced. The same object when 0."""
    fields = {
        "content": msg.content,
        "tool_calls": msg.tool_calls,
        "invalid_tool_calls": msg.invalid_tool_calls,
        "additional_kwargs": msg.additional_kwargs,
        "response_metadata": msg.response_metadata,
    }
    fixed, replaced = valid_unicode_data(fields)
    if not replaced:
        return msg, 0
    return msg.model_copy(update=fixed), replaced


class NotRetried(Exception):
    """A provider error the caller declared permanent (``call_model(permanent=...)``); ``error`` is the original."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error


class LimitReached(Exception):
    """A limit of :class:`AgentLimits` stopped the episode (already recorded as ``limit_hit``)."""

    def __init__(self, limit: str, value: float) -> None:
        super().__init__(f"{limit} ({value:g}) reached")
        self.limit, self.value = limit, value


class EpisodeLedger:
    def __init__(self, ctx: EpisodeContext) -> None:
        self.ctx = ctx
        self.limits = ctx.limits
        self.n_model_calls = 0
        self.n_tool_calls = 0
        self.n_exec = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.tool_code: list[str] = []
        self.last_reply: str | None = None  # text of the latest model reply (raw answer when a limit ends the episode)
        self.limits_hit: list[str] = []
        self.started = time.monotonic()
        self.deadline = self.started + self.limits.episode_timeout_s
        self.output_cap = tool_output_cap(ctx)

    def emit(self, event: str, **fields: Any) -> None:
        self.ctx.emit(event, **fields)

    def hit(self, limit: str, value: float) -> LimitReached:
        """Record that ``limit`` was hit; returns the exception to raise when it ends the episode."""
        if limit not in self.limits_hit:
            self.limits_hit.append(limit)
        self.emit("limit_hit", limit=limit, value=value)
        return LimitReached(limit, value)

    def remaining_s(self) -> float:
        return self.deadline - time.monotonic()

    @property
    def last_model_call(self) -> bool:
        """True when the next model call is the last one allowed."""
        return self.n_model_calls + 1 >= self.limits.max_model_calls

    async def call_model(
        self,
        model: BaseChatModel | Runnable,
        messages: list[BaseMessage],
        *,
        tools: list[dict[str, Any]] | None = None,
        permanent: Callable[[BaseException], bool] | None = None,
    ) -> AIMessage:
        """One model call. ``tools`` are the OpenAI-style function schemas bound to ``model`` (traced:
        names as ``tools``, full schemas as ``tool_schemas``, so a replay can offer exactly the same).
        Errors for which ``permanent`` is true are not retried: they raise :class:`NotRetried` at once."""
        if self.n_model_calls >= self.limits.max_model_calls:
            raise self.hit("max_model_calls", self.limits.max_model_calls)
        remaining = self.remaining_s()
        if remaining <= 0:
            raise self.hit("episode_timeout_s", self.limits.episode_timeout_s)
        self.emit(
            "model_request",
            messages=messages_to_dict(messages),
            tools=[t["function"]["name"] for t in tools or []],
            tool_schemas=tools or [],
        )
        self.n_model_calls += 1
        t0 = time.perf_counter()
        try:

            async def attempt() -> Any:
                try:
                    return await model.ainvoke(messages)
                except Exception as exc:
                    if permanent is not None and permanent(exc):
                        raise NotRetried(exc) from exc
                    raise

            msg = await call_with_retry(
                attempt,
                policy=self._retry_policy,
                deadline=self.deadline,
                on_retry=self._on_retry,
                limiter=limiter_for(provider_key(model), self.limits.max_connections),
            )
        except TimeoutError:
            raise self.hit("episode_timeout_s", self.limits.episode_timeout_s) from None
        latency = time.perf_counter() - t0
        if not isinstance(msg, AIMessage):
            msg = AIMessage(content=str(getattr(msg, "content", msg)))
        msg, replaced = valid_message(msg)
        self.last_reply = msg.text
        usage = dict(msg.usage_metadata or {})
        self.tokens_in += int(usage.get("input_tokens", 0) or 0)
        self.tokens_out += int(usage.get("output_tokens", 0) or 0)
        self.emit(
            "model_response",
            content=msg.content,
            tool_calls=[dict(tc) for tc in msg.tool_calls],
            invalid_tool_calls=[dict(tc) for tc in msg.invalid_tool_calls],
            latency_s=round(latency, 6),
            usage=usage,
            finish_reason=(msg.response_metadata or {}).get("finish_reason"),
            # in-process models report their own compute time; latency_s also counts queueing for the model
            generation_s=(msg.response_metadata or {}).get("generation_s"),
            reasoning=reasoning_text(msg),  # the provider's reasoning text; never parsed as the answer
            **({"unicode_replaced": replaced} if replaced else {}),
        )
        return msg

    @property
    def _retry_policy(self) -> RetryPolicy:
        return _retry_policy(self.limits.max_retries, self.limits.request_timeout_s)

    def _on_retry(self, attempt: int, delay_s: float, reason: str, message: str) -> None:
        self.emit("retry", where="model", attempt=attempt, delay_s=round(delay_s, 3), reason=reason, message=message)

    async def execute(
        self, code: str, *, tool: str, globals_: dict[str, Any] | None = None, agent_code: str | None = None
    ) -> ExecResult:
        """Run ``code``; ``agent_code`` is the model's own part of it (kept in ``tool_code``) when ``code`` wraps it."""
        k = self.n_exec
        self.n_exec += 1
        seed = derive_seed(self.ctx.seed, "exec", k)
        sandbox = self.ctx.sandbox
        if tool in _MODEL_CODE_TOOLS:
            self.tool_code.append(agent_code if agent_code is not None else code)
        timeout = self.limits.exec_timeout_s
        if sandbox is None:
            res = ExecResult(seed=seed, sandbox_error="no sandbox is open for this episode")
        else:
            try:
                res = await sandbox.aexecute(
                    code, timeout_s=timeout, seed=seed, output_cap=self.output_cap, globals_=globals_
                )
            except Exception as exc:  # a backend that breaks its never-raise contract must not end the run
                res = ExecResult(seed=seed, backend=sandbox.name, sandbox_error=f"{type(exc).__name__}: {exc}")
        res, replaced = valid_exec_result(res)
        fields = sandbox_exec_fields(
            res, code=code, globals_=globals_, seed=seed, timeout_s=timeout, output_cap=self.output_cap
        )
        if replaced:
            fields["unicode_replaced"] = replaced
        self.emit("sandbox_exec", tool=tool, exec_index=k, **fields)
        if res.timed_out:
            self.hit("exec_timeout_s", timeout)
        return res

    def record_parse(self, parsed: ParsedAnswer, *, source: str) -> None:
        self.emit(
            "parse",
            ok=parsed.ok,
            value=parsed.samples if parsed.n_requested > 1 else (parsed.samples[0] if parsed.samples else None),
            reason=parsed.reason,
            strategy=parsed.strategy,
            source=source,
            n_valid=len(parsed.samples),
            n_requested=parsed.n_requested,
        )

    def outcome(
        self, status: EpisodeStatus, *, samples: list[Any] | None = None, reason: str | None = None, raw_answer: str | None = None
    ) -> EpisodeOutcome:
        return EpisodeOutcome(
            status=status,
            samples=list(samples or []),
            reason=reason,
            raw_answer=raw_answer,
            n_model_calls=self.n_model_calls,
            n_tool_calls=self.n_tool_calls,
            tokens_in=self.tokens_in,
            tokens_out=self.tokens_out,
            tool_code=list(self.tool_code),
        )

    def finish(self, parsed: ParsedAnswer | None, *, raw_answer: str | None, stopped_by: str | None = None) -> EpisodeOutcome:
        """The outcome for a final parsed answer (or none), emitting ``sample_submitted`` for valid samples."""
        if parsed is not None and parsed.samples:
            self.emit("sample_submitted", samples=parsed.samples)
            status = EpisodeStatus.ok if parsed.ok else EpisodeStatus.partial
            return self.outcome(status, samples=parsed.samples, reason=parsed.reason, raw_answer=raw_answer)
        if stopped_by is not None:
            return self.outcome(EpisodeStatus.limit, reason=stopped_by, raw_answer=raw_answer or self.last_reply)
        reason = parsed.reason if parsed is not None else "no answer"
        return self.outcome(EpisodeStatus.parse_error, reason=reason, raw_answer=raw_answer)
