"""The self-contained HTML report: one file, no external requests, interactive charts."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
from django.template.loader import render_to_string

from reports.charts import svg_series

ANALYZER_TITLES = (("headers", "Security headers"), ("tls", "SSL/TLS"), ("pagetest", "Page test"), ("lighthouse", "Lighthouse"))
PAGETEST_METRICS = ("ttfb_ms", "fcp_ms", "lcp_ms", "speed_index_ms", "load_ms", "cls", "tbt_ms", "bytes", "requests")


def render_html(document: dict[str, Any], result_dir: Path) -> str:
    series = document.get("timeseries") or []
    analyzers = document.get("analyzers") or {}
    pagetest = analyzers.get("pagetest") or {}
    context = {
        "doc": document,
        "failed_percent": 100 * (document.get("metrics", {}).get("http_req_failed", {}).get("rate") or 0),
        "charts": _charts(series, (document.get("sla") or {}).get("thresholds", {}).get("p90_ms")),
        "analyzer_sections": [(kind, title, analyzers.get(kind)) for kind, title in ANALYZER_TITLES],
        "pagetest_rows": _pagetest_rows(pagetest),
        "filmstrip": _filmstrip(pagetest, result_dir),
        "config_json": orjson.dumps(document.get("config"), option=orjson.OPT_INDENT_2).decode(),
    }
    return render_to_string("reports/report.html", context)


def _charts(series: list[dict[str, Any]], p90_ms: float | None) -> dict[str, Any]:
    return {
        "latency": {**svg_series(series, ("p50_ms", "p95_ms", "p99_ms")), "sla": p90_ms},
        "errors": svg_series(series, ("error_rate",), scale=100),
        "throughput": svg_series(series, ("rps", "vus")),
    }


def _pagetest_rows(result: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    if result.get("status") != "ok":
        return []
    first, repeat = result["first_view"], result["repeat_view"]
    return [(metric, first.get(metric), repeat.get(metric)) for metric in PAGETEST_METRICS]


def _filmstrip(result: dict[str, Any], result_dir: Path) -> list[dict[str, Any]]:
    """Thumbnails inlined as data: URIs, so the file needs nothing else."""
    frames = []
    for frame in (result.get("first_view") or {}).get("filmstrip", [])[:8]:
        path = result_dir / "filmstrip" / frame["file"]
        if path.exists():
            frames.append(
                {"t_ms": frame["t_ms"], "data_uri": "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode()}
            )
    return frames
