"""What operators see: JSON logs with run and stage, progress, Spark job groups, Prometheus
metrics, and the lake checks of ``docner validate``."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from jobs.catalog.stages import STAGES
from jobs.config import MetricsSettings
from jobs.ops.metrics import build_registry, export_run_metrics, lake_label
from jobs.ops.progress import (
    ContextFilter,
    JsonFormatter,
    Snapshot,
    TextFormatter,
    counted_input,
    finished_pages,
    format_duration,
    listed_items,
    log_context,
    resolve_format,
    struct_child,
)
from jobs.quality.validate import (
    check_coverage,
    check_documents,
    check_rows,
    check_run,
    duplicate_keys,
)

# --- logs -------------------------------------------------------------------------------


def _record(message: str = "hello", **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "docner.test", "levelname": "INFO", "msg": message, **extra})
    ContextFilter().filter(record)
    return record


def test_json_log_lines_carry_run_stage_and_extra_fields():
    with log_context(run_id="r1", stage="extract"):
        record = _record("progress", event="progress", documents_done=3)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "progress"
    assert (entry["run_id"], entry["stage"]) == ("r1", "extract")
    assert entry["event"] == "progress" and entry["documents_done"] == 3
    assert dt.datetime.fromisoformat(entry["ts"]).tzinfo is not None


def test_log_context_nests_and_resets():
    with log_context(run_id="r1"):
        with log_context(stage="ner"):
            inner = _record()
        outer = _record()
    after = _record()
    assert (inner.run_id, inner.stage) == ("r1", "ner")
    assert (outer.run_id, outer.stage) == ("r1", None)
    assert (after.run_id, after.stage) == (None, None)


def test_text_format_names_run_and_stage():
    with log_context(run_id="r1", stage="ingest"):
        line = TextFormatter().format(_record("started"))
    assert "[r1 ingest]" in line and line.endswith("started")


def test_auto_format_is_json_off_a_terminal():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert resolve_format("auto", io.StringIO()) == "json"
    assert resolve_format("auto", Tty()) == "text"
    assert resolve_format("text", io.StringIO()) == "text"


# --- progress ---------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=10**6))
def test_format_duration_reads_back(seconds):
    parts = [int(p) for p in format_duration(seconds).split(":")]
    total = 0
    for part in parts:
        total = total * 60 + part
    assert total == seconds


def test_snapshot_rate_and_eta_use_pages_when_counted():
    snap = Snapshot("extract", 2, 10, 30, 120, elapsed_s=10.0)
    assert snap.rate == pytest.approx(3.0)
    assert snap.eta_s == pytest.approx(30.0)
    assert "30/120 pages" in snap.line() and "3.0 pages/s" in snap.line() and "ETA 0:30" in snap.line()
    docs_only = Snapshot("ner", 4, 8, 0, None, elapsed_s=2.0)
    assert docs_only.rate == pytest.approx(2.0) and docs_only.eta_s == pytest.approx(2.0)
    assert Snapshot("ingest", 0, 5, 0, None, elapsed_s=1.0).eta_s is None


class _Counters:
    def __init__(self) -> None:
        self.documents = 0
        self.pages = 0

    def add(self, documents: int = 0, pages: int = 0) -> None:
        self.documents += documents
        self.pages += pages


def test_counted_input_counts_a_batch_once_it_was_processed():
    pages_type = pa.list_(pa.int32())
    batches = [
        pa.record_batch({"pages": pa.array([[1, 2], [3]], pages_type)}),
        pa.record_batch({"pages": pa.array([[1, 2, 3], None], pages_type)}),
    ]
    counters = _Counters()
    seen = []
    for _batch in counted_input(iter(batches), counters, "pages"):  # type: ignore[arg-type]
        seen.append((counters.documents, counters.pages))
    assert seen == [(0, 0), (2, 3)]  # the batch being processed is not counted yet
    assert (counters.documents, counters.pages) == (4, 6)


def test_scan_counters_ignore_null_structs_and_pending_pages():
    raw_type = pa.struct([("status", pa.string())])
    raw = pa.array([{"status": "ok"}, {"status": "pending"}, None, {"status": "failed"}], raw_type)
    assert finished_pages(raw, "pending") == 2
    outcome_type = pa.struct([("pages", pa.list_(pa.int32()))])
    outcome = pa.array([None, {"pages": [1, 2, 3]}, {"pages": []}, None], outcome_type)
    assert listed_items(struct_child(outcome, "pages")) == 3


def test_a_stage_names_its_spark_jobs(spark, test_config, tmp_path):
    from jobs.stages.base import StageContext

    ctx = StageContext(
        spark=spark,
        config=test_config,
        lake=tmp_path,
        run_id="r-group",
        progress_stream=io.StringIO(),
        progress_interactive=True,
    )
    with ctx.tracking("extract", documents_total=4) as progress:
        ctx.describe("count things")
        counters = progress.counters  # what the tasks get (the reporter itself stays on the driver)
        rows = spark.range(4).rdd.map(lambda x: (counters.add(documents=1), x)[1]).count()
    assert rows == 4
    assert progress.snapshot().documents_done == 4
    tracker = spark.sparkContext.statusTracker()
    assert tracker.getJobIdsForGroup("docner-r-group-extract")
    assert spark.sparkContext.getLocalProperty("spark.jobGroup.id") is None  # cleared after the stage
    shown = ctx.progress_stream.getvalue()  # type: ignore[union-attr]
    last = shown.rsplit("\r", 1)[-1]  # the line as redrawn last, on its own line at the end
    assert last.startswith("\x1b[2Kextract") and "4/4 documents" in last and last.endswith("\n")


# --- metrics ----------------------------------------------------------------------------


def _runs_row(stage: str, **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "run_id": "r1",
        "stage": stage,
        "env": "local",
        "started_at": dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC),
        "finished_at": dt.datetime(2026, 11, 23, 10, 1, tzinfo=dt.UTC),
        "seconds": 60.0,
        "documents_in": 5,
        "documents_by_status": [("ok", 4), ("failed", 1)],
        "rows_written": [("pages", 12)],
        "table_versions": [("pages", 3)],
        "pages": None,
        "pages_per_s": None,
        "ocr_page_share": None,
        "entities": None,
        "entities_per_document": None,
        "mean_score": None,
        "label_mix": None,
        "models": [],
        "rows_quarantined": [("pages", 1)],
        "dq_success": False,
        "dq_failed": [("pages.text_matches", 1)],
        "dq_seconds": 2.5,
        "stage_version": "v",
        "code_version": "0.1.0",
        "config_hash": "abc",
        "notes": [],
    }
    row.update(values)
    return row


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_describe_each_stage_in_prometheus_text_format(tmp_path):
    from prometheus_client import generate_latest

    rows = [
        _runs_row("extract", pages=12, pages_per_s=0.2, ocr_page_share=0.25),
        _runs_row("ner", entities=40, entities_per_document=8.0, mean_score=0.9, label_mix=[("ORG", 30), ("DATE", 10)]),
    ]
    samples = _samples(generate_latest(build_registry(tmp_path, rows)).decode())
    lake = str(tmp_path.absolute())
    assert samples[("docner_stage_pages", (("lake", lake), ("stage", "extract")))] == 12
    assert samples[("docner_stage_ocr_page_share", (("lake", lake), ("stage", "extract")))] == 0.25
    assert samples[("docner_stage_entities_by_label", (("label", "ORG"), ("lake", lake), ("stage", "ner")))] == 30
    assert samples[("docner_documents", (("lake", lake), ("stage", "ner"), ("status", "failed")))] == 1
    assert samples[("docner_stage_dq_success", (("lake", lake), ("stage", "ner")))] == 0
    failed = (("check", "pages.text_matches"), ("lake", lake), ("stage", "extract"))
    assert samples[("docner_stage_dq_failed_rows", failed)] == 1
    finished = samples[("docner_stage_finished_timestamp_seconds", (("lake", lake), ("stage", "ner")))]
    assert finished == dt.datetime(2026, 11, 23, 10, 1, tzinfo=dt.UTC).timestamp()
    # No entity figures for a stage that has none.
    assert ("docner_stage_entities", (("lake", lake), ("stage", "extract"))) not in samples


class _Gateway(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def _store(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        _Gateway.received.append((self.command, self.path, self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    do_PUT = _store
    do_POST = _store

    def log_message(self, *args: object) -> None:
        pass


def test_run_metrics_go_to_the_textfile_directory_and_the_pushgateway(tmp_path):
    from jobs.catalog.tables import RUNS
    from jobs.lake.tables import arrow_rows, ensure_tables, write_arrow

    lake = tmp_path / "lake"
    ensure_tables(lake)
    write_arrow(arrow_rows(RUNS, [_runs_row("ingest"), _runs_row("extract", pages=12)]), lake, RUNS)
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        textfiles = tmp_path / "textfile-collector"
        settings = MetricsSettings(textfile_dir=str(textfiles), pushgateway_url=url)
        done = export_run_metrics(settings, lake, "r1")
    finally:
        server.shutdown()
    assert done.stages == ("ingest", "extract") and done.pushed
    assert done.path == textfiles / f"docner-{lake_label(lake)}.prom"
    assert not list(textfiles.glob("*.tmp*"))  # written to a temporary name, then renamed
    samples = _samples(done.path.read_text())
    assert samples[("docner_stage_pages", (("lake", str(lake.absolute())), ("stage", "extract")))] == 12
    ((method, path, body),) = _Gateway.received
    assert method == "PUT" and path == f"/metrics/job/docner/lake/{lake_label(lake)}"
    assert b"docner_stage_duration_seconds" in body


def test_an_unreachable_pushgateway_does_not_fail_the_run(tmp_path, caplog):
    from jobs.catalog.tables import RUNS
    from jobs.lake.tables import arrow_rows, ensure_tables, write_arrow

    lake = tmp_path / "lake"
    ensure_tables(lake)
    write_arrow(arrow_rows(RUNS, [_runs_row("ingest")]), lake, RUNS)
    settings = MetricsSettings(pushgateway_url="http://127.0.0.1:9", timeout_s=2)
    with caplog.at_level(logging.WARNING):
        done = export_run_metrics(settings, lake, "r1")
    assert done.path is not None and done.path.is_file() and not done.pushed
    assert "could not push metrics" in caplog.text
    assert export_run_metrics(settings, lake, "no-such-run").path is None


# --- lake checks ------------------------------------------------------------------------


def _state(run_id: str = "r1", status: str = "ok") -> dict[str, object]:
    return {"status": status, "error_class": None, "error_message": None, "version": "v", "run_id": run_id}


def _document(doc_id: str, path: str, **states: object) -> dict[str, object]:
    row: dict[str, object] = {
        "doc_id": doc_id,
        "source_path": path,
        "status": "ok",
        # every stage's, from the registry; an optional stage (redact) has not run
        **{stage.state_column: None if stage.switch else _state() for stage in STAGES},
    }
    row.update(states)
    return row


def test_duplicate_keys_are_found():
    assert duplicate_keys([("a", 1), ("a", 2), ("a", 1)]) == ["a/1"]
    assert duplicate_keys([]) == []


def test_documents_checks_find_lost_inputs_and_wrong_status():
    docs = [_document("d1", "/in/a.pdf"), _document("d2", "/in/b.pdf", status="failed")]
    checks = {c.name: c for c in check_documents(docs, ["/in/a.pdf", "/in/b.pdf", "/in/c.pdf"])}
    assert checks["input_recorded"].failures == 1 and checks["input_recorded"].examples == ["/in/c.pdf"]
    assert checks["documents_status_derived"].examples == ["d2"]  # every state ok, yet "failed"
    assert checks["documents_key_unique"].ok


def test_row_checks_find_duplicates_orphans_and_leftovers_of_earlier_runs():
    primary = {"d1": _document("d1", "/in/a.pdf", ner_state=_state("r2"))}
    rows = [
        {"doc_id": "d1", "entity_id": "e1", "run_id": "r2"},
        {"doc_id": "d1", "entity_id": "e1", "run_id": "r2"},  # duplicate key
        {"doc_id": "d1", "entity_id": "e2", "run_id": "r1"},  # left over from run r1
        {"doc_id": "gone", "entity_id": "e3", "run_id": "r2"},  # no live document
    ]
    checks = {c.name: c for c in check_rows("entities", rows, ("doc_id", "entity_id"), primary, "ner")}
    assert checks["entities_key_unique"].examples == ["d1/e1"]
    assert checks["entities_of_live_documents"].examples == ["gone"]
    assert checks["entities_from_latest_run"].examples == ["d1"]


def test_coverage_and_run_checks():
    primary = {
        "d1": _document("d1", "/a.pdf"),
        "d2": _document("d2", "/b.pdf", ner_state=None, fields_state=None),
        "d3": _document("d3", "/c.pdf", extract_state=_state(status="failed"), ner_state=None, fields_state=None),
    }
    coverage = {
        c.name: c
        for c in check_coverage(primary, {"pages": ["d2"], "entity_search": ["d1", "d1"], "contracts": ["d1"]})
    }
    assert coverage["extracted_have_pages"].examples == ["d1"]
    assert coverage["recognized_have_search_row"].examples == ["d1"]  # two rows for one document
    assert coverage["fielded_have_contract_row"].ok
    runs = [{"run_id": "r1", "stage": "ingest"}]
    (recorded,) = check_run("r1", primary, runs)
    assert recorded.examples == ["extract", "fields", "ner"]
    stages = [{"run_id": "r1", "stage": stage} for stage in ("extract", "ner", "fields")]
    (recorded,) = check_run("r1", primary, [*runs, *stages])
    assert recorded.ok


def test_validate_reads_a_real_lake(tmp_path: Path):
    from jobs.catalog.tables import ENTITIES
    from jobs.lake.tables import arrow_rows, ensure_tables, write_arrow
    from jobs.quality.validate import validate_lake

    lake = tmp_path / "lake"
    ensure_tables(lake)
    result = validate_lake(lake)
    assert result.ok, result.message()
    entity = {f.name: None for f in ENTITIES.schema.fields}
    entity.update(doc_id="ghost", entity_id="e1", start=0, end=1, text="x", label="ORG", sources=[], run_id="r9")
    entity.update(
        page_no=1, end_page_no=1, doc_start=0, doc_end=1, source="rules", entity_key="x", model="r", model_version="1"
    )
    write_arrow(arrow_rows(ENTITIES, [entity]), lake, ENTITIES)
    result = validate_lake(lake)
    assert not result.ok
    assert "entities_of_live_documents: 1 (ghost)" in result.message()


def test_lake_check_results_sit_beside_the_gx_results_without_breaking_data_docs_or_the_report(tmp_path):
    from jobs.lake.tables import ensure_tables
    from jobs.quality.audit import build_data_docs
    from jobs.quality.results import parse_quality_result
    from jobs.quality.validate import CheckResult, LakeValidation, save_validation

    lake = tmp_path / "lake"
    ensure_tables(lake)
    failed = CheckResult("input_recorded", "every PDF has a row", 1, ["/in/x.pdf"])
    path = save_validation(lake, LakeValidation("manual__2026-11-23T10:00:00+00:00", [failed]))
    assert path is not None and path.is_file()
    pages = build_data_docs(lake, tmp_path / "docs")  # no GX results here: only the index
    assert pages[0].is_file() and len(pages) == 1
    parsed = parse_quality_result(path.name, json.loads(path.read_text()))
    assert (parsed.stage, parsed.success, parsed.evaluated) == ("validate", False, 1)
    assert parsed.failed[0].check == "input_recorded" and parsed.failed[0].unexpected == 1
