"""How numbers read wherever a person sees them (page, reports, CLI): one formatter per kind."""

from __future__ import annotations

from typing import Any, TypeGuard


def percent(rate: float | None) -> str:
    """A rate (0–1) as a percentage with two decimals: 0.03 → '3.00 %'. Every surface writes rates this way."""
    if not _is_number(rate):  # None, or a template's empty string for a missing value
        return "–"
    return f"{100 * rate:.2f} %"


def milliseconds(value_ms: float | None) -> str:
    if not _is_number(value_ms):
        return "–"
    if 0 < abs(value_ms) < 1:
        return f"{value_ms:.3g} ms"  # sub-millisecond limits (p(95)<0.01) must not read as 0.0
    return f"{value_ms:.1f} ms" if value_ms < 10_000 else f"{value_ms / 1000:.2f} s"


def seconds(value_s: float | None) -> str:
    if not _is_number(value_s):
        return "–"
    return f"{value_s:.0f} s" if value_s >= 10 or value_s == int(value_s) else f"{value_s:.1f} s"


def byte_size(value_bytes: int | None) -> str:
    """488 → '488 B', 12_595 → '12.3 KB', 1_300_000 → '1.2 MB' (1 KB = 1024 B): a small page is never '0 KB'."""
    if not _is_number(value_bytes):
        return "–"
    if value_bytes < 1024:
        return f"{value_bytes} B"
    if value_bytes < 1024 * 1024:
        return f"{value_bytes / 1024:.1f} KB"
    return f"{value_bytes / (1024 * 1024):.1f} MB"


def compared_value(name: str, value: float | None) -> str:
    """A compared metric's value (runs/engine/compare.py names them): p50…p99 in ms, error_rate and checks as
    percentages, rps and dropped_iterations as numbers."""
    if not _is_number(value):
        return "–"
    if name.startswith("p") and name[1:].isdigit():
        return milliseconds(value)
    if name in ("error_rate", "checks"):
        return percent(value)
    return f"{value:.4g}"


def compared_change(name: str, delta: float | None) -> str:
    """A compared metric's change with its sign, in its unit; a rate's in percentage points, so that it never
    reads as the relative change (Δ %)."""
    if not _is_number(delta):
        return "–"
    sign = "+" if delta > 0 else "−" if delta < 0 else "±"
    if name in ("error_rate", "checks"):
        return f"{sign}{abs(100 * delta):.2f} pp"
    return sign + compared_value(name, abs(delta))


def evidence_text(evidence: dict[str, object]) -> str:
    """An insight's evidence as one line; rates (keys ending in _rate or _ratio) read as percentages, like everywhere else."""
    parts = [f"{key} {percent(value) if _is_rate_key(key) and _is_number(value) else value}" for key, value in evidence.items()]
    return ", ".join(parts) or "–"


def custom_value(kind: str, key: str, value: float | None) -> str:
    """One value of a custom metric: a Rate's rate as a percentage, anything else as k6 wrote it."""
    if not _is_number(value):
        return "–"
    if kind == "rate" and key == "rate":
        return percent(value)
    return f"{value:.4g}"


def thresholds_text(thresholds: list[dict[str, Any]], with_metric: bool = False) -> str:
    """Thresholds on one line: 'p(95)<10 FAILED, avg<15 passed' (each with its metric first when asked), '–' for none."""
    parts = [
        f"{threshold['metric'] + ' ' if with_metric else ''}{threshold['expression']} {'passed' if threshold['ok'] else 'FAILED'}"
        for threshold in thresholds
    ]
    return ", ".join(parts) or "–"


def _is_rate_key(key: str) -> bool:
    return key.endswith(("_rate", "_ratio")) or "error_rate" in key


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def throttling_text(result: dict[str, Any]) -> str:
    """Which throttling Lighthouse ran, in words: simulated metrics are estimates, not measurements."""
    throttling = result.get("throttling") or {}
    method = throttling.get("method")
    if not method:
        return ""
    names = {"simulate": "simulated throttling (Lantern)", "devtools": "DevTools throttling", "provided": "no throttling"}
    values = (
        f", {throttling['rtt_ms']} ms RTT, {throttling['down_kbps']} kbps, CPU ×{throttling['cpu_slowdown']}"
        if method != "provided"
        else ""
    )
    return f"Mobile metrics with {names.get(method, method)}{values}: {throttling.get('metrics_are', '')}."


def segments_text(doc: dict[str, Any]) -> str:
    """How many k6 processes ran a split run and how each ended; empty for a run in one process."""
    count = (doc.get("config") or {}).get("segments") or 1
    if count <= 1:
        return ""
    ends = [
        f"{p['segment']}: {p['status']}" + (f" (k6 exit {p['exit_code']})" if p["exit_code"] is not None else "")
        for p in (doc.get("k6") or {}).get("segments") or []
    ]
    # Each process's exit is for its own share; the run's exit and verdict above are judged on the whole.
    shares = f" — each on its own share: {', '.join(ends)}" if ends else ""
    return f"Split over {count} k6 processes, results merged and thresholds judged on the whole{shares}."
