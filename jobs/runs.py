"""The ``runs`` table: one row per stage per run, with the figures needed to spot drift."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from pyspark.sql import functions as F

from jobs.config import DocnerConfig
from jobs.lake import read_table
from jobs.schemas import ENTITIES, PAGES, RUNS
from jobs.stage import StageContext, StageResult
from jobs.state import code_version


def config_hash(config: DocnerConfig) -> str:
    """sha256 of the effective configuration (after overlays and overrides)."""
    return hashlib.sha256(config.model_dump_json(exclude={"conf_dir"}).encode()).hexdigest()


def _extract_figures(ctx: StageContext, result: StageResult) -> dict[str, Any]:
    row = (
        read_table(ctx.spark, ctx.lake, PAGES.name)
        .where(F.col("run_id") == ctx.run_id)
        .agg(
            F.count("*").alias("pages"),
            F.sum((F.col("status") == "ok").cast("int")).alias("ok"),
            F.sum(((F.col("status") == "ok") & (F.col("method") == "ocr")).cast("int")).alias("ocr"),
        )
        .first()
    )
    pages = int(row["pages"]) if row else 0
    ok = int(row["ok"] or 0) if row else 0
    return {
        "pages": pages,
        "pages_per_s": pages / result.seconds if result.seconds > 0 else None,
        "ocr_page_share": (int(row["ocr"] or 0) / ok) if row and ok else None,
    }


def _ner_figures(ctx: StageContext, result: StageResult) -> dict[str, Any]:
    entities = read_table(ctx.spark, ctx.lake, ENTITIES.name).where(F.col("run_id") == ctx.run_id)
    labels = {r["label"]: int(r["count"]) for r in entities.groupBy("label").count().collect()}
    row = entities.agg(F.avg("score").alias("mean_score")).first()
    count = sum(labels.values())
    return {
        "entities": count,
        "entities_per_document": count / result.documents_in if result.documents_in else None,
        "mean_score": float(row["mean_score"]) if row and row["mean_score"] is not None else None,
        "label_mix": labels,
    }


FIGURES = {"extract": _extract_figures, "ner": _ner_figures}


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
    if result.stage in FIGURES and result.documents_in:
        row.update(FIGURES[result.stage](ctx, result))
    return row


def record_run(ctx: StageContext, result: StageResult) -> None:
    """Append the stage's row to ``runs`` (once per run and stage, also under retries)."""
    ctx.write_rows([run_row(ctx, result, dt.datetime.now(dt.UTC))], RUNS, stage=result.stage)
