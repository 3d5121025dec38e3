"""``docner redact-pdf``: one redacted copy of each redacted document, named after its input file.

Every page of the copy is the source page re-rendered as an image with the redacted words
painted out, under an invisible text layer of the redacted text (udfs.redact.pdf): the
redacted strings are gone from the file, not covered. What the pipeline could not read is not
passed on: a page without a ``redacted_pages`` row (a page extraction failed on, or one the
quality suite kept out) is painted out whole. A document is written only when the redact stage
left it ok and its file is still the one that was read (its sha256 is its doc_id); any other is
reported with the reason, and nothing is written for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pypdfium2 as pdfium

from jobs.catalog.stages import stage_spec
from jobs.catalog.tables import DOCUMENTS, PAGES, REDACTED_PAGES
from jobs.lake.state import is_primary
from jobs.lake.tables import read_arrow
from udfs.errors import STATUS_OK, describe
from udfs.redact.pdf import Box, PageLayer, RedactPdfError, Word, displayed_box, write_redacted_pdf

WRITTEN, FAILED, SKIPPED = "written", "failed", "skipped"
STATE = stage_spec("redact").state_column


@dataclass(frozen=True)
class PdfOutcome:
    doc_id: str
    file_name: str
    status: str  # written | failed | skipped
    pages: int = 0
    pages_painted_out: int = 0  # pages without redacted text, painted out whole
    redactions: int = 0
    path: str | None = None
    reason: str | None = None


def _overlaps(start: int, end: int, pieces: Sequence[Mapping[str, int]]) -> bool:
    return any(piece["start"] < end and start < piece["end"] for piece in pieces)


def page_layer(
    page: Mapping[str, Any], redacted: Mapping[str, Any] | None, rotation: int, size: tuple[float, float]
) -> PageLayer:
    """The layer of one page (``pages`` row, its ``redacted_pages`` row or None): the redacted
    words' boxes painted out, the other words and the replacement tokens as the text layer.
    A page without redacted text is painted out whole. Word boxes of a digital page's text layer
    are in the unrotated page's space; those of pdfplumber's layout and of OCR are as displayed."""
    width, height = size
    if redacted is None:
        return PageLayer(page["page_no"], (Box(0.0, 0.0, width, height),), ())
    unrotated = page["method"] == "text" and not str(page["route_reason"] or "").startswith("layout:")

    def box_of(word: Mapping[str, Any]) -> Box:
        box = Box(float(word["x0"]), float(word["top"]), float(word["x1"]), float(word["bottom"]))
        return displayed_box(box, rotation, width, height) if unrotated else box

    pieces = list(redacted["spans"] or [])
    text, redacted_text = page["text"], redacted["text"]
    fill: list[Box] = []
    words: list[Word] = []
    for word in page["word_boxes"] or []:
        if _overlaps(word["start"], word["end"], pieces):
            fill.append(box_of(word))
        else:
            words.append(Word(text[word["start"] : word["end"]], box_of(word)))
    for piece in pieces:
        covered = [box_of(w) for w in page["word_boxes"] or [] if _overlaps(w["start"], w["end"], [piece])]
        if covered:
            words.append(
                Word(redacted_text[piece["redacted_start"] : piece["redacted_end"]], reduce(Box.union, covered))
            )
    return PageLayer(page["page_no"], tuple(fill), tuple(words))


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _geometry(path: Path) -> dict[int, tuple[int, tuple[float, float]]]:
    """page_no -> (rotation, displayed size in points)."""
    document = pdfium.PdfDocument(str(path))
    try:
        out: dict[int, tuple[int, tuple[float, float]]] = {}
        for index in range(len(document)):
            page = document[index]
            width, height = page.get_size()
            out[index + 1] = (int(page.get_rotation()), (float(width), float(height)))
            page.close()
        return out
    finally:
        document.close()


def _out_names(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """doc_id -> output file name: the input file's name; a name two documents share gets the
    doc_id's first 12 characters before its suffix."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for row in sorted(rows, key=lambda r: (r["file_name"], r["doc_id"])):
        name = str(row["file_name"])
        if name in taken:
            stem, dot, suffix = name.rpartition(".")
            name = f"{stem}-{row['doc_id'][:12]}.{suffix}" if dot else f"{name}-{row['doc_id'][:12]}"
        taken.add(name)
        names[row["doc_id"]] = name
    return names


def write_redacted_pdfs(lake: Path, out_dir: Path, *, dpi: int = 150, doc_ids: Sequence[str] = ()) -> list[PdfOutcome]:
    """A redacted copy of every primary document (or of ``doc_ids``) in ``out_dir``; one outcome
    each, in file-name order."""
    documents = [row for row in read_arrow(lake, DOCUMENTS.name).to_pylist() if is_primary(row)]
    if doc_ids:
        documents = [row for row in documents if row["doc_id"] in set(doc_ids)]
    out_dir.mkdir(parents=True, exist_ok=True)
    names = _out_names(documents)
    outcomes = []
    for row in sorted(documents, key=lambda r: names[r["doc_id"]]):
        state = row[STATE]
        if state is None or state["status"] != STATUS_OK:
            why = "not redacted yet (docner redact)" if state is None else f"redact stage left it {state['status']}"
            outcomes.append(PdfOutcome(row["doc_id"], row["file_name"], SKIPPED, reason=why))
            continue
        outcomes.append(_write_one(lake, row, out_dir / names[row["doc_id"]], dpi))
    return outcomes


def _write_one(lake: Path, row: Mapping[str, Any], out: Path, dpi: int) -> PdfOutcome:
    doc_id, name = row["doc_id"], row["file_name"]
    source = Path(row["source_path"])
    try:
        if not source.is_file():
            raise RedactPdfError(f"{source}: the input file is gone", "SourceMissing")
        if _file_digest(source) != doc_id:
            changed = f"{source}: the file changed since it was read; run the pipeline again"
            raise RedactPdfError(changed, "SourceChanged")
        where = pc.field("doc_id") == doc_id
        pages = {p["page_no"]: p for p in read_arrow(lake, PAGES.name, where=where).to_pylist()}
        redacted = {p["page_no"]: p for p in read_arrow(lake, REDACTED_PAGES.name, where=where).to_pylist()}
        geometry = _geometry(source)
        layers = {}
        for page_no, (rotation, size) in geometry.items():
            page = pages.get(page_no) or {"page_no": page_no}
            layers[page_no] = page_layer(page, redacted.get(page_no), rotation, size)
        written = write_redacted_pdf(source, out, layers, dpi=dpi)
    except Exception as exc:  # noqa: BLE001 - reported per document; nothing is written for it
        failure = describe(exc)
        return PdfOutcome(doc_id, name, FAILED, reason=f"{failure.error_class}: {failure.message}")
    return PdfOutcome(
        doc_id,
        name,
        WRITTEN,
        pages=written,
        pages_painted_out=sum(1 for page_no in geometry if page_no not in redacted),
        redactions=sum(int(p["redaction_count"]) for p in redacted.values()),
        path=str(out),
    )
