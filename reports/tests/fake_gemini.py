"""A local stand-in for the Gemini REST API (the only fake in the suite: the internet is closed)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

ERRORS = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE", 400: "INVALID_ARGUMENT"}


def model_reply(text: str) -> dict[str, Any]:
    """The generateContent response shape."""
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 50, "totalTokenCount": 150},
        "modelVersion": "gemini-2.5-flash-lite",
    }


@dataclass
class Call:
    path: str
    api_key: str
    body: dict[str, Any]


@dataclass
class FakeGemini:
    """Answers each call with the next (status, payload) of `script`; the last one repeats."""

    script: list[tuple[int, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = orjson.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.calls.append(Call(self.path, self.headers.get("x-goog-api-key", ""), body))
                status, payload = fake.script[min(len(fake.calls) - 1, len(fake.script) - 1)]
                if status != 200:
                    payload = {"error": {"code": status, "message": "fake error", "status": ERRORS.get(status, "UNKNOWN")}}
                data = orjson.dumps(payload)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
