"""Redacted PDFs: the secrets are gone from every place a PDF can hold them, the rest stays
searchable, the painted boxes land on the words, also on a page shown with /Rotate."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
import pdfplumber
import pypdfium2 as pdfium
import pytest
from reportlab.pdfgen import canvas

from tests.pdf_factory import text_pdf
from udfs.extract.layout import read_text_layer
from udfs.redact.pdf import (
    MASK_FALLBACK,
    Box,
    PageLayer,
    RedactPdfError,
    Word,
    displayed_box,
    encodable_text,
    write_redacted_pdf,
)

EMAIL = "jane.doe@example.com"
SSN = "123-45-6789"
NAME = "Jane Doe"
# The full values and their distinctive pieces; none may survive anywhere in the copy.
SECRETS = (EMAIL, "jane.doe", "example.com", SSN, "45-6789", "6789", NAME, "Jane")
SECRET_WORD = re.compile(r"@|\d{3}-\d{2}-\d{4}|^(Jane|Doe)\W*$")
STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.S)


def _replacement(word: str) -> str:
    if "@" in word:
        return "[EMAIL]"
    if re.search(r"\d{3}-\d{2}-\d{4}", word):
        return "[SSN]"
    return "█" * len(word)


def _source_pdf(path: Path) -> None:
    """Two pages of secrets in text, metadata, annotations, a form field, an outline and an
    attachment; page 2 is shown turned by /Rotate 90."""
    pdf = canvas.Canvas(str(path), pagesize=(612, 792), invariant=True)
    pdf.setTitle(f"Agreement with {NAME}")
    pdf.setAuthor(NAME)
    pdf.setSubject(f"SSN {SSN}")
    pdf.setKeywords(EMAIL)
    pdf.setFont("Helvetica", 11)
    pdf.drawString(72, 700, f"Contact: {EMAIL}, SSN {SSN}")
    pdf.drawString(72, 680, f"Signed by {NAME}")
    pdf.drawString(72, 660, "Payment is due within thirty days.")
    pdf.textAnnotation(f"Reviewer note: {NAME} {SSN}", Rect=(400, 600, 420, 620))
    pdf.linkURL(f"mailto:{EMAIL}", (72, 695, 240, 712))
    pdf.acroForm.textfield(name="ssn", value=SSN, x=72, y=500, width=200, height=20)
    pdf.bookmarkPage("p1")
    pdf.addOutlineEntry(f"Signature of {NAME}", "p1")
    pdf.showPage()
    pdf.setPageRotation(90)  # reportlab swaps the media box: content space is 792 x 612
    pdf.setFont("Helvetica", 11)
    pdf.drawString(72, 300, f"Rotated page signed by {NAME} today")
    pdf.showPage()
    pdf.save()
    document = pdfium.PdfDocument(path.read_bytes())
    try:
        # pypdfium2's wrapper of FPDFDoc_AddAttachment + FPDFAttachment_SetFile
        document.new_attachment("contact.txt").set_data(f"{NAME}, {EMAIL}, {SSN}".encode())
        document.save(path)
    finally:
        document.close()


def _layers(path: Path) -> dict[int, PageLayer]:
    """Word boxes as extract's text-layer pass makes them (turned into displayed space on the
    rotated page); the secret words are filled and replaced in the text layer."""
    layers: dict[int, PageLayer] = {}
    document = pdfium.PdfDocument(path.read_bytes())
    try:
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            try:
                layer = read_text_layer(page, textpage)
                width, height = page.get_size()
                rotation = page.get_rotation()
            finally:
                textpage.close()
                page.close()
            fill: list[Box] = []
            words: list[Word] = []
            for (start, end, _), unrotated in zip(layer.mapped.spans(), layer.boxes, strict=True):
                text = layer.mapped.text[start:end]
                box = displayed_box(
                    Box(unrotated.x0, unrotated.top, unrotated.x1, unrotated.bottom), rotation, width, height
                )
                if SECRET_WORD.search(text):
                    fill.append(box)
                    words.append(Word(_replacement(text), box))
                else:
                    words.append(Word(text, box))
            layers[index + 1] = PageLayer(index + 1, tuple(fill), tuple(words))
    finally:
        document.close()
    return layers


@pytest.fixture(scope="module")
def redacted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[int, PageLayer]]:
    directory = tmp_path_factory.mktemp("redact")
    source, out = directory / "contract.pdf", directory / "contract.redacted.pdf"
    _source_pdf(source)
    layers = _layers(source)
    assert write_redacted_pdf(source, out, layers) == 2
    return source, out, layers


def _pdfium_texts(path: Path) -> list[str]:
    document = pdfium.PdfDocument(path.read_bytes())
    try:
        texts = []
        for page in document:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_bounded())
            textpage.close()
            page.close()
        return texts
    finally:
        document.close()


def _plumber_texts(path: Path) -> list[str]:
    with pdfplumber.open(path) as pdf:
        return [page.extract_text() for page in pdf.pages]


def _inflated(raw: bytes) -> list[bytes]:
    """Every stream's bytes, inflated; a stream that is not Flate data must be a JPEG."""
    streams = []
    for match in STREAM.finditer(raw):
        body = match.group(1)
        try:
            streams.append(zlib.decompressobj().decompress(body))
        except zlib.error:
            assert body.startswith(b"\xff\xd8"), f"a stream neither Flate nor JPEG: {body[:20]!r}"
            streams.append(body)
    return streams


