"""The ``runs`` table: one row per stage per run, with the figures needed to spot drift."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs import code_version
from jobs.catalog.tables import RUNS
from jobs.config import DocnerConfig
from jobs.stages.base import StageContext, StageResult


def config_hash(config: DocnerConfig) -> str:
    """sha256 of the effective configuration (after overlays and overrides)."""
    return hashlib.sha256(config.model_dump_json(exclude={"conf_dir"}).encode()).hexdigest()


def page_figures(rows: DataFrame) -> dict[str, Any]:
    """What ``runs`` reports of the ``pages`` rows a stage publishes (one Spark job)."""
    row = rows.agg(
        F.count("*").alias("pages"),
        F.sum((F.col("status") == "ok").cast("int")).alias("ok"),
        F.sum(((F.col("status") == "ok") & (F.col("method") == "ocr")).cast("int")).alias("ocr"),
    ).first()
    if row is None:  # an aggregate without grouping always has its row
        return {"pages": 0, "ok_pages": 0, "ocr_pages": 0}
    return {"pages": int(row["pages"]), "ok_pages": int(row["ok"] or 0), "ocr_pages": int(row["ocr"] or 0)}


def entity_figures(rows: DataFrame) -> dict[str, Any]:
    """What ``runs`` reports of the ``entities`` rows a stage publishes (one Spark job)."""
    by_label = (
        rows.groupBy("label")
        .agg(F.count("*").alias("n"), F.count("score").alias("scored"), F.sum("score").alias("score_sum"))
        .collect()
    )
    return {
        "label_counts": {r["label"]: int(r["n"]) for r in by_label},
        "scored": sum(int(r["scored"]) for r in by_label),  # entities with a score (spaCy gives none)
        "score_sum": sum(float(r["score_sum"] or 0.0) for r in by_label),
    }


def _derived(result: StageResult) -> dict[str, Any]:
    """The ``runs`` figures from what the stage's outputs measured (``Output.figures``)."""
    figures = result.figures
    derived: dict[str, Any] = {}
    if "pages" in figures:
        pages, ok = figures["pages"], figures["ok_pages"]
        derived.update(
            pages=pages,
            pages_per_s=pages / result.seconds if result.seconds > 0 else None,
            ocr_page_share=figures["ocr_pages"] / ok if ok else None,
        )
    if "label_counts" in figures:
        labels = dict(sorted(figures["label_counts"].items()))
        count = sum(labels.values())
        derived.update(
            entities=count,
            entities_per_document=count / result.documents_in if result.documents_in else None,
            mean_score=figures["score_sum"] / figures["scored"] if figures["scored"] else None,
            label_mix=labels,
        )
    return derived


def run_row(ctx: StageContext, result: StageResult, finished_at: dt.datetime) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": ctx.run_id,
        "stage": result.stage,
        "env": ctx.config.env,
        "started_at": finished_at - dt.timedelta(seconds=result.seconds),
        "finished_at": finished_at,
        "seconds": float(result.seconds),
        "documents_in": result.documents_in,
        "documents_by_status": dict(result.statuses),
        "rows_written": dict(result.rows_written),
        "table_versions": {k: v for k, v in result.versions.items() if v is not None},
        "pages": None,
        "pages_per_s": None,
        "ocr_page_share": None,
        "entities": None,
        "entities_per_document": None,
        "mean_score": None,
        "label_mix": None,
        "models": dict(result.models),
        "rows_quarantined": dict(result.quarantined),
        "dq_success": result.dq_success,
        "dq_failed": dict(result.dq_failed),
        "dq_seconds": result.dq_seconds if result.dq_success is not None else None,
        "stage_version": result.stage_version,
        "code_version": code_version(),
        "config_hash": config_hash(ctx.config),
        "notes": list(result.notes),
    }
    if result.documents_in:
        row.update(_derived(result))
    return row


def record_run(ctx: StageContext, result: StageResult) -> None:
    """Append the stage's row to ``runs`` (once per run and stage, also under retries)."""
    ctx.write_rows([run_row(ctx, result, dt.datetime.now(dt.UTC))], RUNS, stage=result.stage)
