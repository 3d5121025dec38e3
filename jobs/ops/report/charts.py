"""The report's charts: matplotlib figures drawn with the Agg canvas, returned as PNG bytes.

Figures are made without ``pyplot``, so no global figure registry holds on to them after
rendering, and the same data gives the same bytes (no "Software" text chunk in the PNG).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import style
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from jobs.lake.state import STATUS_REMOVED
from jobs.ops.report.gather import Histogram, SplitCount
from udfs.errors import STATUS_FAILED, STATUS_OK, STATUS_PARTIAL, STATUS_SKIPPED

# Chart colours: the latest run's rows, earlier runs' rows, and line series in turn.
LATEST_COLOUR = "#2563eb"
EARLIER_COLOUR = "#94a3b8"
PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#ca8a04", "#db2777")
STATUS_COLOURS = {
    STATUS_OK: "#16a34a",
    STATUS_PARTIAL: "#ca8a04",
    STATUS_FAILED: "#dc2626",
    STATUS_SKIPPED: "#64748b",
    STATUS_REMOVED: "#7c3aed",
}
_CHART_DPI = 100


def _plain(text: str) -> str:
    """Text from the data as matplotlib shows it literally (``$`` would start mathtext)."""
    return text.replace("$", r"\$")


def _figure(width: float = 5.8, height: float = 3.0) -> Figure:
    figure = Figure(figsize=(width, height), dpi=_CHART_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # No "Software" text chunk: the same data gives the same bytes.
    figure.savefig(buffer, format="png", dpi=_CHART_DPI, metadata={"Software": None})
    figure.clear()
    return buffer.getvalue()


def _style(axes: Axes, title: str) -> None:
    axes.set_title(title, fontsize=11, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(labelsize=8)
    axes.grid(axis="both", color="#e5e7eb", linewidth=0.8)
    axes.set_axisbelow(True)


def split_bar_chart(title: str, counts: Sequence[SplitCount], *, latest_label: str = "latest run") -> bytes:
    """Horizontal bars, one per value, the latest run's rows and earlier runs' rows stacked."""
    shown = list(counts)[:25]
    with style.context("default"):
        figure = _figure(5.8, max(2.2, 0.9 + 0.28 * len(shown)))
        axes = figure.add_subplot()
        positions = np.arange(len(shown))
        latest = [c.latest for c in shown][::-1]
        earlier = [c.earlier for c in shown][::-1]
        axes.barh(positions, latest, color=LATEST_COLOUR, label=latest_label, height=0.7)
        axes.barh(positions, earlier, left=latest, color=EARLIER_COLOUR, label="earlier runs", height=0.7)
        axes.set_yticks(positions, [_plain(c.key) for c in shown][::-1])
        top = max((c.total for c in shown), default=1)
        for y, count in enumerate(shown[::-1]):
            axes.text(count.total + top * 0.01, y, f"{count.total:,}", va="center", fontsize=8)
        axes.set_xlim(0, top * 1.12 + 1)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        _style(axes, title)
        axes.grid(axis="y", visible=False)
        axes.legend(fontsize=8, frameon=False, loc="lower right")
        return _png(figure)


def histogram_chart(title: str, histogram: Histogram) -> bytes:
    """Stacked histogram bars, one colour per series."""
    with style.context("default"):
        figure = _figure()
        axes = figure.add_subplot()
        edges = np.array(histogram.edges)
        widths = np.diff(edges)
        bottom = np.zeros(len(widths))
        for index, (series, counts) in enumerate(histogram.counts.items()):
            values = np.array(counts, dtype=float)
            axes.bar(
                edges[:-1],
                values,
                width=widths,
                bottom=bottom,
                align="edge",
                color=PALETTE[index % len(PALETTE)],
                edgecolor="white",
                linewidth=0.5,
                label=_plain(f"{series} ({int(values.sum()):,})"),
            )
            bottom += values
        axes.set_xlim(edges[0], edges[-1])
        axes.set_ylim(0, max(1.0, float(bottom.max(initial=0.0))) * 1.08)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("score", fontsize=9)
        axes.set_ylabel("entities", fontsize=9)
        _style(axes, title)
        if histogram.counts:
            axes.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _png(figure)


def stage_seconds_chart(title: str, rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Horizontal bars of each stage's seconds, the data-quality validation part shaded."""
    with style.context("default"):
        figure = _figure(5.8, max(2.0, 0.9 + 0.4 * len(rows)))
        axes = figure.add_subplot()
        names = [_plain(r["stage"]) for r in rows][::-1]
        total = [float(r["seconds"]) for r in rows][::-1]
        checks = [min(float(r["dq_seconds"] or 0.0), float(r["seconds"])) for r in rows][::-1]
        work = [t - c for t, c in zip(total, checks, strict=True)]
        axes.barh(names, work, color=LATEST_COLOUR, label="processing", height=0.6)
        axes.barh(names, checks, left=work, color="#f59e0b", label="data-quality checks", height=0.6)
        top = max(total, default=1.0) or 1.0
        for y, seconds in enumerate(total):
            label = f"{seconds:,.1f} s" if seconds >= 1 else f"{seconds:.2f} s"
            axes.text(seconds + top * 0.01, y, label, va="center", fontsize=8)
        axes.set_xlim(0, top * 1.15)
        axes.set_xlabel("seconds", fontsize=9)
        _style(axes, title)
        axes.grid(axis="y", visible=False)
        axes.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _png(figure)


def line_chart(title: str, labels: Sequence[str], series: Mapping[str, Sequence[float | None]], ylabel: str) -> bytes:
    """One line per series over the runs (gaps where a run has no value), with markers so
    that a lone value shows."""
    with style.context("default"):
        figure = _figure()
        axes = figure.add_subplot()
        positions = np.arange(len(labels))
        for index, (name, values) in enumerate(series.items()):
            numbers = np.array([np.nan if v is None else v for v in values], dtype=float)
            colour = STATUS_COLOURS.get(name) or PALETTE[index % len(PALETTE)]
            axes.plot(positions, numbers, marker="o", markersize=4, linewidth=1.8, color=colour, label=_plain(name))
        step = max(1, math.ceil(len(labels) / 12))
        axes.set_xticks(positions[::step], [labels[i] for i in range(0, len(labels), step)], rotation=30, ha="right")
        axes.set_xlim(-0.5, len(labels) - 0.5)
        finite = [v for values in series.values() for v in values if v is not None and math.isfinite(v)]
        axes.set_ylim(min(0.0, *finite), max(1.0, *(v * 1.12 for v in finite)))
        if all(float(v).is_integer() for v in finite):  # counts: no 0.5 ticks
            axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel(ylabel, fontsize=9)
        _style(axes, title)
        if len(series) > 1:
            axes.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _png(figure)
