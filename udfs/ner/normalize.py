"""Normalised values of entity texts: ISO dates, money amounts with ISO 4217 currencies,
percentages, ISO-8601 durations, and grouping keys for organisations and people.

Small pure functions that never guess: an ambiguous, partial or unreadable text gives None
(03/04/2023 without a known order, "March 2023", "30 business days", a written amount that
disagrees with the numeral after it). None of them raises on arbitrary text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from typing import Literal, NamedTuple

NumericOrder = Literal["MDY", "DMY"]


@dataclass(frozen=True)
class NormalizeOptions:
    """How ambiguous values are read (the ``ner.normalize`` settings)."""

    numeric_date_order: NumericOrder | None = None  # an all-numeric date like 03/04/2023; None: not normalised
    dollar_currency: str = "USD"  # what a bare "$" means


_MAX_DIGITS = 30  # longer numerals are not amounts; also keeps Decimal arithmetic exact
_MAX_CHARS = 300  # no date, amount or duration is longer; keeps the parsers' work bounded


class Normalized(NamedTuple):
    value: str | None  # ISO date, plain decimal amount or number, ISO-8601 duration
    currency: str | None  # ISO 4217, MONEY only


# ---- shared helpers ------------------------------------------------------------------------

_TYPOGRAPHY = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "‑": "-", "−": "-"})


def _clean(text: str, lower: bool = True) -> str:
    """NFKC, plain quotes and dashes, lower case, whitespace collapsed."""
    cleaned = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    return " ".join((cleaned.lower() if lower else cleaned).split())


def _plain(number: Decimal) -> str:
    """A decimal without exponent: 2.5E+6 -> "2500000", 0.50 -> "0.50"."""
    return format(number, "f")


_NUMERAL = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?", re.ASCII)


def _parse_numeral(text: str) -> Decimal | None:
    """2,500,000 / 2500000 / 0.50 as written (trailing zeros kept); None for anything else."""
    match = _NUMERAL.fullmatch(text)
    if match is None or len(text) > _MAX_DIGITS:
        return None
    return Decimal(text.replace(",", ""))


def _split_parenthetical(text: str) -> tuple[str, str | None] | None:
    """("Two Million Dollars ($2,000,000)") -> ("Two Million Dollars", "$2,000,000"); text without
    parentheses -> (text, None); more than one pair, or unbalanced -> None."""
    if "(" not in text and ")" not in text:
        return text, None
    match = re.fullmatch(r"([^()]*)\(([^()]*)\)([^()]*)", text)
    if match is None:
        return None
    outside = " ".join(f"{match[1]} {match[3]}".split())
    return outside, match[2].strip()


def _agree(first: Decimal | None, second: Decimal | None) -> bool:
    return first is not None and second is not None and first == second


# ---- number words --------------------------------------------------------------------------

_SMALL = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90,
}  # fmt: skip
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_SCALE_POWERS = {"thousand": 3, "k": 3, "million": 6, "m": 6, "mm": 6, "billion": 9, "bn": 9, "b": 9, "trillion": 12}


def words_to_number(text: str) -> Decimal | None:
    """English number words as a number: "one hundred twenty-five thousand" -> 125000,
    "fifteen hundred" -> 1500. None for anything it cannot read exactly (fractions like
    "two and one-half", digits, misordered words such as "thousand one million")."""
    tokens = _clean(text).replace("-", " ").replace(",", " ").split()
    if not tokens:
        return None
    if tokens == ["zero"]:
        return Decimal(0)
    if tokens[0] in ("a", "an") and len(tokens) > 1 and (tokens[1] == "hundred" or tokens[1] in _SCALES):
        tokens[0] = "one"  # "a hundred", "a million"
    total, group, last, last_scale, has_hundred = 0, 0, "", 10**15, False
    for index, token in enumerate(tokens):
        if token == "and":  # "one hundred and five", "one thousand and five"
            if last not in ("hundred", "scale") or index == len(tokens) - 1:
                return None
            last = "and"
        elif token in _SMALL and token != "zero":
            value = _SMALL[token]
            if last == "tens" and value < 10:
                group += value  # twenty-five
            elif last in ("", "hundred", "scale", "and") and group % 100 == 0:
                group += value
            else:
                return None
            last = "unit" if value < 10 else "teen"
        elif token in _TENS:
            if last not in ("", "hundred", "scale", "and") or group % 100:
                return None
            group += _TENS[token]
            last = "tens"
        elif token == "hundred":
            if last not in ("unit", "teen", "tens") or has_hundred:
                return None
            group, has_hundred, last = group * 100, True, "hundred"  # also "fifteen hundred"
        elif token in _SCALES:
            scale = _SCALES[token]
            if last not in ("unit", "teen", "tens", "hundred") or not 0 < group < 1000 or scale >= last_scale:
                return None
            total, group, last, last_scale, has_hundred = total + group * scale, 0, "scale", scale, False
        else:
            return None
    return Decimal(total + group)


def _amount(text: str, *, scales: bool) -> Decimal | None:
    """A numeral (with a scale word when allowed: "2.5 million", "1.2m") or number words."""
    text = text.strip()
    numeral = _parse_numeral(text)
    if numeral is not None:
        return numeral
    if scales:
        match = re.fullmatch(r"([\d,.]+)\s*(thousand|million|billion|trillion|k|mm|m|bn|b)", text, re.ASCII)
        number = _parse_numeral(match[1]) if match else None
        if match and number is not None:
            with localcontext(prec=2 * _MAX_DIGITS):
                scaled = number.scaleb(_SCALE_POWERS[match[2]])
                # 2.5 million is 2500000, not 2500000.0: the precision of "2.5" is not cents
                return scaled.quantize(Decimal(1)) if scaled == scaled.to_integral_value() else scaled.normalize()
    return words_to_number(text)


# ---- dates ---------------------------------------------------------------------------------

_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10,
    "nov": 11, "dec": 12,
}  # fmt: skip
_WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2, "thursday": 3, "thu": 3,
    "thur": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5, "sunday": 6, "sun": 6,
}  # fmt: skip
_ORD = r"(?:st|nd|rd|th)?"
_SEP = r"(?:\s*,\s*|\s+)"
_DATE_PREFIX = rf"(?:(?:on|dated)\s+)?(?:(?:the|this)\s+)?(?:(?P<weekday>{'|'.join(_WEEKDAYS)})\.?\s*,?\s+)?"
_WORD_DATES = [
    re.compile(_DATE_PREFIX + rf"(?P<day>\d{{1,2}}){_ORD}\s+day\s+of\s+(?P<month>[a-z]+)\.?{_SEP}"
               rf"(?:in\s+the\s+year\s+)?(?P<year>\d{{4}})", re.ASCII),
    re.compile(_DATE_PREFIX + rf"(?P<month>[a-z]+)\.?\s*(?P<day>\d{{1,2}}){_ORD}{_SEP}(?P<year>\d{{4}})", re.ASCII),
    re.compile(_DATE_PREFIX + rf"(?P<day>\d{{1,2}}){_ORD}\s+(?:of\s+)?(?P<month>[a-z]+)\.?{_SEP}(?P<year>\d{{4}})",
               re.ASCII),
]  # fmt: skip
_ISO_DATE = re.compile(r"(?P<year>\d{4})(?P<sep>[-/.])(?P<month>\d{1,2})(?P=sep)(?P<day>\d{1,2})", re.ASCII)
_NUMERIC_DATE = re.compile(r"(?P<first>\d{1,2})(?P<sep>[-/.])(?P<second>\d{1,2})(?P=sep)(?P<year>\d{4})", re.ASCII)


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:  # Feb 30, month 13, year 0
        return None


def normalize_date(text: str, numeric_order: NumericOrder | None = None) -> str | None:
    """ISO ``YYYY-MM-DD`` of a full date: "the 15th day of March, 2023", "March 15, 2023",
    "15 March 2023", "Mar. 15, 2023", "2023-03-15", "15/03/2023". None for partial dates
    ("March 2023"), two-digit years, impossible dates, and numeric dates whose day and month
    could be swapped (03/04/2023) unless ``numeric_order`` says which comes first."""
    if len(text) > _MAX_CHARS:
        return None
    cleaned = _clean(text).rstrip(".,;: ")
    for pattern in _WORD_DATES:
        match = pattern.fullmatch(cleaned)
        if match and match["month"] in _MONTHS:
            found = _date(int(match["year"]), _MONTHS[match["month"]], int(match["day"]))
            weekday = match["weekday"]
            if found is not None and weekday is not None and _WEEKDAYS.get(weekday) != found.weekday():
                return None  # a weekday that is not that date's: a typo somewhere, so no answer
            return found.isoformat() if found else None
    match = _ISO_DATE.fullmatch(cleaned)
    if match:
        found = _date(int(match["year"]), int(match["month"]), int(match["day"]))
        return found.isoformat() if found else None
    match = _NUMERIC_DATE.fullmatch(cleaned)
    if match is None:
        return None
    first, second, year = int(match["first"]), int(match["second"]), int(match["year"])
    if first > 12 >= second:
        order = "DMY"  # 15/03/2023: 15 cannot be a month
    elif second > 12 >= first:
        order = "MDY"
    elif first == second:
        order = "DMY"  # 04/04/2023 reads the same either way
    elif numeric_order is not None:
        order = numeric_order
    else:
        return None
    found = _date(year, second, first) if order == "DMY" else _date(year, first, second)
    return found.isoformat() if found else None


# ---- money ---------------------------------------------------------------------------------

_DOLLAR = "$"  # a dollar of unstated country
_POUND = "£?"  # "pounds" alone: sterling, Egyptian, or a weight; only other evidence decides
_DOLLAR_CODES = frozenset({"USD", "CAD", "AUD", "NZD", "HKD", "SGD"})
_CODES = (
    "USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD", "NZD", "CNY", "HKD", "SGD", "INR", "SEK", "NOK", "DKK", "MXN",
    "BRL", "ZAR", "KRW", "PLN", "CZK", "HUF", "AED",
)  # fmt: skip
_CURRENCY_TOKENS: list[tuple[re.Pattern[str], str]] = [
    *(
        (re.compile(pattern, re.ASCII | re.IGNORECASE), currency)
        for pattern, currency in [
            (r"(?<![a-z])u\.?\s?s\.?\s?\$", "USD"),
            (r"(?<![a-z])(?:cad|ca|c)\s?\$", "CAD"),
            (r"(?<![a-z])(?:aud|au|a)\s?\$", "AUD"),
            (r"(?<![a-z])nz\s?\$", "NZD"),
            (r"(?<![a-z])hk\s?\$", "HKD"),
            (r"(?<![a-z])s\s?\$", "SGD"),
            (r"(?<![a-z])r\s?\$", "BRL"),
            (r"(?<![a-z])(?:u\.\s?s\.|us|united\s+states|american)\s+dollars?(?![a-z])", "USD"),
            (r"(?<![a-z])canadian\s+dollars?(?![a-z])", "CAD"),
            (r"(?<![a-z])australian\s+dollars?(?![a-z])", "AUD"),
            (r"(?<![a-z])new\s+zealand\s+dollars?(?![a-z])", "NZD"),
            (r"(?<![a-z])hong\s+kong\s+dollars?(?![a-z])", "HKD"),
            (r"(?<![a-z])singapore\s+dollars?(?![a-z])", "SGD"),
            (r"(?<![a-z])(?:pounds?\s+)?sterling(?![a-z])", "GBP"),
            (r"(?<![a-z])british\s+pounds?(?![a-z])", "GBP"),
            (r"(?<![a-z])swiss\s+francs?(?![a-z])", "CHF"),
            (r"(?<![a-z])(?:japanese\s+)?yen(?![a-z])", "JPY"),
            (r"(?<![a-z])(?:indian\s+)?rupees?(?![a-z])", "INR"),
            (r"(?<![a-z])(?:chinese\s+)?(?:yuan|renminbi)(?![a-z])", "CNY"),
            (r"(?<![a-z])euros?(?![a-z])", "EUR"),
            (r"(?<![a-z])dollars?(?![a-z])", _DOLLAR),
            (r"(?<![a-z])pounds?(?![a-z])", _POUND),
            (r"\$", _DOLLAR),
            (r"€", "EUR"),
            (r"£", "GBP"),
            (r"¥", "JPY"),
            (r"₹", "INR"),
        ]
    ),
    # Codes only in capitals, as contracts write them: lower-case "try" or "aed" are words.
    *((re.compile(rf"(?<![A-Za-z]){code}(?![A-Za-z])"), code) for code in _CODES),
    (re.compile(r"(?<![A-Za-z])RMB(?![A-Za-z])"), "CNY"),
]
# 1.000 or 12.500 with the currency after it: European thousands, or three decimals? No guess.
_DOTTED_THOUSANDS = re.compile(r"[1-9]\d{0,2}\.\d{3}", re.ASCII)


def _currency(found: set[str], dollar_currency: str) -> str | None:
    explicit = found - {_DOLLAR, _POUND}
    if len(explicit) > 1:
        return None
    if explicit:
        (currency,) = explicit
        if (_DOLLAR in found and currency not in _DOLLAR_CODES) or (_POUND in found and currency != "GBP"):
            return None  # "$100 EUR"
        return currency
    return dollar_currency if found == {_DOLLAR} else None


def normalize_money(text: str, dollar_currency: str = "USD") -> tuple[Decimal, str] | None:
    """Amount and ISO 4217 currency: "$2.5 million" -> (2500000, "USD"), "EUR 500,000",
    "€1,000.00", "Two Million Dollars ($2,000,000)" (the numeral's amount; None if the words
    disagree), "one hundred twenty-five thousand dollars". A bare "$" or "dollars" is
    ``dollar_currency``. None without an amount or a currency, or when they conflict."""
    if not re.fullmatch(r"[A-Z]{3}", dollar_currency):
        raise ValueError(f"dollar_currency must be an ISO 4217 code such as 'USD', not {dollar_currency!r}")
    if len(text) > _MAX_CHARS:
        return None
    rest = _clean(text, lower=False)
    found: set[str] = set()
    currency_after_number = False
    for pattern, token_currency in _CURRENCY_TOKENS:
        for match in pattern.finditer(rest):
            found.add(token_currency)
            currency_after_number |= bool(re.search(r"\d\s*$", rest[: match.start()]))
        rest = pattern.sub(" ", rest)
    currency = _currency(found, dollar_currency)
    if currency is None:
        return None
    rest = re.sub(r"\(\s*\)", " ", rest.lower())  # "($)" once the symbol is gone
    parts = _split_parenthetical(" ".join(rest.split()))
    if parts is None:
        return None
    outside, inside = parts
    outside, cents = _strip_cents(outside)
    amount = _amount(outside, scales=True)
    if amount is not None and cents is not None:
        amount += cents
    if inside is not None:  # "Two Million Dollars ($2,000,000)": both must say the same
        numeral = _amount(inside, scales=True)
        if not _agree(amount, numeral):
            return None
        if words_to_number(outside) is not None:
            amount = numeral  # the numeral, as written (cents and all)
    if amount is None:
        return None
    if currency_after_number and any(_DOTTED_THOUSANDS.fullmatch(part or "") for part in (outside, inside)):
        return None
    return amount, currency


def _strip_cents(text: str) -> tuple[str, Decimal | None]:
    """Split off written cents: "five hundred and 00/100" (or "and No/100's") -> ("five
    hundred", 0.00), as on US cheques and in contracts."""
    match = re.fullmatch(r"(.*?)\s+and\s+(\d{1,2}|no|zero)\s*/\s*100(?:ths|['’]?s)?", text)
    if match is None:
        return text, None
    cents = 0 if match[2] in ("no", "zero") else int(match[2])
    return match[1], Decimal(cents).scaleb(-2)


# ---- percentages ---------------------------------------------------------------------------

_PERCENT_MARK = re.compile(r"%|(?<![a-z])(?:percent|per\s*cent(?:um)?|pct\.?)(?![a-z])", re.ASCII)


def normalize_percent(text: str) -> Decimal | None:
    """The number of a percentage: "5.5%" -> 5.5, "five percent (5%)" -> 5, "ten per cent" -> 10;
    None without a percent sign or word, or when words and numeral disagree."""
    if len(text) > _MAX_CHARS:
        return None
    rest, marks = _PERCENT_MARK.subn(" ", _clean(text))
    parts = _split_parenthetical(" ".join(rest.split())) if marks else None
    if parts is None:
        return None
    outside, inside = parts
    value = _amount(outside, scales=False)
    if inside is None:
        return value
    numeral = _amount(inside, scales=False)
    if not _agree(value, numeral):
        return None
    return numeral if words_to_number(outside) is not None else value


# ---- durations -----------------------------------------------------------------------------

_UNITS = {"day": "D", "week": "W", "month": "M", "year": "Y", "hour": "TH", "minute": "TM", "second": "TS"}
_DURATION = re.compile(
    r"(?P<number>.*?)[\s-]*(?:(?P<kind>business|working|banking|calendar)\s+)?"
    r"(?P<unit>day|week|month|year|hour|minute|second)s?",
    re.ASCII,
)


_OCR_NUMERAL = re.compile(r"[0-9Iil|]{1,3}")  # the text may be case-folded by now
_OCR_DIGITS = str.maketrans({"I": "1", "i": "1", "l": "1", "|": "1"})


def normalize_duration(text: str) -> str | None:
    """ISO-8601 duration: "thirty (30) days" -> "P30D", "two years" -> "P2Y", "48 hours" ->
    "PT48H". None for business or working days (ISO 8601 has no such unit), and when the words
    and the numeral disagree."""
    if len(text) > _MAX_CHARS:
        return None
    match = _DURATION.fullmatch(_clean(text))
    if match is None or match["kind"] in ("business", "working", "banking"):
        return None
    parts = _split_parenthetical(match["number"])
    if parts is None:
        return None
    outside, inside = parts
    count = Decimal(1) if outside in ("a", "an", "one") else _amount(outside, scales=False)
    if inside is not None:
        if _OCR_NUMERAL.fullmatch(inside):  # "one (I) year": a scan's 1 read as I or l
            inside = inside.translate(_OCR_DIGITS)
        numeral = _amount(inside, scales=False)
        if not _agree(count, numeral):
            return None
        count = numeral
    if count is None:
        return None
    unit = _UNITS[match["unit"]]
    return f"P{unit[:-1]}{_plain(count)}{unit[-1]}"


# ---- grouping keys -------------------------------------------------------------------------

# Trailing words that say what kind of company, not which: Inc., Co., Ltd., GmbH, S.A., B.V., Pty ...
_LEGAL_SUFFIXES = frozenset({
    "inc", "incorporated", "corp", "corporation", "co", "company", "cos", "companies", "llc", "lc", "pllc", "ltd",
    "limited", "plc", "lp", "llp", "lllp", "pc", "gmbh", "mbh", "ag", "kg", "kgaa", "se", "sa", "sas", "sarl", "srl",
    "spa", "sp", "nv", "bv", "pty", "pte", "pvt", "bhd", "sdn", "kk", "oy", "oyj", "ab", "asa", "aps", "ulc", "ltda",
    "sl", "sau", "slu",
})  # fmt: skip


def _fold(text: str) -> str:
    """NFKC and case folding until stable (casefold can undo NFKC), whitespace collapsed."""
    folded = " ".join(text.split())
    for _ in range(3):
        again = " ".join(unicodedata.normalize("NFKC", folded).casefold().split())
        if again == folded:
            break
        folded = again
    return folded


def entity_key(label: str, text: str) -> str:
    """A grouping key. ORG and PERSON: folded, "&" -> "and", no leading "the", no possessive,
    no punctuation, no trailing legal suffixes ("Acme Holdings Co., Ltd." -> "acme holdings"),
    never empty. Other labels: the folded text."""
    folded = _fold(text)
    if label not in ("ORG", "PERSON"):
        return folded
    words = re.sub(r"['’]s(?!\w)", "", folded.replace("&", " and "))  # Acme's -> acme
    words = words.replace(".", "").replace("'", "").replace("’", "")  # l.l.c. -> llc
    words = "".join(char if char.isalnum() or unicodedata.category(char).startswith("M") else " " for char in words)
    tokens = words.split()
    while len(tokens) > 1 and tokens[0] == "the":
        tokens.pop(0)
    stripped = True
    while stripped:  # "Acme Holdings Co., Ltd." -> "acme holdings"; "Smith & Co., Inc." -> "smith"
        stripped = False
        while len(tokens) > 1 and tokens[-1] in _LEGAL_SUFFIXES:
            tokens.pop()
            stripped = True
        while stripped and len(tokens) > 1 and tokens[-1] == "and":
            tokens.pop()
    key = _fold(" ".join(tokens))
    return key or folded


# ---- by label ------------------------------------------------------------------------------


def normalize(
    label: str, text: str, *, numeric_date_order: NumericOrder | None = None, dollar_currency: str = "USD"
) -> Normalized:
    """The normalised value of an entity: DATE -> ISO date; MONEY -> plain decimal amount and
    currency; PERCENT -> number; DURATION -> ISO-8601 duration; SECTION_REF -> its identifier; other
    labels -> (None, None)."""
    if label == "DATE":
        return Normalized(normalize_date(text, numeric_date_order), None)
    if label == "MONEY":
        money = normalize_money(text, dollar_currency)
        return Normalized(_plain(money[0]), money[1]) if money else Normalized(None, None)
    if label == "PERCENT":
        percent = normalize_percent(text)
        return Normalized(None if percent is None else _plain(percent), None)
    if label == "DURATION":
        return Normalized(normalize_duration(text), None)
    if label == "SECTION_REF":
        return Normalized(normalize_reference(text), None)
    return Normalized(None, None)


_REFERENCE_WORD = re.compile(
    r"^(?:sections?|articles?|clauses?|paragraphs?|exhibits?|schedules?|appendix|appendices|annex(?:es)?|"
    r"attachments?|§§?)\s*",
    re.IGNORECASE,
)


def normalize_reference(text: str) -> str | None:
    """The identifier of a reference: "Section 9.2" -> "9.2", "ARTICLE IV" -> "IV",
    "Section 2.03 (b)" -> "2.03(b)", "3.11" -> "3.11"; None when nothing is left."""
    if len(text) > _MAX_CHARS:
        return None
    identifier = re.sub(r"[\s\"“”]+", "", _REFERENCE_WORD.sub("", text.strip())).rstrip(".,;:")
    return identifier or None
