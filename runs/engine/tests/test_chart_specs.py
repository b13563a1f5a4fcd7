"""Chart specs from result documents: series by their real names with units, VUs on their own axis, limits
drawn inside the data and stated outside it, zero errors as 0 to 1 %, stage changes and spike recovery marked."""

from __future__ import annotations

from typing import Any

from runs.engine.charts import live_charts, nice_ceiling, run_charts


def document(p95_ms: float = 40.0, error_rate: float = 0.0, **extra: Any) -> dict[str, Any]:
    points = [
        {
            "t": t,
            "vus": 10,
            "rps": 100 + t,
            "error_rate": error_rate,
            "p50_ms": 18.0,
            "p90_ms": 30.0,
            "p95_ms": p95_ms,
            "p99_ms": 80.0,
        }
        for t in range(60)
    ]
    config = {"planned_duration_s": 60, "max_vus": 10, "spec": {}, "sla": {"p90_ms": 1500.0}}
    return {"timeseries": points, "config": config, "sla": {}, "thresholds": [], "scenarios": [], "failures": {}, **extra}


def chart(spec: dict[str, Any], chart_id: str) -> dict[str, Any]:
    return next(c for c in spec["charts"] if c["id"] == chart_id)


def test_the_overview_has_vus_on_a_secondary_axis_and_every_series_its_unit() -> None:
    overview = chart(run_charts(document()), "overview")
    assert [(s["label"], s["unit"]) for s in overview["series"]] == [
        ("requests/s", "req/s"), ("VUs", "VUs"), ("p95", "ms"), ("errors", "%"),
    ]  # fmt: skip
    sides = {axis["scale"]: axis["side"] for axis in overview["axes"]}
    assert sides["rps"] == "left" and sides["vus"] == "right"
    assert all(axis["label"] and axis["unit"] for axis in overview["axes"])
    assert chart(run_charts(document()), "overview")["series"][0]["values"][:3] == [100, 101, 102]


def test_latency_lines_are_named_p50_to_p99_and_a_far_sla_is_stated_not_drawn() -> None:
    latency = chart(run_charts(document()), "latency")
    assert [s["label"] for s in latency["series"]] == ["p50", "p90", "p95", "p99"]
    assert latency["axes"][0]["range"] == [0, 100]  # the p99 of 80 ms, not the 1500 ms SLA
    (sla,) = latency["references"]
    assert sla["drawn"] is False and sla["note"] == "SLA p90 limit 1500 ms — above the data"


def test_a_limit_inside_the_data_is_drawn_and_the_axis_reaches_it() -> None:
    thresholds = [{"metric": "http_req_duration", "expression": "p(95)<90", "ok": True}]
    latency = chart(run_charts(document(p95_ms=70, thresholds=thresholds, config={"sla": {"p90_ms": 60}})), "latency")
    drawn = {r["label"]: r["drawn"] for r in latency["references"]}
    assert drawn == {"SLA p90 limit": True, "k6 threshold p(95)<90": True}
    assert latency["axes"][0]["range"] == [0, 100]


def test_zero_errors_range_from_0_to_1_percent_with_their_threshold() -> None:
    thresholds = [{"metric": "http_req_failed", "expression": "rate<0.01", "ok": True}]
    errors = chart(run_charts(document(thresholds=thresholds)), "errors")
    assert errors["axes"] == [{"scale": "pct", "label": "errors (%)", "unit": "%", "side": "left", "range": [0, 1]}]
    assert errors["series"][0]["values"][0] == 0.0
    assert errors["references"][0]["value"] == 1.0 and errors["references"][0]["drawn"]


def test_a_failed_threshold_gets_its_metric_over_time_and_one_without_a_series_a_note() -> None:
    thresholds = [
        {"metric": "http_req_duration", "expression": "p(95)<20", "ok": False},
        {"metric": "http_req_duration", "expression": "avg<5", "ok": False},
        {"metric": "http_req_failed", "expression": "rate<0.01", "ok": True},
    ]
    spec = run_charts(document(thresholds=thresholds))
    failed = [c for c in spec["charts"] if c["id"].startswith("threshold-")]
    assert [c["title"] for c in failed] == ["Failed threshold http_req_duration p(95)<20"]
    assert (
        failed[0]["series"][0]["label"] == "p95"
        and failed[0]["references"][0]["value"] == 20
        and failed[0]["references"][0]["drawn"]
    )
    assert any("avg<5" in note and "no per-second series" in note for note in spec["notes"])


