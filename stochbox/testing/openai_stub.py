"""A real OpenAI-compatible HTTP server on 127.0.0.1, scripted per request (standard library only).

Used by the fault-injection tests and the concurrency benchmark so that the
real clients and their HTTP stacks are exercised (stochbox's aiohttp client and,
with ``--openai-client langchain``, langchain-openai):
``--model openai:stub --base-url http://127.0.0.1:PORT/v1``.

Answers are a pure function of the request: the value is derived from the
``seed`` the agent sends (``derive_seed(episode_seed, "model")``), uniform on
[0, 1), so two runs with the same run seed get the same answers whatever the
timing, and a resumed run matches an uninterrupted one. Without tools the
reply is ``{"answer": x}``; with tools it first calls ``python`` with
``print(x)`` and, once a tool result is in the conversation, answers
``{"answer": x}`` in text.

Faults are queued with :meth:`StubServer.inject` and consumed one per request,
in arrival order: ``{"status": 429, "headers": {...}}``, ``{"status": 500}``
(``"body": "..."`` replaces the JSON error body), ``{"raw_body": "..."}`` (a 200
with this body, e.g. not JSON),
``{"hang_s": 5}`` (answer late), ``{"drop": True}`` (close the connection
without a reply), ``{"empty": True}`` (empty content), ``{"no_choices": True}``,
``{"bad_tool_json": True}`` (tool-call arguments that are not JSON), ``{"code": "..."}``
(the ``python`` call runs this code instead of ``print(x)``), ``{"content": "..."}`` (the reply's text,
sent whatever the request; a lone surrogate in it goes out as the JSON escape ``\\ud83c``, as
providers send a multi-byte character cut by ``max_tokens``), ``{"reasoning": "..."}`` (a ``reasoning_content`` field beside the answer),
``{"tool_args": value}`` (the tool call's ``arguments`` field is this value: a string that is
not a JSON object, or a JSON value of another type), ``{"submit_args": value}`` (when tools are
offered, call ``submit`` with this ``arguments`` field).
``always_tool=True`` makes a model that never stops calling tools. The
decoded body of the last request is kept in ``last_request``, and every
decoded body, in arrival order, in ``bodies``. ``reasoning="..."`` adds that
text as ``reasoning_content`` to every assistant message (as DeepSeek, vLLM
and llama.cpp servers return reasoning). ``reject_fields={"name", ...}``
answers 400 to a request carrying any of those fields, naming it as OpenAI
does (``Unrecognized request argument supplied: name``).

Run standalone (benchmarks): ``python -m stochbox.testing.openai_stub --delay 0.2`` prints the port.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import threading
from collections import deque
from typing import Any

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}


def value_for(seed: Any) -> float:
    """The stub's answer for a request seed: uniform on [0, 1), fixed per seed."""
    digest = hashlib.sha256(str(seed).encode()).hexdigest()
    return int(digest[:13], 16) / 16**13


class StubServer:
    def __init__(
        self,
        *,
        delay_s: float = 0.0,
        always_tool: bool = False,
        port: int = 0,
        reasoning: str | None = None,
        reject_fields: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        self.delay_s = delay_s
        self.always_tool = always_tool
        self.reasoning = reasoning
        self.reject_fields = frozenset(reject_fields)
        self.bodies: list[dict[str, Any]] = []
        self.port = port
        self.faults: deque[dict[str, Any]] = deque()
        self.requests = 0
        self.faults_served: list[dict[str, Any]] = []
        self.last_request: dict[str, Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def inject(self, *faults: dict[str, Any]) -> None:
        with self._lock:
            self.faults.extend(faults)

    # --- serving -------------------------------------------------------------------------

    async def serve(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                reply = await self._respond(lines[0], body)
                if reply is None:  # a dropped connection
                    break
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _respond(self, request_line: str, body: bytes) -> bytes | None:
        if "/chat/completions" not in request_line:
            return _http(404, {"error": {"message": "not found"}})
        with self._lock:
            self.requests += 1
            fault = self.faults.popleft() if self.faults else None
            if fault is not None:
                self.faults_served.append(fault)
        request = json.loads(body or b"{}")
        self.last_request = request
        with self._lock:
            self.bodies.append(request)
        rejected = sorted(self.reject_fields & set(request))
        if rejected:
            message = f"Unrecognized request argument supplied: {rejected[0]}"
            return _http(400, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}})
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        fault = fault or {}
        if fault.get("drop"):
            return None
        if "status" in fault:
            err = fault.get("body") or {"error": {"message": f"injected {fault['status']}", "type": "stub_fault", "code": None}}
            return _http(fault["status"], err, fault.get("headers"))
        if "raw_body" in fault:
            return _http(200, fault["raw_body"])
        if "hang_s" in fault:
            await asyncio.sleep(fault["hang_s"])
        return _http(200, self._completion(request, fault))

    def _completion(self, request: dict[str, Any], fault: dict[str, Any]) -> dict[str, Any]:
        x = value_for(request.get("seed"))
        message: dict[str, Any] = {"role": "assistant", "content": json.dumps({"answer": x})}
        finish = "stop"
        has_tool_result = any(m.get("role") == "tool" for m in request.get("messages", []))
        if request.get("tools") and (self.always_tool or not has_tool_result or fault.get("bad_tool_json")):
            calls_python = self.always_tool or not has_tool_result
            name, args = ("python", json.dumps({"code": f"print({x!r})"})) if calls_python else ("submit", json.dumps({"answer": x}))
            if fault.get("code") and calls_python:
                args = json.dumps({"code": fault["code"]})
            if fault.get("bad_tool_json"):
                args = '{"code": "print(1)", '  # truncated JSON
            n = len(request.get("messages", []))
            message = {"role": "assistant", "content": None, "tool_calls": [{"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": args}}]}
            finish = "tool_calls"
        if "submit_args" in fault and request.get("tools"):
            call = {"id": "call_submit", "type": "function", "function": {"name": "submit", "arguments": fault["submit_args"]}}
            message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
        if "tool_args" in fault and message.get("tool_calls"):
            message["tool_calls"][0]["function"]["arguments"] = fault["tool_args"]
        if "content" in fault:
            message, finish = {"role": "assistant", "content": fault["content"]}, "stop"
        if "reasoning" in fault:
            message["reasoning_content"] = fault["reasoning"]
        if fault.get("empty"):
            message, finish = {"role": "assistant", "content": ""}, "stop"
        if self.reasoning is not None:
            message["reasoning_content"] = self.reasoning
        choices = [] if fault.get("no_choices") else [{"index": 0, "message": message, "finish_reason": finish}]
        return {
            "id": f"chatcmpl-{self.requests}",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model", "stub"),
            "choices": choices,
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
        }

    # --- in a background thread (tests) --------------------------------------------------

    def start(self) -> StubServer:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.serve())
            ready.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=run, name="openai-stub", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:  # open keep-alive connections
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            self._loop.stop()  # type: ignore[union-attr]

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _http(status: int, payload: dict[str, Any] | str, headers: dict[str, str] | None = None) -> bytes:
    body = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", "Content-Type: application/json", f"Content-Length: {len(body)}", "Connection: keep-alive"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    stub = StubServer(delay_s=args.delay, port=args.port)

    async def forever() -> None:
        await stub.serve()
        print(stub.port, flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(forever())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
