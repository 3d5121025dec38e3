"""``docner report``: one self-contained HTML page about the lake's latest run and its trends.

The tables are read on the driver with delta-rs (no Spark, no JVM), only the columns needed.
Gathering (:func:`gather_report`, small pure helpers) is kept apart from rendering
(:func:`render_html`, the ``*_chart`` functions), so each can be tested on hand-made data.
Charts are matplotlib ``Figure`` objects drawn with the Agg canvas and embedded as base64
PNG data URIs: the page needs no file, stylesheet, script or font beside it. Figures are
made without ``pyplot``, so no global figure registry holds on to them after rendering.

What the "latest run" is: the run in ``runs`` whose first stage started last (Airflow-style
run ids do not sort by time, so the start time decides, the run id breaks ties). The
charts of the lake's content (documents, pages, entities) show the tables as they are now,
each bar split into the rows the latest run wrote and the rows earlier runs wrote: a run
that had nothing new to do still gets a meaningful page.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from matplotlib import style
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from jobs import code_version
from jobs.atomic import write_atomically
from jobs.catalog.stages import STAGE_NAMES, stage_rank
from jobs.lake.tables import LakeError, read_arrow, table_path, table_versions
from jobs.quality.audit import RESULTS_DIR

log = logging.getLogger(__name__)

REPORTS_DIR = "_reports"
LATEST_NAME = "latest.html"
SCORE_BINS = 20
# Chart colours: the latest run's rows, earlier runs' rows, and line series in turn.
LATEST_COLOUR = "#2563eb"
EARLIER_COLOUR = "#94a3b8"
PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#ca8a04", "#db2777")
STATUS_COLOURS = {
    "ok": "#16a34a",
    "partial": "#ca8a04",
    "failed": "#dc2626",
    "skipped": "#64748b",
    "removed": "#7c3aed",
}
_CHART_DPI = 100


# --- what the report is made of -------------------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    """One run: its ``runs`` rows (one per stage, map columns as dicts) and its time span."""

    run_id: str
    started_at: dt.datetime
    finished_at: dt.datetime
    stages: dict[str, dict[str, Any]]

    def stage(self, name: str) -> dict[str, Any] | None:
        return self.stages.get(name)

    def last_stage(self) -> dict[str, Any]:
        """The row of the stage that ended last (its ``documents_by_status`` is the lake's after the run)."""
        return max(self.stages.values(), key=lambda row: (row["finished_at"], stage_rank(row["stage"])))

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class SplitCount:
    """Rows with one value of a column: those the latest run wrote and those earlier runs wrote."""

    key: str
    latest: int
    earlier: int

    @property
    def total(self) -> int:
        return self.latest + self.earlier


@dataclass(frozen=True)
class FailedCheck:
    check: str
    expectation: str
    unexpected: int | None  # failing rows; None for a table-level check
    elements: int | None
    observed: str | None
    raised: str | None


@dataclass(frozen=True)
class QualityResult:
    """One stored GX validation result: ``<lake>/_quality/<run_id>/<stage>.<table>.<frame>.json``."""

    file_name: str
    stage: str
    table: str
    frame: str
    success: bool
    evaluated: int
    failed: tuple[FailedCheck, ...] = ()
    error: str | None = None  # the file could not be read as a validation result


@dataclass(frozen=True)
class Histogram:
    edges: tuple[float, ...]
    counts: dict[str, tuple[int, ...]]  # series (e.g. entity source) -> count per bin
    missing: int  # values that were null (not counted)


@dataclass
class ReportData:
    lake: str
    runs: list[RunRecord]  # every run, oldest first
    max_runs: int
    tables: list[dict[str, Any]] = field(default_factory=list)
    documents: list[SplitCount] = field(default_factory=list)
    pages: list[SplitCount] = field(default_factory=list)
    routes: list[SplitCount] = field(default_factory=list)
    entities: list[SplitCount] = field(default_factory=list)
    scores: Histogram | None = None
    quality_run: RunRecord | None = None
    quality: list[QualityResult] = field(default_factory=list)
    quarantine: list[SplitCount] = field(default_factory=list)  # "table / check" of quality_run

    @property
    def latest(self) -> RunRecord | None:
        return self.runs[-1] if self.runs else None

    @property
    def trend_runs(self) -> list[RunRecord]:
        return self.runs[-self.max_runs :] if self.max_runs > 0 else []


# --- pure helpers ---------------------------------------------------------------------------


def _as_dict(value: Any) -> Any:
    """Arrow map values come back from ``to_pylist`` as lists of (key, value) pairs."""
    if isinstance(value, list) and all(isinstance(item, tuple) and len(item) == 2 for item in value):
        return dict(value)
    return value


def group_runs(rows: Iterable[Mapping[str, Any]]) -> list[RunRecord]:
    """``runs`` rows grouped by run id, oldest run first (by its first stage's start, then id)."""
    by_run: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        record = {name: _as_dict(value) for name, value in row.items()}
        by_run.setdefault(str(record["run_id"]), {})[str(record["stage"])] = record
    runs = [
        RunRecord(
            run_id=run_id,
            started_at=min(row["started_at"] for row in stages.values()),
            finished_at=max(row["finished_at"] for row in stages.values()),
            stages=dict(sorted(stages.items(), key=lambda item: stage_rank(item[0]))),
        )
        for run_id, stages in by_run.items()
    ]
    return sorted(runs, key=lambda run: (run.started_at, run.run_id))


def split_counts(table: pa.Table, column: str, run_id: str | None, *, normalize: bool = False) -> list[SplitCount]:
    """Rows of ``table`` per value of ``column``, split by ``run_id`` (the latest run's rows)
    and the rest; most rows first, then by value. A null value counts as ``(null)``;
    ``normalize`` drops a trailing parenthesised note (``no_text_layer (dpi 200)``)."""
    if table.num_rows == 0:
        return []
    keys = pc.fill_null(table.column(column).cast(pa.string()), "(null)")
    if normalize:
        keys = pc.replace_substring_regex(keys, pattern=r"^(\S.*?)\s*\(.*\)\s*$", replacement=r"\1")
    if run_id is None:
        latest = pa.array([False] * table.num_rows)
    else:
        latest = pc.fill_null(pc.equal(table.column("run_id").cast(pa.string()), run_id), False)
    grouped = pa.table({"key": keys, "latest": latest}).group_by(["key", "latest"]).aggregate([([], "count_all")])
    counts: dict[str, list[int]] = {}
    for key, is_latest, count in zip(
        grouped.column("key").to_pylist(),
        grouped.column("latest").to_pylist(),
        grouped.column("count_all").to_pylist(),
        strict=True,
    ):
        counts.setdefault(key, [0, 0])[0 if is_latest else 1] += int(count)
    splits = [SplitCount(key, latest_n, earlier_n) for key, (latest_n, earlier_n) in counts.items()]
    return sorted(splits, key=lambda split: (-split.total, split.key))


def score_histogram(table: pa.Table, *, by: str = "source", bins: int = SCORE_BINS) -> Histogram:
    """Histogram of the non-null ``score`` values per ``by`` value, on [0, 1] (wider if a score is outside)."""
    scores = table.column("score").to_numpy(zero_copy_only=False).astype(float)
    groups = np.array(table.column(by).cast(pa.string()).fill_null("(null)").to_pylist(), dtype=object)
    present = ~np.isnan(scores)
    low = min(0.0, float(scores[present].min())) if present.any() else 0.0
    high = max(1.0, float(scores[present].max())) if present.any() else 1.0
    edges = np.linspace(low, high, bins + 1)
    counts: dict[str, tuple[int, ...]] = {}
    for group in sorted(set(groups[present].tolist())):
        values, _ = np.histogram(scores[present & (groups == group)], bins=edges)
        counts[group] = tuple(int(v) for v in values)
    return Histogram(tuple(float(e) for e in edges), counts, int((~present).sum()))


def parse_quality_result(file_name: str, document: Mapping[str, Any]) -> QualityResult:
    """The gist of one GX validation result JSON (as :func:`jobs.quality.audit.audit` stores it)."""
    stem = file_name.removesuffix(".json")
    stage, _, rest = stem.partition(".")
    table, _, frame = rest.partition(".")
    if "checks" in document:  # docner validate's lake checks (jobs.quality.validate), not a GX result
        checks = document.get("checks") or []
        return QualityResult(
            file_name=file_name,
            stage=stage,
            table=table,
            frame=frame or "checks",
            success=bool(document.get("success")),
            evaluated=len(checks),
            failed=tuple(
                FailedCheck(
                    check=str(c.get("name")),
                    expectation="lake check",
                    unexpected=int(c.get("failures") or 0),
                    elements=None,
                    observed=", ".join(str(e) for e in c.get("examples") or [])[:200] or None,
                    raised=None,
                )
                for c in checks
                if c.get("failures")
            ),
        )
    failed = []
    results = document.get("results") or []
    for result in results:
        if result.get("success"):
            continue
        config = result.get("expectation_config") or {}
        details = result.get("result") or {}
        info = result.get("exception_info") or {}
        candidates = [info, *(v for v in info.values() if isinstance(v, dict))]
        raised = next((str(c.get("exception_message")) for c in candidates if c.get("raised_exception")), None)
        observed = details.get("observed_value")
        unexpected = details.get("unexpected_count")
        elements = details.get("element_count")
        failed.append(
            FailedCheck(
                check=str((config.get("meta") or {}).get("id") or config.get("type") or "?"),
                expectation=str(config.get("type") or "?"),
                unexpected=int(unexpected) if unexpected is not None else None,
                elements=int(elements) if elements is not None else None,
                observed=None if observed is None else json.dumps(observed, default=str)[:200],
                raised=raised[:300] if raised else None,
            )
        )
    statistics = document.get("statistics") or {}
    return QualityResult(
        file_name=file_name,
        stage=stage,
        table=table,
        frame=frame or "rows",
        success=bool(document.get("success")),
        evaluated=int(statistics.get("evaluated_expectations", len(results))),
        failed=tuple(failed),
    )


def load_quality_results(lake: str | Path, run_id: str) -> list[QualityResult]:
    """Every stored validation result of ``run_id``, in pipeline order; an unreadable file is
    listed with its error rather than stopping the report."""
    directory = Path(lake) / RESULTS_DIR / run_id
    found = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            found.append(parse_quality_result(path.name, json.loads(path.read_text())))
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            stage, _, rest = path.stem.partition(".")
            table, _, frame = rest.partition(".")
            found.append(QualityResult(path.name, stage, table, frame, False, 0, (), f"{type(exc).__name__}: {exc}"))
    return sorted(found, key=lambda r: (stage_rank(r.stage), r.table, r.frame))


def quality_run(runs: Sequence[RunRecord], lake: str | Path | None = None) -> RunRecord | None:
    """The newest run that validated something: a stage with ``dq_success`` set, or stored results."""
    for run in reversed(runs):
        if any(row.get("dq_success") is not None for row in run.stages.values()):
            return run
        if lake is not None and (Path(lake) / RESULTS_DIR / run.run_id).is_dir():
            return run
    return None


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def trend_series(runs: Sequence[RunRecord]) -> dict[str, dict[str, list[float | None]]]:
    """Per trend chart, its series: one value per run (None where the run has no such figure)."""

    def per_stage(column: str, stages: Sequence[str] = STAGE_NAMES) -> dict[str, list[float | None]]:
        present = [s for s in stages if any(run.stage(s) for run in runs)]
        return {s: [_number((run.stage(s) or {}).get(column)) for run in runs] for s in present}

    def one(stage: str, column: str, scale: float = 1.0) -> list[float | None]:
        values = [_number((run.stage(stage) or {}).get(column)) for run in runs]
        return [None if v is None else v * scale for v in values]

    statuses = sorted(
        {status for run in runs for status in (run.last_stage().get("documents_by_status") or {})},
        key=lambda s: (list(STATUS_COLOURS).index(s) if s in STATUS_COLOURS else len(STATUS_COLOURS), s),
    )
    return {
        "documents_in": per_stage("documents_in"),
        "documents_by_status": {
            status: [float((run.last_stage().get("documents_by_status") or {}).get(status, 0)) for run in runs]
            for status in statuses
        },
        "entities_per_document": {"ner": one("ner", "entities_per_document")},
        "mean_score": {"ner": one("ner", "mean_score")},
        "ocr_page_share": {"extract": one("extract", "ocr_page_share", 100.0)},
        "pages_per_s": {"extract": one("extract", "pages_per_s")},
        "seconds": per_stage("seconds"),
        "dq": {
            "failing checks": [
                float(sum(len(row.get("dq_failed") or {}) for row in run.stages.values())) for run in runs
            ],
            "rows quarantined": [
                float(sum(sum((row.get("rows_quarantined") or {}).values()) for row in run.stages.values()))
                for run in runs
            ],
        },
    }


def throughput_rows(run: RunRecord) -> list[dict[str, Any]]:
    """Per stage of ``run``: time, documents, pages and entities, and the rates."""
    rows = []
    for stage, row in run.stages.items():
        seconds = float(row.get("seconds") or 0.0)
        documents = int(row.get("documents_in") or 0)
        entities = row.get("entities")
        rows.append(
            {
                "stage": stage,
                "started_at": row["started_at"],
                "seconds": seconds,
                "documents_in": documents,
                "documents_per_s": documents / seconds if seconds > 0 and documents else None,
                "pages": row.get("pages"),
                "pages_per_s": _number(row.get("pages_per_s")),
                "entities": entities,
                "entities_per_s": entities / seconds if entities and seconds > 0 else None,
                "rows_written": dict(sorted((row.get("rows_written") or {}).items())),
                "dq_seconds": _number(row.get("dq_seconds")),
                "notes": list(row.get("notes") or []),
            }
        )
    return rows


def run_labels(runs: Sequence[RunRecord]) -> list[str]:
    """Short x-axis labels for runs: their UTC start time, to the second where minutes repeat."""
    for pattern in ("%m-%d %H:%M", "%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        labels = [run.started_at.astimezone(dt.UTC).strftime(pattern) for run in runs]
        if len(set(labels)) == len(labels):
            return labels
    return [f"{label} #{index + 1}" for index, label in enumerate(labels)]


def safe_file_part(run_id: str) -> str:
    """A run id as part of a file name (Airflow ids hold ``:`` and ``+``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("._") or "run"


def default_report_path(lake: str | Path, run_id: str | None) -> Path:
    name = f"report-{safe_file_part(run_id)}.html" if run_id else "report-no-runs.html"
    return Path(lake).absolute() / REPORTS_DIR / name


# --- reading the lake -----------------------------------------------------------------------


def _read(lake: str | Path, name: str, columns: list[str] | None = None) -> pa.Table | None:
    """The table (its ``columns``, those it has), or None when the lake has no such table."""
    path = table_path(lake, name)
    if not DeltaTable.is_deltatable(path):
        return None
    if columns is None:
        return read_arrow(lake, name)
    available = set(pa.schema(DeltaTable(path).schema().to_arrow()).names)
    return read_arrow(lake, name, columns=[c for c in columns if c in available])


def gather_report(lake: str | Path, *, max_runs: int = 30) -> ReportData:
    """Everything the report shows, read from the lake with delta-rs."""
    root = Path(lake)
    if not root.is_dir():
        raise LakeError(f"lake directory {root} does not exist")
    runs_table = _read(root, "runs")
    runs = group_runs(runs_table.to_pylist()) if runs_table is not None else []
    data = ReportData(lake=str(root.absolute()), runs=runs, max_runs=max_runs)
    data.tables = table_versions(root)
    latest_id = data.latest.run_id if data.latest else None

    documents = _read(root, "documents", ["status", "run_id"])
    if documents is not None:
        data.documents = split_counts(documents, "status", latest_id)
    pages = _read(root, "pages", ["method", "route_reason", "run_id"])
    if pages is not None:
        data.pages = split_counts(pages, "method", latest_id)
        data.routes = split_counts(pages, "route_reason", latest_id, normalize=True)
    entities = _read(root, "entities", ["label", "score", "source", "run_id"])
    if entities is not None and entities.num_rows:
        data.entities = split_counts(entities, "label", latest_id)
        data.scores = score_histogram(entities)

    data.quality_run = quality_run(runs, root)
    if data.quality_run is not None:
        data.quality = load_quality_results(root, data.quality_run.run_id)
        quarantine = _read(root, "quarantine", ["table_name", "check", "run_id"])
        if quarantine is not None and quarantine.num_rows:
            rows = quarantine.filter(pc.equal(quarantine.column("run_id"), data.quality_run.run_id))
            if rows.num_rows:
                labelled = rows.append_column(
                    "what", pc.binary_join_element_wise(rows.column("table_name"), rows.column("check"), " / ")
                )
                data.quarantine = split_counts(labelled, "what", data.quality_run.run_id)
    return data


# --- charts ---------------------------------------------------------------------------------


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


# --- HTML -----------------------------------------------------------------------------------

_CSS = """
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;margin:0;background:#f8fafc;color:#0f172a;font-size:14px}
main{max-width:1320px;margin:0 auto;padding:16px 24px 40px}
h1{font-size:24px;margin:8px 0 4px}
h2{font-size:19px;margin:28px 0 8px;border-bottom:2px solid #cbd5e1;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:8px 0}
dl.meta dt{color:#475569}dl.meta dd{margin:0;word-break:break-all}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(600px,1fr));gap:12px}
figure{margin:0;background:#fff;border:1px solid #e2e8f0;border-radius:6px;padding:6px}
figure img{display:block;max-width:100%;height:auto}figcaption{font-size:12px;color:#475569;padding:4px}
table{border-collapse:collapse;background:#fff;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #e2e8f0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f1f5f9}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#15803d;font-weight:bold}.bad{color:#b91c1c;font-weight:bold}.note{color:#475569}
.empty{background:#fff7ed;border:1px solid #fed7aa;padding:8px 12px;border-radius:6px}
nav a{margin-right:14px}code{font-size:12px}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _time(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _counts_text(counts: Mapping[str, Any]) -> str:
    return ", ".join(f"{key} {_fmt(value)}" for key, value in sorted(counts.items())) or "–"


def _image(png: bytes, alt: str, caption: str = "") -> str:
    encoded = base64.b64encode(png).decode("ascii")
    caption_html = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="data:image/png;base64,{encoded}" alt="{_e(alt)}">{caption_html}</figure>'


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """An HTML table; cells are HTML already (escape data before)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _empty(message: str) -> str:
    return f'<p class="empty">{_e(message)}</p>'


def _alt(counts: Sequence[SplitCount]) -> str:
    return "; ".join(f"{c.key}: {c.total} ({c.latest} latest run)" for c in counts)


def _header(data: ReportData, generated_at: dt.datetime) -> str:
    latest = data.latest
    items: list[tuple[str, str]] = [("lake", _e(data.lake))]
    if latest is not None:
        last = latest.last_stage()
        versions = {stage: row.get("stage_version") for stage, row in latest.stages.items() if row.get("stage_version")}
        models = dict(
            sorted({k: v for row in latest.stages.values() for k, v in (row.get("models") or {}).items()}.items())
        )
        items += [
            ("latest run", f"<code>{_e(latest.run_id)}</code>"),
            ("stages", _e(", ".join(latest.stages))),
            ("started", _e(_time(latest.started_at))),
            ("finished", _e(_time(latest.finished_at))),
            ("duration", _e(f"{latest.seconds:,.1f} s")),
            ("environment", _e(last.get("env"))),
            ("docner version", _e(last.get("code_version"))),
            ("config hash", f"<code>{_e(last.get('config_hash'))}</code>"),
            ("stage versions", _e(_counts_text(versions))),
            ("models", _e(_counts_text(models))),
            ("runs in the lake", _e(f"{len(data.runs):,} (trends over the last {len(data.trend_runs):,})")),
        ]
    items.append(("generated", _e(f"{_time(generated_at)} by docner {code_version()}")))
    meta = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in items)
    return f'<header><h1>docner report</h1><dl class="meta">{meta}</dl></header>'


def _latest_section(data: ReportData) -> str:
    latest = data.latest
    assert latest is not None
    parts = [f"<h2 id='latest'>Latest run <code>{_e(latest.run_id)}</code></h2>"]
    parts.append(
        '<p class="note">The lake\'s tables as they are after this run; '
        f'<span style="color:{LATEST_COLOUR}">■</span> rows this run wrote, '
        f'<span style="color:{EARLIER_COLOUR}">■</span> rows earlier runs wrote and this run left as they were.</p>'
    )
    figures = []
    if data.documents:
        total = sum(c.total for c in data.documents)
        figures.append(
            _image(
                split_bar_chart("Documents by status", data.documents, latest_label="read by the latest run"),
                "Documents by status: " + _alt(data.documents),
                f"{total:,} documents rows (one per input file)",
            )
        )
    else:
        figures.append(_empty("No documents in the lake."))
    if data.pages:
        ocr = next((c.total for c in data.pages if c.key == "ocr"), 0)
        total = sum(c.total for c in data.pages)
        figures.append(
            _image(
                split_bar_chart("Pages by extraction method", data.pages),
                "Pages by extraction method: " + _alt(data.pages),
                f"{total:,} pages, {ocr / total:.1%} read by OCR" if total else "",
            )
        )
    else:
        figures.append(_empty("No pages in the lake: nothing has been extracted yet."))
    if data.entities:
        total = sum(c.total for c in data.entities)
        figures.append(
            _image(
                split_bar_chart("Entities by label", data.entities),
                "Entities by label: " + _alt(data.entities),
                f"{total:,} entities, {len(data.entities)} labels"
                + (" (25 most frequent shown)" if len(data.entities) > 25 else ""),
            )
        )
    else:
        figures.append(_empty("No entities in the lake: NER has not run yet (or found nothing)."))
    if data.scores is not None and data.scores.counts:
        scored = sum(sum(c) for c in data.scores.counts.values())
        ner = latest.stage("ner") or {}
        mean = _number(ner.get("mean_score"))
        caption = f"{scored:,} entities with a score, {data.scores.missing:,} without one (spaCy gives none)"
        if mean is not None:
            caption += f"; mean score of the latest run's entities {mean:.3f}"
        figures.append(
            _image(histogram_chart("Entity scores by source", data.scores), "Entity scores by source", caption)
        )
    elif data.entities:
        figures.append(_empty("No entity has a score (spaCy gives none): no score histogram."))
    parts.append(f'<div class="grid">{"".join(figures)}</div>')
    if data.routes:
        parts.append("<h3>Page routes</h3>")
        parts.append(
            _table(
                ["route reason", "pages", "by the latest run"],
                ([_e(c.key), _fmt(c.total), _fmt(c.latest)] for c in data.routes),
                numeric=(1, 2),
            )
        )
    return "".join(parts)


def _throughput_section(data: ReportData) -> str:
    latest = data.latest
    assert latest is not None
    rows = throughput_rows(latest)
    parts = ["<h2 id='throughput'>Throughput of the latest run</h2>"]
    parts.append(
        _table(
            [
                "stage",
                "started",
                "seconds",
                "documents in",
                "docs/s",
                "pages",
                "pages/s",
                "entities",
                "entities/s",
                "rows written",
                "DQ seconds",
                "notes",
            ],
            (
                [
                    _e(r["stage"]),
                    _e(_time(r["started_at"])),
                    _fmt(r["seconds"], 1),
                    _fmt(r["documents_in"]),
                    _fmt(r["documents_per_s"]),
                    _fmt(r["pages"]),
                    _fmt(r["pages_per_s"]),
                    _fmt(r["entities"]),
                    _fmt(r["entities_per_s"], 1),
                    _e(_counts_text(r["rows_written"])),
                    _fmt(r["dq_seconds"], 1),
                    "<br>".join(_e(n) for n in r["notes"]),
                ]
                for r in rows
            ),
            numeric=(2, 3, 4, 5, 6, 7, 8, 10),
        )
    )
    alt = "Seconds per stage: " + ", ".join(f"{r['stage']} {r['seconds']:.1f} s" for r in rows)
    parts.append(f'<div class="grid">{_image(stage_seconds_chart("Seconds per stage", rows), alt)}</div>')
    return "".join(parts)


def _quality_section(data: ReportData) -> str:
    parts = ["<h2 id='quality'>Data quality</h2>"]
    run = data.quality_run
    latest = data.latest
    if run is None:
        parts.append(_empty("No run has validated anything yet (no stage wrote rows with a suite)."))
        return "".join(parts)
    if latest is not None and run.run_id != latest.run_id:
        parts.append(
            f'<p class="note">The latest run validated nothing (it had no new rows to check); these are the '
            f"results of the latest run that did, <code>{_e(run.run_id)}</code> ({_e(_time(run.started_at))}).</p>"
        )
    else:
        parts.append(f'<p class="note">Run <code>{_e(run.run_id)}</code>.</p>')
    stage_rows = []
    for stage, row in run.stages.items():
        success = row.get("dq_success")
        verdict = (
            '<span class="note">nothing checked</span>'
            if success is None
            else ('<span class="ok">passed</span>' if success else '<span class="bad">FAILED</span>')
        )
        stage_rows.append(
            [
                _e(stage),
                verdict,
                _e(_counts_text(row.get("dq_failed") or {})),
                _e(_counts_text(row.get("rows_quarantined") or {})),
                _fmt(_number(row.get("dq_seconds")), 1),
            ]
        )
    parts.append("<h3>Per stage (runs table)</h3>")
    parts.append(
        _table(["stage", "result", "failing checks (rows)", "rows quarantined", "seconds"], stage_rows, numeric=(4,))
    )
    parts.append(f"<h3>Validation results (<code>{_e(RESULTS_DIR)}/{_e(run.run_id)}/</code>)</h3>")
    if not data.quality:
        parts.append(_empty("No stored validation results for this run."))
    else:
        result_rows = []
        for result in data.quality:
            if result.error:
                verdict = f'<span class="bad">unreadable</span> {_e(result.error)}'
            elif result.success:
                verdict = '<span class="ok">passed</span>'
            else:
                verdict = '<span class="bad">FAILED</span>'
            failures = "<br>".join(
                _e(
                    f"{f.check} ({f.expectation})"
                    + (f": {f.unexpected:,} of {f.elements:,} rows" if f.unexpected is not None and f.elements else "")
                    + (f"; observed {f.observed}" if f.observed else "")
                    + (f"; raised {f.raised}" if f.raised else "")
                )
                for f in result.failed
            )
            result_rows.append(
                [
                    _e(result.stage),
                    _e(result.table),
                    _e(result.frame),
                    verdict,
                    _fmt(result.evaluated),
                    _fmt(len(result.failed)),
                    failures or "–",
                ]
            )
        parts.append(
            _table(
                ["stage", "table", "frame", "result", "checks", "failed", "failed checks"], result_rows, numeric=(4, 5)
            )
        )
    if data.quarantine:
        parts.append("<h3>Quarantined rows of this run</h3>")
        parts.append(
            _table(["table / check", "rows"], ([_e(c.key), _fmt(c.total)] for c in data.quarantine), numeric=(1,))
        )
    return "".join(parts)


TREND_CHARTS: tuple[tuple[str, str, str], ...] = (
    ("documents_in", "Documents taken in per stage", "documents"),
    ("documents_by_status", "Documents by status after each run", "documents"),
    ("entities_per_document", "Entities per document (NER)", "entities"),
    ("mean_score", "Mean entity score (NER)", "score"),
    ("ocr_page_share", "OCR share of the pages read (extract)", "% of ok pages"),
    ("pages_per_s", "Extraction throughput", "pages / s"),
    ("seconds", "Seconds per stage", "seconds"),
    ("dq", "Data-quality failures", "checks / rows"),
)


def _trends_section(data: ReportData) -> str:
    runs = data.trend_runs
    parts = [f"<h2 id='trends'>Trends over the last {len(runs):,} runs</h2>"]
    if not runs:
        parts.append(_empty("No runs to show (max_runs is 0)."))
        return "".join(parts)
    labels = run_labels(runs)
    series = trend_series(runs)
    figures = []
    for key, title, ylabel in TREND_CHARTS:
        chart_series = {name: values for name, values in series[key].items() if any(v is not None for v in values)}
        if not chart_series:
            figures.append(_empty(f"{title}: no run recorded this figure."))
            continue
        figures.append(_image(line_chart(title, labels, chart_series, ylabel), title))
    parts.append(f'<div class="grid">{"".join(figures)}</div>')
    parts.append("<h3>Runs</h3>")
    run_rows = []
    for run, label in zip(reversed(runs), reversed(labels), strict=True):
        extract = run.stage("extract") or {}
        ner = run.stage("ner") or {}
        dq = [row.get("dq_success") for row in run.stages.values() if row.get("dq_success") is not None]
        run_rows.append(
            [
                f"<code>{_e(run.run_id)}</code>",
                _e(label),
                _e(", ".join(run.stages)),
                _fmt(run.seconds, 1),
                _fmt(extract.get("pages")),
                _fmt(ner.get("entities")),
                _fmt(_number(ner.get("mean_score")), 3),
                "–" if not dq else ('<span class="ok">passed</span>' if all(dq) else '<span class="bad">FAILED</span>'),
            ]
        )
    parts.append(
        _table(
            ["run", "started (UTC)", "stages", "seconds", "pages", "entities", "mean score", "data quality"],
            run_rows,
            numeric=(3, 4, 5, 6),
        )
    )
    return "".join(parts)


def _tables_section(data: ReportData) -> str:
    parts = ["<h2 id='tables'>Tables</h2>"]
    if not data.tables:
        parts.append(_empty("No Delta tables in the lake."))
        return "".join(parts)
    parts.append(
        _table(
            ["table", "version", "rows", "files", "bytes", "last change", "by"],
            (
                [
                    _e(t["table"]),
                    _fmt(t["version"]),
                    _fmt(t["rows"]),
                    _fmt(t["files"]),
                    _fmt(t["size_bytes"]),
                    _e(f"{t['operation'] or ''} {_time(t['updated_at'])}".strip()),
                    _e(t["by"]),
                ]
                for t in data.tables
            ),
            numeric=(1, 2, 3, 4),
        )
    )
    return "".join(parts)


def render_html(data: ReportData, generated_at: dt.datetime) -> str:
    """The report page. Only ``generated_at`` varies between two renderings of the same data."""
    title = f"docner report — {data.latest.run_id}" if data.latest else "docner report — no runs yet"
    body = [_header(data, generated_at)]
    if data.latest is None:
        body.append(
            "<h2 id='latest'>No runs yet</h2>"
            + _empty(
                "The lake has no runs recorded (the runs table is missing or empty): run the pipeline "
                "(docner run --input DIR --lake DIR) and write the report again."
            )
        )
    else:
        body.append(
            "<nav><a href='#latest'>latest run</a><a href='#throughput'>throughput</a>"
            "<a href='#quality'>data quality</a><a href='#trends'>trends</a><a href='#tables'>tables</a></nav>"
        )
        body += [_latest_section(data), _throughput_section(data), _quality_section(data), _trends_section(data)]
    body.append(_tables_section(data))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body><main>\n"
        + "\n".join(body)
        + "\n</main></body></html>\n"
    )


def write_report(lake: str | Path, out: str | Path | None = None, *, max_runs: int = 30) -> Path:
    """Write the HTML report of ``lake`` and return its path.

    ``out`` defaults to ``<lake>/_reports/report-<run id>.html`` (``report-no-runs.html`` for
    a lake without runs), and then ``<lake>/_reports/latest.html`` is refreshed with the same
    page; an explicit ``out`` writes that one file. Trends cover the last ``max_runs`` runs.
    Raises :class:`jobs.lake.tables.LakeError` when ``lake`` is not a directory."""
    if max_runs < 0:
        raise ValueError(f"max_runs must be 0 or more, not {max_runs}")
    data = gather_report(lake, max_runs=max_runs)
    page = render_html(data, dt.datetime.now(dt.UTC))
    target = Path(out) if out is not None else default_report_path(lake, data.latest.run_id if data.latest else None)
    write_atomically(target, page)
    if out is None:
        write_atomically(target.parent / LATEST_NAME, page)
    log.info("report of %s written to %s (%d bytes)", data.lake, target, len(page))
    return target.absolute()
