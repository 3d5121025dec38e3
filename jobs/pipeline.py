"""``docner run``: ingest → extract → ner on one input, in one SparkSession, with a summary."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from jobs.lake.sql import format_rows, run_query
from jobs.lake.state import STATE_STAGES
from jobs.lake.tables import ensure_tables
from jobs.ops.progress import log_context
from jobs.stages.base import StageContext, StageResult
from jobs.stages.extract import run_extract
from jobs.stages.ingest import run_ingest
from jobs.stages.ner import run_ner

STATUS_COLUMNS = ("ok", "partial", "failed", "skipped", "removed")


def run_pipeline(
    ctx: StageContext,
    input_location: str,
    reprocess: Collection[str] = (),
    stages: Collection[str] = STATE_STAGES,
) -> list[StageResult]:
    """Ingest, extract and NER (or the ``stages`` named, in pipeline order), each on what it
    has not done yet (``reprocess``: stages to run on every document again)."""
    unknown = sorted(set(stages) - set(STATE_STAGES))
    if unknown:
        raise ValueError(f"unknown stages {unknown} (stages: {', '.join(STATE_STAGES)})")
    ensure_tables(ctx.lake)
    results = []
    if "ingest" in stages:
        with log_context(stage="ingest"):
            results.append(run_ingest(ctx, input_location, reprocess="ingest" in reprocess))
    if "extract" in stages:
        with log_context(stage="extract"):
            results.append(run_extract(ctx, reprocess="extract" in reprocess))
    if "ner" in stages:
        with log_context(stage="ner"):
            results.append(run_ner(ctx, reprocess="ner" in reprocess))
    return results


def format_summary(results: list[StageResult]) -> str:
    header = ["stage", "docs in", *STATUS_COLUMNS, "rows written", "seconds"]
    rows = []
    for result in results:
        written = ", ".join(f"{table}={count}" for table, count in result.rows_written.items()) or "-"
        rows.append(
            [
                result.stage,
                str(result.documents_in),
                *[str(result.statuses.get(status, 0)) for status in STATUS_COLUMNS],
                written,
                f"{result.seconds:.1f}",
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    for result in results:
        lines += [f"note ({result.stage}): {note}" for note in result.notes]
    return "\n".join(lines)


EXAMPLE_QUERY = "SELECT label, count(*) AS n FROM entities GROUP BY label ORDER BY n DESC, label"


def format_example(ctx: StageContext) -> str:
    query = EXAMPLE_QUERY
    columns, rows = run_query(ctx.spark, ctx.lake, query)
    return f"example SQL: {query}\n{format_rows(columns, rows, 'table')}"


def describe_run(ctx: StageContext, input_location: str) -> str:
    return (
        f"docner run {ctx.run_id} (env {ctx.config.env})\n  input {input_location}\n  lake  {Path(ctx.lake).absolute()}"
    )
