"""Offsets in one rendering of a document carried over to another: gold made on CUAD's text
files, or on an older extraction, measured against docner's stored ``document_text``.

Two renderings of a PDF differ mostly in whitespace (line breaks, spaces between columns,
blank lines between pages) and now and then in a word (a hyphenation, a ligature, a header
left in or out). The alignment compares the two texts word by word (``difflib`` over the
runs of non-space characters), and, inside a stretch where words differ, character by
character; every character of the source either maps to one character of the target or to
nothing. A span is carried over when its first and last characters both map, in order;
otherwise it is reported as not aligned, never silently moved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

_WORD = re.compile(r"\S+")
# A stretch of differing words is compared character by character only up to this size.
_MAX_CHAR_DIFF = 400


@dataclass(frozen=True)
class Alignment:
    """Where the non-space characters of a source text are in a target text."""

    mapped: dict[int, int]  # source offset -> target offset, for the characters that align
    source_chars: int  # non-space characters of the source
    target_length: int

    @property
    def coverage(self) -> float:
        """Share of the source's non-space characters found in the target."""
        return len(self.mapped) / self.source_chars if self.source_chars else 1.0

    def span(self, start: int, end: int, source: str) -> tuple[int, int] | None:
        """``source[start:end]`` in the target, as (start, end), or None when its first or last
        non-space character has no counterpart (or they come out of order)."""
        first, last = _first_char(source, start, end), _last_char(source, start, end)
        if first is None or last is None:
            return None
        target_first, target_last = self.mapped.get(first), self.mapped.get(last)
        if target_first is None or target_last is None or target_last < target_first:
            return None
        return target_first, target_last + 1

    def region(self) -> tuple[int, int]:
        """The part of the target the source covers: from its first to its last mapped character."""
        if not self.mapped:
            return (0, 0)
        targets = sorted(self.mapped.values())
        return targets[0], targets[-1] + 1


def _first_char(text: str, start: int, end: int) -> int | None:
    for index in range(start, min(end, len(text))):
        if not text[index].isspace():
            return index
    return None


def _last_char(text: str, start: int, end: int) -> int | None:
    for index in range(min(end, len(text)) - 1, start - 1, -1):
        if not text[index].isspace():
            return index
    return None


def align(source: str, target: str) -> Alignment:
    """The alignment of ``source`` onto ``target`` (see the module docstring)."""
    source_chars = sum(1 for c in source if not c.isspace())
    located = target.find(source) if source else -1
    if located >= 0:  # the common case: the gold was made on this very text (or a prefix of it)
        mapped = {i: i + located for i, c in enumerate(source) if not c.isspace()}
        return Alignment(mapped, source_chars, len(target))
    source_words = [(m.start(), m.group()) for m in _WORD.finditer(source)]
    target_words = [(m.start(), m.group()) for m in _WORD.finditer(target)]
    matcher = SequenceMatcher(None, [w for _, w in source_words], [w for _, w in target_words], autojunk=False)
    mapped = {}
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            for (s_at, word), (t_at, _) in zip(source_words[a0:a1], target_words[b0:b1], strict=True):
                for k in range(len(word)):
                    mapped[s_at + k] = t_at + k
        elif tag == "replace":
            mapped.update(_char_level(source_words[a0:a1], target_words[b0:b1]))
    return Alignment(mapped, source_chars, len(target))


def _char_level(source_words: list[tuple[int, str]], target_words: list[tuple[int, str]]) -> dict[int, int]:
    """Character alignment of two short stretches of differing words (spaces left out)."""
    source_chars = [(at + k, c) for at, word in source_words for k, c in enumerate(word)]
    target_chars = [(at + k, c) for at, word in target_words for k, c in enumerate(word)]
    if len(source_chars) > _MAX_CHAR_DIFF or len(target_chars) > _MAX_CHAR_DIFF:
        return {}
    matcher = SequenceMatcher(None, [c for _, c in source_chars], [c for _, c in target_chars], autojunk=False)
    mapped = {}
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            mapped[source_chars[block.a + k][0]] = target_chars[block.b + k][0]
    return mapped
