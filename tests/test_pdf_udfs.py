"""The PDF-side code the UDFs run, exercised directly on generated files (no Spark)."""

from __future__ import annotations

import io
import os

import pytest
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfgen import canvas

from udfs.errors import STATUS_FAILED, STATUS_OK, STATUS_PARTIAL, STATUS_SKIPPED
from udfs.extract import ExtractOptions, extract_file, extract_pages
from udfs.ingest import probe_file
from udfs.ocr import OcrOptions, tesseract_problem


def _pdf(text: str, encrypt=None) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=LETTER, invariant=1, encrypt=encrypt)
    pdf.drawString(72, 700, text)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _probe(tmp_path, name: str, data: bytes, max_bytes: int = 10**9) -> dict:
    path = tmp_path / name
    path.write_bytes(data)
    return probe_file(str(path), os.path.getsize(path), max_bytes)


@pytest.mark.parametrize(
    ("data", "status", "error_class"),
    [
        (b"", STATUS_FAILED, "EmptyFile"),
        (b"PK\x03\x04 a zip file really", STATUS_FAILED, "NotAPdf"),
        (b"%PDF-1.4\n%%EOF garbage", STATUS_FAILED, "CorruptPdf"),
    ],
)
def test_probe_classifies_broken_files(tmp_path, data, status, error_class):
    row = _probe(tmp_path, "x.pdf", data)
    assert (row["status"], row["error_class"]) == (status, error_class)
    assert row["error_message"]
    assert len(row["doc_id"]) == 64


def test_probe_reads_page_count_and_hash(tmp_path):
    import hashlib

    data = _pdf("Hello")
    row = _probe(tmp_path, "ok.pdf", data)
    assert row["status"] == STATUS_OK and row["page_count"] == 1
    assert row["doc_id"] == hashlib.sha256(data).hexdigest()


def test_encrypted_pdf_needing_a_password_is_recorded(tmp_path):
    data = _pdf("Secret", encrypt=StandardEncryption("user-pw", ownerPassword="owner-pw"))
    row = _probe(tmp_path, "locked.pdf", data)
    assert (row["status"], row["error_class"]) == (STATUS_FAILED, "EncryptedPdf")


def test_owner_password_only_pdf_opens(tmp_path):
    data = _pdf("Readable but restricted", encrypt=StandardEncryption("", ownerPassword="owner-pw", canPrint=0))
    row = _probe(tmp_path, "restricted.pdf", data)
    assert row["status"] == STATUS_OK
    assert "Readable but restricted" in extract_pages(data, ExtractOptions()).pages[0]["text"]


def test_file_over_the_size_limit_is_skipped_unread(tmp_path):
    row = _probe(tmp_path, "big.pdf", _pdf("big"), max_bytes=10)
    assert (row["status"], row["error_class"]) == (STATUS_SKIPPED, "FileTooLarge")
    assert row["page_count"] is None


def test_unreadable_file_gets_a_path_based_id(tmp_path):
    row = probe_file(str(tmp_path / "missing.pdf"), 5, 10**9)
    assert (row["status"], row["error_class"]) == (STATUS_FAILED, "ReadError")
    assert len(row["doc_id"]) == 64


def test_source_changed_since_ingest_is_detected(tmp_path):
    path = tmp_path / "a.pdf"
    path.write_bytes(_pdf("one"))
    outcome = extract_file("0" * 64, str(path), ExtractOptions())
    assert (outcome["status"], outcome["error_class"]) == (STATUS_FAILED, "SourceChanged")


def test_scanned_page_is_ocrd(sample_dir, gold):
    record = gold["scanned_nda.pdf"]
    result = extract_pages((sample_dir / record.file).read_bytes(), ExtractOptions())
    assert result.status == STATUS_OK
    assert [p["method"] for p in result.pages] == ["ocr"]
    for word in record.ocr_words:
        assert word in result.pages[0]["text"]


def test_ocr_disabled_leaves_scanned_page_empty(sample_dir):
    result = extract_pages((sample_dir / "scanned_nda.pdf").read_bytes(), ExtractOptions(ocr_enabled=False))
    assert [(p["method"], p["text"]) for p in result.pages] == [("text", "")]


def test_missing_tesseract_fails_only_the_pages_that_need_it(sample_dir):
    options = ExtractOptions(ocr=OcrOptions(tesseract_cmd="/nonexistent/tesseract"))
    assert "not found" in tesseract_problem(options.ocr)
    result = extract_pages((sample_dir / "mixed_lease.pdf").read_bytes(), options)
    assert result.status == STATUS_PARTIAL
    assert [p["page_no"] for p in result.pages] == [1]
    assert result.error_class == "OcrUnavailable"
    assert result.error_message.startswith("page 2:")


def test_missing_language_data_is_named():
    problem = tesseract_problem(OcrOptions(language="xyz"))
    assert "tesseract-ocr-xyz" in problem
