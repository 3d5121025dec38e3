"""Extract UDFs, in three passes so that pages, not documents, are the unit of heavy work.

1. **scan** (per page range of a document): read the text layer and measure each page;
   route it to the text layer, to a layout pass (columns, ruled tables: pdfplumber, which
   shares its parsed fonts across the pages of a range), or to OCR. Digital pages come
   out finished; OCR pages come out ``pending``.
2. **finish** (per pending page, spread evenly over all tasks): OCR with Tesseract — the
   expensive pages, so a long scan must not sit in one task.
3. **assemble** (per document, pages in order): remove repeated headers/footers and page
   numbers, clean the text while keeping every character's box, settle the document's
   status, add rows for pages past the page cap.

Rows travel as plain dicts matching the Arrow schemas the Spark job passes in.
"""

from __future__ import annotations

import hashlib
import io
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pypdfium2 as pdfium

from udfs.errors import STATUS_FAILED, STATUS_OK, STATUS_PARTIAL, STATUS_SKIPPED, DocumentError, describe, truncate
from udfs.extract.layout import (
    Box,
    PageSignals,
    PageText,
    detect_columns,
    layout_with_pdfplumber,
    measure_page,
    page_size,
    read_text_layer,
)
from udfs.extract.mapped_text import MappedText, clean_mapped, remove_headers_and_footers
from udfs.extract.ocr import OcrOptions, OcrResult, ocr_page
from udfs.files import read_bytes
from udfs.pdf import open_pdf

METHOD_TEXT = "text"
METHOD_OCR = "ocr"
METHOD_NONE = "none"
PENDING = "pending"  # routed to OCR, done in the finish pass
DOCUMENT_LEVEL = 0  # page_no of a row that describes the whole document


@dataclass(frozen=True)
class RoutingOptions:
    min_text_chars: int = 16
    # a page with little text and nothing else drawn (no image, few paths) is not OCR'd:
    # there is nothing more on it to read
    min_paths_to_ocr: int = 50
    image_page_coverage: float = 0.6
    image_page_max_chars: int = 300
    max_bad_char_share: float = 0.2
    max_invisible_share: float = 0.5
    max_outside_share: float = 0.5


@dataclass(frozen=True)
class ExtractOptions:
    """The ``extract`` settings the tasks use (field names as in the settings section)."""

    routing: RoutingOptions = field(default_factory=RoutingOptions)
    ocr: OcrOptions = field(default_factory=OcrOptions)
    layout: bool = True
    min_ruling_lines: int = 4
    remove_headers_footers: bool = True
    max_pages: int = 5000


def route(signals: PageSignals, options: RoutingOptions) -> tuple[bool, str]:
    """(needs OCR, reason) from the measured signals, first matching rule wins."""
    if signals.text_chars < options.min_text_chars:
        if signals.image_coverage == 0 and signals.vector_paths < options.min_paths_to_ocr:
            return False, "sparse_text" if signals.text_chars else "blank_page"
        return True, "no_text_layer"
    if signals.bad_char_share > options.max_bad_char_share:
        return True, "unmapped_glyphs"
    if signals.invisible_share > options.max_invisible_share:
        return True, "invisible_text"
    if signals.outside_share > options.max_outside_share:
        return True, "text_outside_page"
    if signals.image_coverage >= options.image_page_coverage and signals.text_chars < options.image_page_max_chars:
        return True, "image_page"
    return False, "text_layer"


# --- rows --------------------------------------------------------------------------------


def _box_dict(box: Box) -> dict[str, float]:
    return {"x0": box.x0, "top": box.top, "x1": box.x1, "bottom": box.bottom}


def _spans(mapped: MappedText, boxes: list[Box]) -> list[dict[str, Any]]:
    return [{"start": s, "end": e, **_box_dict(boxes[source])} for s, e, source in mapped.spans()]


def _raw_row(doc_id: str, source_path: str, page_count: int, page_no: int, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "doc_id": doc_id,
        "source_path": source_path,
        "page_count": page_count,
        "page_no": page_no,
        "status": STATUS_OK,
        "method": METHOD_TEXT,
        "route_reason": None,
        "error_class": None,
        "error_message": None,
        "width_pt": None,
        "height_pt": None,
        "text": "",
        "spans": [],
        "tables": [],
        "text_chars": None,
        "image_coverage": None,
        "bad_char_share": None,
        "invisible_share": None,
        "ruling_lines": None,
        "columns": None,
        "ocr_confidence": None,
        "ocr_dpi": None,
        "ocr_rotation": None,
        "ocr_skew": None,
    }
    row.update(values)
    return row


