"""The redact stage's worker: one document's text, pages and entities in, its redacted pages
and the audit rows of what was redacted out (one outcome row per document, with its error if
it failed: a failed document gets no redacted page, so nothing is ever written unredacted).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from typing import Any

import pyarrow as pa

from udfs.errors import describe
from udfs.redact.text import RedactOptions, pages_of, redact_document, targets_of

# The entities columns the stage reads.
ENTITY_COLUMNS = ("entity_id", "doc_start", "doc_end", "text", "label", "score", "source", "rule")


def redaction_id(doc_id: str, page_no: int, start: int, end: int) -> str:
    return hashlib.sha256(f"{doc_id}\x00{page_no}\x00{start}\x00{end}".encode()).hexdigest()


def document_outcome(item: Mapping[str, Any], options: RedactOptions) -> dict[str, Any]:
    """The outcome row of one ``{doc_id, text, pages, entities}`` item; an error is recorded on
    the document, not raised."""
    doc_id = item["doc_id"]
    try:
        text = item["text"] or ""
        pages = pages_of(text, [(p["page_no"], p["start"], p["end"]) for p in item["pages"] or []])
        targets = targets_of(item["entities"] or [], options.actions)
        for target in targets:
            if text[target.doc_start : target.doc_end] != target.value:
                raise ValueError(
                    f"entity {target.entity_id} does not match the document text at "
                    f"[{target.doc_start}, {target.doc_end}): the entities are stale, run ner again"
                )
        redacted, rows = redact_document(text, pages, targets, options)
        counts: dict[int, int] = {}
        for row in rows:
            counts[row.page_no] = counts.get(row.page_no, 0) + 1
        return {
            "doc_id": doc_id,
            "error_class": None,
            "error_message": None,
            "pages": [
                {
                    "page_no": page.page_no,
                    "text": page.text,
                    "char_count": len(page.text),
                    "redaction_count": counts.get(page.page_no, 0),
                    "spans": [asdict(piece) for piece in page.spans],
                }
                for page in redacted
            ],
            "redactions": [
                {"redaction_id": redaction_id(doc_id, row.page_no, row.start, row.end), **asdict(row)} for row in rows
            ],
        }
    except Exception as exc:  # noqa: BLE001 - recorded on the document
        failure = describe(exc)
        return {
            "doc_id": doc_id,
            "error_class": failure.error_class,
            "error_message": failure.message,
            "pages": [],
            "redactions": [],
        }


def redact_batches(
    batches: Iterator[pa.RecordBatch], options: RedactOptions, out_schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: ``(doc_id, text, pages, entities)`` rows in, one outcome row per document out."""
    for batch in batches:
        outcomes = [document_outcome(item, options) for item in batch.to_pylist()]
        yield pa.RecordBatch.from_pylist(outcomes, schema=out_schema)
