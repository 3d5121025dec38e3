"""Opening PDFs with pypdfium2 and reading their text layer, with failures classified."""

from __future__ import annotations

import pypdfium2 as pdfium

from udfs.errors import DocumentError

PDF_MAGIC = b"%PDF-"
# pdfium's FPDF_GetLastError codes.
_ERR_FILE, _ERR_FORMAT, _ERR_PASSWORD, _ERR_SECURITY = 2, 3, 4, 5


def open_pdf(data: bytes, password: str | None = None) -> pdfium.PdfDocument:
    """Open a PDF from bytes, raising DocumentError with a specific error class on failure."""
    if not data:
        raise DocumentError("the file is empty (0 bytes)", "EmptyFile")
    try:
        return pdfium.PdfDocument(data, password=password)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == _ERR_PASSWORD:
            raise DocumentError("the PDF is encrypted and needs a password to open", "EncryptedPdf") from None
        if code == _ERR_SECURITY:
            raise DocumentError("the PDF uses an unsupported security handler", "UnsupportedSecurity") from None
        if PDF_MAGIC not in data[:1024]:
            head = data[:16]
            raise DocumentError(f"not a PDF: no %PDF- header (file starts with {head!r})", "NotAPdf") from None
        if code == _ERR_FILE:
            raise DocumentError(f"pdfium could not read the file: {exc}", "ReadError") from None
        raise DocumentError(f"corrupt or truncated PDF: {exc}", "CorruptPdf") from None


def page_count(data: bytes) -> int:
    document = open_pdf(data)
    try:
        return len(document)
    finally:
        document.close()