def _render(path: Path, page_index: int, scale: float, *, forms: bool = False) -> np.ndarray:
    """A page as a viewer shows it, annotations drawn (and form fields, with ``forms``)."""
    document = pdfium.PdfDocument(path.read_bytes())
    try:
        if forms:
            document.init_forms()
        page = document[page_index]
        bitmap = page.render(scale=scale, grayscale=True)
        pixels = np.asarray(bitmap.to_pil().convert("L")).copy()
        bitmap.close()
        page.close()
        return pixels
    finally:
        document.close()


def _region(pixels: np.ndarray, box: Box, scale: float, inset: float = 0.0) -> np.ndarray:
    return pixels[
        int((box.top + inset) * scale) : int((box.bottom - inset) * scale) + 1,
        int((box.x0 + inset) * scale) : int((box.x1 - inset) * scale) + 1,
    ]


def test_the_source_holds_the_secrets_everywhere(redacted) -> None:
    """The fixture must carry what the copy is checked for, or the other tests prove nothing."""
    source, _, layers = redacted
    raw = source.read_bytes()
    assert b"/AcroForm" in raw and b"/Annots" in raw and b"/Outlines" in raw
    document = pdfium.PdfDocument(raw)
    try:
        assert document.count_attachments() == 1
        assert NAME in document.get_metadata_dict()["Author"]
        assert document[1].get_rotation() == 90
    finally:
        document.close()
    texts = _plumber_texts(source)
    assert EMAIL in texts[0] and SSN in texts[0] and NAME in texts[1].replace("\n", " ")
    assert len(layers[1].fill) == 4 and len(layers[2].fill) == 2  # email, SSN, Jane, Doe; Jane, Doe


def test_same_pages_at_the_same_displayed_size(redacted) -> None:
    source, out, _ = redacted
    sizes = []
    for path in (source, out):
        document = pdfium.PdfDocument(path.read_bytes())
        sizes.append([tuple(round(v, 2) for v in document.get_page_size(i)) for i in range(len(document))])
        document.close()
    assert sizes[0] == sizes[1] == [(612.0, 792.0), (612.0, 792.0)]
    with pdfplumber.open(out) as pdf:
        assert [page.rotation for page in pdf.pages] == [0, 0]


def test_no_secret_in_the_text_of_either_library(redacted) -> None:
    _, out, _ = redacted
    for text in _pdfium_texts(out) + _plumber_texts(out):
        folded = " ".join(text.split()).casefold()
        for secret in SECRETS:
            assert secret.casefold() not in folded


