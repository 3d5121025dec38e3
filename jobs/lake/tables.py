"""The lake: a directory of Delta tables. Reading through Spark, writing through ``deltars``."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
from deltalake import CommitProperties, DeltaTable, Schema
from deltalake import Field as DeltaField
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

from jobs.catalog.tables import TABLES, TableSpec
from jobs.lake.delta import FORMAT_NAME
from jobs.lake.delta.commit import (
    ROWS_KEY,
    DeltaWriteError,
    WriteRequest,
    check_compatible,
    commit_write,
    table_arrow_schema,
)
from jobs.lake.delta.files import DataFileWriter, local_path
from jobs.lake.delta.predicate import matches, parse_predicate


class LakeError(RuntimeError):
    """A table that is missing, unreadable by this reader, or asked for wrongly."""


@dataclass(frozen=True)
class WriteResult:
    table: str
    version: int | None  # None when the commit was skipped (transaction already committed)
    rows: int = 0  # rows this write added (0 when skipped)


def table_path(lake: str | Path, name: str) -> str:
    return str(Path(lake).absolute() / name)


def ensure_table(lake: str | Path, spec: TableSpec) -> DeltaTable:
    """Open ``spec``'s table, creating it empty with its declared schema when missing, and
    adding the declared columns an existing table lacks (see :func:`missing_columns`)."""
    path = table_path(lake, spec.name)
    if DeltaTable.is_deltatable(path):
        table = DeltaTable(path)
        added = missing_columns(pa.schema(table.schema().to_arrow()), to_arrow_schema(spec.schema), spec.name)
        if added:
            # One metadata commit; existing rows read the new columns as null. The table stays
            # reader 1 / writer 2: adding columns needs neither column mapping nor a new protocol.
            table.alter.add_columns(
                [DeltaField.from_arrow(field) for field in added],
                commit_properties=CommitProperties(custom_metadata={"userMetadata": "docner: columns added"}),
            )
            table = DeltaTable(path)
        return table
    Path(path).mkdir(parents=True, exist_ok=True)
    return DeltaTable.create(
        path,
        Schema.from_arrow(to_arrow_schema(spec.schema)),
        partition_by=list(spec.partition_by) or None,
        name=spec.name,
        description=spec.description or None,
        mode="ignore",
    )


def missing_columns(table_schema: pa.Schema, declared: pa.Schema, name: str) -> list[pa.Field]:
    """The declared columns an existing table lacks: a stage or a ``runs`` figure added to docner
    after the table was made (``documents.<stage>_state``, say). Each must be nullable, since
    the rows already there have no value for it; a column that changed type, or a missing NOT
    NULL column, is an error that names the table and the column."""
    have = {field.name: field for field in table_schema}
    added = []
    for field in declared:
        present = have.get(field.name)
        if present is None:
            if not field.nullable:
                raise LakeError(
                    f"table {name} lacks the NOT NULL column {field.name!r}: rows already in it would "
                    "have no value; migrate the table (or start a new lake)"
                )
            added.append(field)
        elif (
            Schema.from_arrow(pa.schema([present.with_nullable(True)])).to_json()
            != Schema.from_arrow(pa.schema([field.with_nullable(True)])).to_json()
        ):
            raise LakeError(
                f"column {field.name!r} of table {name} is {present.type} but docner declares {field.type}; "
                "migrate the table (or start a new lake)"
            )
    return added


def ensure_tables(lake: str | Path) -> None:
    for spec in TABLES.values():
        ensure_table(lake, spec)


def list_tables(lake: str | Path) -> dict[str, str]:
    """Every Delta table under ``lake`` (any depth), by its directory name."""
    found: dict[str, str] = {}
    root = Path(lake)
    if not root.is_dir():
        raise LakeError(f"lake directory {root} does not exist")
    for directory, subdirs, _files in os.walk(root):
        if "_delta_log" in subdirs:
            name = Path(directory).name
            if name in found:
                raise LakeError(f"two tables are named {name!r}: {found[name]} and {directory}")
            found[name] = str(Path(directory).absolute())
            subdirs.clear()
    return dict(sorted(found.items()))


def snapshot(path: str, name: str, version: int | None = None, as_of: dt.datetime | None = None) -> DeltaTable:
    """The table at its latest version, at ``version``, or as it was at time ``as_of``."""
    if not DeltaTable.is_deltatable(path):
        raise LakeError(f"no Delta table {name!r} at {path}")
    try:
        table = DeltaTable(path, version=version)
        if as_of is not None:
            as_of = as_of if as_of.tzinfo else as_of.replace(tzinfo=dt.UTC)
            created = min(entry["timestamp"] for entry in DeltaTable(path).history())
            if as_of.timestamp() * 1000 < created:
                raise LakeError(f"table {name!r} did not exist yet at {as_of.isoformat()}")
            table.load_as_version(as_of)
    except LakeError:
        raise
    except Exception:  # noqa: BLE001 - delta-rs raises several types for a version or time it lacks
        wanted = f"version {version}" if version is not None else f"time {as_of.isoformat() if as_of else ''}"
        raise LakeError(
            f"table {name!r} has no snapshot at {wanted} (versions 0-{DeltaTable(path).version()})"
        ) from None
    return table


def read_table(
    spark: SparkSession,
    lake: str | Path,
    name: str,
    version: int | None = None,
    as_of: dt.datetime | None = None,
) -> DataFrame:
    """The table's snapshot (latest, ``version``, or as of time ``as_of``) as a DataFrame with
    the table's own schema."""
    path = table_path(lake, name)
    table = snapshot(path, name, version, as_of)
    _check_readable(table, name)
    schema = from_arrow_schema(table_arrow_schema(table))
    files = table.file_uris()
    if not files:
        return spark.createDataFrame([], schema)
    reader = spark.read.schema(schema)
    if table.metadata().partition_columns:
        reader = reader.option("basePath", path)
    return reader.parquet(*files).select(*[F.col(f"`{c}`") for c in schema.fieldNames()])


