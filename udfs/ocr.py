"""OCR of a PDF page: render with pypdfium2, recognise with Tesseract (one thread per process)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pypdfium2 as pdfium
import pytesseract

from udfs.errors import DocumentError

# Above this many pixels a rendered page is refused rather than exhausting memory.
MAX_RENDER_PIXELS = 200_000_000


@dataclass(frozen=True)
class OcrOptions:
    tesseract_cmd: str = "tesseract"
    language: str = "eng"
    dpi: int = 300
    timeout_s: float = 120.0
    psm: int = 3


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
    return None


def render_page(page: pdfium.PdfPage, dpi: int):
    width, height = page.get_size()
    scale = dpi / 72.0
    pixels = width * scale * height * scale
    if pixels > MAX_RENDER_PIXELS:
        raise DocumentError(
            f"page of {width:.0f}x{height:.0f} pt would render to {pixels / 1e6:.0f} Mpx at {dpi} dpi",
            "PageTooLarge",
        )
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        return bitmap.to_pil()
    finally:
        bitmap.close()


def ocr_page(page: pdfium.PdfPage, options: OcrOptions) -> str:
    """Tesseract's text for the rendered page."""
    _use_single_thread()
    image = render_page(page, options.dpi)
    pytesseract.pytesseract.tesseract_cmd = options.tesseract_cmd
    try:
        return pytesseract.image_to_string(
            image, lang=options.language, config=f"--psm {options.psm}", timeout=options.timeout_s
        )
    except pytesseract.TesseractNotFoundError:
        raise DocumentError(f"Tesseract executable {options.tesseract_cmd!r} not found", "OcrUnavailable") from None
    except pytesseract.TesseractError as exc:  # a RuntimeError subclass: test it first
        raise DocumentError(f"Tesseract failed: {exc}", "OcrError") from None
    except RuntimeError as exc:
        if "timeout" in str(exc).lower():
            raise DocumentError(f"OCR exceeded {options.timeout_s:g} s", "OcrTimeout") from None
        raise DocumentError(f"Tesseract failed: {exc}", "OcrError") from None
