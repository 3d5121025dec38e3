"""The table documentation lists exactly the columns, types and nullability of the schemas."""

from __future__ import annotations

import re
from pathlib import Path

from jobs.catalog.tables import TABLES

DOC = Path(__file__).resolve().parent.parent / "docs" / "tables.md"


def _documented() -> dict[str, list[tuple[str, str, bool]]]:
    tables: dict[str, list[tuple[str, str, bool]]] = {}
    current = None
    for line in DOC.read_text().splitlines():
        heading = re.match(r"^## (\w+)$", line)
        if heading:
            current = heading.group(1)
            tables[current] = []
            continue
        row = re.match(r"^\| (\w+) \| ([\w<>:,]+) \| (yes|no) \|", line)
        if current and row and row.group(1) != "column":
            tables[current].append((row.group(1), row.group(2), row.group(3) == "yes"))
    return tables


def test_docs_match_schemas():
    documented = _documented()
    assert set(documented) == set(TABLES)
    for name, spec in TABLES.items():
        actual = [(f.name, f.dataType.simpleString(), f.nullable) for f in spec.schema.fields]
        assert documented[name] == actual, name
