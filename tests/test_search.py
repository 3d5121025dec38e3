"""entity_search: the per-document transform, and its incremental ``_bulk`` export."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from pathlib import Path

import pytest
from deltalake import DeltaTable
from pyspark.sql import types as T

from jobs.catalog.tables import CONTRACTS, DOCUMENTS, ENTITIES, ENTITY_SEARCH
from jobs.lake.tables import LakeError, arrow_rows, in_list, read_arrow, table_path, write_arrow, write_table
from jobs.ops.export_search import export_search, export_state_path
from jobs.stages.entity_search import transform_entity_search

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


def _entity(doc_id, label, key, text, doc_start, *, page_no=1, end_page_no=None, value=None, score=0.9):
    start = doc_start % 1000
    return {
        "doc_id": doc_id,
        "entity_id": hashlib.sha256(f"{doc_id}/{doc_start}/{label}".encode()).hexdigest(),
        "page_no": page_no,
        "start": start,
        "end": start + len(text),
        "end_page_no": end_page_no or page_no,
        "doc_start": doc_start,
        "doc_end": doc_start + len(text),
        "text": text,
        "label": label,
        "score": score,
        "x0": None,
        "top": None,
        "x1": None,
        "bottom": None,
        "source": "rules",
        "sources": ["rules"],
        "rule": "r1",
        "model": "rules",
        "model_version": "1",
        "normalized_value": value,
        "currency": None,
        "entity_key": key,
        "run_id": "r1",
    }


def _state(status):
    return {
        "status": status,
        "error_class": None,
        "error_message": None,
        "version": "v1",
        "run_id": "r1",
        "finished_at": NOW,
    }


def _document(doc_id, source_path=None, *, status="ok", ingest="ok", page_count=3):
    source_path = source_path or f"/in/{doc_id}.pdf"
    return {
        "doc_id": doc_id,
        "source_path": source_path,
        "file_name": Path(source_path).name,
        "size_bytes": 100,
        "modified_at": NOW,
        "page_count": page_count,
        "status": status,
        "error_class": None,
        "error_message": None,
        "error_stage": None,
        "ingest_state": _state(ingest),
        "extract_state": _state("ok") if ingest == "ok" else None,
        "ner_state": _state("ok") if ingest == "ok" else None,
        "run_id": "r1",
        "ingested_at": NOW,
    }


# Document "a": entities in no particular order; "b": none; "c": entities but no documents row
# given; "d": removed. "a" also has a duplicate row (same bytes at another path).
ENTITY_ROWS = [
    _entity("a", "ORG", "acme", "Acme Corp.", 500, page_no=2),
    _entity("a", "ORG", "acme", "ACME", 10),
    _entity("a", "ORG", "acme", "Acme Corp.", 100),
    _entity("a", "PERSON", "acme", "Acme", 300),
    _entity("a", "DATE", "2024-01-01", "January 1, 2024", 900, value="2024-01-01"),
    _entity("a", "DATE", "2024-01-01", "1 Jan 2024", 2990, page_no=2, end_page_no=3, value="2024-01-01"),
    _entity("a", "DATE", "2024-01-01", "1 Jan. 2024", 3200, page_no=3),
    _entity("a", "AMOUNT", "100", "zz", 40, value=None),
    _entity("a", "AMOUNT", "100", "aa", 50, value="100.00"),
    _entity("a", "AMOUNT", "100", "bbb", 60, value="100.0"),
    _entity("a", "AMOUNT", "100", "bbb", 70, value=None),
    _entity("c", "ORG", "other", "Other", 5),
    _entity("d", "ORG", "gone", "Gone", 5),
]
DOCUMENT_ROWS = [
    _document("a", "/in/a.pdf"),
    _document("a", "/in/copy/a-again.pdf", status="skipped", ingest="skipped"),
    _document("b", page_count=None),
    _document("d", status="removed", ingest="removed"),
]


def _search(spark, entity_rows=ENTITY_ROWS, document_rows=DOCUMENT_ROWS, run_id="run-1", schema=ENTITIES.schema):
    entities_df = spark.createDataFrame(entity_rows, schema)
    documents_df = spark.createDataFrame(document_rows, DOCUMENTS.schema)
    return transform_entity_search(entities_df, documents_df, run_id)


def _by_doc(df):
    return {row["doc_id"]: row.asDict(recursive=True) for row in df.collect()}


def test_entities_are_grouped_by_label_and_key_with_the_most_frequent_text(spark):
    a = _by_doc(_search(spark))["a"]
    assert a["file_name"] == "a.pdf" and a["source_path"] == "/in/a.pdf"  # the primary row's
    assert (a["page_count"], a["status"], a["run_id"]) == (3, "ok", "run-1")
    assert [(e["label"], e["entity_key"]) for e in a["entities"]] == [
        ("AMOUNT", "100"),
        ("DATE", "2024-01-01"),
        ("ORG", "acme"),
        ("PERSON", "acme"),
    ]
    amount, date, org, person = a["entities"]
    assert (org["text"], org["mentions"], org["pages"]) == ("Acme Corp.", 3, [1, 2])
    assert [s["doc_start"] for s in org["spans"]] == [10, 100, 500]
    assert org["spans"][0] == {"page_no": 1, "start": 10, "end": 14, "doc_start": 10, "doc_end": 14}
    assert org["normalized_value"] is None
    assert (person["text"], person["mentions"]) == ("Acme", 1)
    # Three texts once each: the shortest wins; the entity runs over pages 2-3.
    assert (date["text"], date["normalized_value"], date["pages"]) == ("1 Jan 2024", "2024-01-01", [1, 2, 3])
    # "bbb" twice beats shorter texts; the non-null values tie once each: shortest, then first.
    assert (amount["text"], amount["normalized_value"], amount["mentions"]) == ("bbb", "100.0", 4)
    assert a["labels"] == ["AMOUNT", "DATE", "ORG", "PERSON"]
    assert a["entity_count"] == len([r for r in ENTITY_ROWS if r["doc_id"] == "a"])


def test_text_ties_go_to_the_shortest_then_the_first(spark):
    rows = [
        _entity("a", "ORG", "k", "Beta Co", 1),
        _entity("a", "ORG", "k", "Alfa Co", 20),
        _entity("a", "ORG", "k", "Alfa Company", 40),
        _entity("a", "ORG", "k", "Alfa Company", 60),
        _entity("a", "ORG", "k", "Beta Co", 80),
        _entity("a", "ORG", "k", "Alfa Co", 99),
    ]
    entity = _by_doc(_search(spark, rows))["a"]["entities"][0]
    assert (entity["text"], entity["mentions"]) == ("Alfa Co", 6)


def test_documents_without_entities_get_a_row_and_only_given_documents_do(spark):
    rows = _by_doc(_search(spark))
    assert sorted(rows) == ["a", "b"]  # not c (no documents row given), not d (removed)
    b = rows["b"]
    assert (b["entity_count"], b["labels"], b["entities"], b["page_count"]) == (0, [], [], None)
    assert len(b["search_hash"]) == 64 and int(b["search_hash"], 16) >= 0


def test_output_schema_is_entity_search_even_from_nullable_input(spark):
    assert _search(spark).schema == ENTITY_SEARCH.schema
    # Tables read back through Spark's Parquet reader are all nullable.
    nullable = T.StructType([T.StructField(f.name, f.dataType, True) for f in ENTITIES.schema.fields])
    assert _search(spark, schema=nullable).schema == ENTITY_SEARCH.schema


def test_search_hash_changes_with_the_content_only(spark):
    base = {doc_id: row["search_hash"] for doc_id, row in _by_doc(_search(spark)).items()}
    shuffled = ENTITY_ROWS[::-1]
    random.Random(7).shuffle(shuffled)
    rescored = [{**row, "score": 0.1, "entity_id": row["entity_id"][::-1], "run_id": "r9"} for row in shuffled]
    same = {doc_id: row["search_hash"] for doc_id, row in _by_doc(_search(spark, rescored, run_id="run-2")).items()}
    assert same == base

    moved = [{**row, "doc_end": row["doc_end"] + 1} if row["doc_start"] == 300 else row for row in ENTITY_ROWS]
    changed = {doc_id: row["search_hash"] for doc_id, row in _by_doc(_search(spark, moved)).items()}
    assert changed["a"] != base["a"] and changed["b"] == base["b"]

    renamed = [_document("b", "/in/renamed.pdf", page_count=None), *DOCUMENT_ROWS[:2]]
    renamed_hashes = {d: r["search_hash"] for d, r in _by_doc(_search(spark, document_rows=renamed)).items()}
    assert renamed_hashes["b"] != base["b"] and renamed_hashes["a"] == base["a"]


# --- export -----------------------------------------------------------------------------------


def _search_row(doc_id, search_hash, *, entities=(("ORG", "acme", "Acme"),)):
    return {
        "doc_id": doc_id,
        "file_name": f"{doc_id}.pdf",
        "source_path": f"/in/{doc_id}.pdf",
        "page_count": 2,
        "status": "ok",
        "entity_count": len(entities),
        "labels": sorted({label for label, _, _ in entities}),
        "entities": [
            {
                "label": label,
                "entity_key": key,
                "text": text,
                "normalized_value": None,
                "mentions": 1,
                "pages": [1],
                "spans": [{"page_no": 1, "start": 0, "end": len(text), "doc_start": 0, "doc_end": len(text)}],
            }
            for label, key, text in entities
        ],
        "search_hash": search_hash,
        "run_id": "r1",
    }


def _lake(tmp_path, doc_ids=("a", "b", "c")) -> Path:
    lake = tmp_path / "lake"
    write_arrow(arrow_rows(DOCUMENTS, [_document(doc_id) for doc_id in doc_ids]), lake, DOCUMENTS)
    write_arrow(
        arrow_rows(ENTITY_SEARCH, [_search_row(doc_id, f"h-{doc_id}") for doc_id in doc_ids]), lake, ENTITY_SEARCH
    )
    return lake


def _version(lake) -> int:
    return DeltaTable(table_path(lake, ENTITY_SEARCH.name)).version()


def _replace(lake, spec, doc_id, rows):
    write_arrow(arrow_rows(spec, rows), lake, spec, replace_where=in_list("doc_id", [doc_id]))


def _actions(path) -> list[tuple[str, str, dict | None]]:
    """(action, _id, source) per action of a ``_bulk`` file, checking its shape line by line."""
    text = Path(path).read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n")
    lines = iter(text.split("\n")[:-1])
    actions = []
    for line in lines:
        action = json.loads(line)
        assert len(action) == 1
        kind, meta = next(iter(action.items()))
        assert set(meta) == {"_index", "_id"} and meta["_index"] == "docs"
        if kind == "index":
            source = json.loads(next(lines))
            assert source["doc_id"] == meta["_id"]
            actions.append((kind, meta["_id"], source))
        else:
            assert kind == "delete"
            actions.append((kind, meta["_id"], None))
    return actions


def test_export_writes_only_what_changed_and_deletes_what_is_gone(tmp_path):
    lake = _lake(tmp_path)
    out = tmp_path / "out" / "bulk.ndjson"
    state_path = export_state_path(lake, "docs")

    first = export_search(lake, out, index="docs")
    assert (first.indexed, first.deleted, first.unchanged) == (3, 0, 0)
    assert first.path == str(out.absolute())
    actions = _actions(out)
    assert [(kind, doc_id) for kind, doc_id, _ in actions] == [("index", "a"), ("index", "b"), ("index", "c")]
    source = actions[0][2]
    assert source["entities"][0]["text"] == "Acme" and source["entities"][0]["spans"][0]["doc_end"] == 4
    assert (source["entity_keys"], source["entity_texts"], source["labels"]) == (["acme"], ["Acme"], ["ORG"])
    assert source["search_hash"] == "h-a" and "run_id" not in source
    state = json.loads(state_path.read_text())
    assert state == {
        "entity_search_version": _version(lake),
        "contracts_version": None,  # this lake has no contracts table
        "documents": {"a": "h-a", "b": "h-b", "c": "h-c"},
    }
    assert first.entity_search_version == _version(lake)

    saved = state_path.read_bytes()
    again = export_search(lake, out, index="docs")
    assert (again.indexed, again.deleted, again.unchanged) == (0, 0, 3)
    assert out.read_bytes() == b""  # written, and empty: an earlier file is never sent twice
    assert state_path.read_bytes() == saved

    _replace(
        lake, ENTITY_SEARCH, "b", [_search_row("b", "h-b2", entities=(("ORG", "acme", "Acme"), ("DATE", "d", "D")))]
    )
    changed = export_search(lake, out, index="docs")
    assert (changed.indexed, changed.deleted, changed.unchanged) == (1, 0, 2)
    [(kind, doc_id, source)] = _actions(out)
    assert (kind, doc_id, source["labels"], source["entity_keys"]) == ("index", "b", ["DATE", "ORG"], ["acme", "d"])
    assert json.loads(state_path.read_text())["documents"] == {"a": "h-a", "b": "h-b2", "c": "h-c"}

    # c leaves entity_search; a's only documents row is removed (its search row lingers).
    _replace(lake, ENTITY_SEARCH, "c", [])
    _replace(lake, DOCUMENTS, "a", [_document("a", status="removed", ingest="removed")])
    removed = export_search(lake, out, index="docs")
    assert (removed.indexed, removed.deleted, removed.unchanged) == (0, 2, 1)
    assert _actions(out) == [("delete", "a", None), ("delete", "c", None)]
    state = json.loads(state_path.read_text())
    assert state == {"entity_search_version": _version(lake), "contracts_version": None, "documents": {"b": "h-b2"}}
    assert removed.entity_search_version == first.entity_search_version + 2

    full = export_search(lake, out, index="docs", full=True)
    assert (full.indexed, full.deleted, full.unchanged) == (1, 0, 0)
    assert [(kind, doc_id) for kind, doc_id, _ in _actions(out)] == [("index", "b")]
    # Another index keeps its own state: everything is new there.
    other = export_search(lake, tmp_path / "other.ndjson", index="docs-v2")
    assert (other.indexed, other.deleted) == (1, 0)


def test_a_failed_export_leaves_the_file_and_the_state_as_they_were(tmp_path, monkeypatch):
    import jobs.ops.export_search

    lake = _lake(tmp_path)
    out = tmp_path / "bulk.ndjson"
    export_search(lake, out, index="docs")
    before_file, before_state = out.read_bytes(), export_state_path(lake, "docs").read_bytes()
    _replace(lake, ENTITY_SEARCH, "a", [_search_row("a", "h-a2")])
    _replace(lake, ENTITY_SEARCH, "b", [_search_row("b", "h-b2")])

    calls = []
    source = jobs.ops.export_search.search_source

    def failing(row, contract=None):
        calls.append(row["doc_id"])
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return source(row, contract)

    monkeypatch.setattr(jobs.ops.export_search, "search_source", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        export_search(lake, out, index="docs")
    assert calls == ["a", "b"]
    assert out.read_bytes() == before_file
    assert export_state_path(lake, "docs").read_bytes() == before_state
    assert sorted(p.name for p in out.parent.iterdir() if p.name.endswith(".tmp")) == []

    monkeypatch.undo()
    retried = export_search(lake, out, index="docs")
    assert (retried.indexed, retried.unchanged) == (2, 1)


def test_export_refuses_index_names_that_are_not_safe(tmp_path):
    lake = _lake(tmp_path, ("a",))
    for index in ("Docs", "../docs", "", "_docs", "a b"):
        with pytest.raises(ValueError, match="index"):
            export_search(lake, tmp_path / "x.ndjson", index=index)


def test_transform_output_writes_to_the_table_and_exports(spark, tmp_path):
    """The transform's rows go through the Delta writer as they are and come out in the export."""
    lake = tmp_path / "lake"
    write_arrow(arrow_rows(DOCUMENTS, DOCUMENT_ROWS), lake, DOCUMENTS)
    written = write_table(_search(spark), lake, ENTITY_SEARCH)
    assert written.rows == 2
    stored = {row["doc_id"]: row for row in read_arrow(lake, ENTITY_SEARCH.name).to_pylist()}
    result = export_search(lake, tmp_path / "bulk.ndjson", index="docs")
    assert (result.indexed, result.deleted) == (2, 0)
    sources = {doc_id: source for _, doc_id, source in _actions(tmp_path / "bulk.ndjson")}
    assert sources["a"]["entity_keys"] == ["100", "2024-01-01", "acme"]
    assert sources["a"]["entity_texts"] == ["1 Jan 2024", "Acme", "Acme Corp.", "bbb"]
    assert sources["a"]["entities"] == stored["a"]["entities"]
    assert sources["b"]["entities"] == [] and sources["b"]["page_count"] is None


