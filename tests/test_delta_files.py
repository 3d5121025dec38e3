from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.lake.delta.files import STRING_STATS_PREFIX, DataFileError, DataFileWriter, FileStats, partition_dir

SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("n", pa.int64()),
        pa.field("label", pa.string()),
        pa.field("at", pa.timestamp("us", tz="UTC")),
        pa.field("ok", pa.bool_()),
    ]
)


def _table(rows: int, label_of=lambda i: f"L{i % 3}") -> pa.Table:
    return pa.table(
        {
            "doc_id": [f"d{i:04d}" for i in range(rows)],
            "n": [None if i % 5 == 0 else i for i in range(rows)],
            "label": [label_of(i) for i in range(rows)],
            "at": [dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=1500 * i) for i in range(rows)],
            "ok": [i % 2 == 0 for i in range(rows)],
        },
        schema=SCHEMA,
    )


def test_writer_rolls_files_and_reads_back(tmp_path):
    writer = DataFileWriter(tmp_path, SCHEMA, [], max_rows_per_file=40)
    data = _table(100)
    for batch in data.to_batches(max_chunksize=30):
        writer.write(batch)
    files = writer.close()
    assert [f.num_records for f in files] == [40, 40, 20]
    back = pa.concat_tables([pq.read_table(tmp_path / f.path) for f in files])
    assert back.to_pylist() == data.to_pylist()
    for data_file in files:
        stats = json.loads(data_file.stats)
        assert stats["numRecords"] == data_file.num_records
        assert data_file.size == (tmp_path / data_file.path).stat().st_size


def test_partitioned_files_leave_partition_columns_out(tmp_path):
    writer = DataFileWriter(tmp_path, SCHEMA, ["label"])
    writer.write(_table(9))
    files = writer.close()
    assert sorted(f.partition_values["label"] for f in files) == ["L0", "L1", "L2"]
    for data_file in files:
        assert data_file.path.startswith(f"label={data_file.partition_values['label']}/")
        assert "label" not in pq.read_schema(tmp_path / data_file.path).names
        assert data_file.num_records == 3


def test_null_in_not_null_column_is_refused(tmp_path):
    writer = DataFileWriter(tmp_path, SCHEMA, [])
    bad = _table(3).set_column(0, pa.field("doc_id", pa.string()), pa.array(["a", None, "c"]))
    with pytest.raises(DataFileError, match="'doc_id' is NOT NULL"):
        writer.write(bad)


def test_unsafe_partition_value_is_refused():
    with pytest.raises(DataFileError, match="partition values must be"):
        partition_dir({"p": "a/b"}, ["p"])


def test_discard_removes_written_files(tmp_path):
    writer = DataFileWriter(tmp_path, SCHEMA, [], max_rows_per_file=10)
    writer.write(_table(25))
    writer.discard()
    assert not list(tmp_path.rglob("*.parquet"))


def test_timestamp_bounds_are_rounded_outwards():
    stats = FileStats(pa.schema([pa.field("at", pa.timestamp("us", tz="UTC"))]))
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    stats.update(pa.table({"at": pa.array([base + dt.timedelta(microseconds=1500)], pa.timestamp("us", tz="UTC"))}))
    parsed = json.loads(stats.to_json())
    assert parsed["minValues"]["at"] == "2024-01-01T00:00:00.001Z"
    assert parsed["maxValues"]["at"] == "2024-01-01T00:00:00.002Z"


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), min_size=1, max_size=30),
    st.lists(st.one_of(st.none(), st.text(max_size=50)), min_size=1, max_size=30),
    st.integers(1, 4),
)
def test_stats_bound_every_value(ints, texts, batches):
    rows = min(len(ints), len(texts))
    table = pa.table({"i": pa.array(ints[:rows], pa.int64()), "s": pa.array(texts[:rows], pa.string())})
    stats = FileStats(table.schema)
    for batch in table.to_batches(max_chunksize=max(1, rows // batches)):
        stats.update(batch)
    parsed = json.loads(stats.to_json())
    assert parsed["numRecords"] == rows
    assert parsed["nullCount"] == {"i": table["i"].null_count, "s": table["s"].null_count}
    for value in (v for v in ints[:rows] if v is not None):
        assert parsed["minValues"]["i"] <= value <= parsed["maxValues"]["i"]
    for value in (v for v in texts[:rows] if v is not None):
        assert parsed["minValues"]["s"] <= value
        if "s" in parsed["maxValues"]:
            assert value <= parsed["maxValues"]["s"]
    if "s" in parsed["minValues"]:
        assert len(parsed["minValues"]["s"]) <= STRING_STATS_PREFIX
