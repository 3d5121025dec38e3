"""What the report shows, read from the lake: :func:`gather_report` and the data model.

The tables are read on the driver with delta-rs through the lake layer (no Spark, no JVM),
only the columns needed. The small pure helpers (grouping ``runs`` rows, split counts,
histograms, trend series) work on hand-made rows too, so each can be tested on its own.

What the "latest run" is: the run in ``runs`` whose first stage started last (Airflow-style
run ids do not sort by time, so the start time decides, the run id breaks ties). The
charts of the lake's content (documents, pages, entities) show the tables as they are now,
each bar split into the rows the latest run wrote and the rows earlier runs wrote: a run
that had nothing new to do still gets a meaningful page.

The stage figures charted across runs, and those shown in the table of runs, come from the
stage registry (:data:`jobs.catalog.stages.STAGES`: ``Figure.trend``, ``Figure.column``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.catalog.stages import STAGE_NAMES, STAGES, Figure, Trend, stage_rank
from jobs.lake.state import STATUS_REMOVED
from jobs.lake.tables import LakeError, read_arrow, table_columns, table_versions
from jobs.quality.audit import results_directory
from jobs.quality.results import QualityResult, load_quality_results
from udfs.errors import STATUS_FAILED, STATUS_OK, STATUS_PARTIAL, STATUS_SKIPPED
from udfs.fields.extract import FIELD_NAMES

REPORTS_DIR = "_reports"
LATEST_NAME = "latest.html"
SCORE_BINS = 20
# Document statuses in the order the trend of documents by status lists them (others after).
STATUS_ORDER = (STATUS_OK, STATUS_PARTIAL, STATUS_FAILED, STATUS_SKIPPED, STATUS_REMOVED)


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

    def figure(self, stage: str, name: str) -> Any:
        """The value of column ``name`` in the row of ``stage`` (None when the run lacks either)."""
        return (self.stages.get(stage) or {}).get(name)

    def last_stage(self) -> dict[str, Any]:
        """The row of the stage that ended last (its ``documents_by_status`` is the lake's after the run)."""
        return max(self.stages.values(), key=lambda row: (row["finished_at"], stage_rank(row["stage"])))

    def stage_versions(self) -> dict[str, str]:
        """The version each stage of the run recorded, by stage."""
        return {stage: row["stage_version"] for stage, row in self.stages.items() if row.get("stage_version")}

    def models(self) -> dict[str, str]:
        """The models the run's stages used, by name."""
        used = {name: model for row in self.stages.values() for name, model in (row.get("models") or {}).items()}
        return dict(sorted(used.items()))

    def dq_success(self) -> bool | None:
        """Whether every stage that validated rows passed; None when no stage validated any."""
        verdicts = [row["dq_success"] for row in self.stages.values() if row.get("dq_success") is not None]
        return all(verdicts) if verdicts else None

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
    fields: list[SplitCount] = field(default_factory=list)  # contracts with a value, per field
    contracts: int = 0
    scores: Histogram | None = None
    quality_run: RunRecord | None = None
    quality: list[QualityResult] = field(default_factory=list)
    quarantine: list[SplitCount] = field(default_factory=list)  # "table / check" of quality_run
    evaluation: list[dict[str, Any]] = field(default_factory=list)  # the latest NER evaluation's rows
    fields_evaluation: list[dict[str, Any]] = field(default_factory=list)  # the latest fields evaluation's rows

    @property
    def latest(self) -> RunRecord | None:
        return self.runs[-1] if self.runs else None

    @property
    def trend_runs(self) -> list[RunRecord]:
        return self.runs[-self.max_runs :] if self.max_runs > 0 else []


@dataclass(frozen=True)
class StageFigure:
    """A figure of the stage registry, with the stage whose ``runs`` row holds it."""

    stage: str
    figure: Figure


STAGE_FIGURES: tuple[StageFigure, ...] = tuple(StageFigure(s.name, f) for s in STAGES for f in s.figures)
# The figures charted across runs, and those with a column in the table of runs (pipeline order).
FIGURE_TRENDS: tuple[tuple[StageFigure, Trend], ...] = tuple(
    (item, item.figure.trend) for item in STAGE_FIGURES if item.figure.trend is not None
)
COLUMN_FIGURES: tuple[StageFigure, ...] = tuple(item for item in STAGE_FIGURES if item.figure.column is not None)


@dataclass(frozen=True)
class TrendChart:
    """A line chart across runs: its series (a key of :func:`trend_series`), title and unit."""

    key: str
    title: str
    unit: str


TREND_CHARTS: tuple[TrendChart, ...] = (
    TrendChart("documents_in", "Documents taken in per stage", "documents"),
    TrendChart("documents_by_status", "Documents by status after each run", "documents"),
    *(TrendChart(item.figure.name, f"{trend.title} ({item.stage})", trend.unit) for item, trend in FIGURE_TRENDS),
    TrendChart("seconds", "Seconds per stage", "seconds"),
    TrendChart("dq", "Data-quality failures", "checks / rows"),
)


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


def field_coverage(contracts: pa.Table, run_id: str | None) -> list[SplitCount]:
    """Per field (in field order), the ``contracts`` rows that have a value for it, split by
    the latest run's rows and the rest."""
    counts = {name: [0, 0] for name in FIELD_NAMES}
    for row in contracts.select(["missing_fields", "run_id"]).to_pylist():
        missing = set(row["missing_fields"] or ())
        for name in FIELD_NAMES:
            if name not in missing:
                counts[name][0 if run_id is not None and row["run_id"] == run_id else 1] += 1
    return [SplitCount(name, latest, earlier) for name, (latest, earlier) in counts.items()]


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


def quality_run(runs: Sequence[RunRecord], lake: str | Path | None = None) -> RunRecord | None:
    """The newest run that validated something: a stage with ``dq_success`` set, or stored results."""
    for run in reversed(runs):
        if any(row.get("dq_success") is not None for row in run.stages.values()):
            return run
        if lake is not None and results_directory(Path(lake), run.run_id).is_dir():
            return run
    return None


def as_number(value: Any) -> float | None:
    """A figure as a float, None where it is null or NaN."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def trend_series(runs: Sequence[RunRecord]) -> dict[str, dict[str, list[float | None]]]:
    """Per trend chart (:data:`TREND_CHARTS`), its series: one value per run (None where the run
    has no such figure). A stage figure's one series is named by its stage."""

    def per_stage(column: str, stages: Sequence[str] = STAGE_NAMES) -> dict[str, list[float | None]]:
        present = [s for s in stages if any(run.stage(s) for run in runs)]
        return {s: [as_number(run.figure(s, column)) for run in runs] for s in present}

    def scaled(item: StageFigure, scale: float) -> list[float | None]:
        values = [as_number(run.figure(item.stage, item.figure.name)) for run in runs]
        return [None if v is None else v * scale for v in values]

    statuses = sorted(
        {status for run in runs for status in (run.last_stage().get("documents_by_status") or {})},
        key=lambda s: (STATUS_ORDER.index(s) if s in STATUS_ORDER else len(STATUS_ORDER), s),
    )
    figures = {item.figure.name: {item.stage: scaled(item, trend.scale)} for item, trend in FIGURE_TRENDS}
    return {
        "documents_in": per_stage("documents_in"),
        "documents_by_status": {
            status: [float((run.last_stage().get("documents_by_status") or {}).get(status, 0)) for run in runs]
            for status in statuses
        },
        **figures,
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
                "pages_per_s": as_number(row.get("pages_per_s")),
                "entities": entities,
                "entities_per_s": entities / seconds if entities and seconds > 0 else None,
                "rows_written": dict(sorted((row.get("rows_written") or {}).items())),
                "dq_seconds": as_number(row.get("dq_seconds")),
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
    available = table_columns(lake, name)
    if available is None:
        return None
    if columns is None:
        return read_arrow(lake, name)
    return read_arrow(lake, name, columns=[c for c in columns if c in available])


def latest_evaluation(table: pa.Table | None, task: str = "ner") -> list[dict[str, Any]]:
    """The rows of the newest evaluation of ``task`` (``docner eval ner`` / ``eval fields``),
    labels (fields) first then ALL and MACRO."""
    if table is None or not table.num_rows:
        return []
    rows = [r for r in table.to_pylist() if r["task"] == task]
    if not rows:
        return []
    newest = max(rows, key=lambda r: (r["evaluated_at"], r["eval_id"]))["eval_id"]

    def order(row: Mapping[str, Any]) -> tuple[int, str]:
        return ({"ALL": 1, "MACRO": 2}.get(row["label"], 0), row["label"])

    return sorted((r for r in rows if r["eval_id"] == newest), key=order)


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

    contracts = _read(root, "contracts", ["missing_fields", "run_id"])
    if contracts is not None and contracts.num_rows:
        data.fields = field_coverage(contracts, latest_id)
        data.contracts = contracts.num_rows

    evaluations = _read(root, "evaluations")
    data.evaluation = latest_evaluation(evaluations, "ner")
    data.fields_evaluation = latest_evaluation(evaluations, "fields")
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
