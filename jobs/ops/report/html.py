"""The report page: Jinja2 templates (``templates/*.html.j2``) filled with the gathered data.

``page.html.j2`` is the page (inline CSS, header, navigation); each section has its own
template, and ``macros.html.j2`` holds the pieces they share (a chart, a grid of charts, an
empty-section note, a verdict). The page is self-contained: charts are base64 PNG data URIs,
and there is no script, font or link to anything outside it. Autoescaping is on, so text from
the data (run ids, labels, notes, error messages) is escaped wherever it lands; the only markup
is the templates' own. Formatting (numbers, times, counts) is done by the filters below.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from jobs import code_version
from jobs.ops.report.charts import (
    EARLIER_COLOUR,
    LATEST_COLOUR,
    histogram_chart,
    line_chart,
    split_bar_chart,
    stage_seconds_chart,
)
from jobs.ops.report.gather import (
    COLUMN_FIGURES,
    TREND_CHARTS,
    ReportData,
    RunRecord,
    SplitCount,
    as_number,
    run_labels,
    throughput_rows,
    trend_series,
)
from jobs.quality.audit import RESULTS_DIR
from jobs.quality.results import FailedCheck


@dataclass(frozen=True)
class Chart:
    """A chart as the page shows it: the PNG, its alt text and an optional caption."""

    png: bytes
    alt: str
    caption: str = ""


# A place in a grid of charts: a chart, or the note shown where there is nothing to draw.
Panel = Chart | str


# --- filters --------------------------------------------------------------------------------


def utc_time(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def number(value: Any, digits: int = 2) -> str:
    """A figure for a table cell: ``–`` for none, thousands separators, ``digits`` decimals for floats."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def counts_text(counts: Mapping[str, Any] | None) -> str:
    """``a 1, b 2`` (sorted by key), ``–`` when there are none."""
    return ", ".join(f"{key} {number(value)}" for key, value in sorted((counts or {}).items())) or "–"


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def failed_check_text(check: FailedCheck) -> str:
    """One failing check of a validation result: what failed, on how many rows, and why."""
    text = f"{check.check} ({check.expectation})"
    if check.unexpected is not None and check.elements:
        text += f": {check.unexpected:,} of {check.elements:,} rows"
    if check.observed:
        text += f"; observed {check.observed}"
    if check.raised:
        text += f"; raised {check.raised}"
    return text


def _blank_none(value: Any) -> Any:
    """``{{ x }}`` of a None shows nothing (Jinja would print ``None``)."""
    return "" if value is None else value


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("jobs.ops.report", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=True),
        undefined=StrictUndefined,
        finalize=_blank_none,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        number=number, utc=utc_time, counts=counts_text, data_uri=data_uri, failed_check=failed_check_text
    )
    return env


# --- the charts of each section -------------------------------------------------------------


def _alt(counts: Sequence[SplitCount]) -> str:
    return "; ".join(f"{c.key}: {c.total} ({c.latest} latest run)" for c in counts)


