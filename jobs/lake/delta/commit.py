"""The driver side of a write: turn the files written by the tasks into ONE Delta commit.

``commit_write`` creates the table when it does not exist, skips the commit when the
application transaction (``txnAppId`` / ``txnVersion``) was already committed — so a
retried batch lands at most once — and for replace-where plans the removal (or rewrite)
of the existing files holding matching rows, all in the same transaction. A commit that
loses a race with a concurrent writer is re-planned on the new snapshot and retried.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Schema, Transaction
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

from jobs.lake.delta.faults import fault_point
from jobs.lake.delta.files import (
    NULL_PARTITION,
    DataFile,
    DataFileWriter,
    local_path,
    now_ms,
    partition_value_string,
)
from jobs.lake.delta.predicate import Predicate, matches, parse_predicate, referenced_columns

log = logging.getLogger(__name__)

WriteMode = Literal["append", "overwrite", "replace"]
COMMIT_ID_KEY = "docner.commitId"
ROWS_KEY = "docner.rowsWritten"  # rows of the write's own data (not of rewritten files)


class DeltaWriteError(RuntimeError):
    """A write that cannot be committed as asked (schema mismatch, predicate violation, …)."""


@dataclass(frozen=True)
class WriteRequest:
    table_uri: str
    schema: pa.Schema
    partition_by: list[str]
    mode: WriteMode = "append"
    replace_where: str | None = None
    txn_app_id: str | None = None
    txn_version: int | None = None
    compression: str = "snappy"
    max_rows_per_file: int = 1_000_000
    commit_retries: int = 5
    commit_info: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.txn_app_id is None) != (self.txn_version is None):
            raise DeltaWriteError("txnAppId and txnVersion must be given together")
        if self.mode == "replace" and not self.replace_where:
            raise DeltaWriteError("replace mode needs a replaceWhere predicate")
        if self.replace_where and self.mode != "replace":
            raise DeltaWriteError("replaceWhere is only valid with mode('overwrite')")


@dataclass(frozen=True)
class CommitOutcome:
    version: int | None  # the committed table version; None when the commit was skipped
    skipped: bool
    files_added: int
    files_removed: int
    rows_added: int
    files_rewritten: int = 0


def table_exists(table_uri: str) -> bool:
    return DeltaTable.is_deltatable(table_uri)


def table_arrow_schema(table: DeltaTable) -> pa.Schema:
    return pa.schema(table.schema().to_arrow())


def check_compatible(table_schema: pa.Schema, data_schema: pa.Schema, table_uri: str) -> None:
    """The incoming columns must be the table's columns, by name and type (order free)."""
    table_fields = {f.name: f for f in table_schema}
    data_fields = {f.name: f for f in data_schema}
    missing = sorted(set(table_fields) - set(data_fields))
    extra = sorted(set(data_fields) - set(table_fields))
    problems = []
    if missing:
        problems.append(f"missing columns {missing}")
    if extra:
        problems.append(f"unknown columns {extra}")
    for name in sorted(set(table_fields) & set(data_fields)):
        want = Schema.from_arrow(pa.schema([table_fields[name].with_nullable(True)])).to_json()
        got = Schema.from_arrow(pa.schema([data_fields[name].with_nullable(True)])).to_json()
        if want != got:
            problems.append(
                f"column {name!r} is {table_fields[name].type} in the table but {data_fields[name].type} in the data"
            )
    if problems:
        raise DeltaWriteError(f"data does not match the schema of {table_uri}: " + "; ".join(problems))


def commit_write(request: WriteRequest, files: list[DataFile]) -> CommitOutcome:
    """Commit ``files`` as one transaction according to ``request``; see the module docstring."""
    table_name = request.table_uri.rstrip("/").rsplit("/", 1)[-1]
    stage = request.commit_info.get("docner.stage")
    fault_point("before-commit", table_name, stage)
    outcome = _commit_write(request, files)
    fault_point("after-commit", table_name, stage)
    return outcome


def _commit_write(request: WriteRequest, files: list[DataFile]) -> CommitOutcome:
    commit_id = str(uuid.uuid4())
    rows = sum(f.num_records for f in files)
    adds = [_add_action(f) for f in files]
    properties = _commit_properties(request, commit_id, rows)
    predicate = parse_predicate(request.replace_where) if request.replace_where else None

    if not table_exists(request.table_uri):
        try:
            create_table_with_add_actions(
                request.table_uri,
                Schema.from_arrow(request.schema),
                adds,
                mode="error",
                partition_by=request.partition_by or None,
                commit_properties=properties,
            )
            return CommitOutcome(_committed_version(request.table_uri, commit_id), False, len(adds), 0, rows)
        except Exception as exc:
            if not table_exists(request.table_uri):
                raise DeltaWriteError(f"cannot create Delta table {request.table_uri}: {exc}") from exc
            log.info("table %s was created concurrently; committing into it", request.table_uri)

    attempt = 0
    while True:
        table = DeltaTable(request.table_uri)
        if request.txn_app_id is not None and request.txn_version is not None:
            done = table.transaction_version(request.txn_app_id)
            if done is not None and done >= request.txn_version:
                log.info(
                    "skipping commit to %s: transaction %s version %s already committed (at %s)",
                    request.table_uri,
                    request.txn_app_id,
                    request.txn_version,
                    done,
                )
                discard_files(request.table_uri, files)
                return CommitOutcome(None, True, 0, 0, 0)
        check_compatible(table_arrow_schema(table), request.schema, request.table_uri)
        table_partitions = table.metadata().partition_columns
        if list(table_partitions) != list(request.partition_by):
            raise DeltaWriteError(
                f"{request.table_uri} is partitioned by {table_partitions}, the write by {request.partition_by}"
            )

        rewritten: list[DataFile] = []
        removes: list[RemoveAction] = []
        try:
            if predicate is not None:
                removes, rewritten = _plan_replace(table, request, predicate)
            actions: list[AddAction | RemoveAction] = [*adds, *(_add_action(f) for f in rewritten), *removes]
            if not actions and request.mode != "overwrite":
                log.info("nothing to commit to %s: no rows written, none replaced", request.table_uri)
                return CommitOutcome(None, True, 0, 0, 0)
            mode = "overwrite" if request.mode == "overwrite" else "append"
            table.create_write_transaction(
                actions,
                mode,
                request.schema,
                partition_by=request.partition_by or None,
                commit_properties=properties,
            )
        except CommitFailedError as exc:
            discard_files(request.table_uri, rewritten)
            if attempt >= request.commit_retries:
                raise DeltaWriteError(
                    f"commit to {request.table_uri} failed after {attempt + 1} attempts: {exc}"
                ) from exc
            attempt += 1
            log.warning("commit to %s conflicted (%s); re-planning, attempt %d", request.table_uri, exc, attempt + 1)
            time.sleep(min(0.2 * 2**attempt, 5.0))
            continue
        except Exception:
            discard_files(request.table_uri, rewritten)
            raise
        return CommitOutcome(
            _committed_version(request.table_uri, commit_id),
            False,
            len(adds) + len(rewritten),
            len(removes),
            rows,
            len(rewritten),
        )