def test_failures_and_scenarios_get_a_line_each_by_name() -> None:
    over_time = {"t": list(range(60)), "series": [{"label": "HTTP 503", "counts": [1] * 60}]}
    columns = {"t": list(range(60)), **{key: [1] * 60 for key in ("requests", "errors", "p95_ms", "iterations", "busy_vus")}}
    scenarios = [{"name": name, "timeseries": columns} for name in ("browse", "checkout")]
    spec = run_charts(document(failures={"over_time": over_time}, scenarios=scenarios))
    assert [s["label"] for s in chart(spec, "failures")["series"]] == ["HTTP 503"]
    assert [s["label"] for s in chart(spec, "scenario-p95_ms")["series"]] == ["browse", "checkout"]
    assert chart(spec, "scenario-p95_ms")["axes"][0]["unit"] == "ms"


def test_stage_changes_and_the_recovery_are_marked_on_the_time_axis() -> None:
    config = {
        "planned_duration_s": 60,
        "max_vus": 10,
        "spec": {"stages": [{"duration": "20s", "target": 10}, {"duration": "40s", "target": 0}]},
        "sla": {},
    }
    insights = [{"id": "spike_recovered", "evidence": {"load_dropped_at_s": 30, "recovery_s": 4}}]
    marks = run_charts(document(config=config, insights=insights))["annotations"]
    assert marks == [
        {"t": 20, "kind": "stage", "label": "stage 2: ramp to 0 VUs"},
        {"t": 34, "kind": "recovery", "label": "recovered"},
    ]
    spike = {**config, "spec": {"preset": "spike"}}
    labels = [mark["label"] for mark in run_charts(document(config=spike))["annotations"]]
    assert "stage 3: ramp to 10 VUs" in labels  # a tenth of the peak, then all of it


def test_results_stored_before_p90_per_second_show_the_other_percentiles() -> None:
    old = document()
    for point in old["timeseries"]:
        del point["p90_ms"]
    assert [s["label"] for s in chart(run_charts(old), "latency")["series"]] == ["p50", "p95", "p99"]


def test_no_seconds_no_charts_and_live_axes_follow_the_data() -> None:
    assert run_charts(document(timeseries=[]))["charts"] == []
    (overview,) = live_charts()["charts"]
    assert overview["id"] == "live-overview" and all(axis["range"] is None for axis in overview["axes"])


def test_axis_tops_are_round() -> None:
    assert [nice_ceiling(v) for v in (0.3, 1, 1.2, 3, 7, 22, 1500)] == [0.5, 1, 2, 5, 10, 25, 2000]


def test_request_phases_get_a_line_each_and_older_runs_a_note_instead() -> None:
    timed = document()
    for point in timed["timeseries"]:
        point.update({"blocked_ms": 0.1, "connecting_ms": 0.0, "tls_handshaking_ms": 0.0, "sending_ms": 0.02})
        point.update({"waiting_ms": 35.0, "receiving_ms": 0.4, "timing_samples": 90})
    timings = chart(run_charts(timed), "timings")
    assert [s["label"] for s in timings["series"]][4] == "waiting (TTFB)"
    assert len(timings["series"]) == 6 and {s["unit"] for s in timings["series"]} == {"ms"}
    assert timings["axes"][0]["range"] == [0, 50] and "5,400 sampled requests" in timings["note"]
    old = run_charts(document())
    assert "timings" not in [c["id"] for c in old["charts"]]
    assert any(note.startswith("Request timing breakdown") for note in old["notes"])


def test_the_busiest_endpoints_get_their_p95_line_and_a_cap_is_stated() -> None:
    found = {
        "t": list(range(60)),
        "series": [
            {"label": "GET /a", "requests": 600, "p95_ms": [12.0] * 60},
            {"label": "POST /b", "requests": 60, "p95_ms": [None, 300.0] * 30},
        ],
        "tracked": 20,
        "endpoints": 31,
    }
    endpoints = chart(run_charts(document(endpoint_series=found)), "endpoints")
    assert [s["label"] for s in endpoints["series"]] == ["GET /a", "POST /b"]
    assert endpoints["axes"][0]["range"] == [0, 500] and "first 20 endpoints seen; this run had 31" in endpoints["note"]
    assert not any(note.startswith("Per-endpoint") for note in run_charts(document(endpoint_series=found))["notes"])
    assert any(note.startswith("Per-endpoint") for note in run_charts(document())["notes"])


def test_the_endpoint_chart_is_titled_for_one_endpoint_or_several() -> None:
    one: dict[str, Any] = {
        "t": [0, 1],
        "series": [{"label": "GET /a", "requests": 9, "p95_ms": [1.0, 2.0]}],
        "tracked": 1,
        "endpoints": 1,
    }
    assert (
        chart(run_charts(document(endpoint_series=one)), "endpoints")["title"] == "p95 latency of the busiest endpoint per second"
    )
    two = {**one, "series": one["series"] * 2}
    assert (
        chart(run_charts(document(endpoint_series=two)), "endpoints")["title"]
        == "p95 latency of the 2 busiest endpoints per second"
    )
