"""Ingest UDF: identify each input file (sha256) and check it opens as a PDF."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pyarrow as pa

from udfs.errors import STATUS_OK, STATUS_SKIPPED, DocumentError, describe
from udfs.files import read_bytes, sha256_of_file
from udfs.pdf import page_count


def unreadable_doc_id(source_path: str) -> str:
    """doc_id of a file whose bytes could not be read: a hash of its path, marked as such."""
    return hashlib.sha256(f"unreadable:{source_path}".encode()).hexdigest()


def probe_file(source_path: str, size_bytes: int, max_file_bytes: int) -> dict[str, object]:
    row: dict[str, object] = {
        "source_path": source_path,
        "doc_id": None,
        "size_bytes": size_bytes,
        "page_count": None,
        "status": STATUS_OK,
        "error_class": None,
        "error_message": None,
    }
    try:
        if size_bytes > max_file_bytes:
            row["doc_id"] = sha256_of_file(source_path)
            raise DocumentError(
                f"{size_bytes} bytes is over ingest.max_file_bytes={max_file_bytes}", "FileTooLarge", STATUS_SKIPPED
            )
        data = read_bytes(source_path)
        row["size_bytes"] = len(data)
        row["doc_id"] = hashlib.sha256(data).hexdigest()
        row["page_count"] = page_count(data)
        if row["page_count"] == 0:
            raise DocumentError("the PDF has no pages", "NoPages")
    except OSError as exc:
        failure = describe(DocumentError(f"cannot read the file: {exc}", "ReadError"))
        row.update(status=failure.status, error_class=failure.error_class, error_message=failure.message)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the document
        failure = describe(exc)
        row.update(status=failure.status, error_class=failure.error_class, error_message=failure.message)
    if row["doc_id"] is None:
        row["doc_id"] = unreadable_doc_id(source_path)
    return row


def probe_batches(
    batches: Iterator[pa.RecordBatch], max_file_bytes: int, out_schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: (source_path, size_bytes) rows in, one probe row per file out."""
    for batch in batches:
        rows = [probe_file(item["source_path"], int(item["size_bytes"]), max_file_bytes) for item in batch.to_pylist()]
        yield pa.RecordBatch.from_pylist(rows, schema=out_schema)
