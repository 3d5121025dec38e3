"""Write-audit-publish with Great Expectations: suites, quarantine, thresholds, stored results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deltalake import DeltaTable

from jobs.catalog.tables import ENTITIES, TABLES
from jobs.lake.tables import read_arrow
from jobs.quality.audit import QualityError, audit, build_data_docs, load_suite, without_quarantined
from tests.pdf_factory import text_pdf

CONF = Path(__file__).resolve().parent.parent / "conf" / "expectations"
PARAMS = {"labels": ["ORG", "DATE"], "max_entities_per_document": 2, "min_mean_entities_per_document": 1.0}


def test_shipped_suites_load_and_name_existing_columns():
    for path in sorted(CONF.glob("*.json")):
        suite = load_suite(path)
        columns = set(TABLES[suite.table].schema.fieldNames())
        assert set(suite.key) <= columns
        for check in suite.checks:
            kwargs = check.config["kwargs"]
            named = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
            named += kwargs.get("column_list", [])
            # helper columns start with "_" (added by the stage's frames); the rest are the table's
            assert all(c in columns or c.startswith("_") or check.frame != "rows" for c in named), check.id


def test_a_suite_with_an_unknown_expectation_is_refused(tmp_path):
    data = json.loads((CONF / "pages.json").read_text())
    data["expectations"].append(
        {"type": "expect_column_values_to_be_purple", "kwargs": {"column": "x"}, "meta": {"id": "x"}}
    )
    (tmp_path / "pages.json").write_text(json.dumps(data))
    with pytest.raises(QualityError, match=r"pages\.json is invalid"):
        load_suite(tmp_path / "pages.json")


def _entity(doc_id, entity_id, start, end, text, label, doc_text):
    return {
        "doc_id": doc_id, "entity_id": entity_id, "page_no": 1, "start": start, "end": end, "end_page_no": 1,
        "doc_start": start, "doc_end": end, "text": text, "label": label, "score": 0.9, "x0": None, "top": None,
        "x1": None, "bottom": None, "source": "rules", "sources": ["rules"], "rule": None, "model": "m",
        "model_version": "1", "normalized_value": None, "currency": None, "entity_key": text.lower(),
        "refers_to_key": None, "run_id": "r",
        "_doc_text_len": len(doc_text), "_doc_text_slice": doc_text[start:end],
    }  # fmt: skip


def _frames(spark, rows):
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            *ENTITIES.schema.fields,
            T.StructField("_doc_text_len", T.IntegerType()),
            T.StructField("_doc_text_slice", T.StringType()),
        ]
    )
    df = spark.createDataFrame([tuple(r[f.name] for f in schema.fields) for r in rows], schema)
    per_document = df.groupBy("doc_id").agg(F.count("*").cast("int").alias("entities"))
    return df, {"rows": df, "_per_document": per_document}


TEXT = "Acme Inc. signed on 1 May 2024."


def test_failing_rows_are_quarantined_by_key_and_left_out(spark, tmp_path):
    rows = [
        _entity("d1", "e1", 0, 9, "Acme Inc.", "ORG", TEXT),
        _entity("d1", "e2", 20, 30, "1 May 2024", "DATE", TEXT),
        _entity("d2", "e3", 0, 9, "Acme Inc!", "ORG", TEXT),  # text is not the slice it claims
        _entity("d2", "e4", 20, 30, "1 May 2024", "EVENT", TEXT),  # label outside the configured set
    ]
    df, frames = _frames(spark, rows)
    report = audit(
        suite=load_suite(CONF / "entities.json"), frames=frames, params=PARAMS, max_failed_share=0.5,
        stage="ner", run_id="r1", results_dir=tmp_path,
    )  # fmt: skip
    assert report.blocking == []
    assert report.failed == {"text_equals_slice": 1, "label_in_configured_set": 1}
    assert {(q["check"], q["row_key"]) for q in report.quarantine} == {
        ("text_equals_slice", json.dumps({"doc_id": "d2", "entity_id": "e3"})),
        ("label_in_configured_set", json.dumps({"doc_id": "d2", "entity_id": "e4"})),
    }
    assert all(q["table_name"] == "entities" and q["doc_id"] == "d2" and q["reason"] for q in report.quarantine)
    kept = {r["entity_id"] for r in without_quarantined(df, report).collect()}
    assert kept == {"e1", "e2"}
    stored = {p.name for p in tmp_path.iterdir()}
    assert stored == {"ner.entities.rows.json", "ner.entities._per_document.json"}
    stored_rows = json.loads((tmp_path / "ner.entities.rows.json").read_text())
    assert stored_rows["success"] is False
    # The failed checks ran again for their details (counts and failing keys); the passing
    # ones kept their first-pass verdict only.
    by_id = {r["expectation_config"]["meta"]["id"]: r for r in stored_rows["results"]}
    failed = by_id["text_equals_slice"]["result"]
    assert (failed["element_count"], failed["unexpected_count"]) == (4, 1)
    assert [(e["doc_id"], e["entity_id"]) for e in failed["unexpected_index_list"]] == [("d2", "e3")]
    assert by_id["score_in_unit_interval"]["success"] is True and not by_id["score_in_unit_interval"]["result"]


def test_a_passing_suite_runs_each_check_once_for_its_verdict(spark, tmp_path, monkeypatch):
    import jobs.quality.audit as quality

    formats = []
    run_checks = quality._run_checks

    def recording(suite, frame, df, checks, params, result_format):
        formats.append((frame, result_format["result_format"], len(checks)))
        return run_checks(suite, frame, df, checks, params, result_format)

    monkeypatch.setattr(quality, "_run_checks", recording)
    _, frames = _frames(spark, [_entity("d1", "e1", 0, 9, "Acme Inc.", "ORG", TEXT)])
    suite = load_suite(CONF / "entities.json")
    report = audit(
        suite=suite, frames=frames, params=PARAMS, max_failed_share=0.0, stage="ner", run_id="r1", results_dir=tmp_path
    )
    assert report.failed == {} and report.blocking == [] and report.quarantine == []
    assert sorted(formats) == sorted(
        (frame, "BOOLEAN_ONLY", sum(c.frame == frame for c in suite.checks)) for frame in suite.frames()
    )


def test_above_the_threshold_the_stage_is_blocked_with_the_check_and_count(spark, tmp_path):
    rows = [_entity("d1", f"e{i}", 0, 9, "Acme Inc.", "PERSON", TEXT) for i in range(2)]
    rows.append(_entity("d1", "e9", 0, 9, "Acme Inc.", "ORG", TEXT))
    _, frames = _frames(spark, rows)
    report = audit(
        suite=load_suite(CONF / "entities.json"), frames=frames, params=PARAMS, max_failed_share=0.5,
        stage="ner", run_id="r1", results_dir=tmp_path,
    )  # fmt: skip
    problems = "\n".join(report.blocking)
    assert "'label_in_configured_set' failed on 2 of 3 rows" in problems
    assert "'unique_span_per_label' failed on 2 of 3 rows" in problems  # the two PERSON spans
    # the share of a per-document check is over documents: the one document has 3 > 2 entities
    assert "'entities_per_document' failed on 1 of 1 rows" in problems


@pytest.mark.slow
def test_pipeline_quarantines_blocks_and_keeps_results(spark, tmp_path):
    from jobs.config import load_config
    from jobs.pipeline import run_pipeline
    from jobs.stages.base import StageContext, new_run_id

    inputs, lake = tmp_path / "in", tmp_path / "lake"
    inputs.mkdir()
    (inputs / "a.pdf").write_bytes(
        text_pdf("This Agreement dated March 15, 2024 is between Acme Robotics, Inc. and Globex LLC for $5,000.")
    )
    base = ["spark.master=local[2]", "ner.backends=[rules]", "extract.ocr.enabled=false"]

    # Only ORG allowed, and no tolerance: the NER stage stops before publishing anything.
    strict = load_config("local", overrides=[*base, "quality.labels=[ORG]", "quality.max_failed_share=0.0"])
    ctx = StageContext(spark=spark, config=strict, lake=lake, run_id=new_run_id())
    with pytest.raises(QualityError, match=r"'label_in_configured_set' failed on \d+ of \d+ rows"):
        run_pipeline(ctx, str(inputs))
    assert DeltaTable(str(lake / "entities")).version() == 0  # created empty, nothing committed
    assert read_arrow(lake, "documents")["ner_state"].to_pylist() == [None]  # NER runs again next time
    assert (lake / "_quality" / ctx.run_id / "ner.entities.rows.json").is_file()

    # Tolerated: the other labels go to quarantine, ORG entities are published.
    lenient = load_config("local", overrides=[*base, "quality.labels=[ORG]", "quality.max_failed_share=1.0"])
    ctx = StageContext(spark=spark, config=lenient, lake=lake, run_id=new_run_id())
    results = run_pipeline(ctx, str(inputs))
    entities = read_arrow(lake, "entities").to_pylist()
    quarantine = read_arrow(lake, "quarantine").to_pylist()
    assert entities and {e["label"] for e in entities} == {"ORG"}
    assert quarantine and {q["check"] for q in quarantine} == {"label_in_configured_set"}
    assert {json.loads(q["row_values"])["label"] for q in quarantine} >= {"DATE", "MONEY"}
    ner = next(r for r in results if r.stage == "ner")
    assert ner.quarantined == {"entities": len(quarantine)} and ner.dq_success is False
    run = next(r for r in read_arrow(lake, "runs").to_pylist() if r["run_id"] == ctx.run_id and r["stage"] == "ner")
    assert dict(run["rows_quarantined"]) == {"entities": len(quarantine)}
    assert dict(run["dq_failed"])["entities.label_in_configured_set"] == len(quarantine)

    # Every label allowed again (a new NER version): the quarantine of the document is replaced.
    allowed = load_config("local", overrides=base)
    run_pipeline(StageContext(spark=spark, config=allowed, lake=lake, run_id=new_run_id()), str(inputs))
    assert read_arrow(lake, "quarantine").num_rows == 0
    assert read_arrow(lake, "entities").num_rows == len(entities) + len(quarantine)

    pages = build_data_docs(lake, tmp_path / "docs")
    index = pages[0].read_text()
    assert pages[0].name == "index.html" and "FAILED" in index and "passed" in index
    names = {p.name for p in pages[1:]}
    assert {"extract.pages.rows.html", "ner.entities.rows.html", "ner.entities._per_document.html"} <= names
    failed_page = next(p for p in pages[1:] if p.name == "ner.entities.rows.html" and p.parent.name == ctx.run_id)
    assert "label" in failed_page.read_text() and "<table" in failed_page.read_text()


def test_an_aggregate_of_a_column_without_values_is_stored_as_not_applicable(spark, tmp_path):
    from jobs.quality.audit import NOT_APPLICABLE, results_directory
    from jobs.quality.results import parse_quality_result

    suite_file = tmp_path / "t.json"
    suite_file.write_text(
        json.dumps(
            {
                "name": "t",
                "meta": {"docner": {"version": "1", "table": "pages", "key": ["doc_id", "page_no"]}},
                "expectations": [
                    {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "ocr_confidence",
                     "min_value": 60}, "meta": {"id": "mean_ocr"}, "severity": "warning"},
                    {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "page_no", "min_value": 5},
                     "meta": {"id": "mean_page_no"}, "severity": "warning"},
                    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "doc_id"},
                     "meta": {"id": "doc_id_not_null"}},
                ],
            }
        )
    )  # fmt: skip
    rows = spark.createDataFrame(
        [("d1", 1, None), ("d1", 2, None)], "doc_id string, page_no int, ocr_confidence double"
    )
    report = audit(
        suite=load_suite(suite_file), frames={"rows": rows}, params={}, max_failed_share=0.0, stage="extract",
        run_id="r1", results_dir=results_directory(tmp_path, "r1"),
    )  # fmt: skip
    # No OCR'd page: nothing to judge. A mean that has values and misses its bound still fails.
    assert report.failed == {"mean_page_no": 1} and report.blocking == []
    assert [w.split(":")[1].strip() for w in report.warnings] == ["check 'mean_page_no' failed"]
    stored = json.loads((results_directory(tmp_path, "r1") / "extract.pages.rows.json").read_text())
    by_id = {r["expectation_config"]["meta"]["id"]: r for r in stored["results"]}
    assert by_id["mean_ocr"]["success"] is True and by_id["mean_ocr"]["meta"]["docner"] == NOT_APPLICABLE
    assert by_id["mean_page_no"]["success"] is False
    assert stored["success"] is False
    assert (stored["statistics"]["successful_expectations"], stored["statistics"]["unsuccessful_expectations"]) == (
        2,
        1,
    )
    parsed = parse_quality_result("extract.pages.rows.json", stored)
    assert [f.check for f in parsed.failed] == ["mean_page_no"]
    # Data Docs render the stored result as it is.
    _index, page = build_data_docs(tmp_path, tmp_path / "docs")
    html = Path(page).read_text()
    assert "ocr_confidence" in html and "page_no" in html
