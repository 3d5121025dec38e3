"""``docner lexicon``: learn the lexicon of ``udfs.ner.lexicon`` from the documents of a lake.

Reads each primary document's text (its extracted pages, joined as ``document_text``) on the
driver and writes the lexicon as JSON. ``exclude`` leaves out the documents a gold file names,
so that a lexicon used in an evaluation was not learned from the evaluated documents.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from jobs.catalog.tables import DOCUMENTS, PAGES
from jobs.lake.state import is_primary
from jobs.lake.tables import read_arrow
from jobs.lake.views import join_pages
from udfs.ner.lexicon import learn, write_lexicon

BATCH = 200  # documents whose pages are read at once


def _texts(lake: str | Path, doc_ids: Collection[str]) -> Iterator[str]:
    ordered = sorted(doc_ids)
    for first in range(0, len(ordered), BATCH):
        batch = ordered[first : first + BATCH]
        pages: dict[str, list[dict[str, Any]]] = {doc_id: [] for doc_id in batch}
        columns = ["doc_id", "page_no", "status", "text"]
        for row in read_arrow(lake, PAGES.name, columns, pc.field("doc_id").isin(batch)).to_pylist():
            pages[row["doc_id"]].append(row)
        for doc_id in batch:
            yield join_pages(pages[doc_id]).text


def build_lexicon(
    lake: str | Path, out: str | Path, *, min_documents: int = 3, exclude: Collection[str] = ()
) -> dict[str, Any]:
    """Learn the lexicon of the lake's primary documents, less those whose file name (or
    doc_id) is in ``exclude``; write it to ``out`` and return it."""
    names = {Path(name).name for name in exclude}
    rows = [row for row in read_arrow(lake, DOCUMENTS.name).to_pylist() if is_primary(row)]
    chosen = [row["doc_id"] for row in rows if row["file_name"] not in names and row["doc_id"] not in names]
    data = learn(_texts(lake, chosen), min_documents)
    data["excluded"] = len(rows) - len(chosen)
    write_lexicon(data, Path(out))
    return data
