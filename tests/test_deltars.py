"""The ``deltars`` Spark data source: one commit per write, idempotent retries, replace-where."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from pyspark.errors import PySparkException
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.lake.tables import read_table

SCHEMA = T.StructType(
    [
        T.StructField("doc_id", T.StringType(), False),
        T.StructField("n", T.LongType(), True),
        T.StructField("day", T.StringType(), True),
    ]
)


def _df(spark, rows, partitions=4):
    return spark.createDataFrame(rows, SCHEMA).repartition(partitions)


def _rows(n, prefix="d"):
    return [(f"{prefix}{i % 10}", i, f"2024-01-0{1 + i % 3}") for i in range(n)]


def _save(df, path, mode="append", **options):
    writer = df.write.format("deltars").mode(mode)
    for key, value in options.items():
        writer = writer.option(key, value)
    writer.save(str(path))


def _log_versions(path: Path) -> list[int]:
    return sorted(int(p.stem) for p in (path / "_delta_log").glob("*.json"))


def _commit_actions(path: Path, version: int) -> list[dict]:
    return [json.loads(line) for line in (path / "_delta_log" / f"{version:020d}.json").read_text().splitlines()]


def _table_rows(spark, path: Path, version=None):
    return sorted(tuple(r) for r in read_table(spark, path.parent, path.name, version).collect())


def _data_files_on_disk(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*.parquet")}


def _committed_files(path: Path) -> set[str]:
    return set(pa.table(DeltaTable(str(path)).get_add_actions(flatten=True)).column("path").to_pylist())


def test_write_from_many_tasks_is_one_commit(spark, tmp_path):
    path = tmp_path / "t"
    _save(_df(spark, _rows(200), partitions=4), path)
    assert _log_versions(path) == [0]
    adds = [a["add"] for a in _commit_actions(path, 0) if "add" in a]
    assert len(adds) == 4  # one file per task, all in the single creating commit
    assert sum(json.loads(a["stats"])["numRecords"] for a in adds) == 200
    _save(_df(spark, _rows(50, "e"), partitions=3), path)
    assert _log_versions(path) == [0, 1]
    assert len([a for a in _commit_actions(path, 1) if "add" in a]) == 3
    assert len(_table_rows(spark, path)) == 250


def test_retried_transaction_commits_at_most_once(spark, tmp_path):
    path = tmp_path / "t"
    _save(_df(spark, _rows(30)), path, txnAppId="batch-job", txnVersion="7")
    _save(_df(spark, _rows(30)), path, txnAppId="batch-job", txnVersion="7")  # the retry
    _save(_df(spark, _rows(30)), path, txnAppId="batch-job", txnVersion="6")  # an older batch
    assert _log_versions(path) == [0]
    assert len(_table_rows(spark, path)) == 30
    table = DeltaTable(str(path))
    assert table.transaction_version("batch-job") == 7
    # the skipped writes' files were deleted, not left behind
    assert _data_files_on_disk(path) == _committed_files(path)
    _save(_df(spark, _rows(30)), path, txnAppId="batch-job", txnVersion="8")
    assert len(_table_rows(spark, path)) == 60


def test_overwrite_replaces_the_table(spark, tmp_path):
    path = tmp_path / "t"
    _save(_df(spark, _rows(40)), path)
    _save(_df(spark, _rows(5, "z"), partitions=1), path, mode="overwrite")
    assert {r[0] for r in _table_rows(spark, path)} == {f"z{i}" for i in range(5)}
    assert len(_table_rows(spark, path, version=0)) == 40  # time travel still sees the old data


def test_replace_where_swaps_only_matching_rows_in_one_commit(spark, tmp_path):
    path = tmp_path / "t"
    _save(_df(spark, _rows(100)), path)
    before = _table_rows(spark, path)
    replacement = [("d1", 1000, "2024-02-01"), ("d2", 2000, "2024-02-01")]
    _save(_df(spark, replacement, 2), path, mode="overwrite", replaceWhere="doc_id IN ('d1', 'd2', 'd3')")
    after = _table_rows(spark, path)
    assert _log_versions(path) == [0, 1]
    untouched = [r for r in before if r[0] not in ("d1", "d2", "d3")]
    assert after == sorted(untouched + replacement)
    # an independent reader (delta-rs itself, not Spark) sees the same rows
    independent = DeltaTable(str(path)).to_pyarrow_table()
    assert sorted(tuple(r.values()) for r in independent.to_pylist()) == after


def test_replace_where_refuses_rows_outside_the_predicate(spark, tmp_path):
    path = tmp_path / "t"
    _save(_df(spark, _rows(20)), path)
    files_before = _data_files_on_disk(path)
    with pytest.raises(PySparkException, match="do not satisfy replaceWhere"):
        _save(_df(spark, [("d9", 1, None)], 1), path, mode="overwrite", replaceWhere="doc_id = 'd1'")
    assert _log_versions(path) == [0]
    assert _data_files_on_disk(path) == files_before


def test_replace_where_needs_overwrite_mode(spark, tmp_path):
    with pytest.raises(PySparkException, match="replaceWhere needs mode"):
        _save(_df(spark, _rows(2)), tmp_path / "t", replaceWhere="doc_id = 'd1'")


def test_partitioned_table_round_trip(spark, tmp_path):
    path = tmp_path / "t"
    _save(_df(spark, _rows(60)), path, partitionBy="day")
    table = DeltaTable(str(path))
    assert table.metadata().partition_columns == ["day"]
    assert all(f.startswith("day=") for f in _committed_files(path))
    assert _table_rows(spark, path) == sorted(_rows(60))
    _save(_df(spark, [("x", 1, "2024-01-01")], 1), path, mode="overwrite", replaceWhere="day = '2024-01-01'")
    rows = _table_rows(spark, path)
    assert [r for r in rows if r[2] == "2024-01-01"] == [("x", 1, "2024-01-01")]
    assert len(rows) == 1 + len([r for r in _rows(60) if r[2] != "2024-01-01"])


def test_schema_mismatch_is_a_clear_error(spark, tmp_path):
    path = tmp_path / "t"
    _save(_df(spark, _rows(3)), path)
    other = spark.createDataFrame([("a", "text")], "doc_id string, n string")
    with pytest.raises(
        PySparkException, match=r"missing columns \['day'\].*column 'n' is int64 in the table but string"
    ):
        _save(other, path)


def test_null_in_not_null_column_fails_and_leaves_no_files(spark, tmp_path):
    path = tmp_path / "t"
    _save(_df(spark, _rows(3)), path)
    files_before = _data_files_on_disk(path)
    nullable = spark.createDataFrame([(None, 1, "x")], "doc_id string, n long, day string")
    with pytest.raises(PySparkException, match="'doc_id' is NOT NULL"):
        _save(nullable, path)
    assert _data_files_on_disk(path) == files_before
    assert _log_versions(path) == [0]


def test_failed_task_aborts_without_commit_or_leftovers(spark, tmp_path):
    path = tmp_path / "t"
    _save(_df(spark, _rows(10)), path)
    files_before = _data_files_on_disk(path)

    @F.udf("long")
    def explode_on_seven(n):
        if n == 7:
            raise ValueError("boom")
        return n

    failing = _df(spark, _rows(10), partitions=1).withColumn("n", explode_on_seven("n"))
    with pytest.raises(PySparkException, match="boom"):
        _save(failing, path)
    assert _log_versions(path) == [0]
    assert _data_files_on_disk(path) == files_before


def test_empty_write_creates_the_table_with_its_schema(spark, tmp_path):
    path = tmp_path / "t"
    _save(spark.createDataFrame([], SCHEMA), path)
    table = DeltaTable(str(path))
    assert pa.schema(table.schema().to_arrow()).names == ["doc_id", "n", "day"]
    assert _committed_files(path) == set()
    assert read_table(spark, tmp_path, "t").schema.fieldNames() == ["doc_id", "n", "day"]


def test_tables_stay_standard_delta(spark, tmp_path):
    path = tmp_path / "t"
    _save(_df(spark, _rows(10)), path)
    _save(_df(spark, [("d1", 5, None)], 1), path, mode="overwrite", replaceWhere="doc_id IN ('d1')")
    protocol = DeltaTable(str(path)).protocol()
    assert (protocol.min_reader_version, protocol.min_writer_version) == (1, 2)
    for version in _log_versions(path):
        for action in _commit_actions(path, version):
            assert "deletionVector" not in json.dumps(action) or '"deletionVector":null' in json.dumps(action)


def test_read_table_refuses_tables_it_would_misread(spark, tmp_path):
    from deltalake import Schema

    from jobs.lake.tables import LakeError

    DeltaTable.create(
        str(tmp_path / "dv"),
        Schema.from_arrow(pa.schema([("a", pa.string())])),
        configuration={"delta.enableDeletionVectors": "true"},
    )
    with pytest.raises(LakeError, match="deletionVectors"):
        read_table(spark, tmp_path, "dv")


def test_a_replace_that_loses_a_race_is_planned_again_and_loses_nothing(tmp_path, monkeypatch):
    """Two writers replace different documents held in the same file: the second commit
    conflicts with the first (both remove that file), is re-planned on the new snapshot and
    lands, keeping the first writer's rows."""
    import jobs.lake.delta.commit as commit
    from jobs.catalog.tables import TableSpec
    from jobs.lake.tables import write_arrow

    spec = TableSpec(
        "t",
        T.StructType([T.StructField("doc_id", T.StringType(), False), T.StructField("v", T.IntegerType(), False)]),
        key=("doc_id",),
    )

    def rows(*pairs):
        return pa.table(
            {"doc_id": [p[0] for p in pairs], "v": [p[1] for p in pairs]},
            schema=pa.schema([pa.field("doc_id", pa.string(), False), pa.field("v", pa.int32(), False)]),
        )

    write_arrow(rows(("a", 1), ("b", 1), ("c", 1)), tmp_path, spec)
    planned = commit._plan_replace
    calls = {"n": 0}

    def plan_then_lose_the_race(*args, **kwargs):
        plan = planned(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:  # another writer commits between this plan and its commit
            write_arrow(rows(("b", 2)), tmp_path, spec, replace_where="doc_id IN ('b')")
        return plan

    monkeypatch.setattr(commit, "_plan_replace", plan_then_lose_the_race)
    write_arrow(rows(("a", 3)), tmp_path, spec, replace_where="doc_id IN ('a')")
    assert calls["n"] >= 3  # the racing writer's plan, ours, and ours again after the conflict
    table = DeltaTable(str(tmp_path / "t")).to_pyarrow_table()
    assert sorted(zip(table["doc_id"].to_pylist(), table["v"].to_pylist(), strict=True)) == [
        ("a", 3),
        ("b", 2),
        ("c", 1),
    ]


def _row_groups_per_file(path: Path) -> list[int]:
    import pyarrow.parquet as pq

    return sorted(pq.ParquetFile(f).metadata.num_row_groups for f in path.rglob("*.parquet"))


@pytest.mark.parametrize("narrow_rows, groups", [(False, [10]), (True, [4])])
def test_write_batches_are_capped_by_rows_and_by_bytes_unless_rows_are_narrow(spark, tmp_path, narrow_rows, groups):
    from jobs.catalog.tables import TableSpec
    from jobs.lake.tables import write_table

    spec = TableSpec(name="t", schema=SCHEMA, key=("doc_id", "n"), narrow_rows=narrow_rows)
    key = "spark.sql.execution.arrow.maxBytesPerBatch"
    spark.conf.set(key, "12345678")
    try:
        # Every Arrow batch becomes one Parquet row group: 10 rows in one task, at most 3 rows
        # and 1 byte per batch give 10 one-row batches, or 4 when only the row cap counts.
        result = write_table(_df(spark, _rows(10), partitions=1), tmp_path, spec, batch_rows=3, batch_bytes=1)
        assert spark.conf.get(key) == "12345678"  # the session's own setting is back
    finally:
        spark.conf.unset(key)
    assert result.rows == 10
    assert _row_groups_per_file(tmp_path / "t") == groups
    assert len(_table_rows(spark, tmp_path / "t")) == 10


def test_write_batch_conf():
    from jobs.catalog.tables import ENTITIES, PAGES
    from jobs.lake.tables import NO_BYTE_CAP, write_batch_conf

    assert write_batch_conf(PAGES, 500, 1 << 20) == {
        "spark.sql.execution.arrow.maxRecordsPerBatch": "500",
        "spark.sql.execution.arrow.maxBytesPerBatch": str(1 << 20),
    }
    assert write_batch_conf(ENTITIES, 500, 1 << 20)["spark.sql.execution.arrow.maxBytesPerBatch"] == str(NO_BYTE_CAP)
    with pytest.raises(ValueError, match="positive"):
        write_batch_conf(PAGES, 0, 1 << 20)


def test_conform_gives_the_tables_columns_in_order_and_type(spark):
    from jobs.catalog.tables import TableSpec
    from jobs.lake.tables import conform

    spec = TableSpec(name="t", schema=SCHEMA, key=("doc_id", "n"))
    exact = spark.createDataFrame([("a", 1, "x")], SCHEMA)
    assert conform(exact, spec) is exact  # nothing to do: no extra projection
    for other in (exact.select("day", "doc_id", "n"), exact.select("day", "doc_id", "n", F.lit(1).alias("extra"))):
        assert conform(other, spec).schema == exact.schema
        assert conform(other, spec).collect() == exact.collect()
    loose = spark.createDataFrame([("a", "7", "x")], "doc_id string, n string, day string")
    assert [f.dataType for f in conform(loose, spec).schema] == [T.StringType(), T.LongType(), T.StringType()]
    assert conform(loose, spec).collect()[0]["n"] == 7