def table_versions(lake: str | Path) -> list[dict[str, object]]:
    """Each table's current version, when and how it was last changed, files and rows."""
    listing = []
    for name, path in list_tables(lake).items():
        table = DeltaTable(path)
        last = table.history(1)[0] if table.version() >= 0 else {}
        adds = pa.table(table.get_add_actions(flatten=True)).to_pydict()
        timestamp = last.get("timestamp")
        listing.append(
            {
                "table": name,
                "version": table.version(),
                "updated_at": dt.datetime.fromtimestamp(timestamp / 1000, dt.UTC) if timestamp else None,
                "operation": last.get("operation"),
                "by": last.get("userMetadata"),
                "files": len(adds.get("path", [])),
                "rows": int(sum(n for n in adds.get("num_records", []) if n is not None)),
                "size_bytes": int(sum(adds.get("size_bytes", []))),
            }
        )
    return listing


def _check_readable(table: DeltaTable, name: str) -> None:
    """read_table hands Spark the snapshot's Parquet files as they are: refuse tables whose
    reader protocol needs more (column mapping, deletion vectors, …) rather than misread them."""
    protocol = table.protocol()
    if protocol.min_reader_version == 1:
        return
    features = set(protocol.reader_features or [])
    if protocol.min_reader_version == 3 and features <= {"timestampNtz"}:
        return
    described = sorted(features) or ["columnMapping"]
    raise LakeError(
        f"table {name!r} needs Delta reader version {protocol.min_reader_version} ({', '.join(described)}), "
        "which read_table cannot honour"
    )


