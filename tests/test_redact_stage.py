"""The pii backend and the redact stage end to end, in one pipeline run over a digital and a
scanned generated contract with planted personal data: the NER stage keeping the PII entities;
redacted pages, audit rows, the search feed and its export free of the planted values; docner
validate passing, then failing once a value is put back; redacted PDFs in which two libraries
find none of them; a changed source file and a missing key refused. (That the stage is off by
default: tests/test_redact.py.)"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pdfplumber
import pyarrow as pa
import pypdfium2 as pdfium
import pytest
from pyspark.sql.pandas.types import to_arrow_schema

from jobs.catalog.tables import ENTITIES, REDACTED_PAGES
from jobs.config import ConfigError, load_config
from jobs.dev.pii_samples import write_pii_samples
from jobs.lake.tables import read_arrow, write_arrow
from jobs.lake.views import stored_texts
from jobs.ops.export_search import export_search
from jobs.ops.redact_pdf import FAILED, WRITTEN, write_redacted_pdfs
from jobs.pipeline import run_pipeline
from jobs.quality.validate import validate_lake
from jobs.stages.base import StageContext, new_run_id
from jobs.stages.redact import run_redact
from udfs.ner.backends.pii import PII_LABELS

KEY = "a-test-key-of-more-than-16-bytes"
BASE = ["spark.master=local[2]", "ner.backends=[spacy, rules, pii]"]
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Run:
    inputs: Path
    lake: Path
    samples: list[Any]
    planted: dict[str, list[str]]  # file -> planted values, longest first
    doc_ids: dict[str, str]  # file -> doc_id


@pytest.fixture(scope="module")
def pii_run(spark, tmp_path_factory) -> Run:
    root = tmp_path_factory.mktemp("redact")
    inputs, lake = root / "in", root / "lake"
    samples = write_pii_samples(inputs, digital=1, scanned=1, seed=3)
    gold = json.loads((inputs / "pii_gold.json").read_text())
    (inputs / "pii_gold.json").unlink()
    planted = {g["file"]: sorted({p["value"] for p in g["planted"]}, key=len, reverse=True) for g in gold}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCNER_REDACT_KEY", KEY)
        overrides = [*BASE, "redact.enabled=true", "redact.policy.PERSON=hash", "redact.policy.EMAIL=hash"]
        config = load_config("local", overrides=overrides)
        run_pipeline(StageContext(spark=spark, config=config, lake=lake, run_id=new_run_id()), str(inputs))
    doc_ids = {r["file_name"]: r["doc_id"] for r in read_arrow(lake, "documents").to_pylist()}
    return Run(inputs, lake, samples, planted, doc_ids)


def _folded(text: str) -> str:
    return " ".join(text.split())


def _left(values: list[str], text: str) -> list[str]:
    return [value for value in values if value in text]


def test_the_ner_stage_keeps_pii_entities_of_digital_and_scanned_pages(pii_run):
    texts = stored_texts(pii_run.lake, list(pii_run.doc_ids.values()))
    rows = read_arrow(pii_run.lake, ENTITIES.name).to_pylist()
    for sample in pii_run.samples:
        doc_id = pii_run.doc_ids[sample.file]
        mine = [r for r in rows if r["doc_id"] == doc_id and r["source"] == "pii"]
        for row in mine:
            assert texts[doc_id].text[row["doc_start"] : row["doc_end"]] == row["text"]
        labels = {r["label"] for r in mine}
        # a scan goes through OCR: a damaged digit may cost a value, never the whole kind of data
        assert len(labels) >= (len(PII_LABELS) if not sample.scanned else len(PII_LABELS) - 2), (sample, labels)


def test_the_redact_stage_leaves_no_planted_value_in_what_is_shared(pii_run, spark, tmp_path, monkeypatch):
    lake = pii_run.lake
    documents = read_arrow(lake, "documents").to_pylist()
    assert {d["redact_state"]["status"] for d in documents} == {"ok"}
    pages = read_arrow(lake, "redacted_pages").to_pylist()
    original = {(p["doc_id"], p["page_no"]): p["text"] for p in read_arrow(lake, "pages").to_pylist()}
    assert len(pages) == len(original) == 4
    for sample in pii_run.samples:
        doc_id = pii_run.doc_ids[sample.file]
        shared = " ".join(_folded(p["text"]) for p in pages if p["doc_id"] == doc_id)
        assert _left(pii_run.planted[sample.file], shared) == [], sample
        assert "EMPLOYMENT AGREEMENT" in shared and "[PERSON:" in shared
    # the map: between the replaced pieces, the redacted text is the original, shifted
    for page in pages:
        text, source = page["text"], original[(page["doc_id"], page["page_no"])]
        kept_from, source_from = 0, 0
        for piece in page["spans"]:
            assert text[kept_from : piece["redacted_start"]] == source[source_from : piece["start"]]
            assert text[piece["redacted_start"] : piece["redacted_end"]] != source[piece["start"] : piece["end"]]
            kept_from, source_from = piece["redacted_end"], piece["end"]
        assert text[kept_from:] == source[source_from:]
    every_value = sorted({v for values in pii_run.planted.values() for v in values}, key=len, reverse=True)
    audit = read_arrow(lake, "redactions").to_pylist()
    assert {r["label"] for r in audit} >= {"PERSON", "EMAIL", "US_SSN", "IBAN", "CREDIT_CARD", "STREET_ADDRESS"}
    assert all(r["x0"] is not None and r["action"] in ("mask", "label", "hash") for r in audit)
    assert _left(every_value, json.dumps(audit, default=str)) == []
    feed = json.dumps(read_arrow(lake, "entity_search").to_pylist(), default=str)
    assert _left(every_value, feed) == [] and "[PERSON:" in feed
    validation = validate_lake(lake)
    assert [c.name for c in validation.checks if not c.ok] == []
    # the search export: entity_search as written, and the contract's parties with their tokens
    bulk = tmp_path / "bulk.ndjson"
    export_search(lake, bulk, index="contracts")
    exported = bulk.read_text()
    assert _left(every_value, exported) == [] and '"contract":{' in exported and "[PERSON:" in exported

    # docner redact-pdf: the copies have none of the values, by two libraries; the rest is searchable
    out = tmp_path / "redacted"
    outcomes = {outcome.file_name: outcome for outcome in write_redacted_pdfs(lake, out)}
    for sample in pii_run.samples:
        outcome = outcomes[sample.file]
        assert outcome.status == WRITTEN and outcome.path == str(out / sample.file)
        with pdfplumber.open(outcome.path) as pdf:
            plumbed = " ".join(_folded(page.extract_text() or "") for page in pdf.pages)
        document = pdfium.PdfDocument(outcome.path)
        try:
            rendered = " ".join(_folded(document[i].get_textpage().get_text_bounded()) for i in range(len(document)))
        finally:
            document.close()
        for text in (plumbed, rendered):
            assert _left(pii_run.planted[sample.file], text) == [], sample
            assert "EMPLOYMENT" in text and "[PERSON:" in text

    # a value put back into a shareable table: validate fails, naming the table and the document
    digital = next(s for s in pii_run.samples if not s.scanned)
    doc_id = pii_run.doc_ids[digital.file]
    leaking = [
        {**p, "text": p["text"] + " " + pii_run.planted[digital.file][0]} for p in pages if p["doc_id"] == doc_id
    ]
    write_arrow(pa.Table.from_pylist(leaking, schema=to_arrow_schema(REDACTED_PAGES.schema)), lake, REDACTED_PAGES,
                replace_where=f"doc_id = '{doc_id}'")  # fmt: skip
    check = next(c for c in validate_lake(lake).checks if c.name == "shareable_tables_hold_no_redacted_value")
    assert not check.ok and check.examples == [f"redacted_pages:{doc_id}"]

    # the source changed since it was read: no copy is written
    with (pii_run.inputs / digital.file).open("ab") as handle:
        handle.write(b"\n% appended\n")
    again = {o.file_name: o for o in write_redacted_pdfs(lake, tmp_path / "again")}
    assert again[digital.file].status == FAILED and "SourceChanged" in (again[digital.file].reason or "")
    assert not (tmp_path / "again" / digital.file).exists()

    # a hash policy without its key stops the stage before any work
    monkeypatch.delenv("DOCNER_REDACT_KEY", raising=False)
    config = load_config("local", overrides=[*BASE, "redact.enabled=true", "redact.policy.PERSON=hash"])
    with pytest.raises(ConfigError, match="DOCNER_REDACT_KEY"):
        run_redact(StageContext(spark=spark, config=config, lake=lake, run_id=new_run_id()), reprocess=True)
