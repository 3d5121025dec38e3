"""OCR of a PDF page: render with pypdfium2, straighten, clear table rulings, read words
with Tesseract (one single-threaded process per Spark task slot), map boxes back to the page.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import pytesseract
from PIL import Image

from udfs.errors import DocumentError
from udfs.extract.layout import Box
from udfs.extract.mapped_text import NO_SOURCE, MappedText

# Above this many pixels the render resolution is lowered so the page fits (absurd page sizes).
MAX_RENDER_PIXELS = 40_000_000
_RULING_JUNK = re.compile(r"^[|¦!_\[\]{}()—–\-=~.,:;'\"`]+$")


@dataclass(frozen=True)
class OcrOptions:
    enabled: bool = True  # off: pages that need OCR fail, recorded as such
    tesseract_cmd: str = "tesseract"
    language: str = "eng"
    dpi: int = 300
    page_timeout_s: float = 120.0
    psm: int = 3
    detect_orientation: bool = True
    deskew: bool = True
    remove_rulings: bool = True


@dataclass
class OcrResult:
    mapped: MappedText
    boxes: list[Box]
    mean_confidence: float | None
    dpi: int
    rotation: int = 0  # clockwise degrees applied to upright the page (0/90/180/270)
    skew_degrees: float = 0.0
    notes: list[str] = field(default_factory=list)


def _use_single_thread() -> None:
    # Tesseract's OpenMP threads compete with Spark's one-task-per-core parallelism; with
    # them the OCR path ran ~7x slower on a 2-core VM. pytesseract's subprocess inherits this.
    os.environ["OMP_THREAD_LIMIT"] = "1"


def tesseract_problem(options: OcrOptions) -> str | None:
    """None when Tesseract and the language data are usable, else what to install."""
    pytesseract.pytesseract.tesseract_cmd = options.tesseract_cmd
    try:
        languages = set(pytesseract.get_languages(config=""))
    except pytesseract.TesseractNotFoundError:
        return (
            f"Tesseract executable {options.tesseract_cmd!r} not found: install it "
            "(Debian: apt-get install tesseract-ocr) or set extract.ocr.tesseract_cmd"
        )
    except pytesseract.TesseractError as exc:
        return f"Tesseract {options.tesseract_cmd!r} does not run: {exc}"
    missing = [lang for lang in options.language.split("+") if lang not in languages]
    if missing:
        return (
            f"Tesseract language data {missing} not installed (have {sorted(languages)}): "
            f"install tesseract-ocr-{missing[0]} or set extract.ocr.language"
        )
    if options.detect_orientation and "osd" not in languages:
        return (
            "Tesseract orientation data 'osd' not installed: "
            "install tesseract-ocr-osd or set extract.ocr.detect_orientation=false"
        )
    return None


def tesseract_version(options: OcrOptions) -> str | None:
    """Tesseract's version string, None when it does not run."""
    pytesseract.pytesseract.tesseract_cmd = options.tesseract_cmd
    try:
        return str(pytesseract.get_tesseract_version())
    except (pytesseract.TesseractNotFoundError, pytesseract.TesseractError, OSError):
        return None


def render_dpi(width_pt: float, height_pt: float, dpi: int) -> int:
    """The configured dpi, lowered as needed to keep the bitmap under MAX_RENDER_PIXELS."""
    if width_pt <= 0 or height_pt <= 0:
        raise DocumentError(f"page has no area ({width_pt:g}x{height_pt:g} pt)", "InvalidPageSize")
    area_in2 = (width_pt / 72.0) * (height_pt / 72.0)
    fitting = int(math.sqrt(MAX_RENDER_PIXELS / area_in2))
    return max(1, min(dpi, fitting))


def render_page(page: pdfium.PdfPage, dpi: int) -> Image.Image:
    bitmap = page.render(scale=dpi / 72.0, grayscale=True)
    try:
        return bitmap.to_pil().convert("L")
    finally:
        bitmap.close()


def _call(options: OcrOptions, function: Any, image: Image.Image, **kwargs: Any) -> Any:
    pytesseract.pytesseract.tesseract_cmd = options.tesseract_cmd
    try:
        return function(image, lang=kwargs.pop("lang", options.language), timeout=options.page_timeout_s, **kwargs)
    except pytesseract.TesseractNotFoundError:
        raise DocumentError(f"Tesseract executable {options.tesseract_cmd!r} not found", "OcrUnavailable") from None
    except pytesseract.TesseractError as exc:  # a RuntimeError subclass: test it first
        raise DocumentError(f"Tesseract failed: {exc}", "OcrError") from None
    except RuntimeError as exc:
        if "timeout" in str(exc).lower():
            raise DocumentError(f"OCR exceeded {options.page_timeout_s:g} s", "OcrTimeout") from None
        raise DocumentError(f"Tesseract failed: {exc}", "OcrError") from None


