"""A run's figures in the Prometheus text exposition format.

After every stage command the stages of the run recorded in ``runs`` so far are turned into
gauges and written as ``docner-<lake>.prom`` into ``metrics.textfile_dir`` (the
node-exporter textfile-collector convention: a ``*.prom`` file replaced atomically; by
default ``<lake>/_metrics``), and pushed to ``metrics.pushgateway_url`` when one is set.
A separate DAG task per stage therefore still leaves one file describing the whole run.
Metric names follow Prometheus conventions (``_seconds``, ``_total`` only for counters,
base units, low-cardinality labels: stage, status, table, label, check).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

from jobs.catalog.stages import FIGURES, stage_rank
from jobs.catalog.tables import RUNS
from jobs.config import MetricsSettings
from jobs.lake.tables import read_arrow

log = logging.getLogger(__name__)
PREFIX = "docner"


@dataclass(frozen=True)
class MetricsOutcome:
    path: Path | None  # the .prom file written
    pushed: bool  # pushed to the Pushgateway
    stages: tuple[str, ...]  # the stages of the run described


def lake_label(lake: str | Path) -> str:
    """A short, file-name-safe name for a lake: its directory name and a hash of its path."""
    absolute = str(Path(lake).absolute())
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(absolute).name)[:40] or "lake"
    return f"{slug}-{hashlib.sha256(absolute.encode()).hexdigest()[:8]}"


def _epoch(value: dt.datetime) -> float:
    stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def _items(value: Any) -> list[tuple[str, Any]]:
    """A map column's value (list of pairs from Arrow, or a dict) as pairs."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return list(value.items())
    return [(str(k), v) for k, v in value]


def build_registry(lake: str | Path, rows: Sequence[Mapping[str, Any]]) -> CollectorRegistry:
    """Gauges for the ``runs`` rows of one run (one row per stage)."""
    registry = CollectorRegistry()
    lake_name = str(Path(lake).absolute())
    common = ["lake"]

    def gauge(name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(f"{PREFIX}_{name}", doc, [*common, *labels], registry=registry)

    info = gauge(
        "run_info", "The run these figures describe (value 1)", ["run_id", "env", "code_version", "config_hash"]
    )
    finished = gauge("stage_finished_timestamp_seconds", "When the stage finished (Unix time)", ["stage"])
    duration = gauge("stage_duration_seconds", "Wall time of the stage", ["stage"])
    documents_in = gauge("stage_documents_in", "Documents the stage processed (ingest: files listed)", ["stage"])
    documents = gauge("documents", "Documents rows of the lake by status after the stage", ["stage", "status"])
    written = gauge("stage_rows_written", "Rows the stage committed, by table", ["stage", "table"])
    quarantined = gauge("stage_rows_quarantined", "Rows kept out of a table by data-quality checks", ["stage", "table"])
    dq_success = gauge("stage_dq_success", "1 when every data-quality check of the stage passed", ["stage"])
    dq_failed = gauge(
        "stage_dq_failed_rows", "Rows failing a data-quality check (1 for table checks)", ["stage", "check"]
    )
    dq_seconds = gauge("stage_dq_duration_seconds", "Time spent validating the stage's rows", ["stage"])
    # The stages' own figures (jobs.catalog.stages): one gauge each, a map one per key.
    figure_gauges = {
        figure.name: gauge(
            figure.metric, figure.description, ["stage", *([figure.key_label] if figure.key_label else [])]
        )
        for figure in FIGURES
    }

    for row in rows:
        stage = row["stage"]
        info.labels(lake_name, row["run_id"], row["env"], row["code_version"], row["config_hash"]).set(1)
        finished.labels(lake_name, stage).set(_epoch(row["finished_at"]))
        duration.labels(lake_name, stage).set(row["seconds"])
        documents_in.labels(lake_name, stage).set(row["documents_in"])
        for status, count in _items(row["documents_by_status"]):
            documents.labels(lake_name, stage, status).set(count)
        for table, count in _items(row["rows_written"]):
            written.labels(lake_name, stage, table).set(count)
        for table, count in _items(row["rows_quarantined"]):
            quarantined.labels(lake_name, stage, table).set(count)
        if row["dq_success"] is not None:
            dq_success.labels(lake_name, stage).set(1 if row["dq_success"] else 0)
        if row["dq_seconds"] is not None:
            dq_seconds.labels(lake_name, stage).set(row["dq_seconds"])
        for check, count in _items(row["dq_failed"]):
            dq_failed.labels(lake_name, stage, check).set(count)
        for figure in FIGURES:
            value = row.get(figure.name)
            if value is None:
                continue
            if figure.key_label:
                for key, count in _items(value):
                    figure_gauges[figure.name].labels(lake_name, stage, key).set(count)
            else:
                figure_gauges[figure.name].labels(lake_name, stage).set(value)
    return registry


def run_rows(lake: str | Path, run_id: str) -> list[dict[str, Any]]:
    """The ``runs`` rows of ``run_id`` (the newest row per stage), in pipeline order."""
    rows = read_arrow(lake, RUNS.name, where=pc.field("run_id") == run_id).to_pylist()
    newest: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["finished_at"]):
        newest[row["stage"]] = row
    return sorted(newest.values(), key=lambda r: stage_rank(r["stage"]))


def export_run_metrics(settings: MetricsSettings, lake: str | Path, run_id: str) -> MetricsOutcome:
    """Write (and push) the metrics of ``run_id``; a failed push is logged, never raised."""
    if not settings.enabled:
        return MetricsOutcome(None, False, ())
    rows = run_rows(lake, run_id)
    if not rows:
        return MetricsOutcome(None, False, ())
    registry = build_registry(lake, rows)
    directory = Path(settings.textfile_dir) if settings.textfile_dir else Path(lake) / "_metrics"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"docner-{lake_label(lake)}.prom"
    write_to_textfile(str(path), registry)  # a temporary file renamed over the old one
    pushed = False
    if settings.pushgateway_url:
        try:
            push_to_gateway(
                settings.pushgateway_url,
                job=settings.job,
                registry=registry,
                grouping_key={"lake": lake_label(lake)},
                timeout=settings.timeout_s,
            )
            pushed = True
        except OSError as exc:  # URLError and socket errors: metrics must not fail the run
            log.warning("could not push metrics to %s: %s", settings.pushgateway_url, exc)
    stages = tuple(row["stage"] for row in rows)
    log.info("metrics of run %s (%s) written to %s", run_id, ", ".join(stages), path)
    return MetricsOutcome(path, pushed, stages)
