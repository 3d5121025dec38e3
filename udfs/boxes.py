"""From character offsets to a box on the page, through a page's stored word boxes."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Any


def span_box(word_boxes: Sequence[Mapping[str, Any]], start: int, end: int) -> dict[str, float] | None:
    """Union of the boxes of the words overlapping ``[start, end)``; None if no word does.

    ``word_boxes`` are a page's ``{start, end, x0, top, x1, bottom}`` runs, sorted by start
    and not overlapping (as extract stores them)."""
    if end <= start or not word_boxes:
        return None
    starts = [w["start"] for w in word_boxes]
    index = max(0, bisect_right(starts, start) - 1)
    found: dict[str, float] | None = None
    while index < len(word_boxes) and word_boxes[index]["start"] < end:
        word = word_boxes[index]
        if word["end"] > start:
            if found is None:
                found = {k: float(word[k]) for k in ("x0", "top", "x1", "bottom")}
            else:
                found["x0"] = min(found["x0"], float(word["x0"]))
                found["top"] = min(found["top"], float(word["top"]))
                found["x1"] = max(found["x1"], float(word["x1"]))
                found["bottom"] = max(found["bottom"], float(word["bottom"]))
        index += 1
    return found