def latest_panels(data: ReportData, latest: RunRecord) -> list[Panel]:
    """The charts of the lake's content after the latest run."""
    panels: list[Panel] = []
    if data.documents:
        total = sum(c.total for c in data.documents)
        png = split_bar_chart("Documents by status", data.documents, latest_label="read by the latest run")
        panels.append(
            Chart(png, f"Documents by status: {_alt(data.documents)}", f"{total:,} documents rows (one per input file)")
        )
    else:
        panels.append("No documents in the lake.")
    if data.pages:
        ocr = next((c.total for c in data.pages if c.key == "ocr"), 0)
        total = sum(c.total for c in data.pages)
        panels.append(
            Chart(
                split_bar_chart("Pages by extraction method", data.pages),
                f"Pages by extraction method: {_alt(data.pages)}",
                f"{total:,} pages, {ocr / total:.1%} read by OCR" if total else "",
            )
        )
    else:
        panels.append("No pages in the lake: nothing has been extracted yet.")
    if data.entities:
        total = sum(c.total for c in data.entities)
        shown = " (25 most frequent shown)" if len(data.entities) > 25 else ""
        panels.append(
            Chart(
                split_bar_chart("Entities by label", data.entities),
                f"Entities by label: {_alt(data.entities)}",
                f"{total:,} entities, {len(data.entities)} labels{shown}",
            )
        )
    else:
        panels.append("No entities in the lake: NER has not run yet (or found nothing).")
    if data.fields:
        found = sum(c.total for c in data.fields) / (data.contracts * len(data.fields))
        panels.append(
            Chart(
                split_bar_chart("Contracts with a value, by field", data.fields),
                f"Contracts with a value, by field: {_alt(data.fields)}",
                f"{data.contracts:,} contracts; {found:.1%} of (contract, field) pairs have a value",
            )
        )
    else:
        panels.append("No contracts in the lake: the fields stage has not run yet.")
    if data.scores is not None and data.scores.counts:
        scored = sum(sum(c) for c in data.scores.counts.values())
        mean = as_number(latest.figure("ner", "mean_score"))
        caption = f"{scored:,} entities with a score, {data.scores.missing:,} without one (spaCy gives none)"
        if mean is not None:
            caption += f"; mean score of the latest run's entities {mean:.3f}"
        panels.append(
            Chart(histogram_chart("Entity scores by source", data.scores), "Entity scores by source", caption)
        )
    elif data.entities:
        panels.append("No entity has a score (spaCy gives none): no score histogram.")
    return panels


def seconds_chart(rows: Sequence[Mapping[str, Any]]) -> Chart:
    alt = "Seconds per stage: " + ", ".join(f"{r['stage']} {r['seconds']:.1f} s" for r in rows)
    return Chart(stage_seconds_chart("Seconds per stage", rows), alt)


def trend_panels(runs: Sequence[RunRecord], labels: Sequence[str]) -> list[Panel]:
    """One line chart per :data:`~jobs.ops.report.gather.TREND_CHARTS` entry, or a note where no run has its figure."""
    series = trend_series(runs)
    panels: list[Panel] = []
    for chart in TREND_CHARTS:
        shown = {name: values for name, values in series[chart.key].items() if any(v is not None for v in values)}
        if shown:
            panels.append(Chart(line_chart(chart.title, labels, shown, chart.unit), chart.title))
        else:
            panels.append(f"{chart.title}: no run recorded this figure.")
    return panels


# --- the page -------------------------------------------------------------------------------


def render_html(data: ReportData, generated_at: dt.datetime) -> str:
    """The report page. Only ``generated_at`` varies between two renderings of the same data."""
    context: dict[str, Any] = {
        "data": data,
        "latest": data.latest,
        "generated_at": generated_at,
        "version": code_version(),
        "results_dir": RESULTS_DIR,
        "latest_colour": LATEST_COLOUR,
        "earlier_colour": EARLIER_COLOUR,
    }
    if data.latest is not None:
        runs = data.trend_runs
        labels = run_labels(runs)
        throughput = throughput_rows(data.latest)
        context |= {
            "latest_panels": latest_panels(data, data.latest),
            "throughput": throughput,
            "seconds_chart": seconds_chart(throughput),
            "trend_panels": trend_panels(runs, labels) if runs else [],
            "trend_rows": list(zip(reversed(runs), reversed(labels), strict=True)),
            "column_figures": COLUMN_FIGURES,
        }
    context["evaluation"] = evaluation_table(data.evaluation)
    context["fields_evaluation"] = data.fields_evaluation[0] if data.fields_evaluation else None
    context["fields_rows"] = data.fields_evaluation
    return environment().get_template("page.html.j2").render(context)


def evaluation_table(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The latest evaluation: its description and, per label, the strict and overlap figures."""
    if not rows:
        return None
    by_label: dict[str, dict[str, Mapping[str, Any]]] = {}
    for row in rows:
        by_label.setdefault(row["label"], {})[row["scheme"]] = row
    first = rows[0]
    return {
        "eval_id": first["eval_id"],
        "evaluated_at": first["evaluated_at"],
        "gold": first["gold"],
        "documents": first["documents"],
        "run_id": first["run_id"],
        "model": first["model"],
        "labels": [
            {"label": label, "strict": schemes.get("strict"), "overlap": schemes.get("type")}
            for label, schemes in by_label.items()
        ],
    }
