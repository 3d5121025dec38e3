"""``docner run``: ingest → extract → ner on one input, in one SparkSession, with a summary."""

from __future__ import annotations

from pathlib import Path

from jobs.extract import run_extract
from jobs.ingest import run_ingest
from jobs.lake import ensure_tables, sql_quote
from jobs.ner import run_ner
from jobs.sql import format_rows, run_query
from jobs.stage import StageContext, StageResult

STATUS_COLUMNS = ("ok", "partial", "failed", "skipped")


def run_pipeline(ctx: StageContext, input_location: str) -> list[StageResult]:
    ensure_tables(ctx.lake)
    results = [run_ingest(ctx, input_location)]
    results.append(run_extract(ctx))
    results.append(run_ner(ctx))
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


def example_query(run_id: str) -> str:
    return (
        "SELECT label, count(*) AS n FROM entities "
        f"WHERE run_id = {sql_quote(run_id)} GROUP BY label ORDER BY n DESC, label"
    )


def format_example(ctx: StageContext) -> str:
    query = example_query(ctx.run_id)
    columns, rows = run_query(ctx.spark, ctx.lake, query)
    return f"example SQL: {query}\n{format_rows(columns, rows, 'table')}"


def describe_run(ctx: StageContext, input_location: str) -> str:
    return (
        f"docner run {ctx.run_id} (env {ctx.config.env})\n  input {input_location}\n  lake  {Path(ctx.lake).absolute()}"
    )
