"""The streaming sample reader on constructed k6 CSV: the numbers are worked out here by hand."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from runs.engine.results import (
    SampleIngester,
    custom_metrics,
    group_rows,
    group_tree,
    metric_tags,
    percentile,
    scenario_executor,
    scenario_summaries,
    summary_checks,
    summary_metrics,
    summary_thresholds,
)

HEADER = "metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata\n"


def row(
    metric: str,
    second: int,
    value: float,
    status: str = "200",
    name: str = "http://t/a",
    url: str | None = None,
    error: str = "",
    scenario: str = "default",
) -> str:
    url = url or name
    return f"{metric},{second},{value:.6f},,{error},,true,,GET,{name},HTTP/1.1,{scenario},,{status},,,{url},,\n"


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
    ingester = SampleIngester(
        path,
        max_endpoints=caps.get("max_endpoints", 100),
        max_failed_samples=caps.get("max_failed", 10),
        max_scenarios=caps.get("max_scenarios", 20),
    )
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


def test_each_scenario_counts_its_own_requests_errors_and_iterations_per_second(tmp_path: Path) -> None:
    text = "".join(request(10, ms, scenario="browse") for ms in range(1, 21))  # 1..20 ms
    text += request(11, 50, "503", scenario="buy") + request(11, 70, scenario="buy") + row("iterations", 11, 1, scenario="buy")
    text += request(12, 9, scenario="")  # teardown(): k6 tags it with no scenario
    browse, buy, teardown = ingest(tmp_path, text).scenario_stats()
    assert (browse["name"], browse["requests"], browse["failed"], browse["active_s"]) == ("browse", 20, 0, 1)
    assert browse["timeseries"]["p95_ms"] == [pytest.approx(19.05), 0.0, 0.0]  # k6's interpolation, per second
    assert browse["p95_ms"] == pytest.approx(19, rel=0.002)  # over the run, from the histogram
    assert (buy["requests"], buy["failed"], buy["error_rate"], buy["iterations"]) == (2, 1, 0.5, 1)
    assert buy["timeseries"] == {
        "t": [0, 1, 2], "requests": [0, 2, 0], "errors": [0, 1, 0], "p95_ms": [0.0, 69.0, 0.0], "iterations": [0, 1, 0],
        "busy_vus": [0.0, 0.0, 0.0],
    }  # fmt: skip
    assert (teardown["name"], teardown["requests"]) == ("(setup and teardown)", 1)


def test_iteration_time_is_spread_over_the_seconds_it_took_as_busy_vus(tmp_path: Path) -> None:
    # Two VUs: one iteration of 2.5 s ending in second 13, and one of 0.5 s ending in second 12.
    text = request(10, 5, scenario="s")
    text += row("iteration_duration", 13, 2500, scenario="s") + row("iteration_duration", 12, 500, scenario="s")
    [scenario] = ingest(tmp_path, text).scenario_stats()
    # Taken to end mid-second: 13 ← 0.5 s, 12 ← 1 s + 0.5 s, 11 ← 1 s.
    assert scenario["timeseries"]["busy_vus"] == [0.0, 1.0, 1.5, 0.5]
    assert scenario["busy_vus_max"] == 1.5


def test_scenarios_are_capped_with_an_overflow_row(tmp_path: Path) -> None:
    text = "".join(request(1, 10, scenario=f"s{n}") for n in range(5))
    stats = ingest(tmp_path, text, max_scenarios=3).scenario_stats()
    assert [(s["name"], s["requests"]) for s in stats] == [("s0", 1), ("s1", 1), ("s2", 1), ("(other scenarios)", 2)]


def test_scenarios_get_their_executor_and_the_thresholds_on_their_submetrics() -> None:
    thresholds = [
        {"metric": "http_req_duration{scenario:buy}", "expression": "p(95)<500", "ok": True},
        {"metric": "http_reqs{ scenario: buy , status:200}", "expression": "count>1", "ok": False},
        {"metric": "http_req_duration{scenario:buyer}", "expression": "p(95)<1", "ok": False},
        {"metric": "http_req_duration", "expression": "p(95)<1", "ok": False},
    ]
    [buy] = scenario_summaries([{"name": "buy", "requests": 3}], thresholds, {"executors": ["constant-vus"]})
    assert buy == {"name": "buy", "executor": "constant-vus", "requests": 3, "thresholds": thresholds[:2]}
    assert metric_tags("http_reqs{ scenario: buy , status:200}") == {"scenario": "buy", "status": "200"}
    assert metric_tags("http_reqs") == {} and metric_tags("cart{url:http://t/a}") == {"url": "http://t/a"}
    named = {"scenarios": {"buy": "shared-iterations"}, "executors": ["constant-vus", "shared-iterations"]}
    assert scenario_executor(named, "buy") == "shared-iterations"
    assert scenario_executor(named, "browse") is None  # two executors and no name: it cannot be told
    assert scenario_executor({"executors": ["constant-vus"]}, "(setup and teardown)") is None


def test_custom_metrics_carry_their_own_thresholds_and_submetrics_follow_them() -> None:
    metrics = summary_metrics(
        {
            "metrics": {
                "cart_time_total": {"count": 3, "rate": 1.5},
                "cart_time{step:pay}": {"avg": 2, "min": 1, "med": 2, "max": 3, "p(90)": 3, "p(95)": 3, "p(99)": 3,
                                        "thresholds": {"max<2": True}},
                "cart_time": {"avg": 2, "min": 1, "med": 2, "max": 3, "p(90)": 3, "p(95)": 3, "p(99)": 3},
                "http_req_duration{scenario:a}": {"avg": 1},
            }
        }
    )  # fmt: skip
    rows = custom_metrics(metrics, [{"metric": "cart_time{step:pay}", "expression": "max<2", "ok": False}])
    assert [(r["name"], r["type"], r["thresholds"]) for r in rows] == [
        ("cart_time", "trend", []),
        ("cart_time{step:pay}", "trend", [{"expression": "max<2", "ok": False}]),
        ("cart_time_total", "counter", []),
    ]
    assert rows[1]["values"] == {"avg": 2, "min": 1, "med": 2, "p90": 3, "p95": 3, "p99": 3, "max": 3}


def test_groups_nest_and_the_flat_lists_of_earlier_runs_give_the_same_tree() -> None:
    checks = [
        {"name": "ok", "group": "", "passes": 3, "fails": 1, "rate": 0.75},
        {"name": "status is 200", "group": "::a", "passes": 4, "fails": 0, "rate": 1.0},
        {"name": "status is 200", "group": "::a::b", "passes": 1, "fails": 1, "rate": 0.5},
    ]
    tree = group_tree(checks, ["::a", "::a::b", "::empty"])
    a, empty = tree
    assert (a["name"], a["passes"], a["fails"], a["rate"]) == ("a", 5, 1, pytest.approx(5 / 6, abs=1e-6))
    assert a["groups"][0] == {"name": "b", "path": "::a::b", "passes": 1, "fails": 1, "rate": 0.5,
                              "checks": [{"name": "status is 200", "passes": 1, "fails": 1, "rate": 0.5}], "groups": []}  # fmt: skip
    assert (empty["name"], empty["rate"], empty["checks"]) == ("empty", None, [])
    assert group_tree(checks, []) == [a]  # a group is known from its checks too
    rows = [(r["kind"], r["depth"], r["name"], r["passes"]) for r in group_rows(tree, checks)]
    assert rows == [
        ("check", 0, "ok", 3), ("group", 0, "a", 5), ("check", 1, "status is 200", 4), ("group", 1, "b", 1),
        ("check", 2, "status is 200", 1), ("group", 0, "empty", 0),
    ]  # fmt: skip


PHASES = ("blocked", "connecting", "tls_handshaking", "sending", "waiting", "receiving")


def timed_request(second: int, ms: float, phases_ms: dict[str, float], name: str = "http://t/a") -> str:
    """A request's rows in k6's order: its count and duration, its six phases, then whether it failed."""
    rows = row("http_reqs", second, 1, name=name) + row("http_req_duration", second, ms, name=name)
    rows += "".join(row(f"http_req_{phase}", second, phases_ms.get(phase, 0.0), name=name) for phase in PHASES)
    return rows + row("http_req_failed", second, 0, name=name)


def test_a_slow_run_has_every_request_phase_averaged_per_second(tmp_path: Path) -> None:
    text = "".join(timed_request(5, 30, {"waiting": w, "connecting": 2.0}) for w in (10.0, 20.0, 30.0))
    text += "".join(timed_request(6, 30, {"waiting": 40.0, "tls_handshaking": t}) for t in (1.0, 3.0))
    first, second = ingest(tmp_path, text).timeseries()
    assert (first["waiting_ms"], first["connecting_ms"], first["tls_handshaking_ms"], first["timing_samples"]) == (
        20.0,
        2.0,
        0.0,
        3,
    )
    assert (second["waiting_ms"], second["tls_handshaking_ms"], second["connecting_ms"], second["timing_samples"]) == (
        40.0,
        2.0,
        0.0,
        2,
    )


def test_a_fast_run_averages_a_sample_of_its_requests_close_to_the_truth(tmp_path: Path) -> None:
    rng = random.Random(3)
    truth = {second: 20.0 + 30 * second for second in range(4)}  # each second's mean waiting time
    text = "".join(
        timed_request(second, 50, {"waiting": rng.uniform(0.5, 1.5) * truth[second], "receiving": 1.0})
        for second in truth
        for _ in range(6000)  # ~22 MB: read in 1 MB chunks, of which the phases of a sample are parsed
    )
    series = ingest(tmp_path, text).timeseries()
    for point in series:
        assert 200 < point["timing_samples"] < point["rps"]  # a sample, and a large one
        assert point["waiting_ms"] == pytest.approx(truth[point["t"]], rel=0.05)
        assert point["receiving_ms"] == 1.0


def test_a_phase_row_cut_by_a_chunk_is_not_read_short(tmp_path: Path) -> None:
    text = HEADER + timed_request(1, 30, {"waiting": 123.456})
    path = tmp_path / "cut.csv"
    path.write_text("")
    ingester = SampleIngester(path, max_endpoints=10, max_failed_samples=5)
    cut = text.index("123.4") + 5  # k6's line ends mid-value when a chunk is read
    for piece in (text[:cut], text[cut:]):
        with path.open("a") as handle:
            handle.write(piece)
        ingester.poll()
    ingester.finish()
    assert ingester.timeseries()[0]["waiting_ms"] == 123.456


def test_the_busiest_endpoints_get_their_p95_per_second_and_gaps_where_they_had_none(tmp_path: Path) -> None:
    text = "".join(request(10, ms, name="http://t/busy") for ms in range(1, 101))  # p95 95.05
    text += "".join(request(11, ms, name="http://t/busy") for ms in range(101, 201))  # p95 195.05
    text += request(10, 7, name="http://t/rare")
    text += "".join(request(10, 1, name=f"http://t/n{n}") for n in range(6))
    found = ingest(tmp_path, text).endpoint_series()
    assert found["t"] == [0, 1] and (found["tracked"], found["endpoints"]) == (8, 8)
    busy = found["series"][0]
    assert busy["label"] == "GET http://t/busy" and busy["requests"] == 200
    assert busy["p95_ms"] == [pytest.approx(95.05), pytest.approx(195.05)]
    assert len(found["series"]) == 5  # the top five of eight
    assert all(s["p95_ms"][1] is None for s in found["series"][1:])  # no request in the second second: a gap


def test_endpoint_series_are_kept_for_the_first_twenty_endpoints_seen(tmp_path: Path) -> None:
    text = "".join(request(1, 5, name=f"http://t/{n}") for n in range(25))
    text += "".join(request(1, 9, name="http://t/late") for _ in range(50))  # busiest, but seen after twenty others
    found = ingest(tmp_path, text).endpoint_series()
    assert (found["tracked"], found["endpoints"]) == (20, 26)
    assert "GET http://t/late" not in [s["label"] for s in found["series"]]


def test_a_request_arriving_after_its_second_closed_still_counts_for_its_endpoint(tmp_path: Path) -> None:
    path = tmp_path / "samples.csv"
    path.write_text(HEADER + request(10, 5) + request(15, 5) + request(16, 5))
    ingester = SampleIngester(path, max_endpoints=10, max_failed_samples=10)
    ingester.poll()  # second 15 seen: 10 is closed
    with path.open("a") as handle:
        handle.write(request(10, 9))
    ingester.finish()
    (endpoint,) = ingester.endpoint_series()["series"]
    assert endpoint["requests"] == 4 and endpoint["p95_ms"][0] == 5.0  # counted; the closed second's p95 stays
