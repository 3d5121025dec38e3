"""The ``runs`` table: one row per stage per run, with the figures needed to spot drift."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

from jobs import code_version
from jobs.catalog.stages import FIGURES, stage_spec
from jobs.catalog.tables import RUNS
from jobs.config import DocnerConfig
from jobs.stages.base import StageContext, StageResult


def config_hash(config: DocnerConfig) -> str:
    """sha256 of the effective configuration (after overlays and overrides)."""
    return hashlib.sha256(config.model_dump_json(exclude={"conf_dir"}).encode()).hexdigest()


def run_row(
    ctx: StageContext, result: StageResult, finished_at: dt.datetime, figures: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The stage's ``runs`` row; ``figures``: the values of the stage's own figure columns
    (``StageSpec.figures``), the other stages' figure columns are null."""
    declared = {figure.name for figure in stage_spec(result.stage).figures}
    unknown = sorted(set(figures or {}) - declared)
    if unknown:
        raise ValueError(f"stage {result.stage} has no runs figures {unknown} (declared: {sorted(declared)})")
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
        **{figure.name: None for figure in FIGURES},
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
    row.update(figures or {})
    return row


def record_run(ctx: StageContext, result: StageResult, figures: Mapping[str, Any] | None = None) -> None:
    """Append the stage's row to ``runs`` (once per run and stage, also under retries)."""
    ctx.write_rows([run_row(ctx, result, dt.datetime.now(dt.UTC), figures)], RUNS, stage=result.stage)
