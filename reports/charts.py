"""Charts drawn from the stored time series and from a test's last runs, for the PDF (ReportLab drawings) and
the HTML (SVG data)."""

from __future__ import annotations

from typing import Any

from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors

MAX_POINTS = 600  # a 30-minute run is drawn from every third second: same shape, a fraction of the work
WIDTH, HEIGHT = 480, 180
RUNS_WIDTH, RUNS_HEIGHT = 236, 150  # two across a page
RUN_LABEL_ROOM = 34  # below the plot, for the runs' slanted names
PALETTE = {
    "p50_ms": "#4c78a8",
    "p95_ms": "#f58518",
    "p99_ms": "#e45756",
    "error_rate": "#e45756",
    "rps": "#4c78a8",
    "vus": "#54a24b",
    "p95": "#f58518",
    "p99": "#e45756",
    "score": "#54a24b",
}


def sampled(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    step = max(1, -(-len(series) // MAX_POINTS))
    return series[::step]


def line_chart(series: list[dict[str, Any]], keys: tuple[str, ...], title: str, scale: float = 1.0,
               sla_line: float | None = None, sla_label: str = "") -> Drawing:  # fmt: skip
    """A line per key over time; `scale` turns rates into percent; an optional dashed SLA line."""
    points = sampled(series)
    drawing = Drawing(WIDTH, HEIGHT + 30)
    drawing.add(String(0, HEIGHT + 18, title, fontName="DejaVuSans-Bold", fontSize=10))
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 40, 30, WIDTH - 60, HEIGHT - 40
    plot.data = [[(p["t"], p[key] * scale) for p in points] or [(0, 0)] for key in keys]
    top = max([value for line in plot.data for _, value in line] + [sla_line or 0, 1e-9])
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax = 0, top * 1.1
    plot.xValueAxis.valueMin = 0
    plot.xValueAxis.valueMax = max(points[-1]["t"] if points else 1, 1)
    for axis in (plot.xValueAxis, plot.yValueAxis):
        axis.labels.fontName, axis.labels.fontSize = "DejaVuSans", 7
    for index, key in enumerate(keys):
        plot.lines[index].strokeColor = colors.HexColor(PALETTE.get(key, "#333333"))
        plot.lines[index].strokeWidth = 1.2
    drawing.add(plot)
    if sla_line is not None:
        y = plot.y + plot.height * sla_line / plot.yValueAxis.valueMax
        drawing.add(Line(plot.x, y, plot.x + plot.width, y, strokeColor=colors.red, strokeDashArray=[4, 3], strokeWidth=1))
        drawing.add(
            String(
                plot.x + plot.width - 2,
                y + 3,
                sla_label,
                fontName="DejaVuSans",
                fontSize=7,
                textAnchor="end",
                fillColor=colors.red,
            )
        )
    drawing.add(_legend(keys, WIDTH - 10, HEIGHT + 20))
    return drawing


def _legend(keys: tuple[str, ...], x: int, y: int) -> Legend:
    legend = Legend()
    legend.x, legend.y, legend.alignment, legend.columnMaximum = x, y, "right", 1
    legend.fontName, legend.fontSize, legend.dxTextSpace = "DejaVuSans", 7, 3
    legend.colorNamePairs = [(colors.HexColor(PALETTE.get(key, "#333333")), key) for key in keys]
    return legend


def svg_series(series: list[dict[str, Any]], keys: tuple[str, ...], scale: float = 1.0) -> dict[str, Any]:
    """The data of an HTML chart: times and one list per key (the page draws and annotates them)."""
    points = sampled(series)
    return {"t": [p["t"] for p in points], "series": {key: [round(p[key] * scale, 3) for p in points] for key in keys}}


def runs_chart(values: dict[str, list[float | None]], title: str, labels: list[str], marks: dict[int, str]) -> Drawing:
    """A line per key over a test's runs, oldest first: x is the run's place, named by `labels` (slanted);
    `marks` names places (the baseline, this run) with a dashed line. A run without a value is left out."""
    drawing = Drawing(RUNS_WIDTH, RUNS_HEIGHT + 16)
    drawing.add(String(0, RUNS_HEIGHT + 4, title, fontName="DejaVuSans-Bold", fontSize=8.5))
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 34, RUN_LABEL_ROOM, RUNS_WIDTH - 46, RUNS_HEIGHT - RUN_LABEL_ROOM - 14
    plot.data = [[(i, v) for i, v in enumerate(line) if v is not None] or [(0, 0)] for line in values.values()]
    top = max([v for line in plot.data for _, v in line] + [1e-9])
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax = 0, top * 1.15
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = -0.3, max(len(labels) - 1, 1) + 0.3
    plot.xValueAxis.valueSteps = list(range(len(labels)))
    plot.xValueAxis.labelTextFormat = lambda x: labels[int(round(x))] if 0 <= round(x) < len(labels) else ""
    plot.xValueAxis.labels.angle, plot.xValueAxis.labels.boxAnchor = 30, "ne"
    for axis in (plot.xValueAxis, plot.yValueAxis):
        axis.labels.fontName, axis.labels.fontSize = "DejaVuSans", 6
    for index, key in enumerate(values):
        plot.lines[index].strokeColor = colors.HexColor(PALETTE.get(key, "#333333"))
        plot.lines[index].strokeWidth = 1.2
        plot.lines[index].symbol = makeMarker("FilledCircle", size=2.5, fillColor=plot.lines[index].strokeColor)
    drawing.add(plot)
    for index, text in marks.items():
        x = plot.x + plot.width * (index - plot.xValueAxis.valueMin) / (plot.xValueAxis.valueMax - plot.xValueAxis.valueMin)
        top_y = plot.y + plot.height
        drawing.add(Line(x, plot.y, x, top_y, strokeColor=colors.grey, strokeDashArray=[3, 2], strokeWidth=0.8))
        drawing.add(String(x, top_y + 2, text, fontName="DejaVuSans", fontSize=6, textAnchor="middle", fillColor=colors.grey))
    if len(values) > 1:
        legend = _legend(tuple(values), RUNS_WIDTH - 64, RUNS_HEIGHT + 8)
        legend.deltax = 32  # the keys are short: two fit beside the title
        drawing.add(legend)
    return drawing


def runs_series(values: dict[str, list[float | None]], labels: list[str], marks: dict[int, str]) -> dict[str, Any]:
    """The data of an HTML chart over a test's runs: places, one list per key (null: no value), each run's
    name and the marked places."""
    return {"t": list(range(len(labels))), "series": values, "labels": labels, "marks": marks}