def _with_text(row: dict[str, Any], page_text: PageText) -> dict[str, Any]:
    row["text"] = page_text.mapped.text
    row["spans"] = _spans(page_text.mapped, page_text.boxes)
    row["tables"] = [
        {"table_no": c.table_no, "row": c.row, "col": c.col, "text": c.text, **_box_dict(c.box)}
        for c in page_text.tables
    ]
    return row


def _failed(row: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    failure = describe(exc)
    row.update(
        status=STATUS_FAILED,
        error_class=failure.error_class,
        error_message=failure.message,
        text="",
        spans=[],
        tables=[],
    )
    return row


# --- pass 1: scan ------------------------------------------------------------------------


def _read_checked(doc_id: str, source_path: str) -> bytes:
    data = read_bytes(source_path)
    actual = hashlib.sha256(data).hexdigest()
    if actual != doc_id:
        raise DocumentError(
            f"{source_path} changed since ingest (sha256 {actual[:12]}…, expected {doc_id[:12]}…)", "SourceChanged"
        )
    return data


class _PlumberDocument:
    """pdfplumber opened lazily, only when a page of the range needs a layout pass."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pdf: Any = None

    def page(self, page_no: int) -> Any:
        if self.pdf is None:
            import pdfplumber

            self.pdf = pdfplumber.open(io.BytesIO(self.data))
        return self.pdf.pages[page_no - 1]

    def close(self) -> None:
        if self.pdf is not None:
            self.pdf.close()


def scan_page(
    page: pdfium.PdfPage, page_no: int, plumber: _PlumberDocument, options: ExtractOptions, base: dict[str, Any]
) -> dict[str, Any]:
    width, height = page_size(page)
    row = dict(base, width_pt=width, height_pt=height)
    textpage = page.get_textpage()
    try:
        layer = read_text_layer(page, textpage)
        signals = measure_page(page, textpage, layer.mapped.text)
    finally:
        textpage.close()
    signals.columns = detect_columns(layer.boxes, width)
    row.update(
        text_chars=signals.text_chars,
        image_coverage=round(signals.image_coverage, 4),
        bad_char_share=round(signals.bad_char_share, 4),
        invisible_share=round(signals.invisible_share, 4),
        ruling_lines=signals.ruling_lines,
        columns=signals.columns,
    )
    needs_ocr, reason = route(signals, options.routing)
    if needs_ocr and options.ocr.enabled:
        row.update(status=PENDING, method=METHOD_OCR, route_reason=reason)
        return row
    if needs_ocr:
        row.update(route_reason=f"ocr_disabled:{reason}")
        return _with_text(row, layer)
    wants_layout = signals.columns > 1 or signals.ruling_lines >= options.min_ruling_lines
    if options.layout and wants_layout:
        try:
            laid_out = layout_with_pdfplumber(plumber.page(page_no), table_start=1)
            row.update(route_reason="layout:columns" if signals.columns > 1 else "layout:table")
            return _with_text(row, laid_out)
        except Exception as exc:  # noqa: BLE001 - pdfminer chokes on some files: keep pdfium's text
            row.update(route_reason=f"text_layer (layout failed: {describe(exc).error_class})")
            return _with_text(row, layer)
    row.update(route_reason=reason)
    return _with_text(row, layer)


def scan_range(
    doc_id: str, source_path: str, page_count: int, first: int, last: int, options: ExtractOptions
) -> list[dict[str, Any]]:
    """Scan pages ``first..last`` (1-based, inclusive) of one document."""
    try:
        data = _read_checked(doc_id, source_path)
        document = open_pdf(data)
    except Exception as exc:  # noqa: BLE001 - recorded on the document
        return [_failed(_raw_row(doc_id, source_path, page_count, DOCUMENT_LEVEL, method=METHOD_NONE), exc)]
    plumber = _PlumberDocument(data)
    rows = []
    try:
        for page_no in range(first, min(last, len(document)) + 1):
            base = _raw_row(doc_id, source_path, page_count, page_no)
            try:
                page = document[page_no - 1]
            except Exception as exc:  # noqa: BLE001 - a page pdfium cannot load
                rows.append(_failed(base, exc))
                continue
            try:
                rows.append(scan_page(page, page_no, plumber, options, base))
            except Exception as exc:  # noqa: BLE001 - one bad page must not lose the others
                rows.append(_failed(base, exc))
            finally:
                page.close()
    finally:
        plumber.close()
        document.close()
    return rows


def scan_batches(
    batches: Iterator[pa.RecordBatch], options: ExtractOptions, out_schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: (doc_id, source_path, page_count, first_page, last_page) → rows of
    ``{raw, outcome}``. A range that covers its whole document and needs no OCR is assembled
    here, in the scan task, and comes out as one ``outcome`` (no second pass over its pages);
    the pages of any other range come out as ``raw`` rows for the OCR and assembly passes."""
    for batch in batches:
        for unit in batch.to_pylist():
            rows = scan_range(
                unit["doc_id"], unit["source_path"], unit["page_count"], unit["first_page"], unit["last_page"], options
            )
            whole = unit["first_page"] == 1 and unit["last_page"] >= min(unit["page_count"] or 0, options.max_pages)
            if rows and whole and all(row["status"] != PENDING for row in rows):
                items = [{"raw": None, "outcome": assemble_document(rows, options)}]
            else:
                items = [{"raw": row, "outcome": None} for row in rows]
            yield pa.RecordBatch.from_pylist(items, schema=out_schema)


# --- pass 2: finish the expensive pages ---------------------------------------------------


class _OpenDocuments:
    """A couple of recently opened PDFs per task: consecutive pages of a document reuse them."""

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self.documents: OrderedDict[str, pdfium.PdfDocument] = OrderedDict()

    def get(self, doc_id: str, source_path: str) -> pdfium.PdfDocument:
        if doc_id in self.documents:
            self.documents.move_to_end(doc_id)
            return self.documents[doc_id]
        document = open_pdf(_read_checked(doc_id, source_path))
        self.documents[doc_id] = document
        while len(self.documents) > self.size:
            self.documents.popitem(last=False)[1].close()
        return document

    def close(self) -> None:
        for document in self.documents.values():
            document.close()
        self.documents.clear()


def finish_row(row: dict[str, Any], documents: _OpenDocuments, options: ExtractOptions) -> dict[str, Any]:
    """OCR one pending page; a failure is recorded on the page."""
    row = dict(row)
    try:
        page = documents.get(row["doc_id"], row["source_path"])[row["page_no"] - 1]
        try:
            result: OcrResult = ocr_page(page, options.ocr)
        finally:
            page.close()
    except Exception as exc:  # noqa: BLE001 - recorded on the page
        return _failed(row, exc)
    row.update(
        status=STATUS_OK,
        ocr_confidence=None if result.mean_confidence is None else round(result.mean_confidence, 2),
        ocr_dpi=result.dpi,
        ocr_rotation=result.rotation,
        ocr_skew=round(result.skew_degrees, 2),
    )
    if result.notes:
        row["route_reason"] = f"{row['route_reason']} ({'; '.join(result.notes)})"
    return _with_text(row, PageText(result.mapped, result.boxes))


def finish_batches(
    batches: Iterator[pa.RecordBatch], options: ExtractOptions, out_schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: pending page rows in, the same rows with their OCR text out."""
    documents = _OpenDocuments()
    try:
        for batch in batches:
            for row in batch.to_pylist():
                yield pa.RecordBatch.from_pylist([finish_row(row, documents, options)], schema=out_schema)
    finally:
        documents.close()


# --- pass 3: assemble --------------------------------------------------------------------

PAGE_KEYS = (
    "page_no",
    "status",
    "error_class",
    "error_message",
    "method",
    "route_reason",
    "text",
    "char_count",
    "text_chars",
    "image_coverage",
    "bad_char_share",
    "invisible_share",
    "ocr_confidence",
    "width_pt",
    "height_pt",
    "word_boxes",
)


def _mapped_from_row(row: dict[str, Any]) -> tuple[MappedText, list[Box]]:
    spans = row["spans"] or []
    boxes = [Box(s["x0"], s["top"], s["x1"], s["bottom"]) for s in spans]
    return MappedText.from_spans(row["text"] or "", [(s["start"], s["end"]) for s in spans]), boxes


def _clean_cell(text: str) -> str:
    return clean_mapped(MappedText.from_pieces([(text, 0)])).text


def assemble_document(rows: list[dict[str, Any]], options: ExtractOptions) -> dict[str, Any]:
    """One document's page rows (any order) → its final pages, tables and status."""
    doc_id = rows[0]["doc_id"]
    page_count = int(rows[0]["page_count"] or 0)
    document_failure = next((r for r in rows if r["page_no"] == DOCUMENT_LEVEL), None)
    if document_failure is not None:
        return {
            "doc_id": doc_id,
            "status": STATUS_FAILED,
            "error_class": document_failure["error_class"],
            "error_message": document_failure["error_message"],
            "pages": [],
            "tables": [],
        }
    by_page = {r["page_no"]: r for r in rows}
    ordered = [by_page[n] for n in sorted(by_page)]
    good = [r for r in ordered if r["status"] == STATUS_OK]
    raw = [_mapped_from_row(r) for r in good]
    cleaned = [clean_mapped(mapped) for mapped, _ in raw]
    boxes = [page_boxes for _, page_boxes in raw]
    if options.remove_headers_footers and cleaned:
        cleaned = remove_headers_and_footers(cleaned)
    texts = {r["page_no"]: (mapped, page_boxes) for r, mapped, page_boxes in zip(good, cleaned, boxes, strict=True)}

    pages: list[dict[str, Any]] = []
    tables: list[dict[str, Any]] = []
    problems: list[tuple[str, str]] = []
    for row in ordered:
        page = {key: row[key] for key in PAGE_KEYS if key in row}
        if row["status"] == STATUS_OK:
            mapped, page_boxes = texts[row["page_no"]]
            page.update(text=mapped.text, char_count=len(mapped.text), word_boxes=_spans(mapped, page_boxes))
            tables.extend(dict(t, page_no=row["page_no"], text=_clean_cell(t["text"])) for t in row["tables"] or [])
        else:
            page.update(text="", char_count=0, word_boxes=[])
            problems.append((row["error_class"] or "PageError", f"page {row['page_no']}: {row['error_message']}"))
        pages.append(page)
    if page_count > options.max_pages:
        for page_no in range(options.max_pages + 1, page_count + 1):
            pages.append(
                {key: None for key in PAGE_KEYS}
                | {
                    "page_no": page_no,
                    "status": STATUS_SKIPPED,
                    "method": METHOD_NONE,
                    "route_reason": "over_page_limit",
                    "text": "",
                    "char_count": 0,
                    "word_boxes": [],
                }
            )
        problems.append(
            (
                "PageLimit",
                f"pages {options.max_pages + 1}-{page_count} skipped: over extract.max_pages={options.max_pages}",
            )
        )
    if not problems:
        status, error_class, message = STATUS_OK, None, None
    else:
        status = STATUS_PARTIAL if good else STATUS_FAILED
        classes = sorted({c for c, _ in problems})
        error_class = classes[0] if len(classes) == 1 else "+".join(classes)
        message = truncate("; ".join(m for _, m in problems))
    return {
        "doc_id": doc_id,
        "status": status,
        "error_class": error_class,
        "error_message": message,
        "pages": pages,
        "tables": tables,
    }


def assemble_table(table: pa.Table, options: ExtractOptions, out_schema: pa.Schema) -> pa.Table:
    """applyInArrow body: all page rows of one document → one outcome row."""
    return pa.Table.from_pylist([assemble_document(table.to_pylist(), options)], schema=out_schema)


def extract_document(doc_id: str, source_path: str, page_count: int, options: ExtractOptions) -> dict[str, Any]:
    """All three passes for one document in this process: the reference the Spark job is
    measured against, and the quickest way to see what extract makes of a file."""
    rows: list[dict[str, Any]] = []
    last = min(page_count, options.max_pages)
    for first in range(1, max(last, 1) + 1, 64):
        rows.extend(scan_range(doc_id, source_path, page_count, first, min(first + 63, max(last, 1)), options))
    documents = _OpenDocuments()
    try:
        rows = [finish_row(row, documents, options) if row["status"] == PENDING else row for row in rows]
    finally:
        documents.close()
    if not rows:
        rows = [_raw_row(doc_id, source_path, page_count, DOCUMENT_LEVEL, method=METHOD_NONE)]
        rows[0].update(status=STATUS_FAILED, error_class="NoPages", error_message="the PDF has no pages")
    return assemble_document(rows, options)
