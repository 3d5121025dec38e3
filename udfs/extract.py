"""Extract UDF: the text of every page, from the text layer or, where it has none, by OCR."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from udfs.errors import STATUS_FAILED, STATUS_OK, STATUS_PARTIAL, DocumentError, describe, truncate
from udfs.files import read_bytes
from udfs.ocr import OcrOptions, ocr_page
from udfs.pdf import open_pdf, text_layer
from udfs.text import clean_page_text, printable_chars

METHOD_TEXT = "text"
METHOD_OCR = "ocr"


@dataclass(frozen=True)
class ExtractOptions:
    min_text_chars: int = 16
    ocr_enabled: bool = True
    ocr: OcrOptions = field(default_factory=OcrOptions)


@dataclass
class ExtractedDocument:
    status: str
    pages: list[dict[str, object]]
    error_class: str | None = None
    error_message: str | None = None


def extract_pages(data: bytes, options: ExtractOptions) -> ExtractedDocument:
    """Text of each page; a page that fails is left out and named in the document's error."""
    document = open_pdf(data)
    pages: list[dict[str, object]] = []
    failures: list[tuple[int, str, str]] = []
    try:
        for index in range(len(document)):
            page_no = index + 1
            page = document[index]
            try:
                text = clean_page_text(text_layer(page))
                method = METHOD_TEXT
                if printable_chars(text) < options.min_text_chars and options.ocr_enabled:
                    text = clean_page_text(ocr_page(page, options.ocr))
                    method = METHOD_OCR
                pages.append({"page_no": page_no, "method": method, "text": text, "char_count": len(text)})
            except Exception as exc:  # noqa: BLE001 - one bad page must not lose the others
                failure = describe(exc)
                failures.append((page_no, failure.error_class, failure.message))
            finally:
                page.close()
    finally:
        document.close()
    if not failures:
        return ExtractedDocument(STATUS_OK, pages)
    classes = sorted({error_class for _, error_class, _ in failures})
    message = truncate("; ".join(f"page {no}: {msg}" for no, _, msg in failures))
    status = STATUS_PARTIAL if pages else STATUS_FAILED
    return ExtractedDocument(status, pages, classes[0] if len(classes) == 1 else "+".join(classes), message)


def extract_file(doc_id: str, source_path: str, options: ExtractOptions) -> dict[str, object]:
    try:
        data = read_bytes(source_path)
        actual = hashlib.sha256(data).hexdigest()
        if actual != doc_id:
            raise DocumentError(
                f"{source_path} changed since ingest (sha256 {actual[:12]}…, expected {doc_id[:12]}…)",
                "SourceChanged",
            )
        result = extract_pages(data, options)
    except Exception as exc:  # noqa: BLE001 - recorded on the document
        failure = describe(exc)
        result = ExtractedDocument(STATUS_FAILED, [], failure.error_class, failure.message)
    return {
        "doc_id": doc_id,
        "status": result.status,
        "error_class": result.error_class,
        "error_message": result.error_message,
        "pages": result.pages,
    }


def extract_batches(
    batches: Iterator[pa.RecordBatch], options: ExtractOptions, out_schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: (doc_id, source_path) rows in, one outcome row per document out."""
    for batch in batches:
        for item in batch.to_pylist():
            # One document per output batch keeps memory flat on long documents.
            row = extract_file(item["doc_id"], item["source_path"], options)
            yield pa.RecordBatch.from_pylist([row], schema=out_schema)
