"""The PDF's charts as matplotlib draws them from the chart specs: a legend entry per series with its unit, VUs on
their own axis, the specs' axis ranges, round ticks (no 1e-09), limits drawn only inside the data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reports.charts import chart_figure
from reports.history import trend_chart_spec
from runs.engine.charts import run_charts

Build = Callable[[str], dict[str, Any]]


def figures(document: dict[str, Any]) -> dict[str, Any]:
    spec = run_charts(document)
    return {chart["id"]: (chart, chart_figure(spec, chart)) for chart in spec["charts"]}


def test_the_overview_has_a_legend_entry_per_series_and_vus_on_their_own_right_axis(result_document: Build) -> None:
    chart, figure = figures(result_document("passed"))["overview"]
    (legend,) = figure.legends
    assert [text.get_text() for text in legend.get_texts()] == ["requests/s (req/s)", "VUs", "p95 (ms)", "errors (%)"]
    by_label = {axes.get_ylabel(): axes for axes in figure.axes}
    assert set(by_label) == {"requests/s", "VUs", "latency (ms)", "errors (%)"}
    assert by_label["VUs"].yaxis.get_ticks_position() == "right" and by_label["requests/s"].yaxis.get_ticks_position() == "left"
    for axis in chart["axes"]:
        assert list(by_label[axis["label"]].get_ylim()) == axis["range"]


def test_zero_errors_have_round_ticks_and_a_far_limit_is_not_drawn(result_document: Build) -> None:
    document = result_document("passed")
    for point in document["timeseries"]:
        point["error_rate"] = 0.0
    document["thresholds"] = [{"metric": "http_req_failed", "expression": "rate<0.5", "ok": True}]
    (chart, figure) = figures(document)["errors"]
    axes = figure.axes[0]
    figure.canvas.draw()
    labels = [label.get_text() for label in axes.get_yticklabels()]
    assert labels[0] == "0" and labels[-1] == "1" and not any("e" in label for label in labels)
    assert [line for line in axes.get_lines() if list(line.get_ydata()) == [50, 50]] == []  # 50 % is far above 0–1 %
    assert chart["references"][0]["note"] == "k6 threshold rate<0.5 50 % — above the data"


def test_a_limit_inside_the_data_is_a_dashed_line_at_its_value(result_document: Build) -> None:
    document = result_document("failed")  # p(95)<1 against a p95 of 40 ms: inside the data, drawn
    chart, figure = figures(document)["threshold-0"]
    (reference,) = chart["references"]
    lines = [line for line in figure.axes[0].get_lines() if line.get_linestyle() == "--"]
    assert reference["drawn"] and [list(line.get_ydata()) for line in lines] == [[1, 1]]


def test_the_last_runs_are_charted_like_the_run_with_each_run_named_and_this_run_marked() -> None:
    points = [
        {"run_id": f"{n}0000000-aaaa", "labels": {"git_sha": f"{n}" * 9}, "baseline": n == 1, "p95": 30.0 + n,
         "p99": 40.0 + n, "rps": 100.0, "error_rate": 0.0, "score": 90.0}
        for n in range(1, 4)
    ]  # fmt: skip
    spec = trend_chart_spec({"test": {"name": "checkout"}, "points": points}, "30000000-aaaa")
    assert spec["x"]["names"] == ["1111111", "2222222", "3333333"]
    assert [(m["t"], m["label"]) for m in spec["annotations"]] == [(0, "baseline"), (2, "this run")]
    errors = next(c for c in spec["charts"] if c["id"] == "runs-errors")
    assert errors["axes"][0]["range"] == [0, 1] and errors["series"][0]["unit"] == "%"  # no errors: 0 to 1 %, not 1e-09
    latency = next(c for c in spec["charts"] if c["id"] == "runs-latency")
    figure = chart_figure(spec, latency)
    axes = figure.axes[0]
    assert [label.get_text() for label in axes.get_xticklabels()] == ["1111111", "2222222", "3333333"]
    assert sorted(text.get_text() for text in figure.legends[0].get_texts()) == ["p95 (ms)", "p99 (ms)"]
    assert [text.get_text() for text in axes.texts] == ["baseline", "this run"]
