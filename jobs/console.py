"""What the command line prints: tables of rows in one of three formats, the stage summary,
the run header and the example query after ``docner run``. Results go to stdout; logs and
Spark's own chatter go to stderr.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyspark.sql import Row

from jobs.lake.state import STATUS_REMOVED
from jobs.stages.base import StageContext, StageResult
from udfs.errors import STATUSES

FORMATS = ("table", "csv", "json")
STATUS_COLUMNS = (*STATUSES, STATUS_REMOVED)
EXAMPLE_QUERY = "SELECT label, count(*) AS n FROM entities GROUP BY label ORDER BY n DESC, label"


def _plain(value: Any) -> Any:
    if isinstance(value, Row):
        return {k: _plain(v) for k, v in value.asDict().items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def format_rows(columns: list[str], rows: Sequence[Row | tuple[Any, ...]], fmt: str) -> str:
    records = [[_plain(value) for value in row] for row in rows]
    if fmt == "json":
        return json.dumps(
            [dict(zip(columns, record, strict=True)) for record in records], ensure_ascii=False, default=str
        )
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for record in records:
            writer.writerow(["" if v is None else json.dumps(v) if isinstance(v, (dict, list)) else v for v in record])
        return buffer.getvalue().rstrip("\n")
    if fmt == "table":
        cells = [
            ["NULL" if v is None else json.dumps(v) if isinstance(v, (dict, list)) else str(v) for v in record]
            for record in records
        ]
        widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
        numeric = [
            all(isinstance(record[i], (int, float)) for record in records if record[i] is not None)
            for i in range(len(columns))
        ]

        def line(values: list[str]) -> str:
            return " | ".join(
                v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
            ).rstrip()

        out = [line(list(columns)), "-+-".join("-" * w for w in widths)]
        out += [line(row) for row in cells]
        out.append(f"({len(cells)} row{'s' if len(cells) != 1 else ''})")
        return "\n".join(out)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def format_summary(results: Sequence[StageResult]) -> str:
    """One line per stage: documents in, documents by status after it, rows written, seconds;
    then the stages' notes."""
    columns = ["stage", "docs in", *STATUS_COLUMNS, "rows written", "seconds"]
    rows = [
        (
            result.stage,
            result.documents_in,
            *[result.statuses.get(status, 0) for status in STATUS_COLUMNS],
            ", ".join(f"{table}={count}" for table, count in result.rows_written.items()) or "-",
            round(result.seconds, 1),
        )
        for result in results
    ]
    lines = [format_rows(columns, rows, "table")]
    for result in results:
        lines += [f"note ({result.stage}): {note}" for note in result.notes]
    return "\n".join(lines)


def format_example(ctx: StageContext) -> str:
    from jobs.lake.sql import run_query

    columns, rows = run_query(ctx.spark, ctx.lake, EXAMPLE_QUERY)
    return f"example SQL: {EXAMPLE_QUERY}\n{format_rows(columns, rows, 'table')}"


def describe_run(ctx: StageContext, input_location: str) -> str:
    return (
        f"docner run {ctx.run_id} (env {ctx.config.env})\n  input {input_location}\n  lake  {Path(ctx.lake).absolute()}"
    )
