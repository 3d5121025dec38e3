"""Sample contract PDFs with known entities, generated (no PDF binaries are committed).

``docner samples --out DIR`` writes digital contracts (one with a two-column page, one with
a table), image-only "scanned" ones, a mixed one, broken files, a duplicate, and
``gold.json`` describing what each should yield. Output is byte-for-byte reproducible.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image, ImageFilter
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    FrameBreak,
    PageBreak,
    PageTemplate,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

GOLD_FILE = "gold.json"
SCAN_DPI = 200


@dataclass(frozen=True)
class GoldEntity:
    page: int
    text: str
    label: str


@dataclass
class GoldDocument:
    file: str
    status: str
    error_class: str | None = None
    pages: int | None = None
    ocr_pages: list[int] = field(default_factory=list)
    ocr_words: list[str] = field(default_factory=list)  # words OCR must recover
    entities: list[GoldEntity] = field(default_factory=list)
    reading_order: list[str] = field(default_factory=list)  # phrases in the order they must appear
    present: list[str] = field(default_factory=list)  # phrases the cleaned text must contain
    absent: list[str] = field(default_factory=list)  # phrases cleaning must remove (headers, footers)
    table_cells: list[list[str]] = field(default_factory=list)  # expected rows of the first table
    duplicate_of: str | None = None


_STYLES = getSampleStyleSheet()
_BODY = ParagraphStyle("body", parent=_STYLES["BodyText"], fontName="Helvetica", fontSize=11, leading=15)
_TITLE = ParagraphStyle("title", parent=_STYLES["Title"], fontName="Helvetica-Bold", fontSize=16)


def _flow_pdf(story: list, templates: list[PageTemplate] | None = None) -> bytes:
    buffer = io.BytesIO()
    if templates:
        doc = BaseDocTemplate(buffer, pagesize=LETTER, invariant=1, pageTemplates=templates)
    else:
        doc = SimpleDocTemplate(
            buffer, pagesize=LETTER, invariant=1, leftMargin=inch, rightMargin=inch, topMargin=inch, bottomMargin=inch
        )
    doc.build(story)
    return buffer.getvalue()


SERVICES_P1 = [
    'This Master Services Agreement (the "Agreement") is entered into as of March 15, 2023 by and '
    "between Acme Robotics, Inc., a Delaware corporation with offices in San Francisco, California "
    '("Provider"), and Globex Corporation ("Client").',
    "1. Services. Provider shall deliver the robotic integration services described in Exhibit A.",
    "2. Fees. Client shall pay Provider a total fee of $2,500,000, payable in four equal installments.",
    "3. Term. This Agreement remains in effect until December 31, 2025, unless terminated earlier.",
]
SERVICES_P2 = [
    "4. Governing Law. This Agreement is governed by the laws of the State of Delaware.",
    "IN WITNESS WHEREOF, the parties have executed this Agreement as of the date first written above.",
    "Acme Robotics, Inc. By: Jane Smith, Chief Executive Officer.",
    "Globex Corporation. By: Robert Chen, Chief Financial Officer.",
]


def services_agreement() -> tuple[bytes, GoldDocument]:
    story: list = [Paragraph("MASTER SERVICES AGREEMENT", _TITLE), Spacer(1, 12)]
    story += [Paragraph(p, _BODY) for p in SERVICES_P1]
    story += [PageBreak()] + [Paragraph(p, _BODY) for p in SERVICES_P2]
    gold = GoldDocument(
        file="services_agreement.pdf",
        status="ok",
        pages=2,
        entities=[
            GoldEntity(1, "March 15, 2023", "DATE"),
            GoldEntity(1, "Acme Robotics, Inc.", "ORG"),
            GoldEntity(1, "Delaware", "GPE"),
            GoldEntity(1, "San Francisco", "GPE"),
            GoldEntity(1, "California", "GPE"),
            GoldEntity(1, "2,500,000", "MONEY"),
            GoldEntity(1, "December 31, 2025", "DATE"),
            GoldEntity(2, "Delaware", "GPE"),
            GoldEntity(2, "Jane Smith", "PERSON"),
            GoldEntity(2, "Robert Chen", "PERSON"),
        ],
    )
    return _flow_pdf(story), gold


LICENSE_LEFT = [
    "SOFTWARE LICENSE AGREEMENT. This agreement is made on January 8, 2024 between Initech LLC, "
    "a Texas limited liability company located in Austin, Texas, and the licensee named below.",
    "Grant. Initech LLC grants the licensee a non-exclusive license to use the TPS Report Suite "
    "on up to fifty workstations for internal business purposes only.",
    "Fees. The licensee shall pay an annual license fee of $75,000 within thirty days of invoice.",
]
LICENSE_RIGHT = [
    "Support. Initech LLC will provide telephone support from its office in Dallas, Texas during "
    "business hours, excluding public holidays observed in the United States.",
    "Notices. Notices to the licensee go to Peter Gibbons, who acts as the licensee's contract "
    "manager for all matters arising under this agreement.",
    "Term. The license begins on February 1, 2024 and renews each year unless either party objects.",
]


def license_two_column() -> tuple[bytes, GoldDocument]:
    margin = 0.75 * inch
    gap = 0.3 * inch
    width, height = LETTER
    column = (width - 2 * margin - gap) / 2
    frames = [
        Frame(margin, margin, column, height - 2 * margin, id="left"),
        Frame(margin + column + gap, margin, column, height - 2 * margin, id="right"),
    ]
    story: list = [Paragraph(p, _BODY) for p in LICENSE_LEFT]
    story.append(FrameBreak())
    story += [Paragraph(p, _BODY) for p in LICENSE_RIGHT]
    gold = GoldDocument(
        file="license_two_column.pdf",
        status="ok",
        pages=1,
        entities=[
            GoldEntity(1, "January 8, 2024", "DATE"),
            GoldEntity(1, "Austin", "GPE"),
            GoldEntity(1, "Texas", "GPE"),
            GoldEntity(1, "75,000", "MONEY"),
            GoldEntity(1, "Dallas", "GPE"),
            GoldEntity(1, "Peter Gibbons", "PERSON"),
            GoldEntity(1, "February 1, 2024", "DATE"),
            GoldEntity(1, "the United States", "GPE"),
        ],
        reading_order=["SOFTWARE LICENSE AGREEMENT", "annual license fee", "Support.", "renews each year"],
    )
    return _flow_pdf(story, [PageTemplate(id="two", frames=frames)]), gold


SUPPLY_ROWS = [
    ["SKU", "Description", "Quantity", "Unit price"],
    ["XG-4500", "Industrial pressure sensor", "1,200", "$45.00"],
    ["AB-12345", "Mounting bracket, steel", "2,400", "$3.75"],
    ["QT-0099", "Calibration kit", "60", "$310.00"],
]


def supply_with_table() -> tuple[bytes, GoldDocument]:
    story: list = [
        Paragraph("SUPPLY AGREEMENT", _TITLE),
        Paragraph(
            "This Supply Agreement is dated June 1, 2022 and is made between Umbrella Corporation and "
            "Wayne Enterprises. Orders are placed with Maria Garcia at the Chicago, Illinois office.",
            _BODY,
        ),
        Spacer(1, 12),
    ]
    table = Table(SUPPLY_ROWS, colWidths=[1.1 * inch, 2.6 * inch, 1.0 * inch, 1.1 * inch])
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.75, colors.black),
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTNAME", (0, 1), (-1, -1), "Helvetica"),
            ]
        )
    )
    story += [table, Spacer(1, 12)]
    story.append(Paragraph("Payment is due within 45 days. The total order value is $73,050.00.", _BODY))
    gold = GoldDocument(
        file="supply_table.pdf",
        status="ok",
        pages=1,
        entities=[
            GoldEntity(1, "June 1, 2022", "DATE"),
            GoldEntity(1, "Umbrella Corporation", "ORG"),
            GoldEntity(1, "Wayne Enterprises", "ORG"),
            GoldEntity(1, "Maria Garcia", "PERSON"),
            GoldEntity(1, "Chicago", "GPE"),
            GoldEntity(1, "Illinois", "GPE"),
            GoldEntity(1, "73,050.00", "MONEY"),
        ],
        reading_order=["SUPPLY AGREEMENT", "XG-4500", "AB-12345", "QT-0099", "Payment is due"],
        table_cells=SUPPLY_ROWS,
    )
    return _flow_pdf(story), gold


NDA_LINES = [
    "MUTUAL NON-DISCLOSURE AGREEMENT",
    "",
    "This Agreement is made on April 2, 2021 between Stark Industries",
    "and Wayne Enterprises, each a party disclosing confidential",
    "information to the other for the purpose of a joint venture.",
    "",
    "The receiving party shall keep the information secret for a",
    "period of five years. This Agreement is governed by the laws",
    "of the State of California.",
    "",
    "Signed in Los Angeles by Tony Stark and Bruce Wayne.",
]

LEASE_DIGITAL = [
    "COMMERCIAL LEASE. This lease is made on September 30, 2020 between Oceanic Properties LLC "
    '("Landlord") and Blue Harbor Foods Inc. ("Tenant") for premises in Seattle, Washington.',
    "Rent. Tenant shall pay monthly rent of $4,200 on the first day of each month.",
]
LEASE_SCANNED = [
    "SIGNATURES",
    "",
    "Landlord: Oceanic Properties LLC",
    "By: Michael Brown, Managing Member",
    "",
    "Tenant: Blue Harbor Foods Inc.",
    "By: Linda Park, President",
    "",
    "Dated October 5, 2020 in Seattle, Washington.",
]


def typed_page(lines: list[str]) -> bytes:
    """A one-page digital PDF of plain typed lines (the master of a 'scan')."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=LETTER, invariant=1)
    text = pdf.beginText(inch, LETTER[1] - 1.2 * inch)
    text.setFont("Courier", 12)
    text.setLeading(18)
    for line in lines:
        text.textLine(line)
    pdf.drawText(text)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def scan(master_pdf: bytes, seed: int) -> Image.Image:
    """Rasterise a page the way a scanner would: grey, slightly blurred, speckled, a bit skewed."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(master_pdf)
    try:
        image = document[0].render(scale=SCAN_DPI / 72, grayscale=True).to_pil().convert("L")
    finally:
        document.close()
    rng = random.Random(seed)
    image = image.filter(ImageFilter.GaussianBlur(0.5))
    pixels = image.load()
    width, height = image.size
    for _ in range(width * height // 5000):
        x, y = rng.randrange(width), rng.randrange(height)
        pixels[x, y] = rng.choice((60, 140, 200))
    return image.rotate(0.4, resample=Image.Resampling.BICUBIC, fillcolor=255)


def pages_pdf(pages: list[Image.Image | list]) -> bytes:
    """A PDF with one page per entry: an image fills the page (no text layer, like a scan); a
    list of flowables is typeset as a digital page."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=LETTER, invariant=1)
    width, height = LETTER
    for page in pages:
        if isinstance(page, Image.Image):
            png = io.BytesIO()
            page.save(png, format="PNG", optimize=True)
            png.seek(0)
            pdf.drawImage(ImageReader(png), 0, 0, width=width, height=height)
        else:
            Frame(inch, inch, width - 2 * inch, height - 2 * inch).addFromList(list(page), pdf)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def scanned_nda() -> tuple[bytes, GoldDocument]:
    data = pages_pdf([scan(typed_page(NDA_LINES), seed=7)])
    gold = GoldDocument(
        file="scanned_nda.pdf",
        status="ok",
        pages=1,
        ocr_pages=[1],
        ocr_words=["NON-DISCLOSURE", "Stark", "Industries", "Wayne", "Enterprises", "April", "2021", "California"],
        entities=[
            GoldEntity(1, "April 2, 2021", "DATE"),
            GoldEntity(1, "Stark Industries", "ORG"),
            GoldEntity(1, "Wayne Enterprises", "ORG"),
            GoldEntity(1, "five years", "DATE"),
            GoldEntity(1, "California", "GPE"),
            GoldEntity(1, "Los Angeles", "GPE"),
            GoldEntity(1, "Tony Stark", "PERSON"),
            GoldEntity(1, "Bruce Wayne", "PERSON"),
        ],
    )
    return data, gold