def test_no_secret_in_metadata_annotations_forms_outline_or_attachments(redacted) -> None:
    _, out, _ = redacted
    raw = out.read_bytes()
    for marker in (b"/AcroForm", b"/Annots", b"/Outlines", b"/EmbeddedFile", b"/Metadata", b"/JavaScript"):
        assert marker not in raw
    document = pdfium.PdfDocument(raw)
    try:
        assert document.count_attachments() == 0
        assert document.get_toc() is not None and list(document.get_toc()) == []
        metadata = {key: value for key, value in document.get_metadata_dict().items() if value}
        assert metadata == {"Creator": "docner redact", "Producer": "docner redact"}
    finally:
        document.close()
    with pdfplumber.open(out) as pdf:
        assert pdf.metadata == {"Creator": "docner redact", "Producer": "docner redact"}
        for page in pdf.pages:
            assert page.annots == [] and page.hyperlinks == []


def test_no_secret_in_the_bytes_even_inflated(redacted) -> None:
    _, out, _ = redacted
    raw = out.read_bytes()
    streams = _inflated(raw)
    assert len(streams) >= 4  # two page images, two content streams
    for blob in (raw, *streams):
        for secret in SECRETS:
            for encoded in (secret.encode("latin-1"), secret.encode("utf-16-be")):
                assert encoded not in blob
                assert encoded.lower() not in blob.lower() or len(secret) < 5


def test_the_rest_stays_searchable_where_it_was(redacted) -> None:
    _, out, layers = redacted
    pdfium_page1, pdfium_page2 = _pdfium_texts(out)
    plumber_page1, plumber_page2 = _plumber_texts(out)
    for page1 in (pdfium_page1, plumber_page1):
        text = " ".join(page1.split())
        assert "Contact: [EMAIL] SSN [SSN]" in text
        assert f"Signed by {MASK_FALLBACK * 4} {MASK_FALLBACK * 3}" in text
        assert "Payment is due within thirty days." in text
    for page2 in (pdfium_page2, plumber_page2):
        assert "Rotated page signed by" in " ".join(page2.split())
    # selection follows the words: pdfplumber finds each word of the layer at its box
    with pdfplumber.open(out) as pdf:
        for page in pdf.pages:
            found = {w["text"]: w for w in page.extract_words()}
            for word in layers[page.page_number].words:
                got = found[encodable_text(word.text)]
                for key in ("x0", "top", "x1", "bottom"):
                    assert got[key] == pytest.approx(getattr(word.box, key), abs=0.5), (word.text, key)


def test_filled_boxes_are_black_and_cover_the_ink(redacted) -> None:
    source, out, layers = redacted
    scale = 2.0
    for page_index in (0, 1):
        before = _render(source, page_index, scale)
        after = _render(out, page_index, scale)
        assert after.shape == before.shape
        for box in layers[page_index + 1].fill:
            assert _region(before, box, scale).min() < 100  # the secret's ink was here
            assert _region(after, box, scale).max() < 60  # and now all of it is black
        # an unredacted word is still drawn, on white
        kept = next(w.box for w in layers[page_index + 1].words if not SECRET_WORD.search(w.text))
        region = _region(after, kept, scale)
        assert region.min() < 100 and region.max() > 200


def test_annotations_and_form_fields_are_not_drawn(redacted) -> None:
    """Their appearances are not part of the page the extraction read: not in the image either."""
    source, out, _ = redacted
    scale = 2.0
    before, after = _render(source, 0, scale, forms=True), _render(out, 0, scale, forms=True)
    form_field, note = Box(72, 792 - 520, 272, 792 - 500), Box(400, 792 - 620, 420, 792 - 600)
    for box in (form_field, note):
        assert _region(before, box, scale, inset=2).min() < 150
        assert _region(after, box, scale, inset=2).min() > 240


