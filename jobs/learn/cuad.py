"""CUAD's gold as annotations: the contracts' parties, agreement dates and governing laws as
labelled spans of docner's stored text, for ``docner annotations import`` and training.

CUAD's annotators marked passages as strings (``*_spans``), not offsets, and marked only some
mentions. So the spans are found again in the stored ``document_text`` (case- and
whitespace-insensitively, whole words only) and completed:

- ``PARTY``: the party names of the answer (as :func:`jobs.learn.fields_eval.read_cuad` reads
  them: the names, not the defined terms, checked against the marked passages);
- ``AGREEMENT_DATE``: the marked date passages (short ones: a date, not a sentence);
- ``GOVERNING_LAW``: inside each marked governing-law passage, the mention of the answer's
  place ("New York" in "... governed by the laws of the State of New York").

A record is a **region**, a reviewed passage in which every word without a label is taken to be
no entity of these labels: each paragraph (text between blank lines) that holds a found
mention, cut to the lines around the mentions when longer than ``MAX_REGION`` characters.
Inside a region every occurrence of a party name or a marked date is labelled, since CUAD marks
only some; a place only inside its governing-law passage (the same place elsewhere, "a New York
corporation", is not the governing law).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs.config import CONTRACT_FIELD_LABELS
from jobs.learn.fields_eval import PARTY, cuad_spans, read_cuad

LABEL_PARTY, LABEL_DATE, LABEL_LAW = (CONTRACT_FIELD_LABELS[f] for f in ("parties", "agreement_date", "governing_law"))
LABELS = (LABEL_PARTY, LABEL_DATE, LABEL_LAW)
MAX_REGION = 2000  # characters: a longer paragraph is cut to the lines around its mentions
REGION_CONTEXT = 600  # characters kept on each side of the mentions in a cut paragraph
MAX_DATE_PASSAGE = 60  # a marked date passage longer than this is a sentence, not a date
_PARAGRAPH = re.compile(r"\n[ \t]*\n|\f")
_APOSTROPHE = re.compile(r"\\?['’]")  # in an escaped word: either apostrophe matches either


@dataclass
class CuadAnnotations:
    records: list[dict[str, Any]]  # span JSONL records (file, doc_start, text, spans)
    found: dict[str, int] = field(default_factory=dict)  # label -> spans written
    missed: list[str] = field(default_factory=list)  # gold strings not found in the stored text


def mention_pattern(text: str) -> re.Pattern[str] | None:
    """``text`` as a pattern: its words in order, any whitespace between them, case ignored,
    either apostrophe, commas and full stops after an inner word optional and the last word's
    full stop too ("Tickets.com Inc." finds "Tickets.com, Inc"), not inside a longer word."""
    raw = text.split()
    cores = [word.rstrip(",.") for word in raw]
    if not any(cores):
        return None
    parts = []
    for index, (word, core) in enumerate(zip(raw, cores, strict=True)):
        if not core:
            continue
        last = index == len(raw) - 1
        tail = (r"\.?" if word.endswith(".") else "") if last else r"[,.]*"
        parts.append(_APOSTROPHE.sub(r"['’]", re.escape(core)) + tail)
    return re.compile(r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)", re.IGNORECASE)


def find_all(text: str, needle: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    pattern = mention_pattern(needle)
    if pattern is None:
        return []
    return [m.span() for m in pattern.finditer(text, start, len(text) if end is None else end)]


def paragraph_of(text: str, start: int, end: int) -> tuple[int, int]:
    """The paragraph holding ``[start, end)``: from the blank line before to the one after."""
    before = [m.end() for m in _PARAGRAPH.finditer(text, 0, start)]
    after = _PARAGRAPH.search(text, end)
    return (before[-1] if before else 0), (after.start() if after else len(text))


def regions_for(text: str, mentions: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Disjoint regions covering the mentions: their paragraphs, or for a long paragraph the
    lines within ``REGION_CONTEXT`` characters of the mention, merged where they touch."""
    regions = []
    for start, end in mentions:
        first, last = paragraph_of(text, start, end)
        if last - first > MAX_REGION:
            line_start = text.rfind("\n", first, max(first, start - REGION_CONTEXT))
            line_end = text.find("\n", min(last, end + REGION_CONTEXT), last)
            first = line_start + 1 if line_start >= 0 else max(first, start - REGION_CONTEXT)
            last = line_end if line_end >= 0 else min(last, end + REGION_CONTEXT)
        regions.append((min(first, start), max(last, end)))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(regions):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _marked(raw: str | None) -> list[str]:
    """A ``*_spans`` cell's passages, whitespace folded, blank ones left out."""
    return [" ".join(span.split()) for span in cuad_spans(raw) if span.strip()]


