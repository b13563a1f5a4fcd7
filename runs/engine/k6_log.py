"""k6's output, read through a pipe into bounded memory: the head and tail of the log, and new lines for the live view.

Nothing of it touches the run's work directory (so `k6 inspect` and `k6 run`
see the same files) or the disk, however much a script prints: lines are cut
at MAX_LINE_BYTES, the stored log keeps its first and last bytes within
MAX_LOG_BYTES, and live lines not yet published are capped too.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import IO

MAX_LINE_BYTES = 4096
MAX_PENDING_LINES = 500
READ_BYTES = 64 * 1024


class LogCapture:
    def __init__(self, max_log_bytes: int) -> None:
        self.head_limit = max_log_bytes // 5
        self.tail_limit = max_log_bytes - self.head_limit
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_bytes = 0
        self.omitted_bytes = 0
        self.pending: deque[str] = deque(maxlen=MAX_PENDING_LINES)
        self.dropped_lines = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, stream: IO[bytes]) -> None:
        self._thread = threading.Thread(target=self._read, args=(stream,), name="k6-log", daemon=True)
        self._thread.start()

    def join(self, timeout_s: float = 10.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def new_lines(self) -> tuple[list[str], int]:
        """Lines since the last call, and how many were dropped because nobody took them in time."""
        with self._lock:
            lines, dropped = list(self.pending), self.dropped_lines
            self.pending.clear()
            self.dropped_lines = 0
        return lines, dropped

    def text(self) -> str:
        with self._lock:
            tail = b"".join(self.tail)
            gap = f"\n… {self.omitted_bytes} bytes of log omitted …\n".encode() if self.omitted_bytes else b""
            return (bytes(self.head) + gap + tail).decode("utf-8", "replace")

    def _read(self, stream: IO[bytes]) -> None:
        partial = b""
        while chunk := stream.read1(READ_BYTES) if hasattr(stream, "read1") else stream.read(READ_BYTES):
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            if len(partial) > MAX_LINE_BYTES:  # a line with no end in sight: keep its start, drop the rest
                lines.append(partial[:MAX_LINE_BYTES] + b" [line cut]")
                partial = b""
            for line in lines:
                self._add(line[:MAX_LINE_BYTES] + (b" [line cut]" if len(line) > MAX_LINE_BYTES else b""))
        if partial:
            self._add(partial[:MAX_LINE_BYTES])

    def _add(self, line: bytes) -> None:
        data = line + b"\n"
        with self._lock:
            if line.strip():
                if len(self.pending) == self.pending.maxlen:
                    self.dropped_lines += 1
                self.pending.append(line.decode("utf-8", "replace"))
            if len(self.head) < self.head_limit:
                room = self.head_limit - len(self.head)
                self.head += data[:room]
                data = data[room:]
            if data:
                self.tail.append(data)
                self.tail_bytes += len(data)
                while self.tail_bytes > self.tail_limit and self.tail:
                    dropped = self.tail.popleft()
                    self.tail_bytes -= len(dropped)
                    self.omitted_bytes += len(dropped)
