"""The fields stage: its worker (udfs.fields.run), its calibration, and its Spark transforms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from udfs.fields.calibrate import Calibration, CalibrationError, fit, load_calibration
from udfs.fields.extract import FIELD_NAMES
from udfs.fields.rules import load_field_rules
from udfs.fields.run import ENTITY_COLUMNS, FieldsOptions, contract_summary, document_outcome, field_rows

PAGE_1 = (
    "MASTER SERVICES AGREEMENT\nThis Agreement is entered into as of March 15, 2023 by and between Acme Robotics, Inc. "
    '("Provider") and Globex Corporation ("Client").'
)
PAGE_2 = "This Agreement is governed by the laws of the State of Delaware."
RULES = load_field_rules(Path(__file__).resolve().parent.parent / "conf" / "rules")
TEXT = PAGE_1 + "\n\n" + PAGE_2
PAGES = [
    {"page_no": 1, "start": 0, "end": len(PAGE_1)},
    {"page_no": 2, "start": len(PAGE_1) + 2, "end": len(TEXT)},
]


def _entity(text: str, label: str, *, occurrence: int = 0, **extra: object) -> dict[str, object]:
    start = -1
    for _ in range(occurrence + 1):
        start = TEXT.index(text, start + 1)
    key = extra.pop("entity_key", " ".join(text.lower().replace(",", "").replace(".", "").split()))
    return {
        "entity_id": f"e{start}",
        "doc_start": start,
        "doc_end": start + len(text),
        "text": text,
        "label": label,
        "rule": extra.pop("rule", None),
        "entity_key": key,
        "refers_to_key": extra.pop("refers_to_key", None),
        "normalized_value": extra.pop("normalized_value", None),
    }


ENTITIES = [
    _entity("March 15, 2023", "DATE", normalized_value="2023-03-15"),
    _entity("Acme Robotics, Inc.", "ORG", rule="org-legal-form", entity_key="acme robotics"),
    _entity("Provider", "ALIAS", rule="alias-parenthetical", refers_to_key="acme robotics"),
    _entity("Globex Corporation", "ORG", rule="org-legal-form", entity_key="globex"),
    _entity("Client", "ALIAS", rule="alias-parenthetical", refers_to_key="globex"),
    _entity("Delaware", "GPE"),
]
ITEM = {"doc_id": "d1", "text": TEXT, "pages": PAGES, "entities": ENTITIES}


def test_a_contract_gets_its_fields_with_evidence_on_its_pages():
    outcome = document_outcome(ITEM, FieldsOptions(RULES))
    assert outcome["error_class"] is None and outcome["unplaced"] == 0
    rows = outcome["values"]
    by_field = {}
    for row in rows:
        by_field.setdefault(row["field"], []).append(row)
        assert TEXT[row["doc_start"] : row["doc_end"]] == row["value"]
        page = PAGE_1 if row["page_no"] == 1 else PAGE_2
        assert page[row["start"] : row["end"]] == row["value"]
        assert 0 <= row["confidence"] <= 1
    assert [r["value"] for r in by_field["party"]] == ["Acme Robotics, Inc.", "Globex Corporation"]
    assert [r["party_alias"] for r in by_field["party"]] == ["Provider", "Client"]
    assert by_field["agreement_date"][0]["normalized_value"] == "2023-03-15"
    assert by_field["governing_law"][0]["normalized_value"] == "Delaware"
    assert by_field["governing_law"][0]["page_no"] == 2
    contract = outcome["contract"]
    assert contract["title"] == "MASTER SERVICES AGREEMENT"
    assert [p["key"] for p in contract["parties"]] == ["acme robotics", "globex"]
    assert contract["party_keys"] == ["acme robotics", "globex"]
    assert str(contract["effective_date"]) == "2023-03-15"
    assert contract["missing_fields"] == ["term", "renewal_term", "notice_period", "expiration_date"]


def test_a_document_without_text_or_entities_is_ok_with_every_field_missing():
    for item in (
        {"doc_id": "d", "text": None, "pages": None, "entities": None},
        {"doc_id": "d", "text": "Le présent contrat est conclu entre les parties.", "pages": [], "entities": []},
    ):
        outcome = document_outcome(item, FieldsOptions(RULES))
        assert outcome["error_class"] is None and outcome["values"] == []
        assert outcome["contract"]["missing_fields"] == list(FIELD_NAMES)
        assert outcome["contract"]["parties"] == [] and outcome["contract"]["title"] is None


def test_a_failure_is_recorded_on_the_document_not_raised():
    broken = dict(ITEM, entities=[{"doc_start": 0}])  # an entity without its columns
    outcome = document_outcome(broken, FieldsOptions(RULES))
    assert outcome["error_class"] == "KeyError" and outcome["contract"] is None and outcome["values"] == []


def test_evidence_in_no_page_is_dropped_and_counted():
    # Only page 2 is stored: the preamble's values have nowhere to point.
    outcome = document_outcome(dict(ITEM, pages=PAGES[1:]), FieldsOptions(RULES))
    assert {r["field"] for r in outcome["values"]} == {"governing_law"}
    assert outcome["unplaced"] >= 3
    assert "party" in outcome["contract"]["missing_fields"]


def test_only_the_configured_fields_are_written():
    rows, _ = field_rows(TEXT, PAGES, ENTITIES, FieldsOptions(RULES, fields=("party", "governing_law")))
    assert {r["field"] for r in rows} == {"party", "governing_law"}
    # the fields not asked for are not "missing" either
    assert contract_summary(rows, ("party", "governing_law"))["missing_fields"] == []


def test_ranks_follow_the_calibrated_confidence():
    calibration = Calibration({("party", "defined-party"): (1, 10), ("party", "listed-party"): (10, 10)})
    rows, _ = field_rows(TEXT, PAGES, ENTITIES, FieldsOptions(RULES, calibration=calibration))
    parties = [r for r in rows if r["field"] == "party"]
    assert [r["rank"] for r in parties] == list(range(1, len(parties) + 1))
    assert [r["confidence"] for r in parties] == sorted((r["confidence"] for r in parties), reverse=True)


def test_the_summary_takes_the_best_readable_value():
    def row(field, rank, value):
        return {"field": field, "rank": rank, "value": "x", "normalized_value": value, "doc_start": rank}

    rows = [row("agreement_date", 1, None), row("agreement_date", 2, "2020-01-31"), row("term", 1, "P2Y")]
    summary = contract_summary(rows)
    assert str(summary["agreement_date"]) == "2020-01-31" and summary["term"] == "P2Y"
    assert "agreement_date" not in summary["missing_fields"] and "governing_law" in summary["missing_fields"]


@given(
    right=st.integers(0, 200),
    extra=st.integers(0, 200),
    low=st.floats(0, 1),
    high=st.floats(0, 1),
)
def test_confidence_is_a_probability_that_grows_with_the_score(right, extra, low, high):
    calibration = Calibration({("party", "m"): (right, right + extra)})
    low, high = min(low, high), max(low, high)
    a, b = calibration.confidence("party", "m", low), calibration.confidence("party", "m", high)
    assert 0 <= a <= b <= 1
    # an unseen method keeps its raw score
    assert calibration.confidence("party", "unseen", high) == round(high, 4)


def test_confidence_follows_the_share_right_when_the_method_was_seen_often():
    calibration = Calibration({("governing_law", "law-clause"): (95, 100)})
    assert calibration.confidence("governing_law", "law-clause", 0.5) == pytest.approx(0.95, abs=0.02)


def test_a_fitted_table_loads_back(tmp_path):
    path = tmp_path / "calibration.json"
    counts = {("party", "defined-party"): (9, 10), ("agreement_date", "preamble-date"): (7, 8)}
    counts[("agreement_date", "preamble-date; order by places")] = (1, 2)  # the same method
    path.write_text(json.dumps(fit(counts, fitted_on="gold")))
    loaded = load_calibration(path)
    assert loaded.counts == {("party", "defined-party"): (9, 10), ("agreement_date", "preamble-date"): (8, 10)}
    assert loaded.fitted_on == "gold" and len(loaded.digest) == 16
    assert loaded.confidence("agreement_date", "preamble-date; order by none", 1.0) == round((8 + 4) / 14, 4)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such calibration file"),
        ("{", "not JSON"),
        ('{"format": 2}', "not a calibration table"),
        ('{"format": 1, "methods": [{"field": "party", "method": "m", "right": 3, "total": 2}]}', "3 right of 2"),
        ('{"format": 1, "methods": [{"field": "party"}]}', "malformed"),
    ],
)
def test_a_bad_calibration_file_is_refused_with_its_path(tmp_path, content, message):
    path = tmp_path / "calibration.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CalibrationError, match=message):
        load_calibration(path)


def test_the_shipped_calibration_loads():
    from jobs.config import load_config, resolve_conf_path

    config = load_config("local")
    assert config.fields.calibration is not None
    loaded = load_calibration(resolve_conf_path(config, config.fields.calibration))
    assert loaded.counts and "cuad" in loaded.fitted_on.casefold()


def test_every_document_gets_one_outcome_through_spark(spark):
    """Documents with no ok page or no entities still get an outcome and a contracts row; the
    rows get the word boxes of their page."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from jobs.catalog.tables import CONTRACT_FIELDS, CONTRACTS, PAGES
    from jobs.catalog.tables import ENTITIES as ENTITIES_TABLE
    from jobs.stages.fields import contract_rows, explode_fields, transform_documents, transform_fields

    def page(doc_id, page_no, text):
        row = {f.name: None for f in PAGES.schema.fields} | {
            "doc_id": doc_id,
            "page_no": page_no,
            "status": "ok",
            "method": "text",
            "text": text,
            "char_count": len(text),
            "word_boxes": [{"start": 0, "end": 6, "x0": 1.0, "top": 2.0, "x1": 3.0, "bottom": 4.0}],
            "run_id": "r",
        }
        return tuple(row[f.name] for f in PAGES.schema.fields)

    pages_df = spark.createDataFrame([page("d1", 1, PAGE_1), page("d1", 2, PAGE_2), page("d2", 1, "")], PAGES.schema)
    # the entities columns the worker reads
    schema = T.StructType([ENTITIES_TABLE.schema["doc_id"], *(ENTITIES_TABLE.schema[name] for name in ENTITY_COLUMNS)])
    schema = T.StructType([T.StructField(f.name, f.dataType, True) for f in schema.fields])
    entities_df = spark.createDataFrame(
        [tuple(({"doc_id": "d1"} | e)[name] for name in schema.fieldNames()) for e in ENTITIES], schema
    )
    doc_ids = spark.createDataFrame(
        [("d1",), ("d2",), ("d3",)], T.StructType([T.StructField("doc_id", T.StringType())])
    )
    outcomes = transform_fields(transform_documents(doc_ids, pages_df, entities_df), FieldsOptions(RULES)).cache()
    assert sorted(r["doc_id"] for r in outcomes.where(F.col("error_class").isNull()).collect()) == ["d1", "d2", "d3"]
    contracts = {r["doc_id"]: r for r in contract_rows(outcomes, "r").collect()}
    assert set(contracts) == {"d1", "d2", "d3"} and contracts["d3"]["missing_fields"] == list(FIELD_NAMES)
    assert contract_rows(outcomes, "r").schema.fieldNames() == CONTRACTS.schema.fieldNames()
    values = explode_fields(outcomes, pages_df, "r").collect()
    assert values and values[0].asDict().keys() == set(CONTRACT_FIELDS.schema.fieldNames())
    title = next(v for v in values if v["field"] == "document_title")
    assert (title["x0"], title["top"], title["x1"], title["bottom"]) == (1.0, 2.0, 3.0, 4.0)
    law = next(v for v in values if v["field"] == "governing_law")
    assert law["x0"] is None  # no word box of page 2 overlaps it
