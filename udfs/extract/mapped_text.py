"""Text that remembers where every character came from, and the cleaning steps that keep it so.

A :class:`MappedText` pairs a string with one source id per character: the index of the
box (a PDF word, a Tesseract word, a table cell) the character was read from, or ``-1``
for characters the extraction generated (spaces, line breaks). Every cleaning step
returns a new MappedText whose ids still line up with its text, so that any character of
the stored page text — and so any entity — can be traced back to a box on the page.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

NO_SOURCE = -1

# C0/C1 control characters other than tab and newline (the hyphen markers below are
# handled by de-hyphenation before this runs).
_CONTROL = re.compile(r"[\x00-\x01\x03-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\u200b]")
# Soft hyphens: U+00AD, and pdfium's marks for a hyphen it found at a line end (U+0002 in
# older builds, U+FFFE in newer ones, which also join the two lines themselves).
_SOFT = "\x02\u00ad\ufffe"
# A word broken across lines: letter, hyphen (typed or soft), line break, lower-case letter.
_BROKEN_WORD = re.compile(rf"(?<=[^\W\d_])(?:-|[{_SOFT}])[^\S\n]*\n[^\S\n]*(?=[^\W\d_A-Z])")
_SOFT_AT_LINE_END = re.compile(rf"[{_SOFT}][^\S\n]*(?=\n)")
_STRAY_SOFT = re.compile(rf"[{_SOFT}]")
_LINE_END = re.compile(r"\r\n?")
_SPACES = re.compile(r"[ \u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_TABS = re.compile(r" ?\t[\t ]*")
_SPACE_AT_LINE_EDGE = re.compile(r"[ \t]+(?=\n)|(?<=\n)[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?[-–—]?\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*[-–—]?(?:\s+of\s+\d{1,4})?$", re.IGNORECASE
)


@dataclass(frozen=True)
class MappedText:
    text: str
    sources: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.text) != len(self.sources):
            raise ValueError(f"{len(self.text)} characters but {len(self.sources)} source ids")

    @classmethod
    def from_pieces(cls, pieces: Iterable[tuple[str, int]]) -> MappedText:
        """Join ``(text, source id)`` pieces; every character of a piece gets its id."""
        texts: list[str] = []
        sources: list[int] = []
        for text, source in pieces:
            texts.append(text)
            sources.extend([source] * len(text))
        return cls("".join(texts), tuple(sources))

    @classmethod
    def from_spans(cls, text: str, spans: Sequence[tuple[int, int]]) -> MappedText:
        """Characters inside ``spans[i] = (start, end)`` get id ``i``; the rest get NO_SOURCE."""
        sources = [NO_SOURCE] * len(text)
        for index, (start, end) in enumerate(spans):
            for position in range(max(0, start), min(end, len(text))):
                sources[position] = index
        return cls(text, tuple(sources))

    def __len__(self) -> int:
        return len(self.text)

    def __add__(self, other: MappedText) -> MappedText:
        return MappedText(self.text + other.text, self.sources + other.sources)

    def slice(self, start: int, end: int) -> MappedText:
        return MappedText(self.text[start:end], self.sources[start:end])

    def spans(self) -> list[tuple[int, int, int]]:
        """Maximal runs ``(start, end, source id)`` of characters with the same (real) source."""
        runs: list[tuple[int, int, int]] = []
        start = 0
        for position in range(1, len(self.sources) + 1):
            if position == len(self.sources) or self.sources[position] != self.sources[start]:
                if self.sources[start] != NO_SOURCE:
                    runs.append((start, position, self.sources[start]))
                start = position
        return runs


def substitute(
    mapped: MappedText, pattern: re.Pattern[str], replacement: str | Callable[[re.Match[str]], str]
) -> MappedText:
    """``re.sub`` that carries the source ids: kept characters keep theirs; a replacement's
    characters take the id of the first real-sourced character of what they replace."""
    if pattern.search(mapped.text) is None:
        return mapped
    literal = replacement if isinstance(replacement, str) and "\\" not in replacement else None
    texts: list[str] = []
    sources: list[int] = []
    position = 0
    for match in pattern.finditer(mapped.text):
        texts.append(mapped.text[position : match.start()])
        sources.extend(mapped.sources[position : match.start()])
        if literal is not None:
            new = literal
        else:
            new = replacement(match) if callable(replacement) else match.expand(replacement)
        if new == match.group(0):
            texts.append(new)
            sources.extend(mapped.sources[match.start() : match.end()])
        else:
            source = next((s for s in mapped.sources[match.start() : match.end()] if s != NO_SOURCE), NO_SOURCE)
            texts.append(new)
            sources.extend([source] * len(new))
        position = match.end()
    texts.append(mapped.text[position:])
    sources.extend(mapped.sources[position:])
    return MappedText("".join(texts), tuple(sources))


def normalize_unicode(mapped: MappedText) -> MappedText:
    """NFKC (ligatures, full-width and compatibility forms) applied per base character with
    its combining marks, so each result character keeps the source of what it came from."""
    text, sources = mapped.text, mapped.sources
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return mapped
    out_text: list[str] = []
    out_sources: list[int] = []
    position = 0
    while position < len(text):
        end = position + 1
        while end < len(text) and unicodedata.combining(text[end]):
            end += 1
        cluster = text[position:end]
        normalized = unicodedata.normalize("NFKC", cluster)
        source = next((s for s in sources[position:end] if s != NO_SOURCE), NO_SOURCE)
        if normalized == cluster:
            out_text.append(cluster)
            out_sources.extend(sources[position:end])
        else:
            out_text.append(normalized)
            out_sources.extend([source] * len(normalized))
        position = end
    return MappedText("".join(out_text), tuple(out_sources))


def clean_mapped(mapped: MappedText) -> MappedText:
    """The page cleaning, in order: line ends, control characters, NFKC, de-hyphenation,
    whitespace. Idempotent."""
    text = substitute(mapped, _LINE_END, "\n")
    text = substitute(text, _CONTROL, "")
    text = normalize_unicode(text)
    text = substitute(text, _LINE_END, "\n")
    text = substitute(text, _CONTROL, "")
    text = substitute(text, _BROKEN_WORD, "")
    text = substitute(text, _SOFT_AT_LINE_END, "-")
    text = substitute(text, _STRAY_SOFT, "")
    text = substitute(text, _SPACES, " ")
    text = substitute(text, _TABS, "\t")
    text = substitute(text, _SPACE_AT_LINE_EDGE, "")
    text = substitute(text, _BLANK_LINES, "\n\n")
    return strip(text)


def strip(mapped: MappedText) -> MappedText:
    start, end = 0, len(mapped.text)
    while start < end and mapped.text[start].isspace():
        start += 1
    while end > start and mapped.text[end - 1].isspace():
        end -= 1
    return mapped.slice(start, end)


def _line_key(line: str) -> str:
    """Lines that differ only in digits, case or spacing are the same header/footer."""
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", line.strip().lower()))


def _edge_lines(text: str, count: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(start, end) of the first and last ``count`` non-blank lines."""
    lines = []
    position = 0
    for line in text.split("\n"):
        if line.strip():
            lines.append((position, position + len(line)))
        position += len(line) + 1
    return lines[:count], lines[-count:]