def test_pages_without_a_layer_get_the_image_only(tmp_path: Path) -> None:
    source, out = tmp_path / "plain.pdf", tmp_path / "plain.redacted.pdf"
    source.write_bytes(text_pdf("First page text", "Second page text"))
    assert write_redacted_pdf(source, out, {}) == 2
    assert [t.strip() for t in _pdfium_texts(out)] == ["", ""]
    assert _render(out, 0, 1.0).min() < 100  # the text is still there as pixels


def test_output_is_deterministic(redacted, tmp_path: Path) -> None:
    source, out, layers = redacted
    again = tmp_path / "again.pdf"
    write_redacted_pdf(source, again, layers)
    assert again.read_bytes() == out.read_bytes()


def test_corrupt_source_fails_and_leaves_nothing(tmp_path: Path) -> None:
    source, out = tmp_path / "broken.pdf", tmp_path / "out" / "broken.redacted.pdf"
    out.parent.mkdir()
    source.write_bytes(b"not a pdf")
    with pytest.raises(RedactPdfError, match=r"broken\.pdf.*not a PDF"):
        write_redacted_pdf(source, out, {})
    assert list(out.parent.iterdir()) == []


def test_layer_beyond_the_last_page_fails_and_keeps_the_old_output(redacted, tmp_path: Path) -> None:
    source, _, layers = redacted
    out = tmp_path / "contract.redacted.pdf"
    out.write_bytes(b"an earlier copy")
    with pytest.raises(RedactPdfError, match=r"contract\.pdf.*page 9.*2 page"):
        write_redacted_pdf(source, out, {**layers, 9: PageLayer(9, (), ())})
    assert out.read_bytes() == b"an earlier copy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contract.redacted.pdf"]


def test_encrypted_source_fails(tmp_path: Path) -> None:
    source, out = tmp_path / "locked.pdf", tmp_path / "locked.redacted.pdf"
    source.write_bytes(text_pdf("Jane Doe", encrypt="hunter2"))
    with pytest.raises(RedactPdfError, match=r"locked\.pdf.*password") as failure:
        write_redacted_pdf(source, out, {})
    assert failure.value.error_class == "EncryptedPdf"
    assert not out.exists()


def test_the_source_is_never_overwritten(redacted) -> None:
    source, _, layers = redacted
    before = source.read_bytes()
    with pytest.raises(RedactPdfError, match="overwrite"):
        write_redacted_pdf(source, source, layers)
    assert source.read_bytes() == before


def test_unencodable_characters_have_a_fallback() -> None:
    assert encodable_text("[EMAIL] ██████ café") == "[EMAIL] XXXXXX café"
    assert encodable_text("Łódź 日本") == "?ódz ??"


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_displayed_box_agrees_with_pdfplumber(tmp_path: Path, rotation: int) -> None:
    """pdfium's text layer gives boxes in the unrotated page space; pdfplumber gives them as
    displayed. displayed_box turns the one into the other."""
    path = tmp_path / "turned.pdf"
    pdf = canvas.Canvas(str(path), pagesize=(612, 792))
    pdf.setPageRotation(rotation)
    pdf.setFont("Helvetica", 11)
    pdf.drawString(72, 300, "Turned words here")
    pdf.showPage()
    pdf.save()
    document = pdfium.PdfDocument(path.read_bytes())
    page = document[0]
    textpage = page.get_textpage()
    layer = read_text_layer(page, textpage)
    width, height = page.get_size()
    turned = [displayed_box(Box(b.x0, b.top, b.x1, b.bottom), page.get_rotation(), width, height) for b in layer.boxes]
    textpage.close()
    page.close()
    document.close()
    with pdfplumber.open(path) as plumber:
        words = plumber.pages[0].extract_words()
    expected = sorted((w["x0"], w["top"], w["x1"], w["bottom"]) for w in words)
    assert len(turned) == len(expected) == 3
    for got, want in zip(sorted((b.x0, b.top, b.x1, b.bottom) for b in turned), expected, strict=True):
        assert got == pytest.approx(want, abs=3.0)