def mixed_lease() -> tuple[bytes, GoldDocument]:
    digital_page = [Paragraph(p, _BODY) for p in LEASE_DIGITAL]
    data = pages_pdf([digital_page, scan(typed_page(LEASE_SCANNED), seed=11)])
    gold = GoldDocument(
        file="mixed_lease.pdf",
        status="ok",
        pages=2,
        ocr_pages=[2],
        ocr_words=["SIGNATURES", "Oceanic", "Michael", "Brown", "Linda", "Park", "Seattle"],
        entities=[
            GoldEntity(1, "September 30, 2020", "DATE"),
            GoldEntity(1, "Oceanic Properties LLC", "ORG"),
            GoldEntity(1, "Seattle", "GPE"),
            GoldEntity(1, "Washington", "GPE"),
            GoldEntity(1, "4,200", "MONEY"),
            GoldEntity(2, "Michael Brown", "PERSON"),
            GoldEntity(2, "Linda Park", "PERSON"),
            GoldEntity(2, "October 5, 2020", "DATE"),
            GoldEntity(2, "Seattle", "GPE"),
        ],
    )
    return data, gold


def amendment() -> tuple[bytes, GoldDocument]:
    story = [
        Paragraph("AMENDMENT NO. 1", _TITLE),
        Paragraph(
            "This Amendment No. 1, effective July 1, 2023, amends the Master Services Agreement between "
            "Acme Robotics, Inc. and Globex Corporation. The total fee is increased to $2,750,000.",
            _BODY,
        ),
        Paragraph("Approved by Jane Smith and Robert Chen.", _BODY),
    ]
    gold = GoldDocument(
        file="amendments/amendment_1.PDF",
        status="ok",
        pages=1,
        entities=[
            GoldEntity(1, "July 1, 2023", "DATE"),
            GoldEntity(1, "Acme Robotics, Inc.", "ORG"),
            GoldEntity(1, "2,750,000", "MONEY"),
            GoldEntity(1, "Jane Smith", "PERSON"),
            GoldEntity(1, "Robert Chen", "PERSON"),
        ],
    )
    return _flow_pdf(story), gold