def find_repeated_edges(
    pages: Sequence[str], edge_lines: int = 3, min_pages: int = 3, min_share: float = 0.5
) -> list[list[tuple[int, int]]]:
    """Per page, the (start, end) of header/footer lines to drop: lines near the top or
    bottom that repeat (modulo digits) on at least ``min_share`` of the pages (and at
    least ``min_pages`` of them), and page-number lines at the top or bottom of any page."""
    tops: list[list[tuple[int, int]]] = []
    bottoms: list[list[tuple[int, int]]] = []
    counts: Counter[tuple[str, str]] = Counter()
    for text in pages:
        top, bottom = _edge_lines(text, edge_lines)
        tops.append(top)
        bottoms.append(bottom)
        counts.update({("top", _line_key(text[s:e])) for s, e in top})
        counts.update({("bottom", _line_key(text[s:e])) for s, e in bottom})
    threshold = max(min_pages, int(len(pages) * min_share + 0.999))
    repeated = {key for key, count in counts.items() if count >= threshold and len(pages) >= min_pages}
    drops: list[list[tuple[int, int]]] = []
    for text, top, bottom in zip(pages, tops, bottoms, strict=True):
        page_drops = []
        for where, lines in (("top", top), ("bottom", bottom)):
            edge = lines[:1] if where == "top" else lines[-1:]
            for start, end in lines:
                line = text[start:end].strip()
                if (where, _line_key(line)) in repeated or ((start, end) in edge and _PAGE_NUMBER.match(line)):
                    page_drops.append((start, end))
        non_blank = sum(1 for line in text.split("\n") if line.strip())
        # a page that would be left empty keeps its lines: they are its content, not its frame
        drops.append(sorted(set(page_drops)) if len(set(page_drops)) < non_blank else [])
    return drops


def drop_ranges(mapped: MappedText, ranges: Sequence[tuple[int, int]]) -> MappedText:
    """Remove whole lines given as (start, end) ranges, with their line break."""
    if not ranges:
        return mapped
    keep: list[MappedText] = []
    position = 0
    for start, end in sorted(ranges):
        keep.append(mapped.slice(position, start))
        position = end + 1 if end < len(mapped.text) and mapped.text[end] == "\n" else end
    keep.append(mapped.slice(position, len(mapped.text)))
    joined = keep[0]
    for piece in keep[1:]:
        joined = joined + piece
    return joined


def remove_headers_and_footers(pages: Sequence[MappedText]) -> list[MappedText]:
    """Drop repeated header/footer lines and page numbers, then re-tidy each page."""
    drops = find_repeated_edges([page.text for page in pages])
    return [
        strip(substitute(drop_ranges(page, ranges), _BLANK_LINES, "\n\n"))
        for page, ranges in zip(pages, drops, strict=True)
    ]
