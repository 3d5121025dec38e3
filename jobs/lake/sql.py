"""``docner sql``: every Delta table under the lake is a view by its name."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import Row, SparkSession

from jobs.lake.tables import LakeError, list_tables, read_table, table_versions
from jobs.lake.views import VIEWS


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
