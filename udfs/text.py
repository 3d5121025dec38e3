"""Cleaning of page text before it is stored (entity offsets point into the cleaned text)."""

from __future__ import annotations

import re
import unicodedata

# C0/C1 control characters other than tab and newline (form feeds, NULs, pdfium markers).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_HORIZONTAL_RUN = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# pdfium marks a hyphen it generated at a line break with U+0002.
_PDFIUM_LINE_HYPHEN = "\x02"


def clean_page_text(raw: str) -> str:
    """NFKC (ligatures, full-width forms), LF line ends, no control characters, tidy whitespace.

    Idempotent: cleaning cleaned text changes nothing.
    """
    text = raw.replace(_PDFIUM_LINE_HYPHEN, "-")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _HORIZONTAL_RUN.sub(" ", text)
    text = "\n".join(line.strip(" ") for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def printable_chars(text: str) -> int:
    """Characters that carry ink: not whitespace, not control, not the replacement character."""
    return sum(1 for ch in text if not ch.isspace() and ch.isprintable() and ch != "\ufffd")