def scanned_price_list() -> tuple[bytes, GoldDocument]:
    """A scan of a ruled table: OCR must read the cells, not the rulings."""
    table = Table(SUPPLY_ROWS, colWidths=[1.3 * inch, 2.8 * inch, 1.1 * inch, 1.2 * inch], rowHeights=0.45 * inch)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 1.2, colors.black),
                ("FONTNAME", (0, 0), (-1, -1), "Helvetica"),
                ("FONTSIZE", (0, 0), (-1, -1), 12),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    master = _flow_pdf([Paragraph("PRICE LIST FOR WAYNE ENTERPRISES", _TITLE), Spacer(1, 12), table])
    gold = GoldDocument(
        file="scanned_price_list.pdf",
        status="ok",
        pages=1,
        ocr_pages=[1],
        ocr_words=["PRICE", "WAYNE", "XG-4500", "AB-12345", "Calibration", "$310.00"],
        entities=[GoldEntity(1, "WAYNE ENTERPRISES", "ORG")],
    )
    return pages_pdf([scan(master, seed=23)]), gold


def rotated_scan() -> tuple[bytes, GoldDocument]:
    """A page scanned sideways: orientation detection must turn it upright."""
    image = scan(typed_page(NDA_LINES), seed=5).rotate(90, expand=True)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(LETTER[1], LETTER[0]), invariant=1)
    png = io.BytesIO()
    image.save(png, format="PNG", optimize=True)
    png.seek(0)
    pdf.drawImage(ImageReader(png), 0, 0, width=LETTER[1], height=LETTER[0])
    pdf.showPage()
    pdf.save()
    gold = GoldDocument(
        file="scanned_sideways_nda.pdf",
        status="ok",
        pages=1,
        ocr_pages=[1],
        ocr_words=["NON-DISCLOSURE", "Stark", "Industries", "April", "2021"],
        entities=[GoldEntity(1, "April 2, 2021", "DATE"), GoldEntity(1, "Tony Stark", "PERSON")],
    )
    return buffer.getvalue(), gold


