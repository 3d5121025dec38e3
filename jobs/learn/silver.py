"""Silver labels: what the pipeline already answers, as training spans where nobody annotated.

``docner train`` can add, for declared labels (``train.silver``: label → source), passages of the
lake's documents that have no annotations at all, labelled by the pipeline:

- ``fields``: the contract key fields stage's answers (:func:`pipeline_spans`): ``PARTY``,
  ``AGREEMENT_DATE`` and ``GOVERNING_LAW``;
- ``rules``: the entities the rules backend proposed for the label (``entities.source`` is
  ``rules``), such as ``SECTION_REF`` or ``MONEY``;
- ``entities``: the NER stage's final entities of the label, whichever backend or resolution
  made them: the whole pipeline distilled into the model (self-training).

A silver passage is a region around its mentions (:func:`jobs.learn.cuad.regions_for`: their
paragraphs), and it trains only: the held-out split and its figures stay on human annotations.
Silver labels teach the model what the pipeline knows (in context, so it generalises to text the
rules miss) at the price of the pipeline's own mistakes: declare them for labels whose
precision was measured (``docner eval``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

import pyarrow.compute as pc

from jobs.catalog.tables import CONTRACT_FIELDS, CONTRACTS, DOCUMENTS, ENTITIES
from jobs.config import CONTRACT_FIELD_LABELS, SILVER_ENTITIES, SILVER_FIELDS, SILVER_RULES, check_silver
from jobs.lake.state import is_primary
from jobs.lake.tables import read_arrow
from jobs.lake.views import stored_texts
from jobs.learn.cuad import LABEL_DATE, LABEL_PARTY, disjoint, regions_for
from jobs.learn.train import Passage

Span = tuple[int, int, str]
PARTY_ENTITY_LABELS = frozenset({"ORG", "PERSON"})


def pipeline_spans(lake: str | Path, doc_ids: Collection[str]) -> dict[str, set[Span]]:
    """The fields stage's answers as spans in ``document_text`` offsets: ``PARTY``: every ORG or
    PERSON entity whose key is one of the contract's parties, and the party values of
    ``contract_fields``; ``AGREEMENT_DATE``: every DATE entity whose value is the contract's
    agreement date, and that value's evidence; ``GOVERNING_LAW``: the governing-law value's
    evidence."""
    wanted = pc.field("doc_id").isin(sorted(doc_ids))
    contracts = {r["doc_id"]: r for r in read_arrow(lake, CONTRACTS.name, None, wanted).to_pylist()}
    found: dict[str, set[Span]] = {doc_id: set() for doc_id in doc_ids}
    columns = ["doc_id", "doc_start", "doc_end", "label", "entity_key", "normalized_value"]
    party_keys = {doc_id: set(contract["party_keys"] or ()) for doc_id, contract in contracts.items()}
    for row in read_arrow(lake, ENTITIES.name, columns, wanted).to_pylist():
        contract = contracts.get(row["doc_id"])
        if contract is None:
            continue
        if row["label"] in PARTY_ENTITY_LABELS and row["entity_key"] in party_keys[row["doc_id"]]:
            found[row["doc_id"]].add((row["doc_start"], row["doc_end"], LABEL_PARTY))
        date = contract["agreement_date"]
        if row["label"] == "DATE" and date is not None and row["normalized_value"] == date.isoformat():
            found[row["doc_id"]].add((row["doc_start"], row["doc_end"], LABEL_DATE))
    columns = ["doc_id", "field", "doc_start", "doc_end"]
    for row in read_arrow(lake, CONTRACT_FIELDS.name, columns, wanted).to_pylist():
        label = CONTRACT_FIELD_LABELS.get(row["field"])
        if label is not None and row["doc_start"] is not None and row["doc_end"] is not None:
            found[row["doc_id"]].add((row["doc_start"], row["doc_end"], label))
    return found


def entity_spans(
    lake: str | Path, doc_ids: Collection[str], labels: Collection[str], source: str | None = None
) -> dict[str, set[Span]]:
    """The NER stage's entities of ``labels`` (only those ``source`` found, when given), by document."""
    found: dict[str, set[Span]] = {doc_id: set() for doc_id in doc_ids}
    wanted = pc.field("doc_id").isin(sorted(doc_ids)) & pc.field("label").isin(sorted(labels))
    columns = ["doc_id", "doc_start", "doc_end", "label", "source"]
    for row in read_arrow(lake, ENTITIES.name, columns, wanted).to_pylist():
        if source is None or row["source"] == source:
            found[row["doc_id"]].add((row["doc_start"], row["doc_end"], row["label"]))
    return found


def silver_passages(lake: str | Path, declared: Mapping[str, str], exclude: Collection[str] = ()) -> list[Passage]:
    """Passages of the lake's documents not in ``exclude`` (the annotated ones), labelled by the
    declared sources, one per region around their mentions; overlapping mentions keep the
    longest."""
    check_silver(declared)
    if not declared:
        return []
    documents = [r for r in read_arrow(lake, DOCUMENTS.name).to_pylist() if is_primary(r)]
    doc_ids = sorted({r["doc_id"] for r in documents} - set(exclude))
    if not doc_ids:
        return []
    spans: dict[str, set[Span]] = {doc_id: set() for doc_id in doc_ids}
    by_source: dict[str, set[str]] = {}
    for label, source in declared.items():
        by_source.setdefault(source, set()).add(label)
    if SILVER_FIELDS in by_source:
        for doc_id, found in pipeline_spans(lake, doc_ids).items():
            spans[doc_id] |= {s for s in found if s[2] in by_source[SILVER_FIELDS]}
    if SILVER_RULES in by_source:
        for doc_id, found in entity_spans(lake, doc_ids, by_source[SILVER_RULES], SILVER_RULES).items():
            spans[doc_id] |= found
    if SILVER_ENTITIES in by_source:
        for doc_id, found in entity_spans(lake, doc_ids, by_source[SILVER_ENTITIES]).items():
            spans[doc_id] |= found
    texts = {d: t.text for d, t in stored_texts(lake, [d for d, found in spans.items() if found]).items()}
    passages = []
    for doc_id, text in sorted(texts.items()):
        chosen = disjoint(s for s in spans[doc_id] if 0 <= s[0] < s[1] <= len(text))
        for first, last in regions_for(text, [(s, e) for s, e, _ in chosen]):
            inside = tuple((s - first, e - first, label) for s, e, label in chosen if first <= s and e <= last)
            passages.append(Passage(doc_id, text[first:last], inside, first))
    return passages
