"""Digital pages: measured routing signals, text with word boxes, reading order and tables.

pypdfium2 reads every page fast (bulk text plus one rectangle query per word). Pages whose
layout needs more — several columns, ruled tables — are laid out again with pdfplumber:
words grouped into columns and lines, tables found from their rulings and emitted row by
row (cells separated by tabs) where they stand, and returned cell by cell.

Coordinates are PDF points with the origin at the top-left of the page box (y grows down).
"""

from __future__ import annotations

import ctypes
import itertools
import re
from dataclasses import dataclass, field
from statistics import median
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from udfs.extract.mapped_text import NO_SOURCE, MappedText

_WORD = re.compile(r"\S+")
_CID = re.compile(r"\(cid:\d+\)")
# Characters that are not text: controls (except tab/newlines and pdfium's hyphen marks
# U+0002/U+FFFE), private-use code points, surrogates and the replacement character.
_BAD_CHAR = re.compile(
    "[\x00\x01\x03-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufffd\U000f0000-\U0010ffff]"
)
_NOT_INK = re.compile(r"[\s\x02\ufffe]")
TEXT_RENDER_INVISIBLE = 3
IMAGE_GRID = 48


@dataclass(frozen=True)
class Box:
    x0: float
    top: float
    x1: float
    bottom: float

    def union(self, other: Box) -> Box:
        return Box(
            min(self.x0, other.x0), min(self.top, other.top), max(self.x1, other.x1), max(self.bottom, other.bottom)
        )

    @property
    def center_x(self) -> float:
        return (self.x0 + self.x1) / 2

    def contains_center(self, other: Box) -> bool:
        cx, cy = other.center_x, (other.top + other.bottom) / 2
        return self.x0 <= cx <= self.x1 and self.top <= cy <= self.bottom


@dataclass
class PageSignals:
    """What the routing decision is based on, stored with every page."""

    text_chars: int = 0  # printable, non-space characters in the text layer
    image_coverage: float = 0.0  # share of the page area under images
    bad_char_share: float = 0.0  # unmapped glyphs: (cid:NN), U+FFFD, private-use, stray controls
    invisible_share: float = 0.0  # characters drawn in invisible render mode (an OCR layer)
    outside_share: float = 0.0  # characters placed outside the page box
    ruling_lines: int = 0  # thin horizontal/vertical path objects (table rulings)
    vector_paths: int = 0  # all path objects (text drawn as outlines shows up here)
    columns: int = 1  # text columns detected from word positions


@dataclass
class PageText:
    """A page's text with one box per source id (see MappedText)."""

    mapped: MappedText
    boxes: list[Box]
    tables: list[TableCell] = field(default_factory=list)


@dataclass(frozen=True)
class TableCell:
    table_no: int
    row: int
    col: int
    text: str
    box: Box


# --- pdfium: bulk text, word boxes, signals ------------------------------------------------


def page_size(page: pdfium.PdfPage) -> tuple[float, float]:
    width, height = page.get_size()
    return float(width), float(height)


def _page_origin(page: pdfium.PdfPage) -> tuple[float, float]:
    """(left, top) of the page box in PDF user space, to shift boxes to a top-left origin."""
    left, _bottom, _right, top = page.get_cropbox()
    return float(left), float(top)


def read_text_layer(page: pdfium.PdfPage, textpage: pdfium.PdfTextPage) -> PageText:
    """pdfium's text (content order, its own line breaks) with one box per word."""
    count = pdfium_c.FPDFText_CountChars(textpage)
    text = textpage.get_text_range() if count > 0 else ""
    if len(text) != count:  # characters outside the BMP: fall back to per-character reads
        text = "".join(chr(pdfium_c.FPDFText_GetUnicode(textpage, i) or 0xFFFD) for i in range(count))
    left, top_edge = _page_origin(page)
    boxes: list[Box] = []
    spans: list[tuple[int, int]] = []
    x0, top, x1, bottom = ctypes.c_double(), ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
    for match in _WORD.finditer(text):
        rects = pdfium_c.FPDFText_CountRects(textpage, match.start(), match.end() - match.start())
        box: Box | None = None
        for index in range(rects):
            pdfium_c.FPDFText_GetRect(
                textpage, index, ctypes.byref(x0), ctypes.byref(top), ctypes.byref(x1), ctypes.byref(bottom)
            )
            rect = Box(x0.value - left, top_edge - top.value, x1.value - left, top_edge - bottom.value)
            box = rect if box is None else box.union(rect)
        if box is not None:
            spans.append((match.start(), match.end()))
            boxes.append(box)
    return PageText(MappedText.from_spans(text, spans), boxes)


