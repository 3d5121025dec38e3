"""NER over whole documents: every configured backend, merged, normalised, placed on pages.

A document's text is its pages joined with ``PAGE_BREAK`` (the ``document_text`` view), so
an entity that runs over a page break is seen whole. Each entity keeps its offsets in that
text and on the page it starts on; the UDF returns one outcome row per document, with its
entities or its error, so a document that fails is recorded rather than lost.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from udfs.errors import describe
from udfs.ner.backends import backend_module
from udfs.ner.entities import Candidate, NerBackend
from udfs.ner.lexicon import Lexicon
from udfs.ner.merge import Merged, MergePolicy, merge_candidates
from udfs.ner.normalize import NormalizeOptions, entity_key, normalize
from udfs.ner.places import Places
from udfs.ner.profiles import DEFAULT_PROFILE, profile
from udfs.ner.resolve import ALIAS, resolve_document


@dataclass(frozen=True)
class NerOptions:
    """The ``ner`` settings the tasks use (field names as in the settings section)."""

    backends: tuple[tuple[str, Any], ...] = ()  # (backend name, its Options), in the configured order
    merge: MergePolicy = field(default_factory=MergePolicy)
    labels: tuple[str, ...] | None = None  # keep only these labels (after each backend's own label map)
    normalize: NormalizeOptions = field(default_factory=NormalizeOptions)
    profile: str = DEFAULT_PROFILE  # udfs.ner.profiles: its labels (unless `labels` is set), and resolution
    lexicon: Lexicon | None = None  # evidence learned from many documents (ner.lexicon), for resolution
    places: Places | None = None  # a gazetteer (ner.places), for resolution

    def kept_labels(self) -> frozenset[str] | None:
        if self.labels is not None:
            return frozenset(self.labels)
        return profile(self.profile).labels


def build_backends(options: NerOptions) -> list[NerBackend]:
    """The configured backends, their models taken from (or put in) this worker's cache."""
    return [backend_module(name).load(backend_options) for name, backend_options in options.backends]


@dataclass
class Recognized:
    merged: list[Merged]
    unmapped: int  # candidates dropped because their offsets did not match the text


def recognize_texts(texts: Sequence[str], backends: Sequence[NerBackend], options: NerOptions) -> list[Recognized]:
    """Candidates of every backend for each text, checked against the text and merged."""
    found: list[list[Candidate]] = [[] for _ in texts]
    for backend in backends:
        for index, candidates in enumerate(backend.recognize(texts)):
            found[index].extend(candidates)
    results = []
    keep = options.kept_labels()
    resolving = profile(options.profile).resolve
    for text, candidates in zip(texts, found, strict=True):
        valid = [c for c in candidates if 0 <= c.start < c.end <= len(text) and text[c.start : c.end] == c.text]
        # Resolution reads the definitions (ALIAS) even where the output keeps no ALIAS rows.
        wanted = keep | {ALIAS} if keep is not None and resolving else keep
        merged = merge_candidates([c for c in valid if wanted is None or c.label in wanted], options.merge)
        if resolving:
            resolved = resolve_document(text, merged, options.lexicon, options.places)
            merged = [m for m in resolved if keep is None or m.entity.label in keep]
        results.append(Recognized(merged, len(candidates) - len(valid)))
    return results


@dataclass(frozen=True)
class PagePlace:
    page_no: int
    start: int  # offsets on that page
    end: int
    end_page_no: int  # the page the entity ends on (== page_no unless it crosses a page break)


def place_on_pages(pages: Sequence[Mapping[str, int]], start: int, end: int) -> PagePlace | None:
    """Where ``[start, end)`` of the document text lies on its pages (``pages``: sorted
    ``{page_no, start, end}``). None when it starts between pages (in a page break)."""
    starts = [p["start"] for p in pages]
    first = bisect_right(starts, start) - 1
    if first < 0 or start >= pages[first]["end"]:
        return None
    page = pages[first]
    last = max(first, bisect_right(starts, end - 1) - 1)
    if end <= page["end"]:
        return PagePlace(page["page_no"], start - page["start"], end - page["start"], page["page_no"])
    return PagePlace(page["page_no"], start - page["start"], page["end"] - page["start"], pages[last]["page_no"])


