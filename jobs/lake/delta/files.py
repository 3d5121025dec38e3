"""Writing Delta data files: Parquet files in the table directory plus their Delta stats.

Used by the Spark write tasks and by the driver when a replace-where rewrites a file.
Nothing here touches the transaction log: a written file is invisible until a commit
adds it, and files that are never committed are removed by abort or by vacuum.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# Delta readers use string stats as prefixes; longer values are cut (min) or left out (max).
STRING_STATS_PREFIX = 32
log = logging.getLogger(__name__)
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_SAFE_PARTITION_VALUE = re.compile(r"[A-Za-z0-9_.\-]{1,128}")


class DataFileError(ValueError):
    """Data that cannot be written as given (null in a NOT NULL column, bad partition value)."""


@dataclass(frozen=True)
class DataFile:
    """A Parquet file written into a table, described as its future Delta ``add`` action."""

    path: str  # relative to the table root, URI-encoded as the Delta log expects
    size: int
    partition_values: dict[str, str | None]
    modification_time: int  # milliseconds since the epoch
    num_records: int
    stats: str  # Delta stats JSON


def local_path(table_uri: str) -> Path:
    """The filesystem path of a ``file://`` URI or plain path."""
    if table_uri.startswith("file://"):
        return Path(unquote(table_uri[len("file://") :]))
    if table_uri.startswith("file:"):
        return Path(unquote(table_uri[len("file:") :]))
    if "://" in table_uri:
        raise DataFileError(f"only local or mounted paths are supported for now, got {table_uri!r}")
    return Path(table_uri)


