"""Normalisation: ISO dates, money with currencies, percentages, ISO durations and grouping keys,
with no guessing (None) where the text does not say, and no exception on any text."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from udfs.ner.normalize import (
    Normalized,
    entity_key,
    normalize,
    normalize_date,
    normalize_duration,
    normalize_money,
    normalize_percent,
    words_to_number,
)

# ---- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the 15th day of March, 2023", "2023-03-15"),
        ("this 1st day of June 2020", "2020-06-01"),
        ("15th day of March, 2023", "2023-03-15"),
        ("the 22nd day of August, in the year 2005", "2005-08-22"),
        ("March 15, 2023", "2023-03-15"),
        ("MARCH 15, 2023", "2023-03-15"),
        ("March 15th, 2023", "2023-03-15"),
        ("March 15 2023", "2023-03-15"),
        ("15 March 2023", "2023-03-15"),
        ("15th of March, 2023", "2023-03-15"),
        ("Mar. 15, 2023", "2023-03-15"),
        ("Mar 15, 2023", "2023-03-15"),
        ("Sept. 1, 2020", "2020-09-01"),
        ("Wednesday, March 15, 2023", "2023-03-15"),
        ("15/03/2023", "2023-03-15"),
        ("03/15/2023", "2023-03-15"),
        ("15.03.2023", "2023-03-15"),
        ("2023-03-15", "2023-03-15"),
        ("2023/3/5", "2023-03-05"),
        ("04/04/2023", "2023-04-04"),  # the same date whichever comes first
        ("February 29, 2024", "2024-02-29"),
        (" March\n15,  2023. ", "2023-03-15"),
        # not full dates, or not certain: never guessed
        ("March 2023", None),
        ("2023", None),
        ("15th day of March", None),
        ("03/04/2023", None),
        ("3/15/23", None),
        ("March 15, 23", None),
        ("February 30, 2023", None),
        ("February 29, 2023", None),
        ("13/13/2023", None),
        ("2023-13-01", None),
        ("Monday, March 15, 2023", None),  # 2023-03-15 was a Wednesday
        ("Marchember 15, 2023", None),
        ("thirty days", None),
        ("", None),
    ],
)
def test_normalize_date(text, expected):
    assert normalize_date(text) == expected


def test_ambiguous_numeric_dates_follow_the_given_order():
    assert normalize_date("03/04/2023", "MDY") == "2023-03-04"
    assert normalize_date("03/04/2023", "DMY") == "2023-04-03"
    # an unambiguous date is read the only way it can be, whatever the configured order
    assert normalize_date("15/03/2023", "MDY") == "2023-03-15"
    assert normalize_date("03/15/2023", "DMY") == "2023-03-15"
    assert normalize_date("02/30/2023", "MDY") is None


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31)))
def test_written_dates_round_trip(day):
    assert normalize_date(day.strftime("%B %d, %Y")) == day.isoformat()
    assert normalize_date(day.strftime("%b. %d, %Y")) == day.isoformat()
    assert normalize_date(day.strftime("%d %B %Y")) == day.isoformat()
    assert normalize_date(f"the {_ordinal(day.day)} day of {day:%B}, {day.year}") == day.isoformat()
    assert normalize_date(day.isoformat()) == day.isoformat()
    unambiguous = day.day > 12 or day.day == day.month
    assert normalize_date(day.strftime("%d/%m/%Y")) == (day.isoformat() if unambiguous else None)
    assert normalize_date(day.strftime("%d/%m/%Y"), "DMY") == day.isoformat()
    assert normalize_date(day.strftime("%m/%d/%Y"), "MDY") == day.isoformat()


# ---- money -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("$2,500,000", "2500000", "USD"),
        ("$2.5 million", "2500000", "USD"),
        ("$2.5 Million", "2500000", "USD"),
        ("US$ 100", "100", "USD"),
        ("U.S. $100", "100", "USD"),
        ("USD 1.2 million", "1200000", "USD"),
        ("USD 1.2m", "1200000", "USD"),
        ("$10MM", "10000000", "USD"),
        ("$3k", "3000", "USD"),
        ("$2bn", "2000000000", "USD"),
        ("EUR 500,000", "500000", "EUR"),
        ("€1,000.00", "1000.00", "EUR"),
        ("100 €", "100", "EUR"),
        ("£250", "250", "GBP"),
        ("¥10,000", "10000", "JPY"),
        ("₹5,00", None, None),  # not a numeral we can read (Indian grouping is 5,00,000)
        ("C$ 50", "50", "CAD"),
        ("A$50", "50", "AUD"),
        ("CHF 1,000", "1000", "CHF"),
        ("100,000 CHF", "100000", "CHF"),
        ("$60,000.00 USD", "60000.00", "USD"),
        ("RMB 100", "100", "CNY"),
        ("Two Million Dollars ($2,000,000)", "2000000", "USD"),
        ("Two Million (2,000,000) Dollars", "2000000", "USD"),
        ("five million U.S. Dollars (US$5,000,000)", "5000000", "USD"),
        ("two million dollars", "2000000", "USD"),
        ("one hundred twenty-five thousand dollars", "125000", "USD"),
        ("Five Hundred Thousand and 00/100 Dollars ($500,000.00)", "500000.00", "USD"),
        ("One Hundred Dollars and 50/100", "100.50", "USD"),
        ("one hundred and 50/100 dollars", "100.50", "USD"),
        ("1,000,000 Euros", "1000000", "EUR"),
        ("2.5 million dollars", "2500000", "USD"),
        ("ten pounds sterling", "10", "GBP"),
        ("Canadian dollars 5,000", "5000", "CAD"),
        ("$0.50", "0.50", "USD"),
        ("$0.125", "0.125", "USD"),
        # no guess
        ("Two Million Dollars ($3,000,000)", None, None),  # words and numeral disagree
        ("$100 EUR", None, None),  # two currencies
        ("€100 £100", None, None),
        ("100 pounds", None, None),  # sterling or a weight?
        ("2,000,000", None, None),  # no currency
        ("dollars", None, None),  # no amount
        ("$", None, None),
        ("3.000 €", None, None),  # 3 or 3000?
        ("$0.50 per unit", None, None),
        ("$1,00", None, None),
        ("(5)", None, None),
        ("", None, None),
    ],
)
def test_normalize_money(text, amount, currency):
    result = normalize_money(text)
    assert result == (None if amount is None else (Decimal(amount), currency))
    if result is not None:
        assert str(result[0]) == amount  # as written: 1000.00 keeps its cents, 2.5 million has none


def test_a_bare_dollar_is_the_configured_currency():
    assert normalize_money("$500", dollar_currency="CAD") == (Decimal(500), "CAD")
    assert normalize_money("500 dollars", dollar_currency="AUD") == (Decimal(500), "AUD")
    assert normalize_money("US$500", dollar_currency="CAD") == (Decimal(500), "USD")
    assert normalize_money("$500 USD", dollar_currency="CAD") == (Decimal(500), "USD")
    assert normalize_money("€500", dollar_currency="CAD") == (Decimal(500), "EUR")
    with pytest.raises(ValueError, match="ISO 4217"):
        normalize_money("$500", dollar_currency="dollar")


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False, allow_infinity=False))
def test_formatted_amounts_round_trip(amount):
    assert normalize_money(f"${amount:,.2f}") == (amount, "USD")
    assert normalize_money(f"EUR {amount:,.2f}") == (amount, "EUR")


# ---- number words ------------------------------------------------------------------------------

_ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
]  # fmt: skip
_TENS_WORDS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _spell(number: int) -> str:
    """English words for 0 <= number < 10**12, as contracts write them."""
    ones = _ONES
    if number < 20:
        return ones[number]
    if number < 100:
        tens, rest = divmod(number, 10)
        return _TENS_WORDS[tens] + (f"-{ones[rest]}" if rest else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{ones[hundreds]} hundred" + (f" {_spell(rest)}" if rest else "")
    for power, word in ((9, "billion"), (6, "million"), (3, "thousand")):
        if number >= 10**power:
            high, rest = divmod(number, 10**power)
            return f"{_spell(high)} {word}" + (f" {_spell(rest)}" if rest else "")
    raise AssertionError(number)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("one hundred twenty-five thousand", 125000),
        ("thirty", 30),
        ("Twenty-Five", 25),
        ("one hundred and five", 105),
        ("fifteen hundred", 1500),
        ("a hundred", 100),
        ("a million", 1000000),
        ("two million five hundred thousand", 2500000),
        ("zero", 0),
        ("two and one-half", None),
        ("one thousand million", None),
        ("twenty thirty", None),
        ("one two", None),
        ("hundred", None),
        ("thousand", None),
        ("five and", None),
        ("and five", None),
        ("12", None),
        ("zero zero", None),
        ("", None),
    ],
)
def test_words_to_number(text, expected):
    assert words_to_number(text) == (None if expected is None else Decimal(expected))


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_spelled_numbers_round_trip(number):
    assert words_to_number(_spell(number)) == number
    assert words_to_number(_spell(number).upper()) == number


# ---- percentages and durations -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5%", "5"),
        ("5.5 %", "5.5"),
        ("five percent (5%)", "5"),
        ("five (5) percent", "5"),
        ("ten per cent", "10"),
        ("12.5 percent", "12.5"),
        ("0.50%", "0.50"),
        ("one hundred percent (100%)", "100"),
        ("one percent (0.5%)", None),  # disagree
        ("5", None),  # no percent sign or word
        ("percent", None),
        ("5% (five)", "5"),
    ],
)
def test_normalize_percent(text, expected):
    assert normalize_percent(text) == (None if expected is None else Decimal(expected))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thirty (30) days", "P30D"),
        ("90 days", "P90D"),
        ("two (2) years", "P2Y"),
        ("two years", "P2Y"),
        ("six months", "P6M"),
        ("6 months", "P6M"),
        ("one (1) year", "P1Y"),
        ("a year", "P1Y"),
        ("12 weeks", "P12W"),
        ("48 hours", "PT48H"),
        ("30 minutes", "PT30M"),
        ("thirty-day", "P30D"),
        ("30-day", "P30D"),
        ("30 calendar days", "P30D"),
        ("1.5 years", "P1.5Y"),
        ("Twelve (12) Months", "P12M"),
        ("30 business days", None),  # ISO 8601 has no business days
        ("five (5) working days", None),
        ("thirty (31) days", None),  # disagree
        ("one (I) year", "P1Y"),  # a scan's 1 read as I or l
        ("eleven (ll) months", "P11M"),
        ("two (I) years", None),  # disagree
        ("days", None),
        ("several days", None),
        ("30", None),
    ],
)
def test_normalize_duration(text, expected):
    assert normalize_duration(text) == expected


# ---- grouping keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "text", "expected"),
    [
        ("ORG", "Acme Holdings Co., Ltd.", "acme holdings"),
        ("ORG", "ACME HOLDINGS CO LTD", "acme holdings"),
        ("ORG", "The Acme Company", "acme"),
        ("ORG", "Acme, Inc.", "acme"),
        ("ORG", "Acme Incorporated", "acme"),
        ("ORG", "Acme's", "acme"),
        ("ORG", "Acme’s", "acme"),
        ("ORG", "Acme L.L.C.", "acme"),
        ("ORG", "Acme Pty Ltd", "acme"),
        ("ORG", "Acme S.p.A.", "acme"),
        ("ORG", "Skype Communications S.A.", "skype communications"),
        ("ORG", "T-Mobile Netherlands B.V.", "t mobile netherlands"),
        ("ORG", "Elephant Talk Communication Holding AG", "elephant talk communication holding"),
        ("ORG", "Johnson & Johnson", "johnson and johnson"),
        ("ORG", "Smith & Co.", "smith"),
        ("ORG", "Ｍｅｇａ　Ｃｏｒｐ", "mega"),  # full-width, as some PDFs carry
        ("ORG", "The Company", "company"),  # nothing left to strip to: keep the word
        ("ORG", "Inc.", "inc"),
        ("ORG", "...", "..."),  # only punctuation: the folded text, never empty
        ("PERSON", "John  SMITH", "john smith"),
        ("PERSON", "O'Brien", "obrien"),
        ("GPE", "  New   YORK ", "new york"),
        ("DATE", "March 15, 2023", "march 15, 2023"),
    ],
)
def test_entity_key(label, text, expected):
    assert entity_key(label, text) == expected


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["ORG", "PERSON", "GPE"]),
    st.lists(
        st.one_of(st.text(max_size=12), st.sampled_from(["Inc.", "Co.,", "Ltd", "&", "the", "The", "'s", "L.L.C."])),
        max_size=6,
    ).map(" ".join),
)
def test_entity_key_is_idempotent(label, text):
    key = entity_key(label, text)
    assert entity_key(label, key) == key


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["ORG", "PERSON", "MONEY"]), st.text(min_size=1))
def test_entity_key_is_never_empty_for_alphanumeric_text(label, text):
    assume(any(char.isalnum() for char in text))
    assert entity_key(label, text)


# ---- by label ----------------------------------------------------------------------------------


def test_normalize_by_label():
    assert normalize("DATE", "the 15th day of March, 2023") == Normalized("2023-03-15", None)
    assert normalize("DATE", "03/04/2023", numeric_date_order="DMY") == Normalized("2023-04-03", None)
    assert normalize("DATE", "March 2023") == Normalized(None, None)
    assert normalize("MONEY", "$2.5 million") == Normalized("2500000", "USD")
    assert normalize("MONEY", "$0.50") == Normalized("0.50", "USD")
    assert normalize("MONEY", "$500", dollar_currency="CAD") == Normalized("500", "CAD")
    assert normalize("PERCENT", "five percent (5%)") == Normalized("5", None)
    assert normalize("DURATION", "thirty (30) days") == Normalized("P30D", None)
    assert normalize("ORG", "Acme Inc.") == Normalized(None, None)
    assert normalize("ALIAS", "Licensee") == Normalized(None, None)


_VALUE_FRAGMENTS = [
    "$",
    "€",
    "2,500,000",
    "0.50",
    "million",
    "Two Million Dollars",
    "(",
    ")",
    "%",
    "percent",
    "thirty",
    "(30)",
    "days",
    "business",
    "the 15th day of",
    "March",
    "2023",
    "15/03/",
    "and 00/100",
    " ",
    "USD",
]
_WELL_FORMED = {
    "DATE": re.compile(r"\d{4}-\d{2}-\d{2}"),
    "MONEY": re.compile(r"\d+(?:\.\d+)?"),
    "PERCENT": re.compile(r"\d+(?:\.\d+)?"),
    "DURATION": re.compile(r"PT?\d+(?:\.\d+)?[YMWDHS]"),
}


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["DATE", "MONEY", "PERCENT", "DURATION", "ORG", "CARDINAL"]),
    st.lists(st.one_of(st.text(max_size=8), st.sampled_from(_VALUE_FRAGMENTS)), max_size=8).map("".join),
    st.sampled_from([None, "MDY", "DMY"]),
)
def test_normalize_never_raises_and_gives_well_formed_values(label, text, order):
    value, currency = normalize(label, text, numeric_date_order=order)
    if value is None:
        assert currency is None
        return
    assert _WELL_FORMED[label].fullmatch(value), value
    if label == "DATE":
        date.fromisoformat(value)
    if label == "MONEY":
        assert currency is not None and re.fullmatch(r"[A-Z]{3}", currency)
    else:
        assert currency is None
