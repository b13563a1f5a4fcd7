"""A forward proxy that holds the browser analyzers to the target policy.

Chromium (page test, Lighthouse) and the headers fetch send every request
through it. For each request it resolves the host once, refuses the request
when any address the name resolves to (or the literal address, in any IPv6
form that embeds IPv4) is outside the target policy, and connects to that same
address — so no subresource, redirect, host name such as `localhost`, or DNS
answer that changes between the check and the connection gets around it.
HTTPS goes through CONNECT (the proxy never sees inside the TLS), plain HTTP
as absolute-form requests; each proxied HTTP request gets its own upstream
connection (`Connection: close`), which the browser's cache does not mind.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from runs.engine.targets import TargetRejected, resolve_allowed

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
CONNECT_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 60.0
HOP_BY_HOP = {b"proxy-connection", b"proxy-authorization", b"connection", b"keep-alive"}


@dataclass
class ProxyLog:
    allowed: int = 0
    refused: list[str] = field(default_factory=list)  # "host:port: why", for the analyzer's result

    def as_dict(self) -> dict[str, object]:
        return {"requests_allowed": self.allowed, "requests_refused": len(self.refused), "refused": self.refused[:20]}


@contextmanager
def policy_proxy() -> Iterator[tuple[str, ProxyLog]]:
    """A proxy on 127.0.0.1 for as long as the block runs: yields its URL and what it let through or refused.

    It runs its own event loop in its own thread, so callers may be synchronous or already inside a loop.
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="policy-proxy", daemon=True)
    thread.start()
    proxy_log = ProxyLog()
    start = asyncio.start_server(lambda r, w: _serve(r, w, proxy_log), "127.0.0.1", 0)
    server = asyncio.run_coroutine_threadsafe(start, loop).result(timeout=10)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", proxy_log
    finally:
        # The server and its connections belong to the proxy's loop: they are closed from inside it.
        asyncio.run_coroutine_threadsafe(_shutdown(server), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


async def _shutdown(server: asyncio.Server) -> None:
    server.close()
    connections = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in connections:
        task.cancel()
    await asyncio.gather(*connections, return_exceptions=True)


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, proxy_log: ProxyLog) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT_S)
        if len(head) > MAX_HEAD_BYTES:
            raise ValueError("request head too large")
        method, target, version = head.split(b"\r\n", 1)[0].split(b" ", 2)
        if method == b"CONNECT":
            await _tunnel(target.decode("ascii"), reader, writer, proxy_log)
        else:
            await _forward(method, target.decode("ascii"), version, head, reader, writer, proxy_log)
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionError):
        pass
    except asyncio.CancelledError:
        # The proxy is closing (the analyzer is done): this connection ends with it. Re-raised, asyncio's
        # stream callback would log a traceback for every connection still open.
        pass
    finally:
        writer.close()


async def _tunnel(authority: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, proxy_log: ProxyLog) -> None:
    host, _, port = authority.rpartition(":")
    upstream = await _open(host.strip("[]"), int(port), writer, proxy_log)
    if upstream is None:
        return
    writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
    await writer.drain()
    await _pipe(reader, writer, *upstream)


async def _forward(
    method: bytes, url: str, version: bytes, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
    proxy_log: ProxyLog,
) -> None:  # fmt: skip
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    host, _, port = authority.rpartition(":") if authority.rsplit(":", 1)[-1].isdigit() else (authority, "", "80")
    if scheme.lower() != "http" or not host:
        await _refuse(writer, 400, "Only absolute http:// URLs (or CONNECT) go through this proxy.")
        return
    # Some clients write an IPv6 host without brackets in the absolute form: the last colon is the port's.
    upstream = await _open(host.strip("[]"), int(port), writer, proxy_log)
    if upstream is None:
        return
    up_reader, up_writer = upstream
    origin_form = slash + path or "/"
    up_writer.write(method + b" " + origin_form.encode("ascii") + b" " + version + b"\r\n" + _headers(head) + b"\r\n")
    await _pipe(reader, writer, up_reader, up_writer)


def _headers(head: bytes) -> bytes:
    lines = head.split(b"\r\n")[1:]
    kept = [line for line in lines if line and line.split(b":", 1)[0].strip().lower() not in HOP_BY_HOP]
    return b"".join(line + b"\r\n" for line in [*kept, b"Connection: close"])


async def _open(
    host: str, port: int, writer: asyncio.StreamWriter, proxy_log: ProxyLog
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    try:
        # Resolved once, checked, and that same address is the one connected to.
        address = await asyncio.to_thread(resolve_allowed, host, port)
    except TargetRejected as exc:
        proxy_log.refused.append(f"{host}:{port}: {exc}")
        await _refuse(writer, 403, f"Refused by the k6intel target policy: {exc}")
        return None
    try:
        upstream = await asyncio.wait_for(asyncio.open_connection(str(address), port), CONNECT_TIMEOUT_S)
    except (TimeoutError, OSError) as exc:
        await _refuse(writer, 502, f"Could not connect to {host}:{port}: {exc}")
        return None
    proxy_log.allowed += 1
    return upstream


async def _refuse(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    body = message.encode()
    reason = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter
) -> None:
    async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await asyncio.wait_for(source.read(65536), IDLE_TIMEOUT_S):
                sink.write(data)
                await sink.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            if sink.can_write_eof():
                try:
                    sink.write_eof()
                except (OSError, RuntimeError):
                    pass

    try:
        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
    finally:
        up_writer.close()


def chromium_proxy_flags(proxy_url: str) -> list[str]:
    """Chromium sends everything, loopback included (which it would otherwise bypass), through the proxy."""
    return [f"--proxy-server={proxy_url}", "--proxy-bypass-list=<-loopback>", "--disable-quic"]
