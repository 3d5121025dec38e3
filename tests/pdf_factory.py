"""Small generated PDFs for the tests: digital, image-only, hostile."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas


def text_pdf(*pages: str, pagesize: tuple[float, float] = LETTER, encrypt=None) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=pagesize, invariant=1, encrypt=encrypt)
    for text in pages:
        pdf.setFont("Helvetica", 11)
        for index, line in enumerate(text.split("\n")):
            pdf.drawString(36, pagesize[1] - 60 - 14 * index, line)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def text_image(lines: list[str], size: tuple[int, int] = (1700, 2200)) -> Image.Image:
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    for index, line in enumerate(lines):
        draw.text((150, 200 + index * 70), line, fill=0, font=font)
    return image


def image_pdf(*images: Image.Image, pagesize: tuple[float, float] = LETTER) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=pagesize, invariant=1)
    for image in images:
        png = io.BytesIO()
        image.save(png, format="PNG")
        png.seek(0)
        pdf.drawImage(ImageReader(png), 0, 0, width=pagesize[0], height=pagesize[1])
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def raw_pdf(page_content: bytes, catalog_extra: bytes = b"", extra_objects: list[bytes] | None = None) -> bytes:
    """A hand-built one-page PDF (with a correct xref) for what reportlab will not write:
    JavaScript actions, invisible text, text off the page."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(page_content)).encode() + b" >>\nstream\n" + page_content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        *(extra_objects or []),
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def text_ops(lines: list[str], render_mode: int = 0, x: float = 72, y: float = 720) -> bytes:
    """Content-stream operators that draw ``lines`` (render mode 3 = invisible)."""
    ops = [b"BT", b"/F1 12 Tf", f"{render_mode} Tr".encode(), f"{x} {y} Td".encode(), b"14 TL"]
    for line in lines:
        ops.append(b"(" + line.replace("(", "\\(").replace(")", "\\)").encode("latin-1") + b") '")
    ops.append(b"ET")
    return b"\n".join(ops)