def write_table(
    df: DataFrame,
    lake: str | Path,
    spec: TableSpec,
    *,
    mode: str = "append",
    replace_where: str | None = None,
    txn: tuple[str, int] | None = None,
    user_metadata: str | None = None,
    compression: str = "snappy",
    max_rows_per_file: int = 1_000_000,
    commit_retries: int = 5,
    batch_rows: int = 50_000,
    batch_bytes: int = 64 * 1024 * 1024,
    stage: str | None = None,
) -> WriteResult:
    """Write ``df`` into ``spec``'s table in one Delta commit; returns the version committed.

    The write tasks get Arrow batches of up to ``batch_rows`` rows / ``batch_bytes`` bytes
    (:func:`write_batch_conf`; the UDF batch size, tuned for models, would make a million rows
    15,000+ batches)."""
    ensure_table(lake, spec)
    path = table_path(lake, spec.name)
    request_id = str(uuid.uuid4())
    writer = (
        conform(df, spec)
        .write.format(FORMAT_NAME)
        .mode("overwrite" if mode in ("overwrite", "replace") else "append")
        .option("compression", compression)
        .option("maxRowsPerFile", str(max_rows_per_file))
        .option("commitRetries", str(commit_retries))
        .option("commitId", request_id)
    )
    if replace_where:
        writer = writer.option("replaceWhere", replace_where)
    if txn is not None:
        writer = writer.option("txnAppId", txn[0]).option("txnVersion", str(txn[1]))
    if user_metadata:
        writer = writer.option("userMetadata", user_metadata)
    if stage:
        writer = writer.option("stage", stage)
    conf = df.sparkSession.conf
    batch_settings = write_batch_conf(spec, batch_rows, batch_bytes)
    saved: dict[str, str | None] = {key: conf.get(key, None) for key in batch_settings}
    for key, value in batch_settings.items():
        conf.set(key, value)
    try:
        writer.save(path)
    finally:
        for key, previous in saved.items():
            if previous is None:
                conf.unset(key)
            else:
                conf.set(key, previous)
    for entry in DeltaTable(path).history(limit=50):
        if entry.get("docner.requestId") == request_id:
            return WriteResult(spec.name, int(entry["version"]), int(entry.get(ROWS_KEY, 0)))
    return WriteResult(spec.name, None, 0)


def conform(df: DataFrame, spec: TableSpec) -> DataFrame:
    """``df`` with exactly ``spec``'s columns, in order and cast to their types.

    A frame that has them already is returned as is, and one that has them in another order
    is reordered in one call: a column expression per column costs py4j round trips (measured:
    0.1 s of a 0.25 s write of a few entity rows)."""
    wanted = [(f.name, f.dataType) for f in spec.schema.fields]
    have = [(f.name, f.dataType) for f in df.schema.fields]
    if have == wanted:
        return df
    if sorted(have, key=repr) == sorted(wanted, key=repr):
        return df.selectExpr(*(_quoted(name) for name, _ in wanted))
    return df.select(*(F.col(_quoted(name)).cast(data_type) for name, data_type in wanted))


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


# Spark skips its per-row byte accounting of an Arrow batch when the byte cap is Int.MaxValue.
NO_BYTE_CAP = 2**31 - 1


def write_batch_conf(spec: TableSpec, batch_rows: int, batch_bytes: int) -> dict[str, str]:
    """The Spark settings that size the Arrow batches of a write into ``spec``'s table.

    Rows: at most ``batch_rows``. Bytes: at most ``batch_bytes``, except for tables of narrow
    rows (:attr:`TableSpec.narrow_rows`), whose batches the row cap alone keeps small: there
    Spark is told to skip the byte check, which it otherwise makes after every row."""
    if batch_rows < 1 or batch_bytes < 1:
        raise ValueError(f"write batches need positive caps, got {batch_rows} rows / {batch_bytes} bytes")
    return {
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(batch_rows),
        "spark.sql.execution.arrow.maxBytesPerBatch": str(NO_BYTE_CAP if spec.narrow_rows else batch_bytes),
    }


