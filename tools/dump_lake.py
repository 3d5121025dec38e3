"""Ordered dumps of a lake's data tables, for comparing two pipeline runs row for row.

    .venv/bin/python -m tools.dump_lake LAKE OUT_DIR [--table NAME]...

Writes ``OUT_DIR/<table>.jsonl`` (rows sorted by every column, keys sorted) and prints one
line per table: its row count and the sha256 of its dump. What differs between two runs of
the same code on the same input is left out: run ids, and the times a row or state was
written (``ingested_at``, ``*_state.finished_at``, ``*_state.run_id``). Two lakes hold the
same rows when every line matches: ``diff <(python -m tools.dump_lake A a) <(… B b)``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
from deltalake import DeltaTable

TABLES = ("documents", "pages", "tables", "entities", "entity_search")
LEFT_OUT = frozenset({"run_id", "ingested_at", "finished_at"})


def _plain(value: Any) -> Any:
    """A value without the fields that differ between runs, as JSON-ready data."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if key not in LEFT_OUT}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def dump_table(lake: Path, name: str) -> list[str]:
    """The table's rows as sorted JSON lines, run ids and write times left out."""
    path = str((lake / name).absolute())
    # pyarrow's local file system, not delta-rs's Python one (see jobs.lake.tables._local_dataset)
    dataset = DeltaTable(path).to_pyarrow_dataset(filesystem=pafs.SubTreeFileSystem(path, pafs.LocalFileSystem()))
    rows = dataset.to_table().to_pylist()
    return sorted(json.dumps(_plain(row), sort_keys=True, ensure_ascii=False) for row in rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("lake", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--table", action="append", default=[], help="a table to dump (default: the data tables)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.table or TABLES:
        lines = dump_table(args.lake, name)
        text = "".join(line + "\n" for line in lines)
        (args.out / f"{name}.jsonl").write_text(text, encoding="utf-8")
        print(f"{name}\t{len(lines)} rows\tsha256:{hashlib.sha256(text.encode()).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
