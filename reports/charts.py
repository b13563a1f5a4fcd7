"""Charts of a run as the PDF draws them: the chart specs of runs/engine/charts.py (the same the run page
and the HTML report draw with uPlot) rendered server-side with matplotlib (Agg, the bundled DejaVu fonts),
a test's last runs included."""

from __future__ import annotations

import io
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

FONT_DIR = Path(settings.BASE_DIR) / "static" / "fonts"
THEME_CSS = Path(settings.BASE_DIR) / "static" / "k6intel" / "app.css"
FIGURE_INCHES = (7.0, 2.9)  # the PDF's text width (178 mm) by a third of a page with its legend
PRINT_DPI = 200
OUTER_AXIS_OFFSET_PT = 46  # a third and fourth axis stand outside the first two
CATEGORICAL = 9  # --chart-c0 … --chart-c8
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 7.5,
    "axes.labelsize": 7.5,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.grid": True,
    "grid.color": "#e2e7ee",
    "grid.linewidth": 0.6,
}
RUNS_FIGURE_INCHES = (3.45, 2.5)  # a chart over a test's runs: two across the page


# --- the run's charts (matplotlib) ---------------------------------------------------------------


@cache
def theme_colours() -> dict[str, dict[str, str]]:
    """The light and dark schemes' CSS variables of the web UI (static/k6intel/app.css), so a printed chart
    has the colours of the same chart on screen and the HTML report can declare the same variables."""
    light, dark = re.findall(r":root\s*\{(.*?)\}", THEME_CSS.read_text(), flags=re.S)[:2]
    return {name: dict(re.findall(r"--([\w-]+):\s*([^;]+);", block)) for name, block in (("light", light), ("dark", dark))}


def series_colour(name: str) -> str:
    """A series' colour by its spec name (`rps`, `p95`, `c3`…), as charts.js picks it; unknown names hash to a
    categorical colour."""
    light = theme_colours()["light"]
    return light.get(f"chart-{name}") or light[f"chart-c{abs(_hash(name)) % CATEGORICAL}"]


def _hash(text: str) -> int:
    value = 0
    for char in text:  # charts.js's hash: (h * 31 + code) as a signed 32-bit integer
        value = (value * 31 + ord(char)) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


@cache
def _register_fonts() -> None:
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        font_manager.fontManager.addfont(str(FONT_DIR / name))


def chart_figure(spec: dict[str, Any], chart: dict[str, Any], inches: tuple[float, float] = FIGURE_INCHES) -> Figure:
    """One chart of a spec: its axes with their ranges and units, a line and a legend entry per series, the
    references that fit as dashed lines, the spec's annotations as dotted marks (stage changes unlabelled)."""
    _register_fonts()
    figure = Figure(figsize=inches, dpi=PRINT_DPI, layout="constrained")
    host = figure.add_subplot()
    scales = {axis["scale"]: _y_axis(host, index, axis) for index, axis in enumerate(chart["axes"])}
    lines = []
    for series in chart["series"]:
        values = [math.nan if v is None else v for v in series["values"]]
        (line,) = scales[series["scale"]].plot(
            spec["t"], values, color=series_colour(series["colour"]), linewidth=1.2, label=legend_label(series),
            marker="o" if "x" in spec else None, markersize=2.5,
        )  # fmt: skip
        lines.append(line)
    for reference in chart["references"]:
        if reference["drawn"]:
            _reference_line(scales[reference["scale"]], reference)
    _annotate(host, spec["annotations"])
    if "x" in spec:
        _run_places(host, spec)
    else:
        host.set_xlim(spec["t"][0], max(spec["t"][-1], spec["t"][0] + 1))
        host.set_xlabel("elapsed (s)")
        host.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))  # whole seconds
        host.xaxis.set_major_formatter(FuncFormatter(tick_label))
    columns = 3 if len(lines) in (5, 6) else min(len(lines), 4)  # six phases: two even rows
    figure.legend(handles=lines, loc="outside lower center", ncol=columns, frameon=False)
    return figure


def _run_places(host: Any, spec: dict[str, Any]) -> None:
    """A chart over runs: a tick per run, named and slanted, with a little room either side."""
    host.set_xlim(-0.3, max(len(spec["t"]) - 1, 1) + 0.3)
    host.set_xticks(spec["t"], spec["x"]["names"], rotation=30, ha="right")
    host.set_xlabel(spec["x"]["label"])


def legend_label(series: dict[str, Any]) -> str:
    """`p95 (ms)`; a series named by its unit (VUs) once."""
    return series["label"] if series["label"] == series["unit"] else f"{series['label']} ({series['unit']})"


def _y_axis(host: Any, index: int, axis: dict[str, Any]) -> Any:
    ax = host if index == 0 else host.twinx()
    side = axis["side"]
    if index >= 2:  # beyond a left and a right axis: set off outside them
        ax.spines[side].set_position(("outward", OUTER_AXIS_OFFSET_PT))
        ax.spines["right" if side == "left" else "left"].set_visible(False)
        ax.yaxis.set_ticks_position(side)
        ax.yaxis.set_label_position(side)
    if index:
        ax.grid(False)  # one grid, the first axis's
    if axis["range"] is not None:
        ax.set_ylim(*axis["range"])
    ax.set_ylabel(axis["label"])
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_formatter(FuncFormatter(tick_label))
    return ax


def _reference_line(ax: Any, reference: dict[str, Any]) -> None:
    limit = theme_colours()["light"]["chart-limit"]
    ax.axhline(reference["value"], color=limit, linestyle=(0, (6, 4)), linewidth=1)
    ax.annotate(
        f"{reference['label']} ({tick_label(reference['value'])} {reference['unit']})",
        xy=(0.005, reference["value"]), xycoords=("axes fraction", "data"), xytext=(0, 2), textcoords="offset points",
        color=limit, fontsize=6.5, va="bottom",
    )  # fmt: skip


def _annotate(host: Any, annotations: list[dict[str, Any]]) -> None:
    """Stage changes are many and listed under the charts; the breaking point and the recovery are named here."""
    light = theme_colours()["light"]
    for mark in annotations:
        colour = light["chart-stage" if mark["kind"] == "stage" else "chart-event"]
        host.axvline(mark["t"], color=colour, linestyle=(0, (2, 3)), linewidth=0.9)
        if mark["kind"] != "stage":
            host.annotate(
                mark["label"], xy=(mark["t"], 1), xycoords=("data", "axes fraction"), xytext=(3, -2),
                textcoords="offset points", color=colour, fontsize=6.5, va="top",
            )  # fmt: skip


def tick_label(value: float, _position: object = None) -> str:
    """Round numbers as people write them: 0, 0.25, 1,500 — never 1e-09."""
    if abs(value) < 1e-9:
        return "0"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4g}"


def chart_png(spec: dict[str, Any], chart: dict[str, Any], inches: tuple[float, float] = FIGURE_INCHES) -> bytes:
    """The chart at print resolution."""
    figure = chart_figure(spec, chart, inches)
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PRINT_DPI)
    return buffer.getvalue()


def stage_list(spec: dict[str, Any]) -> str:
    """The stage changes marked (unlabelled) on every chart, as one line to print under them."""
    stages = [f"{mark['t']} s {mark['label']}" for mark in spec["annotations"] if mark["kind"] == "stage"]
    return "Dotted marks: " + "; ".join(stages) + "." if stages else ""