def entity_id(doc_id: str, start: int, end: int, label: str) -> str:
    """Deterministic: the same span and label of the same document get the same id in every run."""
    return hashlib.sha256(f"{doc_id}\x1f{start}\x1f{end}\x1f{label}".encode()).hexdigest()[:32]


def entity_rows(
    doc_id: str, pages: Sequence[Mapping[str, int]], recognized: Recognized, options: NerOptions
) -> tuple[list[dict[str, Any]], int]:
    """Rows of one document's merged entities, and how many could not be placed on a page."""
    rows: list[dict[str, Any]] = []
    unplaced = 0
    for item in recognized.merged:
        entity = item.entity
        place = place_on_pages(pages, entity.start, entity.end)
        if place is None:
            unplaced += 1
            continue
        value, currency = normalize(
            entity.label,
            entity.text,
            numeric_date_order=options.normalize.numeric_date_order,
            dollar_currency=options.normalize.dollar_currency,
        )
        rows.append(
            {
                "entity_id": entity_id(doc_id, entity.start, entity.end, entity.label),
                "doc_start": entity.start,
                "doc_end": entity.end,
                "page_no": place.page_no,
                "start": place.start,
                "end": place.end,
                "end_page_no": place.end_page_no,
                "text": entity.text,
                "label": entity.label,
                "score": entity.score,
                "source": entity.source,
                "sources": list(item.sources),
                "rule": entity.rule,
                "model": entity.model,
                "model_version": entity.model_version,
                "normalized_value": value,
                "currency": currency,
                "entity_key": _key(entity.label, entity.text, value, currency),
                "refers_to_key": entity_key(*item.refers_to) if item.refers_to is not None else None,
            }
        )
    return rows, unplaced


def _key(label: str, text: str, value: str | None, currency: str | None) -> str:
    """ORG/PERSON and other names: the canonical name; values: their normalised form."""
    if value is not None:
        return f"{value} {currency}" if currency else value
    return entity_key(label, text)


def _outcome(doc_id: str, rows: list[dict[str, Any]], unmapped: int, error: tuple[str, str] | None) -> dict:
    return {
        "doc_id": doc_id,
        "error_class": error[0] if error else None,
        "error_message": error[1] if error else None,
        "unmapped": unmapped,
        "entities": rows,
    }


def recognize_documents(
    items: Sequence[Mapping[str, Any]], backends: Sequence[NerBackend], options: NerOptions
) -> list[dict[str, Any]]:
    """Outcome rows for ``{doc_id, text, pages}`` items; a failing batch is retried one
    document at a time so that only the documents that fail are recorded as failed."""
    try:
        recognized = recognize_texts([item["text"] for item in items], backends, options)
        return [_document_outcome(item, found, options) for item, found in zip(items, recognized, strict=True)]
    except Exception:
        if len(items) == 1:
            raise
    outcomes = []
    for item in items:
        try:
            outcomes.extend(recognize_documents([item], backends, options))
        except Exception as exc:  # noqa: BLE001 - recorded on the document
            failure = describe(exc)
            outcomes.append(_outcome(item["doc_id"], [], 0, (failure.error_class, failure.message)))
    return outcomes


def _document_outcome(item: Mapping[str, Any], recognized: Recognized, options: NerOptions) -> dict[str, Any]:
    rows, unplaced = entity_rows(item["doc_id"], item["pages"], recognized, options)
    return _outcome(item["doc_id"], rows, recognized.unmapped + unplaced, None)


def recognize_batches(
    batches: Iterator[pa.RecordBatch], options: NerOptions, out_schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: ``(doc_id, text, pages)`` rows in, one outcome row per document out.
    The models are loaded once per Python worker (udfs.model_cache)."""
    backends = build_backends(options)
    for batch in batches:
        outcomes = recognize_documents(batch.to_pylist(), backends, options)
        yield pa.RecordBatch.from_pylist(outcomes, schema=out_schema)
