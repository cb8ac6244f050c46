"""Reasoning text a provider returns beside the answer.

Contract: :func:`reasoning_text` returns the reasoning of one reply, or None.
It reads what the clients keep: ``additional_kwargs["reasoning_content"]``
(the OpenAI-compatible ``message.reasoning_content`` of DeepSeek, vLLM,
llama.cpp servers and others, or ``message.reasoning``: see
:func:`stochbox.agents.openai_http.to_ai_message`) and reasoning/thinking
content blocks (Anthropic, OpenAI Responses). The text goes to the
``model_response`` trace event's ``reasoning`` field only: parsers read
``AIMessage.text``, which holds no reasoning, so it is never taken as the answer.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage

_BLOCK_TYPES = ("reasoning", "thinking")


def _block_text(block: dict[str, Any]) -> str | None:
    for key in ("reasoning", "thinking", "text"):
        value = block.get(key)
        if isinstance(value, str) and value:
            return value
    summary = block.get("summary")
    if isinstance(summary, list):
        parts = [s.get("text", "") for s in summary if isinstance(s, dict)]
        return "\n".join(p for p in parts if p) or None
    return None


def reasoning_text(msg: AIMessage) -> str | None:
    parts: list[str] = []
    kept = (msg.additional_kwargs or {}).get("reasoning_content")
    if isinstance(kept, str) and kept:
        parts.append(kept)
    if isinstance(msg.content, list):
        for block in msg.content:
            if isinstance(block, dict) and block.get("type") in _BLOCK_TYPES:
                text = _block_text(block)
                if text:
                    parts.append(text)
    return "\n\n".join(parts) if parts else None


def _reasoning_of(message: Any) -> str | None:
    value = message.get("reasoning_content") or message.get("reasoning")
    return value if isinstance(value, str) and value else None


def chat_openai_keeping_reasoning(**kwargs: Any) -> Any:
    """A langchain-openai ``ChatOpenAI`` that keeps ``message.reasoning_content`` (or ``reasoning``) in
    ``additional_kwargs`` as the stochbox client does; langchain-openai drops it on purpose (its docs
    leave it to provider subclasses)."""
    from langchain_openai import ChatOpenAI

    class ChatOpenAIKeepingReasoning(ChatOpenAI):
        def _create_chat_result(self, response: Any, generation_info: dict | None = None) -> Any:
            result = super()._create_chat_result(response, generation_info)
            data = response if isinstance(response, dict) else response.model_dump()
            for generation, choice in zip(result.generations, data.get("choices") or []):
                text = _reasoning_of(choice.get("message") or {})
                if text is not None:
                    generation.message.additional_kwargs["reasoning_content"] = text
            return result

    return ChatOpenAIKeepingReasoning(**kwargs)
