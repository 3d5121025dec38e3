"""The redact stage end to end on a generated contract with planted personal data: off by
default, on by the setting; redacted pages, audit rows and the search feed free of the planted
values; docner validate passing, then failing once a value is put back; redacted PDFs in which
two libraries find none of them; a changed source file and a missing key refused."""

from __future__ import annotations

import json

import pdfplumber
import pyarrow as pa
import pypdfium2 as pdfium
import pytest

from jobs.catalog.tables import REDACTED_PAGES
from jobs.config import ConfigError, load_config
from jobs.dev.pii_samples import write_pii_samples
from jobs.lake.tables import read_arrow, write_arrow
from jobs.ops.export_search import export_search
from jobs.ops.redact_pdf import FAILED, WRITTEN, write_redacted_pdfs
from jobs.pipeline import run_pipeline
from jobs.quality.validate import validate_lake
from jobs.stages.base import StageContext, new_run_id
from jobs.stages.redact import run_redact

KEY = "a-test-key-of-more-than-16-bytes"
pytestmark = pytest.mark.slow


def _folded(text: str) -> str:
    return " ".join(text.split())


def _check(validation, name):
    return next(check for check in validation.checks if check.name == name)


def test_the_redact_stage_leaves_no_planted_value_in_what_is_shared(spark, tmp_path, monkeypatch):
    inputs = tmp_path / "in"
    (sample,) = write_pii_samples(inputs, digital=1, scanned=0, seed=11)
    planted = json.loads((inputs / "pii_gold.json").read_text())[0]["planted"]
    (inputs / "pii_gold.json").unlink()
    values = sorted({p["value"] for p in planted}, key=len, reverse=True)
    lake = tmp_path / "lake"
    base = ["spark.master=local[2]", "ner.backends=[spacy, rules, pii]"]

    def run(*overrides: str) -> None:
        config = load_config("local", overrides=[*base, *overrides])
        run_pipeline(StageContext(spark=spark, config=config, lake=lake, run_id=new_run_id()), str(inputs))

    run()  # off by default: no redact state, no rows
    (doc,) = read_arrow(lake, "documents").to_pylist()
    assert doc["redact_state"] is None and read_arrow(lake, "redacted_pages").num_rows == 0

    monkeypatch.setenv("DOCNER_REDACT_KEY", KEY)
    run("redact.enabled=true", "redact.policy.PERSON=hash", "redact.policy.EMAIL=hash")
    (doc,) = read_arrow(lake, "documents").to_pylist()
    assert doc["redact_state"]["status"] == "ok"
    pages = read_arrow(lake, "redacted_pages").to_pylist()
    original = {p["page_no"]: p["text"] for p in read_arrow(lake, "pages").to_pylist()}
    assert len(pages) == len(original) == 2
    shared = " ".join(_folded(p["text"]) for p in pages)
    assert [v for v in values if v in shared] == []
    assert "EMPLOYMENT AGREEMENT" in shared and "[PERSON:" in shared
    # the map: between the replaced pieces, the redacted text is the original, shifted
    for page in pages:
        text, source = page["text"], original[page["page_no"]]
        kept_from, source_from = 0, 0
        for piece in page["spans"]:
            assert text[kept_from : piece["redacted_start"]] == source[source_from : piece["start"]]
            assert text[piece["redacted_start"] : piece["redacted_end"]] != source[piece["start"] : piece["end"]]
            kept_from, source_from = piece["redacted_end"], piece["end"]
        assert text[kept_from:] == source[source_from:]
    audit = read_arrow(lake, "redactions").to_pylist()
    assert {r["label"] for r in audit} >= {"PERSON", "EMAIL", "US_SSN", "IBAN", "CREDIT_CARD", "STREET_ADDRESS"}
    assert all(r["x0"] is not None and r["action"] in ("mask", "label", "hash") for r in audit)
    assert [v for v in values if v in json.dumps(audit, default=str)] == []
    feed = json.dumps(read_arrow(lake, "entity_search").to_pylist(), default=str)
    assert [v for v in values if v in feed] == [] and "[PERSON:" in feed
    validation = validate_lake(lake)
    assert [c.name for c in validation.checks if not c.ok] == []
    # the search export: entity_search as written, and the contract's parties with their tokens
    bulk = tmp_path / "bulk.ndjson"
    export_search(lake, bulk, index="contracts")
    exported = bulk.read_text()
    assert [v for v in values if v in exported] == [] and '"contract":{' in exported and "[PERSON:" in exported

    # docner redact-pdf: the copy has none of the values, by two libraries; the rest is searchable
    out = tmp_path / "redacted"
    (outcome,) = write_redacted_pdfs(lake, out)
    assert outcome.status == WRITTEN and outcome.path == str(out / sample.file)
    with pdfplumber.open(outcome.path) as pdf:
        plumbed = " ".join(_folded(page.extract_text() or "") for page in pdf.pages)
    document = pdfium.PdfDocument(outcome.path)
    try:
        rendered = " ".join(_folded(document[i].get_textpage().get_text_bounded()) for i in range(len(document)))
    finally:
        document.close()
    for text in (plumbed, rendered):
        assert [v for v in values if v in text] == []
        assert "EMPLOYMENT AGREEMENT" in text and "[PERSON:" in text

    # a value put back into a shareable table: validate fails, naming the table and the document
    leaking = [{**p, "text": p["text"] + " " + values[0]} for p in pages]
    write_arrow(pa.Table.from_pylist(leaking, schema=_arrow(REDACTED_PAGES)), lake, REDACTED_PAGES,
                replace_where=f"doc_id = '{doc['doc_id']}'")  # fmt: skip
    check = _check(validate_lake(lake), "shareable_tables_hold_no_redacted_value")
    assert not check.ok and f"redacted_pages:{doc['doc_id']}" in json.dumps(check.__dict__, default=str)

    # the source changed since it was read: no copy is written
    with (inputs / sample.file).open("ab") as handle:
        handle.write(b"\n% appended\n")
    (changed,) = write_redacted_pdfs(lake, tmp_path / "again")
    assert changed.status == FAILED and "SourceChanged" in (changed.reason or "")
    assert not (tmp_path / "again" / sample.file).exists()

    # a hash policy without its key stops the stage before any work
    monkeypatch.delenv("DOCNER_REDACT_KEY")
    config = load_config("local", overrides=[*base, "redact.enabled=true", "redact.policy.PERSON=hash"])
    with pytest.raises(ConfigError, match="DOCNER_REDACT_KEY"):
        run_redact(StageContext(spark=spark, config=config, lake=lake, run_id=new_run_id()), reprocess=True)


def _arrow(spec):
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(spec.schema)
