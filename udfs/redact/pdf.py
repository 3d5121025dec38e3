"""Redacted PDFs: a copy of a document in which the redacted text is gone, not covered.

Every page of the source is rendered with pypdfium2 (annotations and form fields not
drawn), the redacted areas are painted black on the image, and the image becomes the only
content of a new page of the page's displayed size. Over it goes an invisible text layer
(render mode 3, as OCRmyPDF writes one) holding the page's *redacted* words at their boxes,
so the copy stays searchable and selectable. Every page is rendered, not only those with
redactions: no page keeps objects the extraction did not see (annotations, form fields,
hidden text, optional content, JavaScript). The new file has no metadata but its Producer
and Creator, no outline, no attachments, no AcroForm and no XMP.

Boxes are PDF points with the origin at the top-left of the page *as displayed* (after its
``/Rotate``), like pdfplumber's word boxes and the OCR path's. The pdfium text-layer path
of ``udfs.extract.layout.read_text_layer`` gives boxes in the unrotated page space; turn
those with :func:`displayed_box` on rotated pages.

Each page image is greyscale unless the page has colour, and stored as a JPEG (quality 85)
or Flate-compressed at 16 levels a channel, whichever is smaller. The copy is much larger
than a digital source: at 150 dpi a US Letter page takes some 10 KB when nearly empty and
up to ~200 KB when dense with text; a scanned page some hundreds of KB (its JPEG).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import unicodedata
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pypdfium2 as pdfium
from PIL import Image, ImageChops, ImageDraw
from reportlab import rl_config
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import PDFDictionary, PDFInfo, PDFString
from reportlab.pdfgen import canvas

from udfs.errors import DocumentError
from udfs.extract.layout import Box  # top-left origin, points: as the page is displayed here
from udfs.extract.ocr import render_dpi
from udfs.pdf import open_pdf

PRODUCER = "docner redact"
TEXT_FONT = "Helvetica"  # one of the standard 14: nothing embedded, WinAnsi (cp1252) text
TEXT_RENDER_INVISIBLE = 3
FILL_PAD_PT = 1.0
JPEG_QUALITY = 85
VERTICAL_ASPECT = 1.5  # a box this many times taller than wide holds a vertical word
WORD_SEPARATOR = " "
# The text layer's font encodes cp1252 only. Block elements (the mask character █ and its
# kin, U+2580-U+259F) become MASK_FALLBACK, other characters their unaccented base letter
# where that is encodable (ő → o), else UNENCODABLE_FALLBACK: one character for one, so a
# masked token keeps its length.
MASK_FALLBACK = "X"
UNENCODABLE_FALLBACK = "?"
_TEXT_ENCODING = "cp1252"
_SIXTEEN_LEVELS = [value // 17 * 17 for value in range(256)]  # one band's lookup: 0 and 255 kept


@dataclass(frozen=True)
class Word:
    text: str
    box: Box


@dataclass(frozen=True)
class PageLayer:
    """What one page of the redacted copy gets: areas painted out and its searchable text."""

    page_no: int  # from 1
    fill: tuple[Box, ...]  # areas to paint out (the redacted words' boxes)
    words: tuple[Word, ...]  # the invisible text layer: the redacted text, one entry per word


class RedactPdfError(DocumentError):
    """The redacted copy of a document could not be written; nothing was left at the output."""

    error_class = "RedactPdfError"


def write_redacted_pdf(source: Path, out: Path, layers: Mapping[int, PageLayer], *, dpi: int = 150) -> int:
    """Write the redacted copy of ``source`` to ``out`` (atomically) and return its page count.

    ``layers`` maps page numbers (from 1) to their fill boxes and words; a page without an
    entry gets its image only. Raises RedactPdfError, naming the source, when the PDF cannot
    be read, opened (corrupt, password-protected) or rendered, or ``layers`` names a page
    the document does not have."""
    if dpi <= 0:
        raise ValueError(f"dpi must be positive, got {dpi}")
    if out.resolve() == source.resolve():
        raise RedactPdfError(f"{source.name}: the redacted copy would overwrite its source")
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise RedactPdfError(f"{source.name}: cannot read the source: {exc.strerror or exc}") from None
    try:
        document = open_pdf(data)
    except DocumentError as exc:
        raise RedactPdfError(f"{source.name}: {exc}", exc.error_class) from None
    try:
        _check_layers(layers, len(document))
        with _atomic_output(out) as stream, _binary_streams():
            return _write_pages(document, stream, layers, dpi)
    except DocumentError as exc:  # RedactPdfError included: name the source
        raise RedactPdfError(f"{source.name}: {exc}", exc.error_class) from exc
    except Exception as exc:  # pdfium, PIL, reportlab, the disk: all fail this document
        raise RedactPdfError(f"{source.name}: could not write the redacted copy: {type(exc).__name__}: {exc}") from exc
    finally:
        document.close()


def _check_layers(layers: Mapping[int, PageLayer], page_count: int) -> None:
    for page_no, layer in layers.items():
        if not 1 <= page_no <= page_count:
            raise RedactPdfError(f"a redaction layer for page {page_no}, but the PDF has {page_count} page(s)")
        if layer.page_no != page_no:
            raise RedactPdfError(f"the layer filed under page {page_no} says it is for page {layer.page_no}")


@contextlib.contextmanager
def _atomic_output(out: Path) -> Iterator[BinaryIO]:
    """A binary stream to a temporary file beside ``out``, moved over ``out`` only on success."""
    fd, temp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


@contextlib.contextmanager
def _binary_streams() -> Iterator[None]:
    """reportlab ASCII85-encodes images and content by default (a quarter larger): off while
    this copy is written. rl_config is process-wide, hence restored after."""
    saved = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = saved


class _ProducerOnlyInfo(PDFInfo):
    """The document information dictionary with Producer and Creator only (reportlab's own
    writes a Title, Author, Subject, Keywords and dates)."""

    def format(self, document: Any) -> bytes:
        entries = {"Producer": PDFString(PRODUCER), "Creator": PDFString(PRODUCER)}
        return bytes(PDFDictionary(entries).format(document))


def _write_pages(document: pdfium.PdfDocument, stream: BinaryIO, layers: Mapping[int, PageLayer], dpi: int) -> int:
    pdf = canvas.Canvas(stream, invariant=True, pageCompression=True)
    pdf._doc.info = _ProducerOnlyInfo()  # reportlab has no public way to leave fields out
    for page_no in range(1, len(document) + 1):
        try:
            _write_page(pdf, document, page_no, layers.get(page_no), dpi)
        except DocumentError as exc:
            raise DocumentError(f"page {page_no}: {exc}", exc.error_class) from exc
        except Exception as exc:  # named with its page, then failed with the document
            raise DocumentError(f"page {page_no}: {type(exc).__name__}: {exc}", "RedactPdfError") from exc
    pdf.save()
    return len(document)


def _write_page(
    pdf: canvas.Canvas, document: pdfium.PdfDocument, page_no: int, layer: PageLayer | None, dpi: int
) -> None:
    page = document[page_no - 1]
    try:
        width_pt, height_pt = (float(v) for v in page.get_size())  # as displayed: /Rotate applied
        rotation = page.get_rotation()
        image = render_page(page, render_dpi(width_pt, height_pt, dpi))
    finally:
        page.close()
    if layer is not None:
        paint_out(image, layer.fill, image.width / width_pt, image.height / height_pt)
    pdf.setPageSize((width_pt, height_pt))
    pdf.drawImage(image_for_pdf(image), 0, 0, width=width_pt, height=height_pt)
    if layer is not None:
        _draw_text_layer(pdf, layer.words, height_pt, rotation)
    pdf.showPage()


def render_page(page: pdfium.PdfPage, dpi: int) -> Image.Image:
    """The page as displayed, without annotations or form fields; greyscale when it has no colour."""
    bitmap = page.render(scale=dpi / 72.0, may_draw_forms=False, draw_annots=False)
    try:
        image = bitmap.to_pil().convert("RGB")
    finally:
        bitmap.close()
    red, green, blue = image.split()
    if ImageChops.difference(red, green).getbbox() is None and ImageChops.difference(red, blue).getbbox() is None:
        return red
    return image


def paint_out(image: Image.Image, boxes: Iterable[Box], scale_x: float, scale_y: float) -> None:
    """Paint each box (grown by FILL_PAD_PT on every side) solid black, in place."""
    draw = ImageDraw.Draw(image)
    black = 0 if image.mode == "L" else (0, 0, 0)
    for box in boxes:
        left = max(0.0, (box.x0 - FILL_PAD_PT) * scale_x)
        top = max(0.0, (box.top - FILL_PAD_PT) * scale_y)
        right = min(image.width - 1.0, (box.x1 + FILL_PAD_PT) * scale_x)
        bottom = min(image.height - 1.0, (box.bottom + FILL_PAD_PT) * scale_y)
        if right >= left and bottom >= top:
            draw.rectangle((int(left), int(top), int(right + 0.999), int(bottom + 0.999)), fill=black)


def image_for_pdf(image: Image.Image) -> ImageReader:
    """The page image as reportlab will embed it: as a JPEG (photographs, scans) or, when
    that is smaller, as its pixels Flate-compressed after rounding every channel to 16
    levels (rendered text: a third smaller than at 256 levels, and no JPEG ringing)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    posterized = image.point(_SIXTEEN_LEVELS * len(image.getbands()))
    if len(zlib.compress(posterized.tobytes())) <= buffer.tell():
        return ImageReader(posterized)  # reportlab Flate-compresses these very bytes
    buffer.seek(0)
    return ImageReader(buffer)  # a JPEG is embedded as it is (DCTDecode)


