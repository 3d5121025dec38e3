"""The fields stage's worker: one document's text and entities in, its field rows and its
contract summary out (one outcome row per document, with its error if it failed).

Every value keeps its evidence: ``doc_start``/``doc_end`` into the document text (pages joined
by ``PAGE_BREAK``) and the page it starts on with page offsets, as entities do. A value whose
evidence does not lie on a page (it would start in a page break) is dropped and counted, so no
row points outside the stored text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from udfs.errors import describe
from udfs.fields.calibrate import NO_CALIBRATION, Calibration
from udfs.fields.extract import FIELD_NAMES, FieldValue, extract_fields
from udfs.fields.rules import FieldRules
from udfs.ner.normalize import entity_key
from udfs.ner.places import Places
from udfs.ner.recognize import place_on_pages

# The entities columns the finders read (udfs.fields.extract.Document).
ENTITY_COLUMNS = (
    "entity_id",
    "doc_start",
    "doc_end",
    "text",
    "label",
    "rule",
    "entity_key",
    "refers_to_key",
    "normalized_value",
)
DATE_FIELDS = ("agreement_date", "effective_date", "expiration_date")
SUMMARY_FIELDS = ("term", "renewal_term", "notice_period", "governing_law")


@dataclass(frozen=True)
class FieldsOptions:
    """The ``fields`` settings the tasks use, files read on the driver."""

    rules: FieldRules  # the phrases that state each field (conf/rules/fields.yaml)
    fields: tuple[str, ...] | None = None  # the fields written (every finder runs: some read others); None: all
    places: Places | None = None
    calibration: Calibration = NO_CALIBRATION

    @property
    def written(self) -> tuple[str, ...]:
        return self.fields if self.fields is not None else FIELD_NAMES


def field_rows(
    text: str,
    pages: Sequence[Mapping[str, int]],
    entities: Sequence[Mapping[str, Any]],
    options: FieldsOptions,
) -> tuple[list[dict[str, Any]], int]:
    """A document's field rows, ranked within each field (1: the highest confidence, ties in
    the finder's order), and how many values could not be placed on a page."""
    found = [v for v in extract_fields(text, entities, options.rules, options.places) if v.field in options.written]
    rows: list[dict[str, Any]] = []
    unplaced = 0
    by_field: dict[str, list[tuple[FieldValue, float]]] = {}
    for value in found:
        confidence = options.calibration.confidence(value.field, value.method, value.score)
        by_field.setdefault(value.field, []).append((value, confidence))
    for name in options.written:
        ranked = sorted(by_field.get(name, []), key=lambda pair: -pair[1])  # stable: the finder's order on ties
        rank = 0
        for value, confidence in ranked:
            place = place_on_pages(pages, value.start, value.end)
            if place is None:
                unplaced += 1
                continue
            rank += 1
            written = text[value.start : value.end]
            key = value.entity_key
            if key is None and name == "party":
                key = entity_key("ORG", written)
            rows.append(
                {
                    "field": name,
                    "rank": rank,
                    "value": written,
                    "normalized_value": value.normalized_value,
                    "confidence": confidence,
                    "method": value.method,
                    "page_no": place.page_no,
                    "start": place.start,
                    "end": place.end,
                    "end_page_no": place.end_page_no,
                    "doc_start": value.start,
                    "doc_end": value.end,
                    "entity_id": value.entity_id,
                    "entity_key": key,
                    "party_role": value.party_role,
                    "party_alias": value.party_alias,
                }
            )
    return rows, unplaced


def _iso_date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def contract_summary(rows: Sequence[Mapping[str, Any]], fields: Sequence[str] = FIELD_NAMES) -> dict[str, Any]:
    """The document's ``contracts`` row (doc_id and run_id aside): each field's best value that
    could be read, the parties in the order of the text, and the fields with no row at all."""

    def best(name: str) -> str | None:
        values = [r for r in rows if r["field"] == name and r["normalized_value"] is not None]
        return min(values, key=lambda r: r["rank"])["normalized_value"] if values else None

    parties = sorted((r for r in rows if r["field"] == "party"), key=lambda r: r["doc_start"])
    seen: set[str] = set()
    listed = []
    for row in parties:
        key = row["entity_key"]
        if key in seen:
            continue
        seen.add(key)
        name = " ".join(row["value"].split())
        listed.append({"name": name, "role": row["party_role"], "alias": row["party_alias"], "key": key})
    present = {r["field"] for r in rows}
    return {
        "title": best("document_title"),
        "parties": listed,
        "party_keys": sorted(seen),
        **{name: _iso_date(best(name)) for name in DATE_FIELDS},
        **{name: best(name) for name in SUMMARY_FIELDS},
        "missing_fields": [name for name in fields if name not in present],
    }


def _outcome(doc_id: str, rows: list[dict[str, Any]], unplaced: int, contract: dict | None, error: Any) -> dict:
    return {
        "doc_id": doc_id,
        "error_class": error.error_class if error else None,
        "error_message": error.message if error else None,
        "unplaced": unplaced,
        "values": rows,
        "contract": contract,
    }


def document_outcome(item: Mapping[str, Any], options: FieldsOptions) -> dict[str, Any]:
    """The outcome row of one ``{doc_id, text, pages, entities}`` item; an error is recorded
    on the document, not raised."""
    try:
        text = item["text"] or ""
        pages = sorted(item["pages"] or [], key=lambda p: p["start"])
        rows, unplaced = field_rows(text, pages, item["entities"] or [], options)
        return _outcome(item["doc_id"], rows, unplaced, contract_summary(rows, options.written), None)
    except Exception as exc:  # noqa: BLE001 - recorded on the document
        return _outcome(item["doc_id"], [], 0, None, describe(exc))


def fields_batches(
    batches: Iterator[pa.RecordBatch], options: FieldsOptions, out_schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: ``(doc_id, text, pages, entities)`` rows in, one outcome row per document out."""
    for batch in batches:
        outcomes = [document_outcome(item, options) for item in batch.to_pylist()]
        yield pa.RecordBatch.from_pylist(outcomes, schema=out_schema)
