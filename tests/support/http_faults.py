"""A small real HTTP server on loopback that answers chat completions badly, on purpose.

Each request path's first segment picks the behaviour (``/v1`` is the base URL's tail):
``/500/v1/chat/completions`` answers HTTP 500, ``/503``, ``/429`` (with ``Retry-After: 0``),
``/401``, ``/notjson`` (HTTP 200 with a body that is not JSON), ``/shape`` (HTTP 200 with JSON
that is not a chat completion), ``/ok`` (a well-formed completion with usage). Every request is
counted per behaviour, so a test can see how many attempts reached the server.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OK_BODY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": '{"answer": 5}'},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16},
}


class _Handler(BaseHTTPRequestHandler):
    counts: Counter[str]
    bodies: list[dict[str, object]]

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
        kind = self.path.strip("/").split("/")[0]
        self.counts[kind] += 1
        error = json.dumps({"error": {"message": f"test server: {kind}"}}).encode()
        if kind.isdigit():
            headers = {"Retry-After": "0"} if kind == "429" else None
            self._send(int(kind), error, headers)
        elif kind == "notjson":
            self._send(200, b"<html>a proxy's error page, not JSON</html>")
        elif kind == "shape":
            self._send(200, json.dumps({"unexpected": True}).encode())
        else:
            self._send(200, json.dumps(OK_BODY).encode())


@contextmanager
def bad_server() -> Iterator[tuple[str, Counter[str], list[dict[str, object]]]]:
    """``(root_url, counts, request_bodies)`` of a running server; stopped on exit."""
    counts: Counter[str] = Counter()
    bodies: list[dict[str, object]] = []
    handler = type("Handler", (_Handler,), {"counts": counts, "bodies": bodies})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", counts, bodies
    finally:
        server.shutdown()
        server.server_close()
