"""docner annotations: pages out as Label Studio tasks and span JSONL, the most uncertain first;
annotated spans back into the versioned `annotations` table, every offset checked."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from jobs.catalog.tables import ANNOTATIONS, ENTITIES, PAGES
from jobs.cli import main
from jobs.lake.tables import arrow_rows, ensure_tables, read_arrow, write_arrow
from jobs.lake.views import join_pages
from jobs.learn.annotations import (
    AnnotationsError,
    current_annotations,
    export_annotations,
    import_annotations,
    label_config,
    page_uncertainty,
)
from tests.lake_rows import table_row, write_documents

LABELS = ["ORG", "DATE", "GPE", "PERSON"]
PAGE_1 = "SERVICES AGREEMENT\nThis Agreement is made on May 8, 2014 between Acme Inc. and Beta LLC."
PAGE_2 = "Beta LLC is a Delaware company. Signed by Jane Roe."
PAGE_3 = "Gamma GmbH supplies Acme Inc. in Berlin."
NOW = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)


@pytest.fixture
def lake(tmp_path) -> Path:
    """Two documents: acme.pdf (two pages; a model ran, one rule alone) and gamma.pdf (one page)."""
    lake = tmp_path / "lake"
    ensure_tables(lake)
    pages = write_documents(lake, [("d1", "acme.pdf", (PAGE_1, PAGE_2)), ("d2", "gamma.pdf", (PAGE_3,))], NOW)

    def entity(doc_id, page_no, surface, label, score, sources=("spacy",)):
        doc = join_pages([p for p in pages if p["doc_id"] == doc_id])
        page_start = next(start for number, start, _ in doc.pages if number == page_no)
        page_text = next(p["text"] for p in pages if p["doc_id"] == doc_id and p["page_no"] == page_no)
        start = page_text.index(surface)
        return table_row(
            ENTITIES, doc_id=doc_id, entity_id=f"{doc_id}{page_no}{start}{label}", page_no=page_no, start=start,
            end=start + len(surface), end_page_no=page_no, doc_start=page_start + start,
            doc_end=page_start + start + len(surface), text=surface, label=label, score=score, source=sources[0],
            sources=list(sources), model="m", model_version="1", entity_key=surface, run_id="r1",
        )  # fmt: skip

    entities = [
        entity("d1", 1, "May 8, 2014", "DATE", 0.97, ("rules",)),
        entity("d1", 1, "Acme Inc.", "ORG", 0.9),
        entity("d1", 2, "Delaware", "ORG", 0.4),  # unsure, and wrong
        entity("d1", 2, "Jane Roe", "PERSON", None, ("rules",)),  # the rules alone
        entity("d2", 1, "Gamma GmbH", "ORG", 0.95),
    ]
    write_arrow(arrow_rows(ENTITIES, entities), lake, ENTITIES)
    return lake


def test_pages_go_out_most_uncertain_first_with_entities_pre_annotated(lake, tmp_path):
    done = export_annotations(lake, tmp_path / "out", labels=LABELS)
    assert [f.name for f in done.files] == ["tasks.json", "spans.jsonl", "labels.xml"]
    tasks = json.loads((tmp_path / "out" / "tasks.json").read_text())
    order = [(t["data"]["file"], t["data"]["page_no"]) for t in tasks]
    assert order == [("acme.pdf", 2), ("acme.pdf", 1), ("gamma.pdf", 1)]
    # page 2: (0.6 + 0.5) / 2 doubt, plus one of two entities the rules found alone
    assert tasks[0]["predictions"][0]["score"] == pytest.approx((0.6 + 0.5 + 1) / 2)
    for task in tasks:
        for region in task["predictions"][0]["result"]:
            value = region["value"]
            assert task["data"]["text"][value["start"] : value["end"]] == value["text"]
    assert tasks[0]["data"]["doc_start"] == len(PAGE_1) + 2  # after page 1 and the page break
    lines = [json.loads(line) for line in (tmp_path / "out" / "spans.jsonl").read_text().splitlines()]
    assert [(r["file"], r["page_no"], len(r["spans"])) for r in lines] == [("acme.pdf", 2, 2), ("acme.pdf", 1, 2),
                                                                            ("gamma.pdf", 1, 1)]  # fmt: skip
    assert '<Label value="PERSON"/>' in (tmp_path / "out" / "labels.xml").read_text()
    assert export_annotations(lake, tmp_path / "one", labels=LABELS, limit=1).passages == 1


def test_uncertainty_is_doubt_plus_rules_alone():
    sure = {"score": 1.0, "sources": ["spacy"]}
    alone = {"score": 0.9, "sources": ["rules"]}
    assert page_uncertainty([], models_ran=True) == 0.0
    assert page_uncertainty([sure], models_ran=True) == 0.0
    assert page_uncertainty([alone], models_ran=True) == pytest.approx(1.1)
    assert page_uncertainty([alone], models_ran=False) == pytest.approx(0.1)  # rules only: nothing disagrees
    assert page_uncertainty([{"score": None, "sources": ["spacy"]}], models_ran=True) == 0.5


def _labelstudio_export(tasks: list[dict], tmp_path: Path, relabel: dict[str, str]) -> Path:
    """What Label Studio exports after annotators accepted the predictions, relabelling some."""
    exported = []
    for number, task in enumerate(tasks, 1):
        result = []
        for region in task["predictions"][0]["result"]:
            label = relabel.get(region["value"]["text"], region["value"]["labels"][0])
            if label:
                result.append({**region, "value": {**region["value"], "labels": [label]}})
        exported.append({"id": number, "data": task["data"], "annotations": [{"completed_by": {"email": "ann@x.org"},
                         "result": result}]})  # fmt: skip
    path = tmp_path / "export.json"
    path.write_text(json.dumps(exported))
    return path


def test_a_label_studio_round_trip_lands_in_the_stored_text(lake, tmp_path):
    export_annotations(lake, tmp_path / "out", labels=LABELS)
    tasks = json.loads((tmp_path / "out" / "tasks.json").read_text())
    path = _labelstudio_export(tasks, tmp_path, {"Delaware": "GPE", "Gamma GmbH": ""})  # "": deleted
    result = import_annotations(lake, path, fmt="labelstudio", known_labels=LABELS, imported_by="ops", now=NOW)
    assert (result.version, result.documents, result.spans, result.problems) == (1, 2, 4, [])
    rows = read_arrow(lake, ANNOTATIONS.name).to_pylist()
    text = join_pages(_pages(lake, "d1")).text
    for row in (r for r in rows if r["doc_id"] == "d1"):
        assert text[row["start"] : row["end"]] == row["text"]
    delaware = next(r for r in rows if r["text"] == "Delaware")
    assert (delaware["label"], delaware["page_no"], delaware["annotator"]) == ("GPE", 2, "ann@x.org")
    assert (delaware["source"], delaware["source_format"], delaware["imported_by"]) == ("export.json", "labelstudio",
                                                                                        "ops")  # fmt: skip
    assert delaware["record"].startswith("export.json task ")
    assert (delaware["region_start"], delaware["region_end"]) == (len(PAGE_1) + 2, len(PAGE_1) + 2 + len(PAGE_2))
    reviewed = next(r for r in rows if r["doc_id"] == "d2")  # its only entity deleted: a page without any
    assert (reviewed["label"], reviewed["start"], reviewed["end"], reviewed["text"]) == (None, 0, 0, "")
    assert (reviewed["region_start"], reviewed["region_end"]) == (0, len(PAGE_3))


def _pages(lake: Path, doc_id: str) -> list[dict]:
    return [r for r in read_arrow(lake, PAGES.name).to_pylist() if r["doc_id"] == doc_id]


def test_a_later_import_is_a_new_version_and_keeps_the_earlier(lake, tmp_path):
    first = tmp_path / "first.jsonl"
    text = join_pages(_pages(lake, "d1")).text
    first.write_text(json.dumps({"file": "acme.pdf", "spans": [_span(text, "Acme Inc.", "ORG")]}) + "\n")
    second = tmp_path / "second.jsonl"
    second.write_text(
        json.dumps({"file": "acme.pdf", "annotator": "bob", "spans": [_span(text, "Beta LLC", "ORG")]})
        + "\n"
        + json.dumps({"file": "gamma.pdf", "text": PAGE_3, "spans": [_span(PAGE_3, "Berlin", "GPE")]})
        + "\n"
    )
    assert import_annotations(lake, first, fmt="jsonl", known_labels=LABELS).version == 1
    assert import_annotations(lake, second, fmt="jsonl", known_labels=LABELS).version == 2
    rows = read_arrow(lake, ANNOTATIONS.name).to_pylist()
    assert sorted((r["version"], r["text"]) for r in rows) == [(1, "Acme Inc."), (2, "Berlin"), (2, "Beta LLC")]
    current = current_annotations(lake)
    assert [(r["doc_id"], r["text"], r["annotator"]) for r in current] == [("d1", "Beta LLC", "bob"),
                                                                            ("d2", "Berlin", None)]  # fmt: skip


def _span(text: str, surface: str, label: str) -> dict:
    start = text.index(surface)
    return {"start": start, "end": start + len(surface), "label": label}


def test_bad_records_are_named_and_nothing_is_written(lake, tmp_path):
    text = join_pages(_pages(lake, "d1")).text
    path = tmp_path / "bad.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(record)
            for record in (
                {"file": "acme.pdf", "spans": [_span(text, "Acme Inc.", "ORG"), _span(text, "Beta LLC", "COMPANY")]},
                {"file": "acme.pdf", "spans": [{"start": len(text) - 2, "end": len(text) + 5, "label": "ORG"}]},
                {"file": "missing.pdf", "spans": [{"start": 0, "end": 4, "label": "ORG"}]},
                {"file": "gamma.pdf", "text": "Gamma GmbH", "doc_start": 7, "spans": [{"start": 0, "end": 5,
                 "label": "ORG"}]},
            )
        )
        + "\n"
    )  # fmt: skip
    with pytest.raises(AnnotationsError) as raised:
        import_annotations(lake, path, fmt="jsonl", known_labels=LABELS)
    message = str(raised.value)
    assert message.startswith(f"{path}: 4 problem(s), nothing imported:")
    assert "bad.jsonl:1: unknown label 'COMPANY'" in message
    assert "bad.jsonl:2: span" in message and "ends past the" in message
    assert "bad.jsonl:3: the lake holds no document 'missing.pdf'" in message
    assert "bad.jsonl:4: its text is not the stored text at doc_start 7" in message
    assert read_arrow(lake, ANNOTATIONS.name).num_rows == 0
    kept = import_annotations(lake, path, fmt="jsonl", known_labels=LABELS, skip_invalid=True)
    assert (kept.spans, len(kept.problems)) == (1, 4)
    assert [r["text"] for r in read_arrow(lake, ANNOTATIONS.name).to_pylist()] == ["Acme Inc."]


def test_the_commands(lake, tmp_path, capsys):
    assert main(["annotations", "export", "--lake", str(lake), "--out", str(tmp_path / "out"), "--limit", "2"]) == 0
    assert "wrote 2 page(s) with 4 pre-annotated entities" in capsys.readouterr().out
    tasks = json.loads((tmp_path / "out" / "tasks.json").read_text())
    path = _labelstudio_export(tasks, tmp_path, {"Delaware": "NOT_A_LABEL"})
    assert main(["annotations", "import", "--lake", str(lake), str(path)]) == 1
    assert "unknown label 'NOT_A_LABEL'" in capsys.readouterr().err
    assert main(["annotations", "import", "--lake", str(lake), str(path), "--skip-invalid"]) == 0
    out = capsys.readouterr()
    assert "imported 3 span(s) of 1 document(s) from export.json as annotations version 1" in out.out
    assert "left out" in out.err


def test_the_label_config_escapes_labels():
    assert '<Label value="A&amp;B"/>' in label_config(["A&B"])
