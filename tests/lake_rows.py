"""Small lakes written by hand, without Spark: rows of the lake's tables for tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jobs.catalog.tables import DOCUMENTS, PAGES, TableSpec
from jobs.lake.tables import arrow_rows, write_arrow


def table_row(spec: TableSpec, **values: Any) -> dict[str, Any]:
    """A row of ``spec`` with ``values``, every other column null."""
    row: dict[str, Any] = {field.name: None for field in spec.schema.fields}
    row.update(values)
    return row


def write_documents(
    lake: Path, documents: Sequence[tuple[str, str, Sequence[str]]], now: dt.datetime
) -> list[dict[str, Any]]:
    """``documents`` as (doc_id, file name, page texts), ingested, extracted and recognized in run
    ``r1``: their ``documents`` and ``pages`` rows, written; the page rows returned."""
    state = {"status": "ok", "error_class": None, "error_message": None, "version": "v1", "run_id": "r1",
             "finished_at": now}  # fmt: skip
    rows, pages = [], []
    for doc_id, name, texts in documents:
        rows.append(
            table_row(DOCUMENTS, doc_id=doc_id, source_path=f"/in/{name}", file_name=name, size_bytes=1,
                      page_count=len(texts), status="ok", ingest_state=state, extract_state=state, ner_state=state,
                      run_id="r1", ingested_at=now)
        )  # fmt: skip
        pages += [
            table_row(PAGES, doc_id=doc_id, page_no=n, status="ok", method="text", text=text, char_count=len(text),
                      word_boxes=[], run_id="r1")
            for n, text in enumerate(texts, 1)
        ]  # fmt: skip
    write_arrow(arrow_rows(DOCUMENTS, rows), lake, DOCUMENTS)
    write_arrow(arrow_rows(PAGES, pages), lake, PAGES)
    return pages
