"""Charts drawn from the stored time series, for the PDF (ReportLab drawings) and the HTML (SVG data)."""

from __future__ import annotations

from typing import Any

from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.lib import colors

MAX_POINTS = 600  # a 30-minute run is drawn from every third second: same shape, a fraction of the work
WIDTH, HEIGHT = 480, 180
PALETTE = {
    "p50_ms": "#4c78a8",
    "p95_ms": "#f58518",
    "p99_ms": "#e45756",
    "error_rate": "#e45756",
    "rps": "#4c78a8",
    "vus": "#54a24b",
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
