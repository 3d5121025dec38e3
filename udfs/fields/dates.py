"""The order of a document's numeric dates (``7/18/11``: July 18 or 18 July?), from its own evidence.

The NER stage leaves a numeric date whose day and month could be swapped unnormalised. A
contract usually says, somewhere, how it writes dates; this module reads that evidence, in
order of strength:

1. **its own numeric dates**: one whose first number is over 12 (``18/07/11``) can only be
   day-first, one whose second is (``07/18/11``) only month-first;
2. **month names next to numbers**: ``18 July 2011`` is written day-first, ``July 18, 2011``
   month-first (the document's spelled-out dates show its habit);
3. **where it is from**: the places it names (a governing law, addresses) and its currency —
   the United States write month-first, almost every other country day-first.

The first kind that speaks decides; when a kind contradicts itself the next is read. The
result says which evidence decided, so a field row can record how its date was read.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from udfs.ner.normalize import NumericOrder, normalize_date

# A numeric date; a sentence's full stop may follow it. With full stops as separators only a
# four-digit year counts: "13.1.12" is far more often a clause number than a date.
_NUMERIC = re.compile(r"(?<![\d/.-])(\d{1,2})([/.-])(\d{1,2})\2(\d{2}|\d{4})(?![\d/-]|\.\d)")
_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
)
_DAY_FIRST = re.compile(rf"(?<![\w/])\d{{1,2}}(?:st|nd|rd|th)?\s+(?:day\s+of\s+)?{_MONTH},?\s+\d{{4}}", re.IGNORECASE)
_MONTH_FIRST = re.compile(rf"(?<![\w/]){_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}", re.IGNORECASE)
# Places and currencies that say month-first (the United States) or day-first (elsewhere).
_US = re.compile(
    r"\b(?:United\s+States|USA|Delaware|New\s+York|California|Texas|Nevada|Florida|Illinois|"
    r"Massachusetts|Georgia|Virginia|Washington|Colorado|Ohio|Michigan|Minnesota|New\s+Jersey|Pennsylvania)\b|"
    r"\bU\.S\.(?:A\.)?(?!\w)|US\$|USD"
)
_ELSEWHERE = re.compile(
    r"\b(?:United\s+Kingdom|England|Wales|Scotland|Ireland|Australia|New\s+Zealand|India|Singapore|Hong\s+Kong|"
    r"Israel|Germany|France|Netherlands|Switzerland|Spain|Italy|Belgium|Sweden|Denmark|Norway|Luxembourg|"
    r"South\s+Africa|Brazil|Mexico|Argentina|Chile|Japan|Korea|China|P\.?R\.?C\.?)\b|€|£|EUR|GBP|CHF|AUD|INR"
)
_TWO_DIGIT_YEAR = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{2})")
PIVOT = 50  # a two-digit year below it is 20yy, from it 19yy (contracts of 1950-2049)


@dataclass(frozen=True)
class DateOrder:
    order: NumericOrder | None  # None: the evidence is silent or contradictory
    evidence: str  # "numeric-dates", "spelled-dates", "places", "none" or "contradictory"


def date_order(text: str) -> DateOrder:
    """How ``text`` writes its numeric dates, and which evidence says so."""
    votes = Counter[NumericOrder]()
    for match in _NUMERIC.finditer(text):
        if match[2] == "." and len(match[4]) == 2:
            continue
        first, second = int(match[1]), int(match[3])
        if first > 12 >= second >= 1:
            votes["DMY"] += 1
        elif second > 12 >= first >= 1:
            votes["MDY"] += 1
    decided = _decide(votes)
    if decided is not None:
        return DateOrder(decided, "numeric-dates")
    spelled = Counter[NumericOrder]({"DMY": len(_DAY_FIRST.findall(text)), "MDY": len(_MONTH_FIRST.findall(text))})
    decided = _decide(spelled, margin=3)
    if decided is not None:
        return DateOrder(decided, "spelled-dates")
    places = Counter[NumericOrder]({"MDY": len(_US.findall(text)), "DMY": len(_ELSEWHERE.findall(text))})
    decided = _decide(places, margin=3)
    if decided is not None:
        return DateOrder(decided, "places")
    contradictory = any(sum(c.values()) for c in (votes, spelled, places))
    return DateOrder(None, "contradictory" if contradictory else "none")


def _decide(votes: Counter[NumericOrder], margin: int = 1) -> NumericOrder | None:
    """The order with ``margin`` times the other's votes (at least one vote), or None."""
    mdy, dmy = votes["MDY"], votes["DMY"]
    if mdy and mdy >= margin * dmy and mdy > dmy:
        return "MDY"
    if dmy and dmy >= margin * mdy and dmy > mdy:
        return "DMY"
    return None


_ORDINALS = {
    word: index + 1
    for index, word in enumerate(
        [
            "first",
            "second",
            "third",
            "fourth",
            "fifth",
            "sixth",
            "seventh",
            "eighth",
            "ninth",
            "tenth",
            "eleventh",
            "twelfth",
            "thirteenth",
            "fourteenth",
            "fifteenth",
            "sixteenth",
            "seventeenth",
            "eighteenth",
            "nineteenth",
            "twentieth",
        ]
    )
}
_ORDINALS |= {f"twenty-{w}": 20 + n for w, n in list(_ORDINALS.items())[:9]}
_ORDINALS |= {"thirtieth": 30, "thirty-first": 31}
_ORDINAL_DAY = re.compile(r"^(?:the\s+|this\s+)?(" + "|".join(sorted(_ORDINALS, key=len, reverse=True)) + r")\b", re.I)


def read_date(text: str, order: DateOrder) -> str | None:
    """ISO date of a date's text, numeric dates read in the document's order; a two-digit
    year is read with PIVOT (``7/18/11`` -> 2011-07-18); a day in words is read
    (``this first day of July, 2017``)."""
    text = " ".join(text.split())
    ordinal = _ORDINAL_DAY.match(text)
    if ordinal:
        text = f"{_ORDINALS[ordinal[1].lower()]}{text[ordinal.end() :]}"
    short = _TWO_DIGIT_YEAR.fullmatch(text.strip())
    if short:
        year = int(short[4])
        text = f"{short[1]}{short[2]}{short[3]}{short[2]}{year + (2000 if year < PIVOT else 1900)}"
    return normalize_date(text, order.order)
