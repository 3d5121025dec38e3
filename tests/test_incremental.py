"""Incremental runs: stage versions, removed and changed files, --reprocess, and the overall
status derived from the stage states."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from deltalake import DeltaTable
from hypothesis import given
from hypothesis import strategies as st

from jobs.catalog.stages import STAGE_NAMES
from jobs.lake.state import overall
from jobs.lake.tables import read_arrow
from jobs.stages.ingest import files_to_probe, plan_documents
from tests.pdf_factory import text_pdf
from udfs.files import InputFile

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
V = "v1"


# --- the overall status ---------------------------------------------------------------------

_state = st.none() | st.fixed_dictionaries(
    {
        "status": st.sampled_from(["ok", "partial", "failed", "skipped", "removed"]),
        "error_class": st.sampled_from([None, "E1", "E2"]),
        "error_message": st.sampled_from([None, "m"]),
    }
)


@given(st.fixed_dictionaries({stage: _state for stage in STAGE_NAMES}))
def test_overall_status_is_the_first_final_then_the_first_partial(states):
    result = overall(states)
    present = [(s, states[s]) for s in STAGE_NAMES if states[s] is not None]
    final = [(s, x) for s, x in present if x["status"] in ("failed", "skipped", "removed")]
    partial = [(s, x) for s, x in present if x["status"] == "partial"]
    if final:
        assert (result.status, result.error_stage) == (final[0][1]["status"], final[0][0])
        assert result.error_class == final[0][1]["error_class"]
    elif partial:
        assert (result.status, result.error_stage) == ("partial", partial[0][0])
    else:
        assert (result.status, result.error_class, result.error_stage) == ("ok", None, None)


# --- planning the documents rows ------------------------------------------------------------


def _probe(doc_id: str, path: str, status: str = "ok", error_class: str | None = None) -> dict:
    return {
        "doc_id": doc_id,
        "source_path": path,
        "size_bytes": 10,
        "page_count": 1,
        "status": status,
        "error_class": error_class,
        "error_message": None if status == "ok" else "broken",
        "modified_ms": 1_700_000_000_000,
    }


def _plan(current, probes, gone=frozenset(), run_id="r2"):
    return plan_documents(current, probes, set(gone), version=V, run_id=run_id, now=NOW)


def _done(rows):
    """Rows as a previous run left them: extracted and recognized."""
    state = {"status": "ok", "error_class": None, "error_message": None, "version": "x", "run_id": "r1"}
    for row in rows:
        if row["ingest_state"]["status"] == "ok":
            row["extract_state"] = {**state, "finished_at": NOW}
            row["ner_state"] = {**state, "finished_at": NOW}
    return rows


def test_new_files_become_rows_and_identical_bytes_are_skipped_duplicates():
    plan = _plan([], [_probe("a", "/in/b.pdf"), _probe("a", "/in/a.pdf"), _probe("c", "/in/c.pdf", "failed", "X")])
    rows = {r["source_path"]: r for r in plan.rows}
    assert plan.affected == ["a", "c"] and plan.removed == []
    assert rows["/in/a.pdf"]["status"] == "ok"
    assert (rows["/in/b.pdf"]["status"], rows["/in/b.pdf"]["error_class"]) == ("skipped", "DuplicateContent")
    assert rows["/in/b.pdf"]["error_message"] == "identical bytes to /in/a.pdf"
    assert (rows["/in/c.pdf"]["status"], rows["/in/c.pdf"]["error_stage"]) == ("failed", "ingest")


def test_nothing_changes_when_the_same_files_are_probed_again():
    first = _done(_plan([], [_probe("a", "/in/a.pdf"), _probe("a", "/in/b.pdf")], run_id="r1").rows)
    again = _plan(first, [_probe("a", "/in/a.pdf"), _probe("a", "/in/b.pdf")])
    assert again.affected == [] and again.rows == [] and again.removed == []


def test_a_gone_file_is_removed_and_its_document_leaves_the_data_tables():
    first = _done(_plan([], [_probe("a", "/in/a.pdf"), _probe("b", "/in/b.pdf")], run_id="r1").rows)
    plan = _plan(first, [], gone={"/in/a.pdf"})
    (row,) = plan.rows
    assert (row["doc_id"], row["status"], row["error_class"]) == ("a", "removed", "SourceRemoved")
    assert row["extract_state"] is None and row["ner_state"] is None
    assert plan.removed == ["a"]


def test_a_duplicate_takes_over_when_the_primary_file_is_gone_keeping_the_states():
    first = _done(_plan([], [_probe("a", "/in/a.pdf"), _probe("a", "/in/b.pdf")], run_id="r1").rows)
    plan = _plan(first, [], gone={"/in/a.pdf"})
    rows = {r["source_path"]: r for r in plan.rows}
    assert rows["/in/a.pdf"]["status"] == "removed"
    assert rows["/in/b.pdf"]["status"] == "ok" and rows["/in/b.pdf"]["ner_state"]["run_id"] == "r1"
    assert plan.removed == []  # the bytes are still in the input: the data rows stay


def test_a_file_whose_bytes_changed_is_a_new_document_and_the_old_one_is_removed():
    first = _done(_plan([], [_probe("a", "/in/a.pdf")], run_id="r1").rows)
    plan = _plan(first, [_probe("z", "/in/a.pdf")])
    rows = {r["doc_id"]: r for r in plan.rows}
    assert (rows["a"]["status"], rows["a"]["error_class"]) == ("removed", "SourceChanged")
    assert rows["z"]["status"] == "ok" and rows["z"]["extract_state"] is None
    assert plan.removed == ["a"] and plan.affected == ["a", "z"]


def test_only_new_or_changed_files_are_read_again():
    modified = dt.datetime.fromtimestamp(1_700_000_000, dt.UTC)
    existing = {
        "/in/a.pdf": {"size_bytes": 10, "modified_at": modified, "ingest_state": {"version": V}},
        "/in/b.pdf": {"size_bytes": 10, "modified_at": modified, "ingest_state": {"version": "old"}},
        "/in/c.pdf": {"size_bytes": 10, "modified_at": modified, "ingest_state": {"version": V}},
    }
    files = [
        InputFile("/in/a.pdf", 10, 1_700_000_000_000),  # unchanged
        InputFile("/in/b.pdf", 10, 1_700_000_000_000),  # made by another ingest version
        InputFile("/in/c.pdf", 11, 1_700_000_000_000),  # other size
        InputFile("/in/d.pdf", 10, 1_700_000_000_000),  # new
    ]
    assert [f.path for f in files_to_probe(existing, files, V, reprocess=False)] == [
        "/in/b.pdf",
        "/in/c.pdf",
        "/in/d.pdf",
    ]
    assert len(files_to_probe(existing, files, V, reprocess=True)) == 4


# --- through Spark --------------------------------------------------------------------------


CONTRACT = (
    "MASTER SERVICES AGREEMENT\n"
    "This Agreement is made on March 15, 2024 between Acme Robotics, Inc. and Globex LLC.\n"
    "The fee is $25,000 per month for a term of twelve (12) months.\n"
)


def _write_inputs(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "one": directory / "one.pdf",
        "two": directory / "nested" / "two.pdf",
        "three": directory / "three.pdf",
    }
    files["two"].parent.mkdir(exist_ok=True)
    files["one"].write_bytes(text_pdf(CONTRACT, "Signed by Acme Robotics, Inc. on April 1, 2024."))
    files["two"].write_bytes(text_pdf(CONTRACT.replace("$25,000", "$40,000")))
    files["three"].write_bytes(text_pdf(CONTRACT.replace("Globex LLC", "Initech Corp.")))
    return files


def _versions(lake: Path) -> dict[str, int]:
    return {t: DeltaTable(str(lake / t)).version() for t in ("documents", "pages", "tables", "entities")}


def _conf_copy(tmp_path: Path) -> Path:
    conf = tmp_path / "conf"
    shutil.copytree(Path(__file__).resolve().parent.parent / "conf", conf)
    return conf


@pytest.mark.slow
def test_incremental_runs_process_only_what_changed(spark, tmp_path):
    from jobs.config import load_config
    from jobs.pipeline import run_pipeline
    from jobs.stages.base import StageContext, new_run_id

    conf = _conf_copy(tmp_path)
    overrides = ["spark.master=local[2]", "ner.backends=[rules]", "extract.ocr.enabled=false"]
    config = load_config("local", conf, overrides)
    inputs, lake = tmp_path / "in", tmp_path / "lake"
    files = _write_inputs(inputs)

    def run(config=config, reprocess=()):
        ctx = StageContext(spark=spark, config=config, lake=lake, run_id=new_run_id())
        return [r.documents_in for r in run_pipeline(ctx, str(inputs), reprocess)]

    assert run() == [3, 3, 3, 3]
    entities = read_arrow(lake, "entities").num_rows
    assert entities > 0

    # The same input again: nothing read, nothing committed to the data tables.
    before = _versions(lake)
    assert run() == [3, 0, 0, 0]
    assert _versions(lake) == before

    # Another rule set version: only NER (and the fields read from its entities) runs again.
    rules = conf / "rules" / "contracts.yaml"
    rules.write_text(rules.read_text().replace('version: "1"', 'version: "2"'))
    assert run(load_config("local", conf, overrides)) == [3, 0, 3, 3]
    after_rules = _versions(lake)
    assert after_rules["pages"] == before["pages"] and after_rules["entities"] == before["entities"] + 1
    assert read_arrow(lake, "entities").num_rows == entities
    config = load_config("local", conf, overrides)

    # One file gone, one rewritten with other bytes, one touched with the same bytes.
    doc_of = {Path(r["source_path"]).name: r["doc_id"] for r in read_arrow(lake, "documents").to_pylist()}
    files["one"].unlink()
    files["two"].write_bytes(text_pdf(CONTRACT.replace("$25,000", "$55,000")))
    os.utime(files["three"], (1_800_000_000, 1_800_000_000))
    assert run(config) == [2, 1, 1, 1]
    documents = {(Path(r["source_path"]).name, r["doc_id"]): r for r in read_arrow(lake, "documents").to_pylist()}
    assert documents[("one.pdf", doc_of["one.pdf"])]["error_class"] == "SourceRemoved"
    assert documents[("two.pdf", doc_of["two.pdf"])]["error_class"] == "SourceChanged"
    (new_two,) = [r for (name, doc_id), r in documents.items() if name == "two.pdf" and r["status"] == "ok"]
    assert documents[("three.pdf", doc_of["three.pdf"])]["status"] == "ok"
    live = {doc_of["three.pdf"], new_two["doc_id"]}
    for table in ("pages", "entities", "contracts"):
        assert set(read_arrow(lake, table)["doc_id"].to_pylist()) == live, table
    assert any("$55,000" in t for t in read_arrow(lake, "entities")["text"].to_pylist())

    # --reprocess extract: extraction and (its input changed) NER run again.
    assert run(config, reprocess={"extract"}) == [2, 2, 2, 2]
    assert run(config) == [2, 0, 0, 0]

    # Extraction again without NER: the entities and fields made from the replaced pages go
    # with them, and the lake stays consistent until NER has run on the documents again.
    from jobs.quality.validate import validate_lake

    ctx = StageContext(spark=spark, config=config, lake=lake, run_id=new_run_id())
    assert [r.documents_in for r in run_pipeline(ctx, str(inputs), {"extract"}, ("extract",))] == [2]
    assert read_arrow(lake, "entities").num_rows == 0 and read_arrow(lake, "entity_search").num_rows == 0
    assert read_arrow(lake, "contract_fields").num_rows == 0 and read_arrow(lake, "contracts").num_rows == 0
    checked = validate_lake(lake, ctx.run_id, str(inputs))
    assert checked.ok, checked.message()
    # No scanned page in this batch: the mean OCR confidence has nothing to judge, not a failure.
    (extract_run,) = [r for r in read_arrow(lake, "runs").to_pylist() if r["run_id"] == ctx.run_id]
    assert extract_run["dq_success"] is True, extract_run["dq_failed"]
    assert run(config) == [2, 0, 2, 2]
    assert set(read_arrow(lake, "entities")["doc_id"].to_pylist()) == live
    assert validate_lake(lake).ok
