"""``docner sql``: every Delta table under the lake is a view by its name."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import Row, SparkSession

from jobs.lake.tables import LakeError, list_tables, read_table, table_versions
from jobs.lake.views import VIEWS

FORMATS = ("table", "csv", "json")


@dataclass(frozen=True)
class AsOf:
    """Time travel for ``docner sql --as-of``: every table at one version or one time, and
    single tables at their own versions (``entities=3``)."""

    version: int | None = None
    timestamp: dt.datetime | None = None
    tables: dict[str, int] = field(default_factory=dict)

    def for_table(self, name: str) -> tuple[int | None, dt.datetime | None]:
        if name in self.tables:
            return self.tables[name], None
        return self.version, self.timestamp


def parse_as_of(values: Sequence[str]) -> AsOf:
    """``N`` (a version of every table), ``TABLE=N``, or an ISO-8601 time (UTC unless it says)."""
    version: int | None = None
    timestamp: dt.datetime | None = None
    tables: dict[str, int] = {}
    for value in values:
        text = value.strip()
        pinned = re.fullmatch(r"(\w+)=(\d+)", text)
        if pinned:
            tables[pinned.group(1)] = int(pinned.group(2))
        elif text.isdigit():
            version = int(text)
        else:
            try:
                timestamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise LakeError(
                    f"--as-of {value!r}: expected a version number, TABLE=VERSION, or an ISO time "
                    "like 2026-11-23T10:15:00Z"
                ) from None
    if version is not None and timestamp is not None:
        raise LakeError("--as-of: give every table a version or a time, not both")
    return AsOf(version, timestamp, tables)


def register_views(spark: SparkSession, lake: str | Path, as_of: AsOf | None = None) -> dict[str, str]:
    """Create (or replace) a temporary view per table and per derived view; returns name → source."""
    tables = list_tables(lake)
    unknown = sorted(set(as_of.tables) - set(tables)) if as_of else []
    if unknown:
        raise LakeError(f"--as-of names no table {', '.join(unknown)} (tables: {', '.join(tables)})")
    frames = {}
    for name, path in tables.items():
        version, timestamp = as_of.for_table(name) if as_of else (None, None)
        frames[name] = read_table(spark, Path(path).parent, name, version=version, as_of=timestamp)
        frames[name].createOrReplaceTempView(name)
    views = {}
    for view, (source, build) in VIEWS.items():
        if source in frames and view not in tables:
            build(frames[source]).createOrReplaceTempView(view)
            views[view] = f"view over {source}"
    return {**tables, **views}


def run_query(
    spark: SparkSession, lake: str | Path, query: str, as_of: AsOf | None = None
) -> tuple[list[str], list[Row]]:
    register_views(spark, lake, as_of)
    result = spark.sql(query)
    return result.columns, result.collect()


def list_table_versions(lake: str | Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    """``docner sql --tables``: each table with its version, last change, files and rows."""
    listing = table_versions(lake)
    columns = ["table", "version", "updated_at", "operation", "by", "files", "rows", "size_bytes"]
    return columns, [tuple(entry[c] for c in columns) for entry in listing]


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