MINUTES_HEADER = "GLOBEX CORPORATION - MINUTES OF THE BOARD OF DIRECTORS"
MINUTES_PAGES = [
    [
        "A meeting of the Board of Directors of Globex Corporation was held on",
        "November 3, 2022 at the offices of the company in Springfield, Oregon.",
        "Present were Hank Scorpio, Chairman, and directors Lisa Simpson and",
        "Waylon Smithers. The Chairman called the meeting to order at 9:00 a.m.",
    ],
    [
        "The Board reviewed the proposed acquisition of Initech LLC for a total",
        "purchase price of $12,000,000 and, after discussion, adopted the resolu-",
        "tion approving the transaction, subject to the approval of the lenders.",
    ],
    [
        "The Board approved the engagement of Dewey, Cheatem and Howe LLP as",
        "outside counsel for the acquisition, at fees not exceeding $450,000.",
    ],
    [
        "There being no further business, the meeting was adjourned at 11:30 a.m.",
        "Minutes recorded by Waylon Smithers, Corporate Secretary.",
    ],
]


def board_minutes() -> tuple[bytes, GoldDocument]:
    """Four pages with a running header and 'Page N of 4' footers, and a word hyphenated
    across a line break: cleaning must drop the former and join the latter."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=LETTER, invariant=1)
    width, height = LETTER
    total = len(MINUTES_PAGES)
    for number, lines in enumerate(MINUTES_PAGES, start=1):
        pdf.setFont("Helvetica", 9)
        pdf.drawString(inch, height - 0.6 * inch, MINUTES_HEADER)
        pdf.drawRightString(width - inch, 0.5 * inch, f"Page {number} of {total}")
        pdf.setFont("Times-Roman", 12)
        for index, line in enumerate(lines):
            pdf.drawString(inch, height - 1.4 * inch - index * 16, line)
        pdf.showPage()
    pdf.save()
    gold = GoldDocument(
        file="board_minutes.pdf",
        status="ok",
        pages=total,
        entities=[
            GoldEntity(1, "November 3, 2022", "DATE"),
            GoldEntity(1, "Springfield", "GPE"),
            GoldEntity(1, "Oregon", "GPE"),
            GoldEntity(1, "Hank Scorpio", "PERSON"),
            GoldEntity(1, "Lisa Simpson", "PERSON"),
            GoldEntity(2, "12,000,000", "MONEY"),
            GoldEntity(3, "450,000", "MONEY"),
            GoldEntity(4, "Waylon Smithers", "PERSON"),
        ],
        present=["adopted the resolution approving"],
        absent=[MINUTES_HEADER, "Page 1 of 4", "Page 4 of 4"],
    )
    return buffer.getvalue(), gold


def corrupt_pdf() -> tuple[bytes, GoldDocument]:
    data = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n" + bytes(range(256)) * 4
    return data, GoldDocument(file="corrupt.pdf", status="failed", error_class="CorruptPdf")


def not_a_pdf() -> tuple[bytes, GoldDocument]:
    data = b"Quarterly notes\nThis is a plain text file that was saved with a .pdf name.\n"
    return data, GoldDocument(file="notes_not_a_pdf.pdf", status="failed", error_class="NotAPdf")


def empty_pdf() -> tuple[bytes, GoldDocument]:
    return b"", GoldDocument(file="empty.pdf", status="failed", error_class="EmptyFile")


BUILDERS: list[Callable[[], tuple[bytes, GoldDocument]]] = [
    services_agreement,
    license_two_column,
    supply_with_table,
    scanned_nda,
    mixed_lease,
    amendment,
    scanned_price_list,
    rotated_scan,
    board_minutes,
    corrupt_pdf,
    not_a_pdf,
    empty_pdf,
]


def generate_samples(out_dir: str | Path) -> list[GoldDocument]:
    """Write every sample and ``gold.json`` under ``out_dir``; returns the gold records."""
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    golds: list[GoldDocument] = []
    originals: dict[str, bytes] = {}
    for build in BUILDERS:
        data, gold = build()
        target = root / gold.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        originals[gold.file] = data
        golds.append(gold)
    # The same bytes under a second name: recorded as a skipped duplicate, never processed twice.
    copy_name = "services_agreement_copy.pdf"
    (root / copy_name).write_bytes(originals["services_agreement.pdf"])
    golds.append(
        GoldDocument(
            file=copy_name,
            status="skipped",
            error_class="DuplicateContent",
            pages=2,
            duplicate_of="services_agreement.pdf",
        )
    )
    (root / GOLD_FILE).write_text(json.dumps([asdict(g) for g in golds], indent=2) + "\n", encoding="utf-8")
    return golds


def load_gold(sample_dir: str | Path) -> list[GoldDocument]:
    records = json.loads((Path(sample_dir) / GOLD_FILE).read_text(encoding="utf-8"))
    golds = []
    for record in records:
        entities = [GoldEntity(**e) for e in record.pop("entities")]
        golds.append(GoldDocument(**record, entities=entities))
    return golds