def detect_rotation(image: Image.Image, options: OcrOptions) -> int:
    """Clockwise degrees that make the page upright, from Tesseract's OSD (0 when unsure)."""
    small = image.copy()
    small.thumbnail((1700, 1700))  # orientation needs far less detail than reading
    try:
        osd = _call(
            options, pytesseract.image_to_osd, small, lang="osd", config="--psm 0", output_type=pytesseract.Output.DICT
        )
    except DocumentError as exc:
        if exc.error_class in ("OcrUnavailable", "OcrTimeout"):
            raise
        return 0  # too little text to tell: leave the page as it is
    rotate = int(osd.get("rotate", 0)) % 360
    return rotate if float(osd.get("orientation_conf", 0.0)) >= 2.0 else 0


def estimate_skew(image: Image.Image, max_degrees: float = 5.0, step: float = 0.25) -> float:
    """Skew angle (degrees, counter-clockwise positive) that best aligns text rows, found by
    maximising the variance of the row ink profile of a reduced ink mask.

    The mask is made at full resolution and reduced by blocks (a block is ink when a fair
    share of it is), because resampling the grey image first washes thin strokes out."""
    pixels = np.asarray(image, dtype=np.uint8)
    factor = max(1, math.ceil(max(pixels.shape) / 1000))
    height, width = (pixels.shape[0] // factor) * factor, (pixels.shape[1] // factor) * factor
    ink = pixels[:height, :width] < 160
    blocks = ink.reshape(height // factor, factor, width // factor, factor).mean(axis=(1, 3)) > 0.2
    if blocks.mean() < 0.001:
        return 0.0  # next to no ink: nothing to align
    mask = Image.fromarray(blocks.astype(np.uint8) * 255)
    best_angle, best_score = 0.0, -1.0
    for angle in np.arange(-max_degrees, max_degrees + step / 2, step):
        rows = np.asarray(mask.rotate(float(angle), resample=Image.Resampling.NEAREST), dtype=np.float64).sum(axis=1)
        score = float(np.var(rows))
        if score > best_score * (1 + 1e-6):
            best_angle, best_score = float(angle), score
    return best_angle


def _long_runs(dark: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Pixels that belong to a straight run of at least ``length`` dark pixels along ``axis``
    (a morphological opening with a 1 x length line, done with two cumulative sums)."""
    size = dark.shape[axis]
    if length <= 1 or size < length:
        return np.zeros_like(dark, dtype=bool)
    zero = np.zeros_like(dark.take([0], axis=axis), dtype=np.int32)
    ink = np.concatenate([zero, np.cumsum(dark, axis=axis, dtype=np.int32)], axis=axis)
    full = (
        ink.take(np.arange(length, size + 1), axis=axis) - ink.take(np.arange(0, size - length + 1), axis=axis)
    ) == length
    starts = np.concatenate([zero, np.cumsum(full, axis=axis, dtype=np.int32)], axis=axis)
    positions = np.arange(size)
    upper = np.minimum(positions, size - length) + 1
    lower = np.maximum(positions - length + 1, 0)
    return (starts.take(upper, axis=axis) - starts.take(lower, axis=axis)) > 0


@dataclass(frozen=True)
class RuledTable:
    """A grid of rulings found on the image (pixels of the processed image)."""

    left: int
    top: int
    right: int
    bottom: int
    column_rules: tuple[int, ...]  # x of the vertical rulings inside it

    def holds(self, x: float, y: float) -> bool:
        return self.left <= x <= self.right and self.top <= y <= self.bottom


def remove_rulings(image: Image.Image, dpi: int) -> tuple[Image.Image, list[RuledTable]]:
    """White out long horizontal and vertical lines (table rulings, underlines) so Tesseract
    does not read them as ``|`` and ``_``, and return the ruled grids (tables) they form.

    Lines are found on a half-size ink mask (a 2x2 block is ink if any of its pixels is),
    which keeps 1-pixel lines and costs a quarter."""
    from scipy import ndimage

    pixels = np.asarray(image, dtype=np.uint8)
    height, width = pixels.shape
    dark = np.asarray(pixels[: height - height % 2, : width - width % 2] < 160)
    half = np.asarray(dark.reshape(height // 2, 2, width // 2, 2).any(axis=(1, 3)))
    horizontal = _long_runs(half, max(10, int(dpi * 0.25)), axis=1)
    vertical = _long_runs(half, max(10, int(dpi * 0.15)), axis=0)
    lines = horizontal | vertical
    if not lines.any():
        return image, []
    tables: list[RuledTable] = []
    labels, _count = ndimage.label(lines, structure=np.ones((3, 3), dtype=bool))
    for index, window in enumerate(ndimage.find_objects(labels), start=1):
        if window is None:
            continue
        rows, cols = window
        component = labels[window] == index
        if not ((horizontal[window] & component).any() and (vertical[window] & component).any()):
            continue
        if (cols.stop - cols.start) * 2 < dpi or (rows.stop - rows.start) * 2 < dpi * 0.3:
            continue
        rules_at = np.flatnonzero((vertical[window] & component).any(axis=0))
        groups = np.split(rules_at, np.flatnonzero(np.diff(rules_at) > 2) + 1) if rules_at.size else []
        rules = tuple(int((cols.start + g.mean()) * 2) for g in groups if g.size)
        tables.append(RuledTable(cols.start * 2, rows.start * 2, cols.stop * 2, rows.stop * 2, rules))
    full = np.zeros((height, width), dtype=bool)
    full[: height - height % 2, : width - width % 2] = np.repeat(np.repeat(lines, 2, axis=0), 2, axis=1)
    cleaned = pixels.copy()
    cleaned[full & (pixels < 200)] = 255
    return Image.fromarray(cleaned), tables


def _rotate_point(x: float, y: float, degrees: float, center: tuple[float, float]) -> tuple[float, float]:
    """Rotate (x, y) about ``center`` by ``degrees`` counter-clockwise as seen on screen (y down)."""
    radians = math.radians(degrees)
    cx, cy = center
    dx, dy = x - cx, y - cy
    return cx + dx * math.cos(radians) + dy * math.sin(radians), cy - dx * math.sin(radians) + dy * math.cos(radians)


class _PageFrame:
    """Maps pixel boxes of the processed image back to points on the original page."""

    def __init__(self, width_px: int, height_px: int, dpi: int, rotation: int, skew: float) -> None:
        self.width_px, self.height_px, self.dpi = width_px, height_px, dpi
        self.rotation, self.skew = rotation, skew
        turned = rotation in (90, 270)
        self.rotated_size = (height_px, width_px) if turned else (width_px, height_px)

    def to_page(self, left: float, top: float, right: float, bottom: float) -> Box:
        corners = [(left, top), (right, top), (left, bottom), (right, bottom)]
        points = []
        for x, y in corners:
            if self.skew:
                # the image was rotated by +skew about its centre: undo it
                x, y = _rotate_point(x, y, -self.skew, (self.rotated_size[0] / 2, self.rotated_size[1] / 2))
            if self.rotation:
                x, y = self._unrotate(x, y)
            points.append((x, y))
        scale = 72.0 / self.dpi
        xs, ys = [p[0] * scale for p in points], [p[1] * scale for p in points]
        return Box(min(xs), min(ys), max(xs), max(ys))

    def _unrotate(self, x: float, y: float) -> tuple[float, float]:
        # PIL rotate(-r, expand=True) turned the page clockwise by r; map back.
        w, h = self.width_px, self.height_px
        if self.rotation == 90:
            return y, h - x
        if self.rotation == 180:
            return w - x, h - y
        return w - y, x  # 270


@dataclass(frozen=True)
class _Word:
    text: str
    confidence: float
    left: float
    top: float
    right: float
    bottom: float
    line: tuple[int, int, int]  # Tesseract (block, paragraph, line)

    @property
    def center(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, (self.top + self.bottom) / 2


def _tesseract_words(data: dict[str, list[Any]]) -> list[_Word]:
    words = []
    for index, raw in enumerate(data["text"]):
        text = (raw or "").strip()
        confidence = float(data["conf"][index])
        if not text or confidence < 0:
            continue
        if _RULING_JUNK.match(text) and ("|" in text or "_" in text or confidence < 50):
            continue  # a table ruling or speckle read as punctuation
        left, top = float(data["left"][index]), float(data["top"][index])
        words.append(
            _Word(
                text,
                confidence,
                left,
                top,
                left + float(data["width"][index]),
                top + float(data["height"][index]),
                (int(data["block_num"][index]), int(data["par_num"][index]), int(data["line_num"][index])),
            )
        )
    return words


def _table_rows(words: list[_Word]) -> list[list[_Word]]:
    """Words of a ruled table in rows (by vertical centre), each row left to right."""
    if not words:
        return []
    tolerance = 0.6 * sorted(w.bottom - w.top for w in words)[len(words) // 2]
    rows: list[list[_Word]] = []
    for word in sorted(words, key=lambda w: w.center[1]):
        if rows and abs(rows[-1][-1].center[1] - word.center[1]) <= tolerance:
            rows[-1].append(word)
        else:
            rows.append([word])
    return [sorted(row, key=lambda w: w.left) for row in rows]


def words_to_text(
    data: dict[str, list[Any]], frame: _PageFrame, tables: list[RuledTable] | None = None
) -> tuple[MappedText, list[Box], float | None]:
    """Tesseract ``image_to_data`` rows → text, one box per word, mean word confidence.

    Outside ruled tables, Tesseract's own order: lines, a blank line between blocks or
    paragraphs. A ruled table is read row by row (Tesseract reads its columns as separate
    blocks), cells separated by a tab where a vertical ruling falls between two words, and
    placed before the first block that starts below its top."""
    tables = tables or []
    words = _tesseract_words(data)
    in_table: dict[int, list[_Word]] = {i: [] for i in range(len(tables))}
    flowing: list[_Word] = []
    for word in words:
        owner = next((i for i, t in enumerate(tables) if t.holds(*word.center)), None)
        (flowing if owner is None else in_table[owner]).append(word)

    # Blocks in output order: ("text", words of one Tesseract block) or ("table", index)
    blocks: list[tuple[str, Any]] = []
    for word in flowing:
        if blocks and blocks[-1][1][0].line[0] == word.line[0]:
            blocks[-1][1].append(word)
        else:
            blocks.append(("text", [word]))
    for index in sorted(in_table, key=lambda i: tables[i].top):
        if not in_table[index]:
            continue
        position = next(
            (
                n
                for n, (kind, payload) in enumerate(blocks)
                if kind == "text" and min(w.top for w in payload) > tables[index].top
            ),
            len(blocks),
        )
        blocks.insert(position, ("table", index))

    pieces: list[tuple[str, int]] = []
    boxes: list[Box] = []

    def emit(word: _Word) -> None:
        boxes.append(frame.to_page(word.left, word.top, word.right, word.bottom))
        pieces.append((word.text, len(boxes) - 1))

    for number, (kind, payload) in enumerate(blocks):
        if number:
            pieces.append(("\n\n", NO_SOURCE))
        if kind == "table":
            rules = tables[payload].column_rules
            for row_number, row in enumerate(_table_rows(in_table[payload])):
                if row_number:
                    pieces.append(("\n", NO_SOURCE))
                for position, word in enumerate(row):
                    if position:
                        previous = row[position - 1]
                        ruled = any(previous.right <= x <= word.left for x in rules)
                        pieces.append(("\t" if ruled else " ", NO_SOURCE))
                    emit(word)
            continue
        previous_line = None
        for word in payload:
            if previous_line is not None:
                if word.line[1] != previous_line[1]:
                    pieces.append(("\n\n", NO_SOURCE))
                elif word.line != previous_line:
                    pieces.append(("\n", NO_SOURCE))
                else:
                    pieces.append((" ", NO_SOURCE))
            previous_line = word.line
            emit(word)
    kept = [w.confidence for w in words]
    mean = sum(kept) / len(kept) if kept else None
    return MappedText.from_pieces(pieces), boxes, mean


def _read(image: Image.Image, rotation: int, dpi: int, options: OcrOptions) -> OcrResult:
    """Turn the rendered page by ``rotation``, deskew, clear rulings, read words."""
    width_px, height_px = image.size
    if rotation:
        image = image.rotate(-rotation, expand=True)
    skew = estimate_skew(image) if options.deskew else 0.0
    if abs(skew) >= 0.2:
        image = image.rotate(skew, resample=Image.Resampling.BILINEAR, fillcolor=255)
    else:
        skew = 0.0
    tables: list[RuledTable] = []
    if options.remove_rulings:
        image, tables = remove_rulings(image, dpi)
    data = _call(
        options, pytesseract.image_to_data, image, config=f"--psm {options.psm}", output_type=pytesseract.Output.DICT
    )
    mapped, boxes, confidence = words_to_text(data, _PageFrame(width_px, height_px, dpi, rotation, skew), tables)
    return OcrResult(mapped, boxes, confidence, dpi, rotation, skew)


def _looks_wrong(result: OcrResult) -> bool:
    """Few words or low confidence: the page may be sideways or upside down."""
    return len(result.boxes) < 10 or (result.mean_confidence or 0.0) < 70.0


def ocr_page(page: pdfium.PdfPage, options: OcrOptions) -> OcrResult:
    """Tesseract's words for the page, upright and deskewed, boxes in page points.

    Orientation detection (Tesseract OSD) runs only when the upright reading looks wrong,
    so ordinary pages pay for one Tesseract pass."""
    _use_single_thread()
    width_pt, height_pt = page.get_size()
    dpi = render_dpi(float(width_pt), float(height_pt), options.dpi)
    image = render_page(page, dpi)
    result = _read(image, 0, dpi, options)
    if options.detect_orientation and _looks_wrong(result):
        rotation = detect_rotation(image, options)
        if rotation:
            turned = _read(image, rotation, dpi, options)
            if len(turned.boxes) * (turned.mean_confidence or 0.0) > len(result.boxes) * (
                result.mean_confidence or 0.0
            ):
                result = turned
    if dpi != options.dpi:
        result.notes.append(f"rendered at {dpi} dpi to fit {MAX_RENDER_PIXELS // 1_000_000} Mpx")
    return result