def test_one_export_per_index_at_a_time(tmp_path):
    import fcntl

    lake = _lake(tmp_path)
    out = tmp_path / "bulk.ndjson"
    state_path = export_state_path(lake, "docs")
    lock_path = state_path.with_name(state_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as running:  # what a running export holds
        fcntl.flock(running.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(LakeError, match="another export-search to index 'docs' is running"):
            export_search(lake, out, index="docs")
        assert not out.exists() and not state_path.exists()
        other = export_search(lake, tmp_path / "v2.ndjson", index="docs-v2")  # another index is free
        assert other.indexed == 3
    first = export_search(lake, out, index="docs")  # released: the next export goes ahead
    assert first.indexed == 3
    assert export_search(lake, out, index="docs").indexed == 0  # and released its own lock


# --- contracts in the export ------------------------------------------------------------------


def _contract_row(doc_id, *, run_id="r1", **fields):
    return {
        "doc_id": doc_id,
        "title": "DISTRIBUTION AGREEMENT",
        "parties": [
            {"name": "Acme Corp.", "role": "Licensor", "alias": "Acme", "key": "acme"},
            {"name": "Beta LLC", "role": None, "alias": None, "key": "beta"},
        ],
        "party_keys": ["acme", "beta"],
        "agreement_date": dt.date(2024, 1, 31),
        "effective_date": dt.date(2024, 2, 1),
        "expiration_date": None,
        "term": "P3Y",
        "renewal_term": None,
        "notice_period": "P30D",
        "governing_law": "New York",
        "missing_fields": ["renewal_term", "expiration_date"],
        "run_id": run_id,
        **fields,
    }


CONTRACT_A = {
    "title": "DISTRIBUTION AGREEMENT",
    "parties": [
        {"name": "Acme Corp.", "role": "Licensor", "alias": "Acme", "key": "acme"},
        {"name": "Beta LLC", "role": None, "alias": None, "key": "beta"},
    ],
    "party_keys": ["acme", "beta"],
    "agreement_date": "2024-01-31",
    "effective_date": "2024-02-01",
    "expiration_date": None,
    "term": "P3Y",
    "renewal_term": None,
    "notice_period": "P30D",
    "governing_law": "New York",
    "missing_fields": ["renewal_term", "expiration_date"],
}


def _contract_lake(tmp_path) -> Path:
    """The three documents of :func:`_lake`; only "a" has a contracts row."""
    lake = _lake(tmp_path)
    write_arrow(arrow_rows(CONTRACTS, [_contract_row("a")]), lake, CONTRACTS)
    return lake


def _sources(path) -> dict[str, dict]:
    """The documents of the index actions by _id (after :func:`_actions` checked the file)."""
    return {doc_id: source for _, doc_id, source in _actions(path) if source is not None}


def test_export_carries_each_documents_contract_fields(tmp_path):
    lake = _contract_lake(tmp_path)
    out = tmp_path / "bulk.ndjson"
    result = export_search(lake, out, index="docs")
    assert (result.indexed, result.contracts_version) == (3, DeltaTable(table_path(lake, "contracts")).version())
    sources = _sources(out)
    assert sources["a"]["contract"] == CONTRACT_A  # ISO dates, parties as objects, no doc_id / run_id
    assert sources["b"]["contract"] is None and sources["c"]["contract"] is None
    assert sources["a"]["search_hash"] == "h-a"  # entity_search's own hash, as before
    documents = json.loads(export_state_path(lake, "docs").read_text())["documents"]
    search_hash, _, contract_hash = documents["a"].partition(":")
    assert search_hash == "h-a" and len(contract_hash) == 64 and int(contract_hash, 16) >= 0
    assert (documents["b"], documents["c"]) == ("h-b", "h-c")  # no contract: the bare search_hash


def test_a_changed_contract_reexports_its_document_and_an_unchanged_one_does_not(tmp_path):
    lake = _contract_lake(tmp_path)
    out = tmp_path / "bulk.ndjson"
    export_search(lake, out, index="docs")

    # The fields stage wrote a's row again, in another run, with the same answers.
    _replace(lake, CONTRACTS, "a", [_contract_row("a", run_id="r2")])
    same = export_search(lake, out, index="docs")
    assert (same.indexed, same.unchanged) == (0, 3) and _actions(out) == []

    changes: list[tuple[dict, dict]] = [
        (_contract_row("a", governing_law="Delaware"), {"governing_law": "Delaware"}),
        (_contract_row("a", expiration_date=dt.date(2027, 1, 31)), {"expiration_date": "2027-01-31"}),
        (
            _contract_row("a", parties=[], party_keys=[], missing_fields=["party"]),
            {"parties": [], "party_keys": [], "missing_fields": ["party"]},
        ),
    ]
    for changed_row, changed in changes:
        _replace(lake, CONTRACTS, "a", [changed_row])
        result = export_search(lake, out, index="docs")
        assert (result.indexed, result.unchanged) == (1, 2)
        assert [(kind, doc_id) for kind, doc_id, _ in _actions(out)] == [("index", "a")]
        assert _sources(out)["a"]["contract"] == {**CONTRACT_A, **changed}

    # b gains a contract, a loses its own (its document is read again): both go out again.
    _replace(lake, CONTRACTS, "b", [_contract_row("b")])
    _replace(lake, CONTRACTS, "a", [])
    result = export_search(lake, out, index="docs")
    assert (result.indexed, result.unchanged) == (2, 1)
    sources = _sources(out)
    assert sources["a"]["contract"] is None and sources["b"]["contract"] == CONTRACT_A
    assert json.loads(export_state_path(lake, "docs").read_text())["documents"]["a"] == "h-a"
    assert export_search(lake, out, index="docs").indexed == 0


def test_a_lake_without_contracts_exports_as_before(tmp_path):
    lake = _lake(tmp_path)
    assert not (lake / "contracts").exists()
    out = tmp_path / "bulk.ndjson"
    result = export_search(lake, out, index="docs")
    assert (result.indexed, result.deleted, result.contracts_version) == (3, 0, None)
    sources = _sources(out)
    assert [sources[doc_id]["contract"] for doc_id in "abc"] == [None, None, None]
    assert sources["a"]["entity_keys"] == ["acme"] and sources["a"]["search_hash"] == "h-a"
    state = json.loads(export_state_path(lake, "docs").read_text())
    assert state["documents"] == {"a": "h-a", "b": "h-b", "c": "h-c"}  # what the old export wrote
    assert export_search(lake, out, index="docs").indexed == 0


def test_a_state_from_before_contracts_sends_only_the_documents_with_a_contract_again(tmp_path):
    """An export state written before contracts (bare search_hashes, no contracts_version): the
    documents that now have a contract are sent once more, with it; the others are not."""
    lake = _contract_lake(tmp_path)
    state_path = export_state_path(lake, "docs")
    state_path.parent.mkdir(parents=True)
    old = {"entity_search_version": _version(lake), "documents": {"a": "h-a", "b": "h-b", "c": "h-c"}}
    state_path.write_text(json.dumps(old, indent=1))
    out = tmp_path / "bulk.ndjson"
    result = export_search(lake, out, index="docs")
    assert (result.indexed, result.deleted, result.unchanged) == (1, 0, 2)
    assert [(kind, doc_id) for kind, doc_id, _ in _actions(out)] == [("index", "a")]
    assert _sources(out)["a"]["contract"] == CONTRACT_A
    assert export_search(lake, out, index="docs").indexed == 0


def test_contracts_holding_a_document_twice_fail_the_export(tmp_path):
    lake = _lake(tmp_path)
    write_arrow(arrow_rows(CONTRACTS, [_contract_row("a"), _contract_row("a", title="OTHER")]), lake, CONTRACTS)
    out = tmp_path / "bulk.ndjson"
    with pytest.raises(LakeError, match="contracts holds document a twice"):
        export_search(lake, out, index="docs")
    assert not out.exists() and not export_state_path(lake, "docs").exists()