def partition_value_string(value: Any) -> str | None:
    """Delta's string form of a partition value (None stays None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return str(value)


def partition_dir(partition_values: dict[str, str | None], columns: list[str]) -> str:
    parts = []
    for column in columns:
        value = partition_values[column]
        if value is None:
            parts.append(f"{column}={NULL_PARTITION}")
            continue
        if not _SAFE_PARTITION_VALUE.fullmatch(value):
            raise DataFileError(
                f"partition column {column!r} holds {value!r}: partition values must be short "
                "ASCII letters, digits, '_', '.' or '-' (partition only on low-cardinality safe columns)"
            )
        parts.append(f"{column}={value}")
    return "/".join(parts)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        stamp = value.astimezone(dt.UTC) if value.tzinfo else value
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@dataclass
class ColumnStats:
    """Running min / max / null count of one primitive column across batches."""

    kind: str
    null_count: int = 0
    minimum: Any = None
    maximum: Any = None
    exact_max: bool = True  # false once a value could not be represented as a max bound

    def update(self, column: pa.ChunkedArray | pa.Array) -> None:
        self.null_count += column.null_count
        if len(column) == column.null_count:
            return
        if self.kind == "float" and pc.any(pc.is_nan(column)).as_py():
            # NaN has no place in min/max stats: leave this column's bounds out.
            self.exact_max = False
            self.minimum = None
            self.kind = "none"
            return
        if self.kind == "none":
            return
        bounds = pc.min_max(column)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        if self.kind == "string":
            low = low[:STRING_STATS_PREFIX]
            if len(high) > STRING_STATS_PREFIX:
                self.exact_max = False
        if self.minimum is None or low < self.minimum:
            self.minimum = low
        if self.maximum is None or high > self.maximum:
            self.maximum = high

    def bounds(self) -> tuple[Any, Any]:
        if self.kind == "none":
            return None, None
        high = self.maximum if self.exact_max else None
        if self.kind == "timestamp":
            # Delta stats carry milliseconds: round the bounds outwards so they still bound.
            low = self.minimum.replace(microsecond=self.minimum.microsecond // 1000 * 1000) if self.minimum else None
            if high is not None and high.microsecond % 1000:
                high = high.replace(microsecond=high.microsecond // 1000 * 1000) + dt.timedelta(milliseconds=1)
            return low, high
        return self.minimum, high


def _stats_kind(data_type: pa.DataType) -> str | None:
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "string"
    if pa.types.is_integer(data_type) or pa.types.is_date(data_type) or pa.types.is_decimal(data_type):
        return "ordered"
    if pa.types.is_floating(data_type):
        return "float"
    if pa.types.is_timestamp(data_type):
        return "timestamp"
    if pa.types.is_boolean(data_type):
        return "nulls"
    return None


class FileStats:
    """Delta ``stats`` for one data file, accumulated batch by batch."""

    def __init__(self, schema: pa.Schema) -> None:
        self.num_records = 0
        self.columns: dict[str, ColumnStats] = {}
        for field_ in schema:
            kind = _stats_kind(field_.type)
            if kind is not None:
                self.columns[field_.name] = ColumnStats(kind if kind != "nulls" else "none")

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        self.num_records += batch.num_rows
        for name, stats in self.columns.items():
            stats.update(batch.column(name))

    def to_json(self) -> str:
        min_values: dict[str, Any] = {}
        max_values: dict[str, Any] = {}
        null_count: dict[str, int] = {}
        for name, stats in self.columns.items():
            null_count[name] = stats.null_count
            low, high = stats.bounds()
            if low is not None and not (isinstance(low, float) and math.isinf(low)):
                min_values[name] = _json_value(low)
            if high is not None and not (isinstance(high, float) and math.isinf(high)):
                max_values[name] = _json_value(high)
        return json.dumps(
            {
                "numRecords": self.num_records,
                "minValues": min_values,
                "maxValues": max_values,
                "nullCount": null_count,
            },
            separators=(",", ":"),
            default=str,
        )


@dataclass
class _OpenFile:
    relative_path: str
    absolute_path: Path
    writer: pq.ParquetWriter
    stats: FileStats
    partition_values: dict[str, str | None]
    rows: int = 0


@dataclass
class DataFileWriter:
    """Streams Arrow batches into Parquet data files under ``table_root``.

    One open file per partition value; a file is closed and a new one started after
    ``max_rows_per_file`` rows. ``close()`` returns the written files; ``discard()``
    deletes them (a failed task must not leave its files behind when it can help it).
    """

    table_root: Path
    schema: pa.Schema  # the table's columns, partition columns included
    partition_by: list[str]
    compression: str = "snappy"
    max_rows_per_file: int = 1_000_000
    task_label: str = "00000"
    files: list[DataFile] = field(default_factory=list)
    _open: dict[tuple[str | None, ...], _OpenFile] = field(default_factory=dict)
    _written_paths: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.data_schema = pa.schema([f for f in self.schema if f.name not in self.partition_by])
        self._not_null = [f.name for f in self.schema if not f.nullable]

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        if data.num_rows == 0:
            return
        table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
        table = table.select(self.schema.names)
        for name in self._not_null:
            nulls = table.column(name).null_count
            if nulls:
                raise DataFileError(f"column {name!r} is NOT NULL in the table but {nulls} rows are null")
        table = table.cast(self.schema)
        if not self.partition_by:
            self._write_partition((), {}, table)
            return
        keys = table.select(self.partition_by).group_by(self.partition_by).aggregate([])
        for key_row in keys.to_pylist():
            mask = None
            for column in self.partition_by:
                value = key_row[column]
                part = pc.is_null(table.column(column)) if value is None else pc.equal(table.column(column), value)
                mask = part if mask is None else pc.and_(mask, part)
            part_values = {c: partition_value_string(key_row[c]) for c in self.partition_by}
            self._write_partition(tuple(part_values.values()), part_values, table.filter(mask))

    def _write_partition(
        self, key: tuple[str | None, ...], partition_values: dict[str, str | None], table: pa.Table
    ) -> None:
        data = table.select(self.data_schema.names)
        offset = 0
        while offset < data.num_rows:
            handle = self._open.get(key) or self._start_file(key, partition_values)
            room = self.max_rows_per_file - handle.rows
            piece = data.slice(offset, room)
            handle.writer.write_table(piece)
            handle.stats.update(piece)
            handle.rows += piece.num_rows
            offset += piece.num_rows
            if handle.rows >= self.max_rows_per_file:
                self._finish(key)

    def _start_file(self, key: tuple[str | None, ...], partition_values: dict[str, str | None]) -> _OpenFile:
        directory = partition_dir(partition_values, self.partition_by) if self.partition_by else ""
        codec = self.compression if self.compression != "none" else "uncompressed"
        name = f"part-{self.task_label}-{uuid.uuid4()}.c000.{codec}.parquet"
        relative = f"{directory}/{name}" if directory else name
        absolute = self.table_root / relative
        absolute.parent.mkdir(parents=True, exist_ok=True)
        self._written_paths.append(absolute)
        writer = pq.ParquetWriter(
            absolute,
            self.data_schema,
            compression=None if codec == "uncompressed" else codec,
            write_statistics=True,
        )
        handle = _OpenFile(relative, absolute, writer, FileStats(self.data_schema), partition_values)
        self._open[key] = handle
        return handle

    def _finish(self, key: tuple[str | None, ...]) -> None:
        handle = self._open.pop(key)
        handle.writer.close()
        stat = os.stat(handle.absolute_path)
        self.files.append(
            DataFile(
                path=quote(handle.relative_path, safe="/=_.-"),
                size=stat.st_size,
                partition_values=handle.partition_values,
                modification_time=int(stat.st_mtime * 1000),
                num_records=handle.rows,
                stats=handle.stats.to_json(),
            )
        )

    def close(self) -> list[DataFile]:
        for key in list(self._open):
            self._finish(key)
        return list(self.files)

    def discard(self) -> None:
        for handle in self._open.values():
            try:
                handle.writer.close()
            except Exception as exc:  # noqa: BLE001 - best effort on an already failing task
                log.warning("could not close %s while discarding it: %s", handle.absolute_path, exc)
        self._open.clear()
        for path in self._written_paths:
            path.unlink(missing_ok=True)
        self.files.clear()


def now_ms() -> int:
    return int(time.time() * 1000)
