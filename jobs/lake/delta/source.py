"""``deltars``: a Spark Python data source that writes Delta Lake tables through delta-rs.

    df.write.format("deltars").mode("append").save(path)
    df.write.format("deltars").mode("overwrite").option("replaceWhere", "doc_id IN ('a')").save(path)

Each write task streams its Arrow batches into Parquet files inside the table directory;
the driver-side ``commit`` adds all of them in ONE Delta transaction. Options:

- ``replaceWhere``: with ``mode("overwrite")``, atomically replace the rows matching the
  predicate (every written row must match it); without it, overwrite replaces the table.
- ``txnAppId`` + ``txnVersion``: an application transaction; when the table already holds
  that version (or a later one) for the app id, the commit is skipped and the files are
  deleted — a retried batch commits at most once (Delta's ``txn`` action).
- ``partitionBy``: comma-separated partition columns, for a table this write creates.
- ``compression``, ``maxRowsPerFile``, ``commitRetries``, ``userMetadata``, ``commitId``, ``stage``
  (the pipeline stage, recorded in the commit info as ``docner.stage``).

Tables stay standard Delta (reader 1 / writer 2: no deletion vectors, no column mapping)
so delta-spark, DuckDB and Trino read them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from pyspark.sql.datasource import DataSource, DataSourceArrowWriter, WriterCommitMessage
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import StructType

from jobs.lake.delta.commit import (
    DeltaWriteError,
    WriteMode,
    WriteRequest,
    check_compatible,
    commit_write,
    discard_files,
    table_arrow_schema,
    table_exists,
)
from jobs.lake.delta.files import DataFile, DataFileWriter, local_path
from jobs.lake.delta.predicate import matches, parse_predicate
from udfs.worker import prepare_worker

log = logging.getLogger(__name__)

FORMAT_NAME = "deltars"


@dataclass
class DeltaCommitMessage(WriterCommitMessage):
    files: list[DataFile]


def _option(options: dict[str, str], name: str, default: str | None = None) -> str | None:
    value = options.get(name.lower(), options.get(name, default))
    return None if value is None or value == "" else str(value)


def _int_option(options: dict[str, str], name: str, default: int | None) -> int | None:
    raw = _option(options, name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise DeltaWriteError(f"option {name} must be an integer, got {raw!r}") from None


def build_request(options: dict[str, str], spark_schema: StructType, overwrite: bool) -> WriteRequest:
    """Resolve the write options against the (possibly existing) table into a WriteRequest."""
    path = _option(options, "path")
    if path is None:
        raise DeltaWriteError("the deltars data source needs a table path: .save(path)")
    table_uri = str(local_path(path).absolute())
    data_schema = _arrow_schema(spark_schema)
    replace_where = _option(options, "replaceWhere")
    if replace_where and not overwrite:
        raise DeltaWriteError("replaceWhere needs mode('overwrite')")
    if replace_where:
        parse_predicate(replace_where)  # fail at planning time, before any task runs
    mode: WriteMode = "replace" if replace_where else ("overwrite" if overwrite else "append")
    txn_app_id = _option(options, "txnAppId")
    txn_version = _int_option(options, "txnVersion", None)

    requested_partitions = [c.strip() for c in (_option(options, "partitionBy") or "").split(",") if c.strip()]
    if table_exists(table_uri):
        table = DeltaTable(table_uri)
        schema = table_arrow_schema(table)
        check_compatible(schema, data_schema, table_uri)
        partition_by = list(table.metadata().partition_columns)
        if requested_partitions and requested_partitions != partition_by:
            raise DeltaWriteError(f"{table_uri} is partitioned by {partition_by}, not {requested_partitions}")
    else:
        schema = data_schema
        partition_by = requested_partitions
        unknown = sorted(set(partition_by) - set(schema.names))
        if unknown:
            raise DeltaWriteError(f"partitionBy names unknown columns {unknown}")

    info = {}
    user_metadata = _option(options, "userMetadata")
    if user_metadata:
        info["userMetadata"] = user_metadata
    stage = _option(options, "stage")
    if stage:
        info["docner.stage"] = stage
    commit_id = _option(options, "commitId")
    if commit_id:
        info["docner.requestId"] = commit_id
    return WriteRequest(
        table_uri=table_uri,
        schema=schema,
        partition_by=partition_by,
        mode=mode,
        replace_where=replace_where,
        txn_app_id=txn_app_id,
        txn_version=txn_version,
        compression=_option(options, "compression", "snappy") or "snappy",
        max_rows_per_file=_int_option(options, "maxRowsPerFile", 1_000_000) or 1_000_000,
        commit_retries=_int_option(options, "commitRetries", 5) or 0,
        commit_info=info,
    )


def _arrow_schema(spark_schema: StructType) -> pa.Schema:
    schema = to_arrow_schema(spark_schema)
    for field_ in schema:
        if pa.types.is_timestamp(field_.type) and field_.type.tz is None:
            raise DeltaWriteError(
                f"column {field_.name!r} is TIMESTAMP_NTZ, which needs a Delta table feature; "
                "cast it to TIMESTAMP to keep the table readable everywhere"
            )
    return schema


class DeltaRsDataSource(DataSource):
    """Spark Python data source ``deltars`` (write side; read with :func:`jobs.lake.tables.read_table`)."""

    @classmethod
    def name(cls) -> str:
        return FORMAT_NAME

    def writer(self, schema: StructType, overwrite: bool) -> DeltaRsWriter:
        return DeltaRsWriter(build_request(dict(self.options), schema, overwrite))


class DeltaRsWriter(DataSourceArrowWriter):
    def __init__(self, request: WriteRequest) -> None:
        self.request = request

    def write(self, iterator: Iterator[pa.RecordBatch]) -> DeltaCommitMessage:
        from pyspark import TaskContext

        prepare_worker()  # this task runs in a Spark Python worker
        context = TaskContext.get()
        label = f"{context.partitionId():05d}" if context is not None else "00000"
        request = self.request
        predicate = parse_predicate(request.replace_where) if request.replace_where else None
        writer = DataFileWriter(
            table_root=local_path(request.table_uri),
            schema=request.schema,
            partition_by=request.partition_by,
            compression=request.compression,
            max_rows_per_file=request.max_rows_per_file,
            task_label=label,
        )
        try:
            for batch in iterator:
                if predicate is not None and batch.num_rows:
                    hits = matches(predicate, pa.Table.from_batches([batch]))
                    outside = batch.num_rows - (pc.sum(hits).as_py() or 0)
                    if outside:
                        raise DeltaWriteError(
                            f"{outside} written rows do not satisfy replaceWhere {request.replace_where!r}"
                        )
                writer.write(batch)
            files = writer.close()
        except BaseException:
            writer.discard()
            raise
        return DeltaCommitMessage(files=files)

    def commit(self, messages: list[WriterCommitMessage | None]) -> None:
        files = [f for m in messages if isinstance(m, DeltaCommitMessage) for f in m.files]
        outcome = commit_write(self.request, files)
        log.info("deltars commit to %s: %s", self.request.table_uri, outcome)

    def abort(self, messages: list[WriterCommitMessage | None]) -> None:
        files = [f for m in messages if isinstance(m, DeltaCommitMessage) for f in m.files]
        discard_files(self.request.table_uri, files)
