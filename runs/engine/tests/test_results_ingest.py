"""The streaming sample reader on constructed k6 CSV: the numbers are worked out here by hand."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from runs.engine.results import SampleIngester, percentile, summary_checks, summary_metrics, summary_thresholds

HEADER = "metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata\n"


def row(
    metric: str, second: int, value: float, status: str = "200", name: str = "http://t/a", url: str | None = None, error: str = ""
) -> str:
    url = url or name
    return f"{metric},{second},{value:.6f},,{error},,true,,GET,{name},HTTP/1.1,default,,{status},,,{url},,\n"


def request(second: int, ms: float, status: str = "200", **kw: str) -> str:
    failed = 0 if status.startswith("2") else 1
    return (
        row("http_reqs", second, 1, status, **kw)
        + row("http_req_duration", second, ms, status, **kw)
        + row("http_req_failed", second, failed, status, **kw)
    )


def ingest(tmp_path: Path, text: str, **caps: int) -> SampleIngester:
    path = tmp_path / "samples.csv"
    path.write_text(HEADER + text)
    ingester = SampleIngester(path, max_endpoints=caps.get("max_endpoints", 100), max_failed_samples=caps.get("max_failed", 10))
    ingester.finish()
    return ingester


def test_percentile_interpolates_like_k6() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 0.5) == 25.0
    assert percentile(values, 0.9) == pytest.approx(37.0)
    assert percentile([5.0], 0.99) == 5.0 and percentile([], 0.5) == 0.0


def test_one_second_buckets_with_exact_percentiles(tmp_path: Path) -> None:
    text = "".join(request(100, ms) for ms in range(1, 101))  # 1..100 ms in second 100
    text += request(101, 500, "500") + request(101, 700) + row("vus", 101, 7, "")
    series = ingest(tmp_path, text).timeseries()
    first, second = series
    assert (first["t"], first["rps"], first["error_rate"]) == (0, 100, 0.0)
    assert (
        first["p50_ms"] == pytest.approx(50.5)
        and first["p95_ms"] == pytest.approx(95.05)
        and first["p99_ms"] == pytest.approx(99.01)
    )
    assert (second["rps"], second["error_rate"], second["vus"], second["statuses"]) == (2, 0.5, 7, {"500": 1, "200": 1})


def test_gaps_are_filled_and_late_samples_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "samples.csv"
    path.write_text(HEADER + request(10, 5) + request(15, 5))
    ingester = SampleIngester(path, max_endpoints=10, max_failed_samples=10)
    ingester.poll()  # second 15 seen: 10 is closed
    with path.open("a") as handle:
        handle.write(request(11, 7))  # arrives after second 11 was closed
    ingester.finish()
    series = ingester.timeseries()
    assert [p["rps"] for p in series] == [1, 1, 0, 0, 0, 1]
    assert series[1]["p50_ms"] == 7.0  # second 11 had no samples when closed, so it still gets exact ones
    assert ingester.late_samples == 2  # its duration and failed rows


def test_quoted_fields_and_commas_in_urls(tmp_path: Path) -> None:
    text = request(1, 12, "500", name='"http://t/a?x=1,2"', error='"dial: refused, again"')
    ingester = ingest(tmp_path, text)
    assert ingester.endpoint_stats()[0]["name"] == "http://t/a?x=1,2"
    assert ingester.failures()["samples"][0]["error"] == "dial: refused, again"


def test_reading_a_growing_file_in_pieces_equals_reading_it_whole(tmp_path: Path) -> None:
    rng = random.Random(7)
    lines = HEADER + "".join(
        request(s, rng.uniform(1, 50), rng.choice(["200", "200", "503"])) for s in range(20) for _ in range(30)
    )
    path = tmp_path / "grow.csv"
    path.write_text("")
    ingester = SampleIngester(path, max_endpoints=10, max_failed_samples=5)
    position = 0
    while position < len(lines):
        step = rng.randint(1, 4000)  # cuts lines in the middle
        with path.open("a") as handle:
            handle.write(lines[position : position + step])
        position += step
        ingester.poll()
    ingester.finish()
    whole = ingest(tmp_path, lines[len(HEADER) :])
    assert ingester.timeseries() == whole.timeseries()
    assert ingester.endpoint_stats() == whole.endpoint_stats()
    assert len(ingester.failure_samples) == 5


def test_endpoints_are_capped_with_an_overflow_row(tmp_path: Path) -> None:
    text = "".join(request(1, 10, name=f"http://t/{n}") for n in range(5))
    stats = ingest(tmp_path, text, max_endpoints=3).endpoint_stats()
    assert len(stats) == 4 and stats[0] == {**stats[0], "name": "(other endpoints)", "count": 2}


def test_endpoint_percentiles_from_the_histogram(tmp_path: Path) -> None:
    text = "".join(request(s // 100, ms) for s, ms in enumerate(range(1, 1001)))
    endpoint = ingest(tmp_path, text).endpoint_stats()[0]
    assert endpoint["count"] == 1000
    assert endpoint["p50_ms"] == pytest.approx(500, rel=0.002) and endpoint["p99_ms"] == pytest.approx(990, rel=0.002)


def test_summary_export_is_read_as_k6_wrote_it() -> None:
    summary = {
        "metrics": {
            "http_req_duration": {
                "avg": 5,
                "min": 1,
                "med": 4,
                "max": 9,
                "p(90)": 8,
                "p(95)": 8.5,
                "p(99)": 8.9,
                "thresholds": {"p(95)<1": True},
            },
            "http_req_failed": {"passes": 1, "fails": 3, "value": 0.25, "thresholds": {"rate<0.5": False}},
            "http_reqs": {"count": 4, "rate": 2.0},
        },
        "root_group": {
            "path": "",
            "checks": {"ok": {"name": "ok", "passes": 3, "fails": 1}},
            "groups": {"login": {"path": "::login", "checks": {"c": {"name": "c", "passes": 1, "fails": 0}}, "groups": {}}},
        },
    }
    metrics = summary_metrics(summary)
    assert metrics["http_req_duration"]["p90"] == 8 and metrics["http_req_failed"]["rate"] == 0.25
    assert summary_thresholds(summary) == [
        {"metric": "http_req_duration", "expression": "p(95)<1", "ok": False},
        {"metric": "http_req_failed", "expression": "rate<0.5", "ok": True},
    ]
    checks, groups = summary_checks(summary)
    assert groups == ["::login"]
    assert {(c["name"], c["group"], c["rate"]) for c in checks} == {("ok", "", 0.75), ("c", "::login", 1.0)}
