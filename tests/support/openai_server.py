"""A small OpenAI- and Anthropic-compatible HTTP server on loopback that records every request.

It answers ``POST /v1/chat/completions`` (JSON, or server-sent events with a usage chunk when
``stream`` is true) and ``POST /v1/messages`` (Anthropic Messages API, JSON or its event
stream); under a base URL of ``/status/<code>/`` it answers every request with that status.
Offered ``headroom_retrieve``, it follows omission markers as a capable model would:
when its system prompt says ``ask for: <query>``, it calls the tool with the key of the newest
tool output's marker and that query, then answers with what the tool returned. Replies are
deterministic — they depend only on the request body — so recorded cassettes stay stable; the
prompt token count in ``usage`` is the real tiktoken count of what arrived, so tests can see that
an optimized request really was smaller.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from headroom_core.tokenizer import count_tokens_messages, count_tokens_text

CREATED = 1_767_225_600  # fixed, so responses are byte-identical across runs


def _reply_text(messages: list[dict[str, Any]]) -> str:
    roles = [m.get("role", "?") for m in messages]
    return f"Received {len(messages)} messages ({', '.join(roles)})."


_MARKER = re.compile(r'headroom_retrieve with key "([0-9a-f]+)"')
_ASK = re.compile(r"ask for: ([^\n]+)")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if isinstance(block, dict):
            parts.append(str(block.get("text") or "") + _text_of(block.get("content")))
    return "".join(parts)


def _follow(body: dict[str, Any]) -> tuple[str, str] | None:
    """What a marker-following model does next: ("call", arguments JSON) when the newest tool
    output names headroom_retrieve, ("answer", text) once the tool answered; None otherwise."""
    tools = body.get("tools") or []
    names = {(tool.get("function") or {}).get("name") or tool.get("name") for tool in tools}
    if "headroom_retrieve" not in names or not body.get("messages"):
        return None
    last = body["messages"][-1]
    text = _text_of(last.get("content"))
    if text.startswith('{"key"'):
        return "answer", f"Retrieved: {text}"
    marker = _MARKER.search(text)
    if marker is None:
        return None
    system = _text_of(body.get("system")) + "".join(
        _text_of(m.get("content")) for m in body["messages"] if m.get("role") == "system"
    )
    ask = _ASK.search(system)
    if ask is None:  # nothing it needs: the model answers from what it sees
        return None
    return "call", json.dumps({"key": marker[1], "query": ask[1]})


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:16]


class _Backlogged(ThreadingHTTPServer):
    """Accepts bursts of connections (the standard library's backlog of 5 drops a load test's)."""

    request_queue_size = 256
    daemon_threads = True


class RecordingLLMServer:
    """Run the server on a free port of 127.0.0.1 in a daemon thread.

    ``requests`` lists ``{"path": ..., "body": <parsed JSON>, "headers": {...}}`` for every
    request received (header names in lower case).
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._httpd = _Backlogged(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.origin}/v1"

    def start(self) -> RecordingLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> RecordingLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"{}")
                headers = {name.lower(): value for name, value in self.headers.items()}
                server.requests.append({"path": self.path, "body": body, "headers": headers})
                failing = re.match(r"/status/(\d{3})/", self.path)
                if failing:  # a base URL of /status/<code>/ answers with that code
                    message = {"error": {"message": f"upstream said {failing[1]}"}}
                    self._send(int(failing[1]), json.dumps(message).encode(), "application/json")
                elif self.path.endswith("/chat/completions"):
                    if body.get("stream"):
                        self._send(200, _chat_stream(body, raw), "text/event-stream")
                    else:
                        self._send(
                            200,
                            json.dumps(_chat_completion(body, raw)).encode(),
                            "application/json",
                        )
                elif self.path.endswith("/messages") and body.get("stream"):
                    self._send(200, _anthropic_stream(body, raw), "text/event-stream")
                elif self.path.endswith("/messages"):
                    self._send(
                        200, json.dumps(_anthropic_message(body, raw)).encode(), "application/json"
                    )
                else:
                    self._send(404, b'{"error": {"message": "unknown path"}}', "application/json")

            def _send(self, status: int, payload: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def _usage(body: dict[str, Any], text: str) -> dict[str, int]:
    prompt = count_tokens_messages(body.get("messages", []), body.get("model", "gpt-4o"))
    completion = count_tokens_text(text)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _chat_completion(body: dict[str, Any], raw: bytes) -> dict[str, Any]:
    text = _reply_text(body.get("messages", []))
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    finish = "stop"
    following = _follow(body)
    if following is not None and following[0] == "call":
        call = {"id": f"call_{_digest(raw)}", "type": "function",
                "function": {"name": "headroom_retrieve", "arguments": following[1]}}
        message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}
        text, finish = "", "tool_calls"
    elif following is not None:
        text = following[1]
        message["content"] = text
    return {
        "id": f"chatcmpl-{_digest(raw)}",
        "object": "chat.completion",
        "created": CREATED,
        "model": body.get("model", ""),
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        ],
        "usage": _usage(body, text),
    }


def _chat_stream(body: dict[str, Any], raw: bytes) -> bytes:
    text = _reply_text(body.get("messages", []))
    base = {"id": f"chatcmpl-{_digest(raw)}", "object": "chat.completion.chunk", "created": CREATED,
            "model": body.get("model", "")}  # fmt: skip
    words = text.split(" ")
    deltas = [{"role": "assistant", "content": ""}] + [
        {"content": word if i == 0 else " " + word} for i, word in enumerate(words)
    ]
    chunks = [
        {**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": _usage(body, text)})
    events = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks] + ["data: [DONE]\n\n"]
    return "".join(events).encode()


def _anthropic_message(body: dict[str, Any], raw: bytes) -> dict[str, Any]:
    messages = body.get("messages", [])
    system = "a" if body.get("system") else "no"
    text = f"Received {len(messages)} messages and {system} system prompt."
    prompt = count_tokens_text(json.dumps({"system": body.get("system"), "messages": messages}))
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    stop = "end_turn"
    following = _follow(body)
    if following is not None and following[0] == "call":
        use = {"type": "tool_use", "id": f"toolu_{_digest(raw)}", "name": "headroom_retrieve",
               "input": json.loads(following[1])}
        content, stop = [use], "tool_use"
    elif following is not None:
        text = following[1]
        content = [{"type": "text", "text": text}]
    return {
        "id": f"msg_{_digest(raw)}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": prompt, "output_tokens": count_tokens_text(text)},
    }


def _anthropic_stream(body: dict[str, Any], raw: bytes) -> bytes:
    """The Messages API's event stream for the same reply as :func:`_anthropic_message`."""
    message = _anthropic_message(body, raw)
    text = message["content"][0]["text"]
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    block = {"type": "text", "text": ""}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": block},
    ]
    for i, word in enumerate(text.split(" ")):
        delta = {"type": "text_delta", "text": word if i == 0 else " " + word}
        events.append({"type": "content_block_delta", "index": 0, "delta": delta})
    stop = {"stop_reason": "end_turn", "stop_sequence": None}
    events += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": stop,
            "usage": {"output_tokens": usage["output_tokens"]},
        },
        {"type": "message_stop"},
    ]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()