def write_arrow(
    data: pa.Table,
    lake: str | Path,
    spec: TableSpec,
    *,
    replace_where: str | None = None,
    txn: tuple[str, int] | None = None,
    user_metadata: str | None = None,
    compression: str = "snappy",
    max_rows_per_file: int = 1_000_000,
    commit_retries: int = 5,
    stage: str | None = None,
) -> WriteResult:
    """:func:`write_table` for rows already on the driver (a stage's bookkeeping: documents
    states, the runs row): the same files, checks and single commit, without a Spark job."""
    ensure_table(lake, spec)
    path = table_path(lake, spec.name)
    table = DeltaTable(path)
    schema = table_arrow_schema(table)
    request_id = str(uuid.uuid4())
    info = {"docner.requestId": request_id}
    if user_metadata:
        info["userMetadata"] = user_metadata
    if stage:
        info["docner.stage"] = stage
    request = WriteRequest(
        table_uri=path,
        schema=schema,
        partition_by=list(table.metadata().partition_columns),
        mode="replace" if replace_where else "append",
        replace_where=replace_where,
        txn_app_id=txn[0] if txn else None,
        txn_version=txn[1] if txn else None,
        compression=compression,
        max_rows_per_file=max_rows_per_file,
        commit_retries=commit_retries,
        commit_info=info,
    )
    check_compatible(schema, data.schema, path)
    if replace_where and data.num_rows:
        outside = data.num_rows - (pc.sum(matches(parse_predicate(replace_where), data)).as_py() or 0)
        if outside:
            raise DeltaWriteError(f"{outside} written rows do not satisfy replaceWhere {replace_where!r}")
    writer = DataFileWriter(
        table_root=local_path(path),
        schema=schema,
        partition_by=request.partition_by,
        compression=compression,
        max_rows_per_file=max_rows_per_file,
        task_label="driver",
    )
    try:
        writer.write(data)
        files = writer.close()
    except BaseException:
        writer.discard()
        raise
    outcome = commit_write(request, files)
    return WriteResult(spec.name, outcome.version, outcome.rows_added)


def arrow_rows(spec: TableSpec, rows: list[dict[str, Any]]) -> pa.Table:
    """Python rows (dicts by column name) as an Arrow table with ``spec``'s schema."""
    return pa.Table.from_pylist(rows, schema=to_arrow_schema(spec.schema))


def read_arrow(
    lake: str | Path, name: str, columns: list[str] | None = None, where: pc.Expression | None = None
) -> pa.Table:
    """The latest snapshot of a (driver-sized) table, or the ``columns`` / rows asked for,
    read with delta-rs: no Spark job for a stage's bookkeeping reads."""
    path = table_path(lake, name)
    table = snapshot(path, name)
    _check_readable(table, name)
    # Filtered in memory: delta-rs turns a file's missing max statistic (long strings have
    # none) into a `<= null` guarantee that makes pyarrow skip the file under any filter.
    data = _local_dataset(table, path).to_table(columns=columns)
    return data.filter(where) if where is not None else data


def _local_dataset(table: DeltaTable, path: str) -> pads.Dataset:
    """The snapshot as a pyarrow dataset over pyarrow's own local file system. delta-rs's default
    file system is implemented in Python (a PyFileSystem handler), so pyarrow's I/O threads call
    back into Python; at interpreter exit that aborted the process ("terminate called without an
    active exception", exit 134) in most runs of ``docner validate`` on the CUAD lake."""
    return table.to_pyarrow_dataset(filesystem=pafs.SubTreeFileSystem(path, pafs.LocalFileSystem()))


def table_version(lake: str | Path, name: str) -> int:
    """The table's latest version (:class:`LakeError` when the lake has no such table)."""
    return snapshot(table_path(lake, name), name).version()


def table_columns(lake: str | Path, name: str) -> list[str] | None:
    """The column names of the table's latest snapshot, or None when the lake has no such
    table: lets a reader of an older (or a partial) lake ask :func:`read_arrow` for only the
    columns there are."""
    path = table_path(lake, name)
    if not DeltaTable.is_deltatable(path):
        return None
    return table_arrow_schema(DeltaTable(path)).names


def sql_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def in_list(column: str, values: list[str]) -> str:
    """``column IN ('a', 'b')`` for a replaceWhere predicate."""
    if not values:
        raise LakeError("an IN predicate needs at least one value")
    return f"{column} IN ({', '.join(sql_quote(v) for v in sorted(set(values)))})"
