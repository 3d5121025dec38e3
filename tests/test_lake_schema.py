"""Tables made by an older docner gain the columns declared since (a new stage's state column,
a new runs figure) in place; changes that cannot be made in place fail by name."""

from __future__ import annotations

import dataclasses

import pytest
from deltalake import DeltaTable
from pyspark.sql import types as T

from jobs.catalog.tables import TableSpec
from jobs.lake.tables import LakeError, arrow_rows, ensure_table, read_arrow, write_arrow

OLD = TableSpec(
    name="things",
    key=("doc_id",),
    schema=T.StructType(
        [T.StructField("doc_id", T.StringType(), False), T.StructField("run_id", T.StringType(), False)]
    ),
)
STATE = T.StructType([T.StructField("status", T.StringType(), True), T.StructField("run_id", T.StringType(), True)])


def _with(*fields: T.StructField) -> TableSpec:
    return dataclasses.replace(OLD, schema=T.StructType([*OLD.schema.fields, *fields]))


def test_an_existing_table_gains_the_nullable_columns_declared_since(tmp_path):
    write_arrow(arrow_rows(OLD, [{"doc_id": "d1", "run_id": "r1"}]), tmp_path, OLD)
    before = DeltaTable(str(tmp_path / "things")).version()
    new = _with(T.StructField("fields_state", STATE, True), T.StructField("pages", T.LongType(), True))

    ensure_table(tmp_path, new)
    table = DeltaTable(str(tmp_path / "things"))
    assert table.version() == before + 1  # one metadata commit
    assert [field.name for field in table.schema().fields] == ["doc_id", "run_id", "fields_state", "pages"]
    assert table.protocol().min_reader_version == 1 and table.protocol().min_writer_version == 2
    assert read_arrow(tmp_path, "things").to_pylist() == [
        {"doc_id": "d1", "run_id": "r1", "fields_state": None, "pages": None}
    ]
    row = {"doc_id": "d2", "run_id": "r2", "fields_state": {"status": "ok", "run_id": "r2"}, "pages": 3}
    write_arrow(arrow_rows(new, [row]), tmp_path, new)
    assert sorted(read_arrow(tmp_path, "things").to_pylist(), key=lambda r: r["doc_id"])[1] == row

    ensure_table(tmp_path, new)  # nothing more to add: no commit
    assert DeltaTable(str(tmp_path / "things")).version() == before + 2


def test_a_missing_not_null_column_or_a_changed_type_fails_by_name(tmp_path):
    write_arrow(arrow_rows(OLD, [{"doc_id": "d1", "run_id": "r1"}]), tmp_path, OLD)
    with pytest.raises(LakeError, match=r"table things lacks the NOT NULL column 'size'"):
        ensure_table(tmp_path, _with(T.StructField("size", T.LongType(), False)))
    changed = dataclasses.replace(
        OLD,
        schema=T.StructType([T.StructField("doc_id", T.LongType(), False), T.StructField("run_id", T.StringType())]),
    )
    with pytest.raises(LakeError, match=r"column 'doc_id' of table things is string but docner declares int64"):
        ensure_table(tmp_path, changed)


@pytest.mark.slow
def test_a_process_that_read_a_table_exits_cleanly(tmp_path):
    """delta-rs's default (Python) file system made pyarrow's I/O threads call into Python, and
    most processes that had read a table of several files aborted at exit (rc 134, "terminate
    called without an active exception"); read_arrow reads through pyarrow's own file system."""
    import subprocess
    import sys

    import pyarrow as pa

    spec = TableSpec(
        name="t",
        key=("k",),
        schema=T.StructType([T.StructField("k", T.LongType(), False), T.StructField("text", T.StringType(), False)]),
    )
    for part in range(4):  # four data files
        rows = pa.table({"k": pa.array(range(part * 1000, part * 1000 + 1000), pa.int64()), "text": ["x" * 500] * 1000})
        write_arrow(rows, tmp_path, spec)
    script = f"from jobs.lake.tables import read_arrow; print(read_arrow({str(tmp_path)!r}, 't').num_rows)"
    for _ in range(6):  # before the fix, about 2 runs in 3 aborted
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
        assert (done.returncode, done.stdout.strip()) == (0, "4000"), done.stderr[-500:]
