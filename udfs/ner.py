"""NER UDF: entities of every page, one outcome row per page (errors recorded, not raised)."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from udfs.boxes import span_box
from udfs.errors import describe
from udfs.ner_spacy import Entity, LoadedSpacy, SpacyOptions, cached_spacy, recognize

SOURCE_SPACY = "spacy"


def _entity_rows(item: dict, entities: list[Entity]) -> list[dict[str, object]]:
    """Entities as rows, each with the box of the words it covers on the page."""
    text, word_boxes = item["text"], item.get("word_boxes") or []
    rows = []
    for entity in entities:
        # Offsets must point into the stored text; a span that does not is a bug, not data.
        if text[entity.start : entity.end] != entity.text:
            raise ValueError(f"entity {entity.text!r} does not match text[{entity.start}:{entity.end}]")
        box = span_box(word_boxes, entity.start, entity.end) or dict.fromkeys(("x0", "top", "x1", "bottom"))
        rows.append({**entity._asdict(), **box})
    return rows


def _page_row(item: dict, loaded: LoadedSpacy, entities: list[dict], error: tuple[str, str] | None) -> dict:
    return {
        "doc_id": item["doc_id"],
        "page_no": item["page_no"],
        "source": SOURCE_SPACY,
        "model": loaded.name,
        "model_version": loaded.version,
        "error_class": error[0] if error else None,
        "error_message": error[1] if error else None,
        "entities": entities,
    }


def recognize_batches(
    batches: Iterator[pa.RecordBatch], options: SpacyOptions, out_schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: (doc_id, page_no, text) rows in, one row per page with its entities out."""
    loaded = cached_spacy(options)
    for batch in batches:
        items = batch.to_pylist()
        texts = [item["text"] for item in items]
        try:
            found = recognize(loaded, texts, options)
            rows = [
                _page_row(item, loaded, _entity_rows(item, ents), None) for item, ents in zip(items, found, strict=True)
            ]
        except Exception:  # noqa: BLE001 - isolate the failing page(s) by running one at a time
            rows = []
            for item in items:
                try:
                    ents = recognize(loaded, [item["text"]], options)[0]
                    rows.append(_page_row(item, loaded, _entity_rows(item, ents), None))
                except Exception as exc:  # noqa: BLE001 - recorded on the page's document
                    failure = describe(exc)
                    rows.append(_page_row(item, loaded, [], (failure.error_class, failure.message)))
        yield pa.RecordBatch.from_pylist(rows, schema=out_schema)