def encodable_text(text: str) -> str:
    """``text`` with every character the text layer's font cannot encode replaced (see MASK_FALLBACK)."""
    return "".join(_encodable_char(char) for char in text)


def _encodable_char(char: str) -> str:
    if "\u2580" <= char <= "\u259f":
        return MASK_FALLBACK
    if char.isprintable() and _encodes(char):
        return char
    base = unicodedata.normalize("NFKD", char)[:1]
    if base and base.isprintable() and _encodes(base):
        return base
    return UNENCODABLE_FALLBACK


def _encodes(char: str) -> bool:
    try:
        char.encode(_TEXT_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def _draw_text_layer(pdf: canvas.Canvas, words: Iterable[Word], page_height: float, page_rotation: int) -> None:
    """Invisible words, each sized to its box and stretched along it, the glyphs' descent
    ending at the box's edge. A box much taller than wide holds a word that runs down the
    page (as on a page shown with ``/Rotate 90``) or up it (``/Rotate 270``): it is written
    turned that way, so that selection follows the word."""
    descent = -pdfmetrics.getDescent(TEXT_FONT) / 1000.0
    text = pdf.beginText()
    text.setTextRenderMode(TEXT_RENDER_INVISIBLE)
    drawn = 0
    for word in words:
        content = encodable_text(word.text.strip())
        box = word.box
        width, height = box.x1 - box.x0, box.bottom - box.top
        if not content or width <= 0 or height <= 0:
            continue
        vertical = len(content) >= 2 and height > VERTICAL_ASPECT * width
        size, length = (width, height) if vertical else (height, width)
        natural_length = pdfmetrics.stringWidth(content, TEXT_FONT, size)
        if natural_length <= 0:
            continue
        text.setFont(TEXT_FONT, size)
        text.setHorizScale(100.0 * length / natural_length)
        if not vertical:
            text.setTextTransform(1, 0, 0, 1, box.x0, page_height - box.bottom + descent * size)
        elif page_rotation % 360 == 270:  # bottom to top, glyphs' tops to the left
            text.setTextTransform(0, 1, -1, 0, box.x1 - descent * size, page_height - box.bottom)
        else:  # top to bottom, glyphs' tops to the right
            text.setTextTransform(0, -1, 1, 0, box.x0 + descent * size, page_height - box.top)
        text.textOut(content + WORD_SEPARATOR)
        drawn += 1
    if drawn:
        pdf.drawText(text)


def displayed_box(box: Box, rotation: int, width_pt: float, height_pt: float) -> Box:
    """A box in the unrotated page space (top-left origin, as pdfium's text layer gives it)
    turned into the displayed page's space, for a page with ``/Rotate`` ``rotation``
    (clockwise degrees) whose displayed size is ``width_pt`` x ``height_pt``."""
    rotation %= 360
    if rotation == 90:
        return Box(width_pt - box.bottom, box.x0, width_pt - box.top, box.x1)
    if rotation == 180:
        return Box(width_pt - box.x1, height_pt - box.bottom, width_pt - box.x0, height_pt - box.top)
    if rotation == 270:
        return Box(box.top, height_pt - box.x1, box.bottom, height_pt - box.x0)
    return box
