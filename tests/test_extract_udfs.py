"""What the extract UDFs make of generated files, run in-process (no Spark)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from reportlab.lib.pdfencrypt import StandardEncryption

from tests.pdf_factory import image_pdf, raw_pdf, text_image, text_ops, text_pdf
from udfs.errors import STATUS_FAILED, STATUS_OK, STATUS_PARTIAL, STATUS_SKIPPED
from udfs.extract.layout import PageSignals
from udfs.extract.ocr import OcrOptions, tesseract_problem
from udfs.extract.passes import ExtractOptions, RoutingOptions, extract_document, route
from udfs.ingest import probe_file

BODY = "This Agreement is made on April 2, 2021 between Stark Industries and Wayne Enterprises."


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _probe(tmp_path: Path, name: str, data: bytes, max_bytes: int = 10**9) -> dict:
    path = _file(tmp_path, name, data)
    return probe_file(str(path), os.path.getsize(path), max_bytes)


def _extract(path: Path, options: ExtractOptions | None = None, page_count: int | None = None) -> dict:
    data = path.read_bytes()
    row = probe_file(str(path), len(data), 10**9)
    assert row["status"] == STATUS_OK, row
    return extract_document(
        hashlib.sha256(data).hexdigest(), str(path), page_count or row["page_count"], options or ExtractOptions()
    )


# --- ingest: every kind of bad file gets a status and an error class ------------------------


@pytest.mark.parametrize(
    ("data", "error_class"),
    [
        (b"", "EmptyFile"),
        (b"PK\x03\x04 a zip file really", "NotAPdf"),
        (b"%PDF-1.4\n%%EOF garbage", "CorruptPdf"),
    ],
)
def test_probe_classifies_broken_files(tmp_path, data, error_class):
    row = _probe(tmp_path, "x.pdf", data)
    assert (row["status"], row["error_class"]) == (STATUS_FAILED, error_class)
    assert row["error_message"] and len(row["doc_id"]) == 64


def test_truncated_pdf_is_corrupt(tmp_path):
    whole = text_pdf("page one", "page two", "page three")
    row = _probe(tmp_path, "cut.pdf", whole[: len(whole) // 2])
    assert (row["status"], row["error_class"]) == (STATUS_FAILED, "CorruptPdf")


def test_probe_reads_page_count_and_hash(tmp_path):
    data = text_pdf("Hello", "World")
    row = _probe(tmp_path, "ok.pdf", data)
    assert (row["status"], row["page_count"]) == (STATUS_OK, 2)
    assert row["doc_id"] == hashlib.sha256(data).hexdigest()


def test_encrypted_pdf_needing_a_password_is_recorded(tmp_path):
    row = _probe(tmp_path, "locked.pdf", text_pdf("Secret", encrypt=StandardEncryption("user-pw", ownerPassword="o")))
    assert (row["status"], row["error_class"]) == (STATUS_FAILED, "EncryptedPdf")


def test_owner_password_only_pdf_is_read(tmp_path):
    data = text_pdf("Readable but restricted text here", encrypt=StandardEncryption("", ownerPassword="o", canPrint=0))
    outcome = _extract(_file(tmp_path, "restricted.pdf", data))
    assert outcome["status"] == STATUS_OK
    assert "Readable but restricted" in outcome["pages"][0]["text"]


def test_file_over_the_size_limit_is_skipped_unread(tmp_path):
    row = _probe(tmp_path, "big.pdf", text_pdf("big"), max_bytes=10)
    assert (row["status"], row["error_class"], row["page_count"]) == (STATUS_SKIPPED, "FileTooLarge", None)


def test_unreadable_file_gets_a_path_based_id(tmp_path):
    row = probe_file(str(tmp_path / "missing.pdf"), 5, 10**9)
    assert (row["status"], row["error_class"]) == (STATUS_FAILED, "ReadError")
    assert len(row["doc_id"]) == 64


def test_source_changed_since_ingest_is_detected(tmp_path):
    path = _file(tmp_path, "a.pdf", text_pdf("one"))
    outcome = extract_document("0" * 64, str(path), 1, ExtractOptions())
    assert (outcome["status"], outcome["error_class"]) == (STATUS_FAILED, "SourceChanged")


def test_javascript_is_never_run_and_the_text_is_read(tmp_path):
    data = raw_pdf(
        text_ops(["Payment of $4,000 is due on May 1, 2024 to Contoso Ltd."]),
        catalog_extra=b"/OpenAction 6 0 R",
        extra_objects=[b"<< /Type /Action /S /JavaScript /JS (app.alert('pwned'); this.submitForm('http://x');) >>"],
    )
    outcome = _extract(_file(tmp_path, "js.pdf", data))
    assert outcome["status"] == STATUS_OK
    assert outcome["pages"][0]["text"] == "Payment of $4,000 is due on May 1, 2024 to Contoso Ltd."


# --- routing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        (PageSignals(text_chars=1500), (False, "text_layer")),
        (PageSignals(text_chars=3, image_coverage=0.9), (True, "no_text_layer")),
        (PageSignals(text_chars=3, vector_paths=400), (True, "no_text_layer")),  # text drawn as outlines
        (PageSignals(text_chars=3), (False, "sparse_text")),
        (PageSignals(text_chars=0), (False, "blank_page")),
        (PageSignals(text_chars=900, bad_char_share=0.6), (True, "unmapped_glyphs")),
        (PageSignals(text_chars=900, invisible_share=1.0), (True, "invisible_text")),
        (PageSignals(text_chars=900, outside_share=0.9), (True, "text_outside_page")),
        (PageSignals(text_chars=40, image_coverage=0.95), (True, "image_page")),
        (PageSignals(text_chars=2000, image_coverage=0.95), (False, "text_layer")),  # text over a background
    ],
)
def test_routing_rules(signals, expected):
    assert route(signals, RoutingOptions()) == expected


def _page(outcome: dict, page_no: int = 1) -> dict:
    return next(p for p in outcome["pages"] if p["page_no"] == page_no)


def test_invisible_text_layer_is_measured_and_reocrd(tmp_path):
    data = raw_pdf(text_ops(["an invisible OCR layer that nobody can see on the page"] * 3, render_mode=3))
    page = _page(_extract(_file(tmp_path, "invisible.pdf", data)))
    assert page["invisible_share"] == 1.0
    assert (page["method"], page["route_reason"]) == ("ocr", "invisible_text")


def test_text_outside_the_page_is_measured(tmp_path):
    data = raw_pdf(text_ops(["text placed far outside the visible page area"] * 3, x=-5000))
    page = _page(_extract(_file(tmp_path, "outside.pdf", data), ExtractOptions(ocr=OcrOptions(enabled=False))))
    assert page["route_reason"] == "ocr_disabled:text_outside_page"


def test_unmapped_glyphs_are_measured(tmp_path):
    garbage = "(cid:12)(cid:7)(cid:44) " * 20
    page = _page(
        _extract(
            _file(tmp_path, "cid.pdf", raw_pdf(text_ops([garbage]))), ExtractOptions(ocr=OcrOptions(enabled=False))
        )
    )
    assert page["bad_char_share"] > 0.5
    assert page["route_reason"] == "ocr_disabled:unmapped_glyphs"


def test_scan_with_a_digital_stamp_is_ocrd(tmp_path):
    scan = image_pdf(text_image(["CONFIDENTIAL SETTLEMENT", BODY[:60], BODY[60:]]))
    # stamp a short digital line over the scan, as filing systems do
    from pypdfium2 import PdfDocument

    stamp = PdfDocument(text_pdf("Filed 2024-05-01 ref 77"))
    merged = PdfDocument(scan)
    page = merged[0]
    page.insert_obj(stamp.page_as_xobject(0, merged).as_pageobject())
    page.gen_content()
    import io

    buffer = io.BytesIO()
    merged.save(buffer)
    outcome = _extract(_file(tmp_path, "stamped.pdf", buffer.getvalue()))
    first = _page(outcome)
    assert first["image_coverage"] > 0.9
    assert (first["method"], first["route_reason"]) == ("ocr", "image_page")
    assert "SETTLEMENT" in first["text"]


# --- OCR ---------------------------------------------------------------------------------


def test_scanned_page_is_ocrd_with_confidence(sample_dir, gold):
    record = gold["scanned_nda.pdf"]
    page = _page(_extract(sample_dir / record.file))
    assert (page["method"], page["route_reason"]) == ("ocr", "no_text_layer")
    assert page["ocr_confidence"] > 80
    for word in record.ocr_words:
        assert word in page["text"]


def test_sideways_scan_is_turned_upright(sample_dir, gold):
    record = gold["scanned_sideways_nda.pdf"]
    page = _page(_extract(sample_dir / record.file))
    for word in record.ocr_words:
        assert word in page["text"]


def test_ruled_table_is_read_row_by_row_without_pipes(sample_dir, gold):
    page = _page(_extract(sample_dir / "scanned_price_list.pdf"))
    text = page["text"]
    assert "|" not in text
    rows = [line.split("\t") for line in text.split("\n") if "\t" in line]
    assert rows[0] == gold["supply_table.pdf"].table_cells[0]
    assert ["XG-4500", "Industrial pressure sensor", "1,200", "$45.00"] in rows


def test_ocr_disabled_leaves_scanned_page_empty(sample_dir):
    page = _page(_extract(sample_dir / "scanned_nda.pdf", ExtractOptions(ocr=OcrOptions(enabled=False))))
    assert (page["method"], page["text"], page["route_reason"]) == ("text", "", "ocr_disabled:no_text_layer")


def test_missing_tesseract_fails_only_the_pages_that_need_it(sample_dir):
    options = ExtractOptions(ocr=OcrOptions(tesseract_cmd="/nonexistent/tesseract"))
    assert "not found" in tesseract_problem(options.ocr)
    outcome = _extract(sample_dir / "mixed_lease.pdf", options)
    assert (outcome["status"], outcome["error_class"]) == (STATUS_PARTIAL, "OcrUnavailable")
    assert [(p["page_no"], p["status"]) for p in outcome["pages"]] == [(1, STATUS_OK), (2, STATUS_FAILED)]
    assert outcome["error_message"].startswith("page 2:")


def test_ocr_timeout_is_recorded_per_page(sample_dir):
    options = ExtractOptions(ocr=OcrOptions(page_timeout_s=0.001, detect_orientation=False))
    outcome = _extract(sample_dir / "scanned_nda.pdf", options)
    assert (outcome["status"], outcome["error_class"]) == (STATUS_FAILED, "OcrTimeout")


def test_missing_language_data_is_named():
    assert "tesseract-ocr-xyz" in tesseract_problem(OcrOptions(language="xyz"))


def test_absurd_page_size_is_rendered_at_a_lower_dpi(tmp_path):
    giant = image_pdf(text_image(["A GIANT POSTER PAGE"], size=(400, 400)), pagesize=(14400, 14400))
    page = _page(_extract(_file(tmp_path, "giant.pdf", giant)))
    assert page["status"] == STATUS_OK
    assert "dpi to fit" in page["route_reason"]


# --- page cap, layout, cleaning, boxes ----------------------------------------------------


def test_pages_past_the_cap_are_recorded_as_skipped(tmp_path):
    data = text_pdf(*[f"Page body number {n} with enough text to read." for n in range(1, 41)])
    outcome = _extract(_file(tmp_path, "long.pdf", data), ExtractOptions(max_pages=25))
    assert (outcome["status"], outcome["error_class"]) == (STATUS_PARTIAL, "PageLimit")
    statuses = [(p["page_no"], p["status"]) for p in outcome["pages"]]
    assert statuses == [(n, STATUS_OK if n <= 25 else STATUS_SKIPPED) for n in range(1, 41)]
    assert "pages 26-40 skipped" in outcome["error_message"]


def test_two_column_page_reads_column_by_column(sample_dir, gold):
    record = gold["license_two_column.pdf"]
    page = _page(_extract(sample_dir / record.file))
    assert page["route_reason"] == "layout:columns"
    flat = " ".join(page["text"].split())
    positions = [flat.find(phrase) for phrase in record.reading_order]
    assert -1 not in positions and positions == sorted(positions)


def test_ruled_table_is_kept_in_text_and_returned_by_cell(sample_dir, gold):
    outcome = _extract(sample_dir / "supply_table.pdf")
    page = _page(outcome)
    assert page["route_reason"] == "layout:table"
    expected = gold["supply_table.pdf"].table_cells
    assert "\n".join("\t".join(row) for row in expected) in page["text"]
    cells = {(c["row"], c["col"]): c["text"] for c in outcome["tables"] if c["table_no"] == 1}
    assert cells == {(r + 1, c + 1): value for r, row in enumerate(expected) for c, value in enumerate(row)}


def test_headers_footers_and_hyphenation(sample_dir, gold):
    record = gold["board_minutes.pdf"]
    outcome = _extract(sample_dir / record.file)
    text = "\n".join(p["text"] for p in outcome["pages"])
    for phrase in record.present:
        assert phrase in " ".join(text.split())
    for phrase in record.absent:
        assert phrase not in text


@pytest.mark.parametrize("name", ["services_agreement.pdf", "scanned_nda.pdf", "supply_table.pdf"])
def test_word_boxes_point_at_words_on_the_page(sample_dir, name):
    for page in _extract(sample_dir / name)["pages"]:
        previous_end = 0
        for box in page["word_boxes"]:
            assert previous_end <= box["start"] < box["end"] <= len(page["text"])
            word = page["text"][box["start"] : box["end"]]
            assert word.strip() == word and "\n" not in word
            assert -1 <= box["x0"] < box["x1"] <= page["width_pt"] + 1
            assert -1 <= box["top"] < box["bottom"] <= page["height_pt"] + 1
            previous_end = box["end"]


def test_thousands_of_pages_past_the_cap_are_skipped_not_read(tmp_path):
    data = text_pdf(*[f"Schedule line {n}" for n in range(1, 3001)], pagesize=(200, 100))
    outcome = _extract(_file(tmp_path, "huge.pdf", data), ExtractOptions(max_pages=60))
    assert len(outcome["pages"]) == 3000
    assert sum(p["status"] == STATUS_SKIPPED for p in outcome["pages"]) == 2940
    assert outcome["pages"][59]["text"] == "Schedule line 60"
    assert (outcome["status"], outcome["error_class"]) == (STATUS_PARTIAL, "PageLimit")


def test_tiny_page_is_handled(tmp_path):
    page = _page(_extract(_file(tmp_path, "tiny.pdf", image_pdf(text_image(["x"], size=(8, 8)), pagesize=(1, 1)))))
    assert (page["status"], page["method"]) == (STATUS_OK, "ocr")
