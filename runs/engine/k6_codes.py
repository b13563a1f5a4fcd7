"""k6's numbers as data: what each exit code of `k6 run` and each request error code means.

Exit codes come from k6's errext/exitcodes, request error codes from its
lib/netext/httpext/error_codes.go (the `error_code` tag on failed samples).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from http import HTTPStatus


@dataclass(frozen=True)
class K6Exit:
    code: int
    name: str
    meaning: str
    outcome: str  # "completed": scored; "stopped": partial, scored; "error": the run failed


# k6's exit codes (errext/exitcodes), kept as data: a run that crosses its
# thresholds (99) is a valid, scored run, not a crash.
EXIT_CODES: dict[int, K6Exit] = {
    exit.code: exit
    for exit in (
        K6Exit(0, "ok", "The test finished and every threshold passed.", "completed"),
        K6Exit(97, "cloud_test_run_failed", "The cloud test run failed.", "error"),
        K6Exit(98, "cloud_failed_to_get_progress", "k6 could not read cloud progress.", "error"),
        K6Exit(99, "thresholds_failed", "At least one k6 threshold failed.", "completed"),
        K6Exit(100, "setup_timeout", "setup() did not finish within setupTimeout.", "error"),
        K6Exit(101, "teardown_timeout", "teardown() did not finish within teardownTimeout.", "error"),
        K6Exit(102, "generic_timeout", "k6 timed out.", "error"),
        K6Exit(103, "generic_engine", "The test was stopped by the engine.", "stopped"),
        K6Exit(104, "invalid_config", "The script's options or the command line are invalid.", "error"),
        K6Exit(105, "external_abort", "The test was aborted by a signal (stopped from outside).", "stopped"),
        K6Exit(106, "cannot_start_rest_api", "k6 could not start its REST API.", "error"),
        K6Exit(107, "script_exception", "The script threw an exception outside an iteration.", "error"),
        K6Exit(108, "script_aborted", "The script called test.abort() (or a threshold aborted it).", "stopped"),
        K6Exit(109, "go_panic", "k6 crashed (Go panic).", "error"),
        K6Exit(110, "marked_as_failed", "The script marked the test as failed with test.fail().", "completed"),
        K6Exit(255, "other", "k6 exited with an unexpected error.", "error"),
    )
}


def describe_exit(code: int) -> K6Exit:
    if code in EXIT_CODES:
        return EXIT_CODES[code]
    if code < 0:
        return K6Exit(code, "killed", f"k6 was killed by signal {signal.Signals(-code).name}.", "error")
    return K6Exit(code, "unknown", f"k6 exited with unknown code {code}.", "error")


# Request error codes (the `error_code` sample tag). Exact codes first; ranges below.
ERROR_CODES: dict[int, str] = {
    1000: "Unclassified error: k6 could not tell more.",
    1010: "Network error on a non-TCP connection.",
    1020: "The request URL is invalid.",
    1050: "The request timed out (k6's `timeout`, 60 s by default).",
    1100: "DNS lookup failed.",
    1101: "DNS: no such host (the name does not resolve).",
    1110: "Blocked: the address is on the platform's IP blocklist (target policy).",
    1111: "Blocked: the host name is on the platform's blocklist (target policy).",
    1200: "TCP error.",
    1201: "TCP: broken pipe while sending (the server closed the connection).",
    1202: "TCP: unknown error while sending or receiving.",
    1210: "TCP: could not connect.",
    1211: "TCP: connect timed out (the server or a firewall does not answer).",
    1212: "TCP: connection refused (nothing listens on that port).",
    1213: "TCP: connect failed with an unknown error.",
    1220: "TCP: connection reset by the server.",
    1300: "TLS handshake or record error.",
    1310: "TLS: the certificate is signed by an unknown authority.",
    1311: "TLS: the certificate does not match the host name.",
    1610: "HTTP/2: the server sent GOAWAY (closing the connection).",
    1630: "HTTP/2: stream error.",
    1650: "HTTP/2: connection error.",
    1701: "The response body could not be decompressed.",
}


def error_meaning(code: str | int | None, status: str | int | None = None) -> str:
    """A person's reading of k6's `error_code` tag (and the HTTP status when there is one)."""
    try:
        number = int(code or 0)
    except (TypeError, ValueError):
        number = 0
    if number in ERROR_CODES:
        return ERROR_CODES[number]
    if 1400 <= number < 1600:
        return _http_meaning(number - 1000)
    for base in (1650, 1630, 1610):  # HTTP/2 codes carry the HTTP/2 error code as an offset
        if base < number <= base + 14:
            return ERROR_CODES[base]
    if number:
        return f"k6 error code {number}."
    digits = str(status or "")
    http_status = int(digits) if digits.isdigit() else 0
    return _http_meaning(http_status) if http_status >= 400 else ""


def _http_meaning(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "non-standard status"
    side = "the server failed" if status >= 500 else "the server refused the request"
    return f"HTTP {status} {phrase}: {side}."
