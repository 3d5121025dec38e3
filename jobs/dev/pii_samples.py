"""Generated contracts with planted PII of every kind, and where each value is (issue 19's
measurement; no real person's data).

:func:`pii_contract` writes one employment-style agreement from a seed: a party's street
address, an employee with a date of birth, SSN and ITIN, a company EIN, bank account and ABA
routing numbers, an IBAN, a card number, e-mail, phone and an IP address, signatories' printed
names. Every number passes its real check (Luhn, mod-97, the ABA weights, the SSN and EIN
ranges), so a recognizer that validates has to accept it. Each value is recorded with its
label; the same text also carries look-alikes that are not PII (an invoice number, a part
number, a dated clause), which a precise recognizer leaves alone.

:func:`write_pii_samples` writes the contracts as digital PDFs (text layer) and as scans (the
typed page rasterised, blurred, speckled and skewed, no text layer: OCR reads them), with
``pii_gold.json``: per file, the planted ``(label, value)`` pairs.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import asdict, dataclass
from pathlib import Path

from jobs.dev.samples import pages_pdf, scan, typed_page

GOLD_FILE = "pii_gold.json"
MAX_LINE = 74  # characters of Courier 12 that fit between the typed page's margins
FIRST = ("Jane", "Carlos", "Aisha", "Wei", "Olga", "Marcus", "Priya", "Tomasz", "Fatima", "Liam", "Sofia", "Kenji")
LAST = ("Smith", "Okafor", "Nguyen", "Kowalski", "Haddad", "Johansson", "Patel", "Moreau", "Brennan", "Silva")
STREETS = ("Main Street", "Oak Lane", "Maple Avenue", "Harbor Boulevard", "Cedar Road", "Lakeview Drive")
CITIES = (("Springfield", "IL", "62704"), ("Boston", "MA", "02116"), ("Austin", "TX", "78701"),
          ("Portland", "OR", "97205"), ("Denver", "CO", "80202"), ("Columbus", "OH", "43215"))  # fmt: skip
COMPANIES = ("Acme Robotics, Inc.", "Northwind Analytics LLC", "Bluefin Logistics Corp.", "Helix Biolabs, Inc.")
AREA_CODES = ("212", "312", "415", "617", "303", "512", "614", "503")


@dataclass(frozen=True)
class Planted:
    label: str
    value: str


def luhn_digit(body: str) -> str:
    """The check digit that makes ``body`` + it pass the Luhn check."""
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char) * (2 if index % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return str((10 - total % 10) % 10)


def iban(country: str, bban: str) -> str:
    """An IBAN with its mod-97 check digits, printed in groups of four."""
    rearranged = bban + country + "00"
    number = int("".join(str(int(c, 36)) for c in rearranged))
    raw = f"{country}{98 - number % 97:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def aba(rng: random.Random) -> str:
    """A routing number whose 3-7-1 weighted digit sum is a multiple of ten."""
    first = rng.choice("0123")
    body = first + "".join(rng.choice(string.digits) for _ in range(7))
    weights = (3, 7, 1, 3, 7, 1, 3, 7)
    total = sum(int(d) * w for d, w in zip(body, weights, strict=True))
    return body + str((10 - total % 10) % 10)


def ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def itin(rng: random.Random) -> str:
    group = rng.choice([*range(70, 89), *range(90, 93), *range(94, 100)])  # the IRS's ITIN middle digits
    return f"9{rng.randint(0, 99):02d}-{group}-{rng.randint(0, 9999):04d}"


def ein(rng: random.Random) -> str:
    prefix = rng.choice([10, 12, 20, 27, 30, 38, 45, 52, 61, 77, 84, 91])
    return f"{prefix:02d}-{rng.randint(1_000_000, 9_999_999)}"


def card(rng: random.Random) -> str:
    body = rng.choice(["4", "51", "52", "53", "54", "55"])
    body += "".join(rng.choice(string.digits) for _ in range(15 - len(body)))
    raw = body + luhn_digit(body)
    return " ".join(raw[i : i + 4] for i in range(0, 16, 4))


def phone(rng: random.Random) -> str:
    return f"({rng.choice(AREA_CODES)}) {rng.randint(2, 9)}{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"


def pii_contract(seed: int) -> tuple[list[list[str]], list[Planted]]:
    """One contract: its pages (lines of at most MAX_LINE characters) and the PII planted in them."""
    rng = random.Random(seed)
    employee = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    officer = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    company = rng.choice(COMPANIES)
    city, state, zip_code = rng.choice(CITIES)
    street = f"{rng.choice(['West ', 'North ', ''])}{rng.choice(STREETS)}"
    office = f"{rng.randint(100, 9899)} {street}, Suite {rng.randint(100, 900)}"
    home_city, home_state, home_zip = rng.choice(CITIES)
    home = f"{rng.randint(10, 999)} {rng.choice(STREETS)}"
    birth = f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(1950, 2000)}"
    bban = f"NWBK{rng.randint(100000, 999999)}{rng.randint(10**7, 10**8 - 1)}"  # bank, sort code, account
    values = {
        "ssn": ssn(rng), "itin": itin(rng), "ein": ein(rng), "account": str(rng.randint(10**9, 10**11)),
        "routing": aba(rng), "iban": iban("GB", bban), "card": card(rng), "phone": phone(rng),
        "ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
    }  # fmt: skip
    email = f"{employee.split()[0].lower()}.{employee.split()[1].lower()}@example.com"
    planted = [
        Planted("STREET_ADDRESS", f"{office}, {city}, {state} {zip_code}"),
        Planted("PERSON", employee),
        Planted("STREET_ADDRESS", f"{home}, {home_city}, {home_state} {home_zip}"),
        Planted("DATE_OF_BIRTH", birth),
        Planted("US_SSN", values["ssn"]),
        Planted("US_ITIN", values["itin"]),
        Planted("US_EIN", values["ein"]),
        Planted("BANK_ACCOUNT", values["account"]),
        Planted("ROUTING_NUMBER", values["routing"]),
        Planted("IBAN", values["iban"]),
        Planted("CREDIT_CARD", values["card"]),
        Planted("EMAIL", email),
        Planted("PHONE", values["phone"]),
        Planted("IP_ADDRESS", values["ip"]),
        Planted("PERSON", officer),
        Planted("PERSON", employee),
    ]
    invoice = rng.randint(10**8, 10**9 - 1)
    page_one = [
        "EMPLOYMENT AGREEMENT",
        "",
        f"This Employment Agreement is made on March {rng.randint(1, 28)}, 2021",
        f"between {company}, with offices at",
        f"{office},",
        f'{city}, {state} {zip_code} (the "Company"), and {employee},',
        f"residing at {home}, {home_city}, {home_state} {home_zip}",
        '("Employee").',
        "",
        f"1. Personal data. The Employee's date of birth is {birth}.",
        f"Social Security Number: {values['ssn']}.",
        f"Individual taxpayer ITIN: {values['itin']}.",
        f"The Company's employer identification number (EIN) is {values['ein']}.",
        "",
        "2. Payment. Salary is paid by transfer to the Employee's bank",
        f"account number {values['account']}, routing number {values['routing']},",
        f"or to IBAN {values['iban']}.",
        f"Expenses may be charged to the corporate card {values['card']}.",
        "",
        f"3. Records. Invoice {invoice} and part number 4471-20 are kept",
        "for three (3) years after termination under Section 4.2.",
    ]
    page_two = [
        "4. Notices. Notices to the Employee go by e-mail to",
        f"{email} or by telephone at {values['phone']}.",
        f"The Employee's workstation has the network address {values['ip']}.",
        "",
        "5. Term. This Agreement runs for two (2) years from the date above.",
        "",
        company,
        f"By: {officer}",
        "Title: Chief Executive Officer",
        "",
        "EMPLOYEE",
        f"By: {employee}",
    ]
    assert all(len(line) <= MAX_LINE for page in (page_one, page_two) for line in page)
    return [page_one, page_two], planted


@dataclass(frozen=True)
class PiiSample:
    file: str
    scanned: bool
    planted: list[Planted]


def write_pii_samples(out_dir: str | Path, digital: int, scanned: int, seed: int = 0) -> list[PiiSample]:
    """``digital`` + ``scanned`` contracts as PDFs in ``out_dir``, and ``pii_gold.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    samples = []
    for number in range(digital + scanned):
        pages, planted = pii_contract(seed * 10_000 + number)
        is_scan = number >= digital
        masters = [typed_page(page) for page in pages]
        if is_scan:
            data = pages_pdf([scan(master, seed=number * 10 + index) for index, master in enumerate(masters)])
        else:
            data = pages_pdf_of_masters(masters)
        name = f"pii-{'scan' if is_scan else 'digital'}-{number:03d}.pdf"
        (out / name).write_bytes(data)
        samples.append(PiiSample(name, is_scan, planted))
    gold = [{"file": s.file, "scanned": s.scanned, "planted": [asdict(p) for p in s.planted]} for s in samples]
    (out / GOLD_FILE).write_text(json.dumps(gold, indent=1) + "\n", encoding="utf-8")
    return samples


def pages_pdf_of_masters(masters: list[bytes]) -> bytes:
    """One digital PDF of one-page PDFs (their text layers kept)."""
    import pypdfium2 as pdfium

    joined = pdfium.PdfDocument.new()
    try:
        for master in masters:
            source = pdfium.PdfDocument(master)
            try:
                joined.import_pages(source)
            finally:
                source.close()
        import io

        buffer = io.BytesIO()
        joined.save(buffer)
        return buffer.getvalue()
    finally:
        joined.close()