def discard_files(table_uri: str, files: list[DataFile]) -> None:
    """Delete data files that will never be committed."""
    root = local_path(table_uri)
    for data_file in files:
        (root / _decoded(data_file.path)).unlink(missing_ok=True)


def _decoded(path: str) -> str:
    return unquote(path)


def _add_action(data_file: DataFile) -> AddAction:
    return AddAction(
        path=data_file.path,
        size=data_file.size,
        partition_values=data_file.partition_values,
        modification_time=data_file.modification_time,
        data_change=True,
        stats=data_file.stats,
    )


def _commit_properties(request: WriteRequest, commit_id: str, rows: int) -> CommitProperties:
    metadata: dict[str, object] = {COMMIT_ID_KEY: commit_id, ROWS_KEY: rows, **request.commit_info}
    if request.replace_where:
        metadata["docner.replaceWhere"] = request.replace_where
    transactions = None
    if request.txn_app_id is not None and request.txn_version is not None:
        transactions = [Transaction(request.txn_app_id, request.txn_version, now_ms())]
    return CommitProperties(
        custom_metadata=metadata,
        max_commit_retries=request.commit_retries,
        app_transactions=transactions,
    )


def _committed_version(table_uri: str, commit_id: str) -> int | None:
    for entry in DeltaTable(table_uri).history(limit=50):
        if entry.get(COMMIT_ID_KEY) == commit_id:
            return int(entry["version"])
    return None


def _plan_replace(
    table: DeltaTable, request: WriteRequest, predicate: Predicate
) -> tuple[list[RemoveAction], list[DataFile]]:
    """Files to remove and rewritten replacements so that no row matching ``predicate`` survives."""
    root = local_path(request.table_uri)
    schema = request.schema
    unknown = referenced_columns(predicate) - set(schema.names)
    if unknown:
        raise DeltaWriteError(f"replaceWhere refers to unknown columns {sorted(unknown)} in {request.table_uri}")
    needed = sorted(referenced_columns(predicate) - set(request.partition_by))
    removes: list[RemoveAction] = []
    rewritten: list[DataFile] = []
    deletion_time = now_ms()
    adds = pa.table(table.get_add_actions(flatten=True))
    for action in adds.to_pylist():
        part_values = {c: action.get(f"partition.{c}") for c in request.partition_by}
        part_strings = {c: _partition_string(v) for c, v in part_values.items()}
        file_path = root / _decoded(action["path"])
        probe = _with_partitions(pq.read_table(file_path, columns=needed), part_values, schema)
        hits = matches(predicate, probe)
        hit_count = pc.sum(hits).as_py() or 0
        if hit_count == 0:
            continue
        removes.append(
            RemoveAction(
                path=action["path"],
                data_change=True,
                deletion_timestamp=deletion_time,
                size=action["size_bytes"],
                partition_values=part_strings,
            )
        )
        if hit_count == probe.num_rows:
            continue
        keep = _with_partitions(pq.read_table(file_path), part_values, schema).filter(pc.invert(hits))
        writer = DataFileWriter(
            table_root=root,
            schema=schema,
            partition_by=request.partition_by,
            compression=request.compression,
            max_rows_per_file=request.max_rows_per_file,
            task_label="rewrite",
        )
        try:
            writer.write(keep)
            rewritten.extend(writer.close())
        except Exception:
            writer.discard()
            discard_files(request.table_uri, rewritten)
            raise
    return removes, rewritten


def _partition_string(value: object) -> str | None:
    text = partition_value_string(value)
    return None if text == NULL_PARTITION else text


def _with_partitions(data: pa.Table, part_values: dict[str, object], schema: pa.Schema) -> pa.Table:
    """Add the file's partition values back as constant columns (they are not stored in the file)."""
    for column, value in part_values.items():
        field_type = schema.field(column).type
        if value is None:
            constant = pa.nulls(data.num_rows, field_type)
        else:
            constant = pa.array([value] * data.num_rows).cast(field_type)
        data = data.append_column(column, constant)
    return data
