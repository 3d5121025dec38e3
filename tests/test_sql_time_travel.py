"""`docner sql --as-of` time travel and `--tables`, over tables with several versions."""

from __future__ import annotations

import datetime as dt
import json
import time

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from jobs.cli import main
from jobs.lake.sql import AsOf, list_table_versions, parse_as_of, run_query
from jobs.lake.tables import LakeError


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("tt-lake")
    write_deltalake(str(root / "a"), pa.table({"n": [1]}))  # version 0
    write_deltalake(str(root / "b"), pa.table({"s": ["x"]}))
    time.sleep(0.05)
    between = dt.datetime.now(dt.UTC)
    time.sleep(0.05)
    write_deltalake(str(root / "a"), pa.table({"n": [2, 3]}), mode="append")  # version 1
    write_deltalake(str(root / "a"), pa.table({"n": [9]}), mode="overwrite")  # version 2
    return root, between


def _count(spark, lake_dir, query, as_of=None):
    _, rows = run_query(spark, lake_dir, query, as_of)
    return [tuple(r) for r in rows]


def test_every_table_at_a_version_or_a_time_and_one_table_pinned(spark, lake):
    root, between = lake
    assert _count(spark, root, "SELECT sum(n) FROM a") == [(9,)]
    assert _count(spark, root, "SELECT sum(n) FROM a", AsOf(tables={"a": 1})) == [(6,)]
    every = AsOf(version=0)
    assert _count(spark, root, "SELECT (SELECT sum(n) FROM a), (SELECT count(*) FROM b)", every) == [(1, 1)]
    assert _count(spark, root, "SELECT sum(n) FROM a", AsOf(timestamp=between)) == [(1,)]


def test_missing_versions_and_times_are_clear_errors(spark, lake):
    root, _ = lake
    with pytest.raises(LakeError, match=r"table 'b' has no snapshot at version 1 \(versions 0-0\)"):
        run_query(spark, root, "SELECT 1", AsOf(version=1))
    with pytest.raises(LakeError, match=r"did not exist yet at 2001-01-01"):
        run_query(spark, root, "SELECT 1", AsOf(timestamp=dt.datetime(2001, 1, 1, tzinfo=dt.UTC)))
    with pytest.raises(LakeError, match=r"--as-of names no table zzz"):
        run_query(spark, root, "SELECT 1", AsOf(tables={"zzz": 0}))


def test_parse_as_of():
    assert parse_as_of(["3"]) == AsOf(version=3)
    assert parse_as_of(["entities=2", "pages=5"]) == AsOf(tables={"entities": 2, "pages": 5})
    assert parse_as_of(["2026-11-23T10:15:00Z"]).timestamp == dt.datetime(2026, 11, 23, 10, 15, tzinfo=dt.UTC)
    with pytest.raises(LakeError, match="expected a version number"):
        parse_as_of(["yesterday"])
    with pytest.raises(LakeError, match="not both"):
        parse_as_of(["1", "2026-01-01"])


def test_tables_listing_shows_versions_files_and_rows(lake, capsys):
    root, _ = lake
    columns, rows = list_table_versions(root)
    listing = {row[0]: dict(zip(columns, row, strict=True)) for row in rows}
    assert listing["a"]["version"] == 2 and listing["a"]["rows"] == 1 and listing["a"]["files"] == 1
    assert listing["b"]["version"] == 0 and listing["b"]["rows"] == 1
    assert listing["a"]["updated_at"] > listing["b"]["updated_at"]
    assert main(["sql", "--lake", str(root), "--tables", "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [entry["table"] for entry in printed] == ["a", "b"]
    assert DeltaTable(str(root / "a")).version() == 2  # listing changes nothing