def _object_text_length(obj: Any, textpage: pdfium.PdfTextPage) -> int:
    size = pdfium_c.FPDFTextObj_GetText(obj, textpage, None, 0)  # bytes of UTF-16LE incl. terminator
    return max(0, size // 2 - 1)


def _bounds(obj: Any) -> tuple[float, float, float, float]:
    left, bottom, right, top = ctypes.c_float(), ctypes.c_float(), ctypes.c_float(), ctypes.c_float()
    pdfium_c.FPDFPageObj_GetBounds(
        obj, ctypes.byref(left), ctypes.byref(bottom), ctypes.byref(right), ctypes.byref(top)
    )
    return left.value, bottom.value, right.value, top.value


def _matrix(obj: Any) -> tuple[float, float, float, float, float, float]:
    matrix = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(obj, ctypes.byref(matrix)):
        return 1.0, 0.0, 0.0, 1.0, 0.0, 0.0
    return matrix.a, matrix.b, matrix.c, matrix.d, matrix.e, matrix.f


def _transform(
    bounds: tuple[float, float, float, float], matrix: tuple[float, float, float, float, float, float]
) -> tuple[float, float, float, float]:
    a, b, c, d, e, f = matrix
    x0, y0, x1, y1 = bounds
    xs, ys = [], []
    for x, y in ((x0, y0), (x0, y1), (x1, y0), (x1, y1)):
        xs.append(a * x + c * y + e)
        ys.append(b * x + d * y + f)
    return min(xs), min(ys), max(xs), max(ys)


def _image_bounds(obj: Any, depth: int = 0) -> list[tuple[float, float, float, float]]:
    """Page-space bounds of the images an object draws, looking inside form XObjects (whose
    own bounds are their declared bbox, often far larger than what they paint)."""
    kind = pdfium_c.FPDFPageObj_GetType(obj)
    if kind == pdfium_c.FPDF_PAGEOBJ_IMAGE:
        return [_bounds(obj)]
    if kind != pdfium_c.FPDF_PAGEOBJ_FORM or depth > 4:
        return []
    # children report bounds in the form's space: map them through the form's matrix
    matrix = _matrix(obj)
    found = []
    for index in range(pdfium_c.FPDFFormObj_CountObjects(obj)):
        for inner in _image_bounds(pdfium_c.FPDFFormObj_GetObject(obj, index), depth + 1):
            found.append(_transform(inner, matrix))
    return found


def measure_page(page: pdfium.PdfPage, textpage: pdfium.PdfTextPage, text: str) -> PageSignals:
    """Routing signals from the page's objects and its text layer."""
    width, height = page_size(page)
    left, bottom_edge, right, top_edge = (float(v) for v in page.get_cropbox())
    covered = [[False] * IMAGE_GRID for _ in range(IMAGE_GRID)]
    object_chars = invisible = outside = lines = paths = 0
    for index in range(pdfium_c.FPDFPage_CountObjects(page)):
        obj = pdfium_c.FPDFPage_GetObject(page, index)
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        x0, y0, x1, y1 = _bounds(obj)
        if kind == pdfium_c.FPDF_PAGEOBJ_TEXT:
            length = _object_text_length(obj, textpage)
            object_chars += length
            if pdfium_c.FPDFTextObj_GetTextRenderMode(obj) == TEXT_RENDER_INVISIBLE:
                invisible += length
            if x1 < left or x0 > right or y1 < bottom_edge or y0 > top_edge:
                outside += length
        elif kind in (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_FORM):
            for ix0, iy0, ix1, iy1 in _image_bounds(obj):
                _cover(
                    covered,
                    (ix0 - left) / max(width, 1e-6),
                    (ix1 - left) / max(width, 1e-6),
                    (iy0 - bottom_edge) / max(height, 1e-6),
                    (iy1 - bottom_edge) / max(height, 1e-6),
                )
        elif kind == pdfium_c.FPDF_PAGEOBJ_PATH:
            paths += 1
            w, h = x1 - x0, y1 - y0
            if (h <= 2.5 and w >= 15) or (w <= 2.5 and h >= 15):
                lines += 1
    ink = _NOT_INK.sub("", text)
    bad_chars = len(_BAD_CHAR.findall(ink))
    bad = sum(len(match) for match in _CID.findall(ink)) + bad_chars
    return PageSignals(
        text_chars=len(ink) - bad_chars,
        image_coverage=sum(map(sum, covered)) / (IMAGE_GRID * IMAGE_GRID),
        bad_char_share=bad / len(ink) if ink else 0.0,
        invisible_share=invisible / object_chars if object_chars else 0.0,
        outside_share=outside / object_chars if object_chars else 0.0,
        ruling_lines=lines,
        vector_paths=paths,
    )


def _cover(grid: list[list[bool]], fx0: float, fx1: float, fy0: float, fy1: float) -> None:
    lo_x, hi_x = max(0, int(fx0 * IMAGE_GRID)), min(IMAGE_GRID, int(fx1 * IMAGE_GRID + 0.999))
    lo_y, hi_y = max(0, int(fy0 * IMAGE_GRID)), min(IMAGE_GRID, int(fy1 * IMAGE_GRID + 0.999))
    for y in range(lo_y, hi_y):
        row = grid[y]
        for x in range(lo_x, hi_x):
            row[x] = True


# --- columns ------------------------------------------------------------------------------


def _lines_of(boxes: list[Box], tolerance: float = 3.0) -> list[list[Box]]:
    """Cluster word boxes into text lines by their top edge."""
    lines: list[list[Box]] = []
    for box in sorted(boxes, key=lambda b: (b.top, b.x0)):
        if lines and abs(lines[-1][0].top - box.top) <= tolerance:
            lines[-1].append(box)
        else:
            lines.append([box])
    return lines


def find_gutter(boxes: list[Box], page_width: float) -> float | None:
    """The x of a vertical gap that splits most text lines in two, if the page has two columns."""
    if len(boxes) < 20 or page_width <= 0:
        return None
    bins = int(page_width) + 2
    # how many words cover each 1-pt column of the page: +1 where a word starts, -1 after it ends
    edges = np.zeros(bins + 1, dtype=np.int32)
    starts = np.clip(np.array([int(b.x0) for b in boxes]), 0, bins - 1)
    ends = np.clip(np.array([int(b.x1) + 1 for b in boxes]), 0, bins)
    np.add.at(edges, starts, 1)
    np.add.at(edges, ends, -1)
    crossing = np.cumsum(edges)[:bins].tolist()
    lines = _lines_of(boxes)
    allowed = max(1, len(lines) // 20)
    best: tuple[int, int] | None = None
    start = None
    for x in range(int(page_width * 0.25), int(page_width * 0.75) + 1):
        if crossing[x] <= allowed:
            start = x if start is None else start
            if best is None or x - start > best[1] - best[0]:
                best = (start, x)
        else:
            start = None
    if best is None or best[1] - best[0] < 8:
        return None
    gutter = (best[0] + best[1]) / 2
    both_sides = sum(1 for line in lines if any(b.x1 < gutter for b in line) and any(b.x0 > gutter for b in line))
    # Both sides must carry real text: a right-hand column of page numbers (a table of
    # contents) or amounts is not a second column of prose.
    left_ink = sum(b.x1 - b.x0 for b in boxes if b.x1 < gutter)
    right_ink = sum(b.x1 - b.x0 for b in boxes if b.x0 > gutter)
    balanced = min(left_ink, right_ink) >= 0.25 * (left_ink + right_ink)
    return gutter if both_sides >= 0.3 * len(lines) and balanced else None


def detect_columns(boxes: list[Box], page_width: float) -> int:
    return 2 if find_gutter(boxes, page_width) is not None else 1


# --- pdfplumber layout -----------------------------------------------------------------------


def _emit_lines(words: list[dict[str, Any]], boxes: list[Box], pieces: list[tuple[str, int]]) -> None:
    """Words → lines (by top) → text pieces; a blank line where the vertical gap is large."""
    word_boxes = [(Box(w["x0"], w["top"], w["x1"], w["bottom"]), w["text"]) for w in words]
    lines: list[list[tuple[Box, str]]] = []
    for box, text in sorted(word_boxes, key=lambda item: (item[0].top, item[0].x0)):
        if lines and abs(lines[-1][0][0].top - box.top) <= 3.0:
            lines[-1].append((box, text))
        else:
            lines.append([(box, text)])
    gaps = [b[0][0].top - a[0][0].bottom for a, b in itertools.pairwise(lines)]
    usual_gap = median(gaps) if gaps else 0.0
    for index, line in enumerate(lines):
        if index:
            paragraph = gaps[index - 1] > max(usual_gap * 1.8, usual_gap + 4)
            pieces.append(("\n\n" if paragraph else "\n", NO_SOURCE))
        for position, (box, text) in enumerate(sorted(line, key=lambda item: item[0].x0)):
            if position:
                pieces.append((" ", NO_SOURCE))
            boxes.append(box)
            pieces.append((text, len(boxes) - 1))


def layout_with_pdfplumber(plumber_page: Any, table_start: int = 0) -> PageText:
    """Reading order for multi-column pages and pages with ruled tables."""
    tables = plumber_page.find_tables()
    table_boxes = [Box(*t.bbox) for t in tables]
    words = [
        w
        for w in plumber_page.extract_words(keep_blank_chars=False, use_text_flow=False)
        if not any(tb.contains_center(Box(w["x0"], w["top"], w["x1"], w["bottom"])) for tb in table_boxes)
    ]
    word_boxes = [Box(w["x0"], w["top"], w["x1"], w["bottom"]) for w in words]
    gutter = find_gutter(word_boxes, float(plumber_page.width))

    # Blocks in reading order: (region order, top, kind, payload)
    regions: list[tuple[int, float, str, Any]] = []
    if gutter is None:
        regions.append((0, 0.0, "words", words))
    else:
        spanning = [w for w in words if w["x0"] < gutter < w["x1"]]
        first_column_top = min((w["top"] for w in words if w["x1"] <= gutter), default=0.0)
        above = [w for w in spanning if w["top"] < first_column_top]
        below = [w for w in spanning if w["top"] >= first_column_top]
        regions.append((0, 0.0, "words", above))
        regions.append((1, 0.0, "words", [w for w in words if w["x1"] <= gutter]))
        regions.append((2, 0.0, "words", [w for w in words if w["x0"] >= gutter and w not in spanning]))
        regions.append((3, 0.0, "words", below))
    for number, (table, box) in enumerate(zip(tables, table_boxes, strict=True)):
        # which region the table sits in: the only one, a column, or across both columns
        region = 0 if gutter is None else 1 if box.x1 <= gutter else 2 if box.x0 >= gutter else 3
        regions.append((region, box.top, "table", (table_start + number, table, box)))

    pieces: list[tuple[str, int]] = []
    boxes: list[Box] = []
    cells: list[TableCell] = []
    for region in sorted({r[0] for r in regions}):
        members = [r for r in regions if r[0] == region]
        region_words = [w for r in members if r[2] == "words" for w in r[3]]
        region_tables = sorted((r[3] for r in members if r[2] == "table"), key=lambda t: t[2].top)
        # Split the region's words around its tables, keeping vertical order.
        cut_points = [t[2].top for t in region_tables] + [float("inf")]
        previous = float("-inf")
        for cut, table_entry in zip(cut_points, [*region_tables, None], strict=True):
            chunk = [w for w in region_words if previous <= w["top"] < cut]
            if chunk:
                if pieces:
                    pieces.append(("\n\n", NO_SOURCE))
                _emit_lines(chunk, boxes, pieces)
            if table_entry is not None:
                if pieces:
                    pieces.append(("\n\n", NO_SOURCE))
                table_no, table, table_box = table_entry
                cells.extend(_emit_table(table_no, table, table_box, boxes, pieces))
                previous = table_entry[2].bottom
    return PageText(MappedText.from_pieces(pieces), boxes, cells)


def _emit_table(
    table_no: int, table: Any, table_box: Box, boxes: list[Box], pieces: list[tuple[str, int]]
) -> list[TableCell]:
    cells: list[TableCell] = []
    rows = table.rows
    extracted = table.extract()
    for row_index, (row, values) in enumerate(zip(rows, extracted, strict=True)):
        if row_index:
            pieces.append(("\n", NO_SOURCE))
        first = True
        for col_index, (cell_bbox, value) in enumerate(zip(row.cells, values, strict=True)):
            if cell_bbox is None:
                continue  # merged into its neighbour
            text = " ".join((value or "").split())
            box = Box(*cell_bbox)
            cells.append(TableCell(table_no, row_index + 1, col_index + 1, text, box))
            if not first:
                pieces.append(("\t", NO_SOURCE))
            first = False
            if text:
                boxes.append(box)
                pieces.append((text, len(boxes) - 1))
    return cells
