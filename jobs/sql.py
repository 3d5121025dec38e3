"""``docner sql``: every Delta table under the lake is a view by its name."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import io
import json
from pathlib import Path
from typing import Any

from pyspark.sql import Row, SparkSession

from jobs.lake import list_tables, read_table
from jobs.views import VIEWS

FORMATS = ("table", "csv", "json")


def register_views(spark: SparkSession, lake: str | Path) -> dict[str, str]:
    """Create (or replace) a temporary view per table and per derived view; returns name → source."""
    tables = list_tables(lake)
    frames = {}
    for name, path in tables.items():
        frames[name] = read_table(spark, Path(path).parent, name)
        frames[name].createOrReplaceTempView(name)
    views = {}
    for view, (source, build) in VIEWS.items():
        if source in frames and view not in tables:
            build(frames[source]).createOrReplaceTempView(view)
            views[view] = f"view over {source}"
    return {**tables, **views}


def run_query(spark: SparkSession, lake: str | Path, query: str) -> tuple[list[str], list[Row]]:
    register_views(spark, lake)
    result = spark.sql(query)
    return result.columns, result.collect()


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


def format_rows(columns: list[str], rows: list[Row], fmt: str) -> str:
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
