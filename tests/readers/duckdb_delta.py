"""Run by the reader venv's interpreter (.venv-reader), never imported by docner: reads each
Delta table under a lake with DuckDB's delta extension and prints what it saw as JSON.

    .venv-reader/bin/python tests/readers/duckdb_delta.py LAKE TABLE [TABLE ...]
"""

import glob
import json
import os
import site
import sys

import duckdb

QUERIES = {
    "documents": "SELECT count(*), count(DISTINCT doc_id), sum(size_bytes) FROM t",
    "pages": "SELECT count(*), sum(char_count), sum(length(text)), sum(len(word_boxes)) FROM t",
    "tables": "SELECT count(*), sum(length(text)) FROM t",
    "entities": "SELECT count(*), count(DISTINCT entity_id), sum(doc_end - doc_start), sum(len(sources)) FROM t",
}


def main() -> None:
    lake, names = sys.argv[1], sys.argv[2:]
    pattern = os.path.join(site.getsitepackages()[0], "duckdb_ext", "extensions", "*", "*", "delta.duckdb_extension")
    con = duckdb.connect()
    con.execute(f"LOAD '{glob.glob(pattern)[0]}'")
    seen = {}
    for name in names:
        con.execute(f"CREATE OR REPLACE VIEW t AS SELECT * FROM delta_scan('{os.path.join(lake, name)}')")
        seen[name] = [None if v is None else float(v) for v in con.execute(QUERIES[name]).fetchone()]
    print(json.dumps({"duckdb": duckdb.__version__, "tables": seen}))


if __name__ == "__main__":
    main()