def disjoint(spans: Iterable[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """``spans`` in text order without overlaps: where two overlap, the earlier one stays, and of
    two starting together the longer."""
    kept: list[tuple[int, int, str]] = []
    for start, end, label in sorted(set(spans), key=lambda s: (s[0], -(s[1] - s[0]))):
        if not (kept and start < kept[-1][1]):
            kept.append((start, end, label))
    return kept


def document_spans(text: str, parties: Iterable[str], dates: Iterable[str], laws: Iterable[tuple[str, str]]) -> dict:
    """Every labelled mention of one document: ``{"regions": [...], "spans": [(start, end,
    label)], "missed": [...]}`` (``laws``: (marked passage, place) pairs)."""
    seeds: list[tuple[int, int, str]] = []
    missed: list[str] = []
    names = sorted({" ".join(p.split()) for p in parties if p.strip()}, key=len, reverse=True)
    date_texts = sorted({d for d in dates if len(d) <= MAX_DATE_PASSAGE}, key=len, reverse=True)
    for needle, label in [*((n, LABEL_PARTY) for n in names), *((d, LABEL_DATE) for d in date_texts)]:
        found = find_all(text, needle)
        if not found:
            missed.append(f"{label} {needle!r}")
        seeds.extend((start, end, label) for start, end in found)
    law_spans: list[tuple[int, int, str]] = []
    for passage, place in laws:
        clauses = find_all(text, passage)
        places = [part.strip() for part in re.split(r"[;,]", place) if part.strip()]  # "Texas; Singapore"
        inside = [hit for start, end in clauses for part in places for hit in find_all(text, part, start, end)]
        if not inside:
            missed.append(f"{LABEL_LAW} {place!r} in {passage[:60]!r}")
        law_spans.extend((start, end, LABEL_LAW) for start, end in inside)
    regions = regions_for(text, [(s, e) for s, e, _ in [*seeds, *law_spans]])
    # Inside the regions: every occurrence of the names and dates (CUAD marks only some),
    # the longest first where they overlap; the places only where they were found.
    in_regions = [
        (s, e, label) for s, e, label in [*seeds, *law_spans] if any(r0 <= s and e <= r1 for r0, r1 in regions)
    ]
    return {"regions": regions, "spans": disjoint(in_regions), "missed": missed}


def cuad_annotations(gold_csv: Path, texts: Mapping[str, tuple[str, str]]) -> CuadAnnotations:
    """Span JSONL records for the contracts of ``gold_csv``. ``texts``: the PDF's file name →
    (``doc_id``, its stored ``document_text``); contracts the lake does not hold are missed."""
    raw = gold_csv.read_text(encoding="utf-8-sig")
    problems: list[Any] = []
    names = {doc.file: doc.fields.get(PARTY) for doc in read_cuad(raw, gold_csv.name, problems)}
    result = CuadAnnotations([])
    for row in csv.DictReader(io.StringIO(raw)):
        file = (row.get("document") or "").strip()
        if file not in texts:
            result.missed.append(f"{file}: not in the lake")
            continue
        doc_id, text = texts[file]
        party = names.get(file)
        law = (row.get("governing_law_answer") or "").strip()
        found = document_spans(
            text,
            party.values if party is not None else (),
            _marked(row.get("agreement_date_spans")) if (row.get("agreement_date_answer") or "").strip() else (),
            [(passage, law) for passage in _marked(row.get("governing_law_spans"))] if law else (),
        )
        result.missed.extend(f"{file}: {miss}" for miss in found["missed"])
        for start, end in found["regions"]:
            spans = [
                {"start": s - start, "end": e - start, "label": label}
                for s, e, label in found["spans"]
                if start <= s and e <= end
            ]
            for span in spans:
                result.found[span["label"]] = result.found.get(span["label"], 0) + 1
            result.records.append({"file": doc_id, "doc_start": start, "text": text[start:end], "spans": spans})
    return result
