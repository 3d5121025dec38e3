"""``docner eval fields``: the lake's contract key fields measured against gold (docs/evaluation.md).

Read on the driver with delta-rs, no Spark: the gold file (CUAD's ``gold.csv`` or docner's
field JSONL), each gold document's primary ``documents`` row and its ``contract_fields`` rows.
A party is scored as a set of names per document (every party row); every other field by its
rank-1 value, against the gold's values or against the gold saying the document does not
state it. Scores go to the ``evaluations`` table (task ``fields``, scheme ``value``), and with
every miss and wrong value, the reliability of the confidences and the per-method counts (to
fit ``udfs.fields.calibrate``) to a JSON file.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pyarrow.compute as pc

from jobs.catalog.stages import stage_spec
from jobs.catalog.tables import CONTRACT_FIELDS, DOCUMENTS
from jobs.lake.state import STATE_COLUMNS
from jobs.lake.tables import read_arrow
from jobs.learn.evaluate import describe_run, new_eval_id, resolve_documents, save_evaluation
from jobs.learn.gold import GoldDocument, GoldProblem, jsonl_records
from jobs.learn.scoring import ALL, f1
from udfs.fields.dates import PIVOT
from udfs.fields.extract import FIELD_NAMES, PERPETUAL, UNTIL_TERMINATED
from udfs.ner.normalize import entity_key

FIELDS = stage_spec("fields")
FieldsFormat = Literal["cuad", "jsonl"]
FIELDS_FORMATS: tuple[FieldsFormat, ...] = ("cuad", "jsonl")
PARTY = "party"
DATE_FIELDS = frozenset({"agreement_date", "effective_date", "expiration_date"})
DURATION_FIELDS = frozenset({"term", "renewal_term", "notice_period"})
TEXT_FIELDS = frozenset({"document_title", "governing_law"})  # an unnormalised value is read as written
SINGLE_FIELDS: tuple[str, ...] = tuple(name for name in FIELD_NAMES if name != PARTY)
SCHEME = "value"
# Figures beside the fields' own (cuad): effective dates the gold states itself, not taken
# from the agreement date; and CUAD's "perpetual" expiration against the lake's term.
EFFECTIVE_STATED = "effective_date (stated)"
TERM_PERPETUAL = "term (perpetual expiration)"
# Confidence bins of the reliability table: [low, high), the last one closed.
BINS: tuple[tuple[float, float], ...] = ((0.0, 0.5), (0.5, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.0))

ErrorKind = Literal["missed", "wrong", "invented", "spurious"]
ERROR_KINDS: tuple[ErrorKind, ...] = ("missed", "wrong", "invented", "spurious")


# ---- gold -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldField:
    """One field of one gold document: its values (normalised; () : the document does not
    state it). A single-valued field's values are alternatives (any one is right); a party's
    are the set of names."""

    values: tuple[str, ...]
    written: tuple[str, ...] = ()  # as the gold file writes them
    derived: bool = False  # cuad: the effective date taken from the agreement date


@dataclass
class FieldsGoldDocument:
    file: str  # the PDF's file name, a path ending in it, or a doc_id
    where: str  # its place in the gold file, for messages
    fields: dict[str, GoldField] = field(default_factory=dict)
    perpetual: bool = False  # cuad: the expiration answer is "perpetual"


@dataclass
class FieldsGold:
    documents: list[FieldsGoldDocument]
    problems: list[GoldProblem]


def read_fields_gold(path: Path, fmt: FieldsFormat) -> FieldsGold:
    """The gold documents of ``path`` with every field value that can be read; what cannot is a
    problem, not a value."""
    if fmt not in FIELDS_FORMATS:
        raise ValueError(f"unknown gold format {fmt!r} (formats: {', '.join(FIELDS_FORMATS)})")
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FileNotFoundError(f"gold file {path} not found") from None
    problems: list[GoldProblem] = []
    reader = read_cuad if fmt == "cuad" else read_field_jsonl
    return FieldsGold(list(reader(raw, path.name, problems)), problems)


def format_of(path: str | Path) -> FieldsFormat:
    """The gold format a file's name suggests: ``cuad`` for a .csv, ``jsonl`` otherwise."""
    return "cuad" if str(path).lower().endswith(".csv") else "jsonl"


# CUAD column -> field
CUAD_COLUMNS: dict[str, str] = {
    "document_name_answer": "document_title",
    "parties_answer": PARTY,
    "agreement_date_answer": "agreement_date",
    "effective_date_answer": "effective_date",
    "expiration_date_answer": "expiration_date",
    "renewal_term_answer": "renewal_term",
    "governing_law_answer": "governing_law",
}


def read_cuad(raw: str, name: str, problems: list[GoldProblem]) -> Iterator[FieldsGoldDocument]:
    """CUAD's gold.csv: one contract per row, ``document`` its PDF and a ``*_answer`` per field."""
    reader = csv.DictReader(io.StringIO(raw))
    columns = set(reader.fieldnames or ())
    if "document" not in columns:
        problems.append(GoldProblem(name, "no 'document' column: not CUAD's gold.csv"))
        return
    for column in sorted(set(CUAD_COLUMNS) - columns):
        problems.append(GoldProblem(name, f"no {column!r} column: {CUAD_COLUMNS[column]} is not scored"))
    for number, row in enumerate(reader, 1):
        where = f"{name} row {number}"
        file = (row.get("document") or "").strip()
        if not file:
            problems.append(GoldProblem(where, "no document named"))
            continue
        document = FieldsGoldDocument(file, where)
        for column, field_name in CUAD_COLUMNS.items():
            if column not in columns:
                continue
            answer = (row.get(column) or "").strip()
            read = _cuad_answer(field_name, answer, document, problems)
            if read is not None and field_name == PARTY and read.values:
                read = _with_annotated_names(read, cuad_spans(row.get("parties_spans")), document, problems)
            if read is not None:
                document.fields[field_name] = read
        _cuad_effective_date(row, document, problems)
        yield document


def _cuad_answer(
    field_name: str, answer: str, document: FieldsGoldDocument, problems: list[GoldProblem]
) -> GoldField | None:
    def problem(message: str) -> None:
        problems.append(GoldProblem(document.where, f"{document.file}: {field_name}: {message}: not scored"))

    if not answer:
        return GoldField(())
    if field_name == PARTY:
        names, redacted = cuad_party_names(answer)
        for name in redacted:
            problems.append(GoldProblem(document.where, f"{document.file}: party: redacted name {name!r}: not scored"))
        if not names:
            problem(f"no party name in {answer!r}")
            return None
        return GoldField(tuple(names), tuple(names))
    if field_name in DATE_FIELDS:
        if field_name == "expiration_date" and answer.casefold() == PERPETUAL:
            document.perpetual = True
            return GoldField((), (answer,))  # no expiration date is expected
        iso = cuad_date(answer)
        if iso is None:
            problem(f"{answer!r} is not a date (M/D/YY)")
            return None
        return GoldField((iso,), (answer,))
    if field_name in DURATION_FIELDS:
        durations = parse_durations(answer)
        if not durations:
            problem(f"{answer!r} is no duration")
            return None
        return GoldField(durations, (answer,))
    if field_name == "document_title":
        return GoldField((" ".join(answer.split()),), (answer,))
    return GoldField((answer,), (answer,))


def cuad_spans(raw: str | None) -> list[str]:
    """A ``*_spans`` cell: the annotated passages, written as a Python list of strings."""
    try:
        spans = ast.literal_eval(raw or "[]")
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return []
    return [span for span in spans if isinstance(span, str)] if isinstance(spans, list) else []


def _with_annotated_names(
    gold: GoldField, spans: Sequence[str], document: FieldsGoldDocument, problems: list[GoldProblem]
) -> GoldField:
    """Party names checked against the passages the annotators marked: an answer that is the
    tail of a longer marked name ("Peoria, L.L.C." of "Nexstar Broadcasting of Peoria,
    L.L.C.") or one character off one ("Nice Systems Ltc." of "Nice Systems Ltd.") is read as
    the marked name, and each such reading is listed among the problems."""
    marked = [" ".join(span.split()) for span in spans if len(span) <= 200]
    names: list[str] = []
    for name in gold.values:
        key, folded = party_key(name), name.casefold()
        if any(party_key(span) == key for span in marked):
            names.append(name)
            continue
        # a company's name cut at its start ends in a legal form the key leaves out
        company = len(key.split()) < len(re.findall(r"[^\W_]+", name))
        fuller = next(
            (
                span
                for span in marked
                if (
                    company
                    and party_key(span).endswith(f" {key}")
                    and span.casefold().rstrip(" .,").endswith(folded.rstrip(" .,"))
                )
                or (len(folded) >= SLIP_MIN_CHARS and one_slip(span.casefold(), folded))
            ),
            None,
        )
        if fuller is None:
            names.append(name)
            continue
        problems.append(
            GoldProblem(document.where, f"{document.file}: party: answer {name!r} read as the marked {fuller!r}")
        )
        names.append(fuller)
    return GoldField(tuple(names), tuple(names))


def _cuad_effective_date(row: Mapping[str, Any], document: FieldsGoldDocument, problems: list[GoldProblem]) -> None:
    """CUAD leaves the effective date empty where the contract names no date of its own; then it
    is the agreement date (issue 17)."""
    effective = document.fields.get("effective_date")
    if effective is None or effective.values or effective.written:
        return
    agreement_answer = (row.get("agreement_date_answer") or "").strip()
    if not agreement_answer:
        return  # neither stated: no effective date expected
    agreement = document.fields.get("agreement_date")
    if agreement is None or not agreement.values:
        del document.fields["effective_date"]
        problems.append(
            GoldProblem(
                document.where,
                f"{document.file}: effective_date: empty, and the agreement date it falls back to cannot be read: "
                "not scored",
            )
        )
        return
    document.fields["effective_date"] = GoldField(agreement.values, agreement.written, derived=True)


def read_field_jsonl(raw: str, name: str, problems: list[GoldProblem]) -> Iterator[FieldsGoldDocument]:
    """docner's field JSONL: ``{"file", "field", "value"}`` per line; several lines give a party
    set or alternatives; ``"value": null`` says the document does not state the field."""
    documents: dict[str, FieldsGoldDocument] = {}
    lines: dict[tuple[str, str], list[tuple[str, str | None]]] = {}  # (file, field) -> (where, value)
    for where, record in jsonl_records(raw, name, problems):
        field_name, value = record.get("field"), record.get("value")
        if field_name not in FIELD_NAMES:
            problems.append(GoldProblem(where, f"unknown field {field_name!r} (fields: {', '.join(FIELD_NAMES)})"))
            continue
        if "value" not in record or not (value is None or isinstance(value, str)):
            problems.append(GoldProblem(where, "'value' must be a string, or null for a field the document lacks"))
            continue
        if value is not None:
            invalid = _invalid_value(field_name, value)
            if invalid:
                problems.append(GoldProblem(where, f"{field_name}: {value!r} {invalid}"))
                continue
        documents.setdefault(record["file"], FieldsGoldDocument(record["file"], where))
        lines.setdefault((record["file"], field_name), []).append((where, value))
    for (file, field_name), entries in lines.items():
        values = [value for _, value in entries if value is not None]
        if values and len(values) < len(entries):
            wheres = ", ".join(where for where, _ in entries)
            problems.append(GoldProblem(entries[0][0], f"{field_name} has a value and null ({wheres}): not scored"))
            continue
        if field_name == "document_title":
            values = [" ".join(value.split()) for value in values]
        distinct = tuple(dict.fromkeys(values))
        documents[file].fields[field_name] = GoldField(distinct, distinct)
    yield from documents.values()


def _invalid_value(field_name: str, value: str) -> str | None:
    """Why a normalised gold value cannot be one of the field's, or None."""
    if not value.strip():
        return "is empty (null says the document lacks the field)"
    if field_name in DATE_FIELDS:
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return "is not an ISO date (YYYY-MM-DD)"
    if field_name in DURATION_FIELDS and duration_key(value) is None:
        return f"is not an ISO 8601 duration, {PERPETUAL} or {UNTIL_TERMINATED}"
    return None


# ---- reading CUAD's answers ---------------------------------------------------------------------

_CUAD_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})")


def cuad_date(answer: str) -> str | None:
    """CUAD's M/D/YY (or M/D/YYYY) as an ISO date; two-digit years pivot at 50 (00-49: 20yy)."""
    match = _CUAD_DATE.fullmatch(answer.strip())
    if match is None:
        return None
    month, day, year = int(match[1]), int(match[2]), int(match[3])
    if len(match[3]) == 2:
        year += 2000 if year < PIVOT else 1900
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


_NUMBER_WORDS = {
    word: number
    for number, word in enumerate(
        ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"),
        1,
    )
} | {"thirty": 30, "forty": 40, "forty-five": 45, "sixty": 60, "ninety": 90, "a": 1, "an": 1}  # fmt: skip
_UNITS = {"year": "Y", "month": "M", "week": "W", "day": "D"}
_DURATION_TEXT = re.compile(
    r"\b(?:(?P<digits>\d+)|(?P<word>" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r"))"
    r"(?:\s*\((?P<figure>\d+)\))?[\s-]*(?P<unit>year|month|week|day)s?\b",
    re.IGNORECASE,
)
_UNTIL_TERMINATED_TEXT = re.compile(r"\buntil\s+(?:it\s+is\s+)?terminated\b", re.IGNORECASE)


def parse_durations(text: str) -> tuple[str, ...]:
    """The durations a free-text answer states, as ISO 8601 (or perpetual / until_terminated):
    "successive one (1) year periods" -> ("P1Y",); "5 years; 2 years" -> ("P5Y", "P2Y");
    () when it states none."""
    found: list[str] = []
    for part in re.split(r"[;\n]", text):
        if re.search(r"\bperpetu", part, re.IGNORECASE):
            found.append(PERPETUAL)
        elif _UNTIL_TERMINATED_TEXT.search(part):
            found.append(UNTIL_TERMINATED)
        for match in _DURATION_TEXT.finditer(part):
            if match["figure"]:  # "one (1) year": the figure decides
                number = int(match["figure"])
            elif match["digits"]:
                number = int(match["digits"])
            else:
                number = _NUMBER_WORDS[match["word"].casefold()]
            found.append(f"P{number}{_UNITS[match['unit'].casefold()]}")
    return tuple(dict.fromkeys(found))


_QUOTES = '"“”'
_TAIL = re.compile(
    r"\s*(?:\b(?:d/b/a|d\.b\.a\.|dba|f/k/a|a/k/a|a\.k\.a\.|doing\s+business\s+as|formerly\s+known\s+as|also\s+known\s+as|"
    r"trading\s+as|operating\s+(?:with|under)|including\s+(?:its|his|her|their)|on\s+behalf\s+of|and\s+all\s+of\s+its)\b"
    r"|\bt/a\b).*$",
    re.IGNORECASE | re.DOTALL,
)
_TRAILING_GROUP = re.compile(r"\s*\([^()]*\)\s*$")
_GENERIC = re.compile(
    r"\b(?:each|collectively|individually|foregoing|hereinafter|herein|hereto)\b|\bpart(?:y|ies)\b|^Part(?:y|ies)$",
    re.IGNORECASE,
)
_PRONOUNS = frozenset({"you", "we", "us", "i", "it", "they"})
_CONNECTORS = re.compile(r"\b(?:and|or|the)\b|[,&.;:()\s]", re.IGNORECASE)


def cuad_party_names(answer: str) -> tuple[list[str], list[str]]:
    """The party names of a CUAD parties answer (``Name ("Alias"); Name ("Alias", "Alias2")``),
    and the redacted ones (``[*]``). Aliases, d/b/a and f/k/a tails and generic entries (``each``,
    ``collectively``, the parties, names made of other entries' names or aliases) are left out."""
    segments = [list(_named_entries(segment)) for segment in _top_level_segments(answer)]
    aliases = {alias.casefold() for entries in segments for _, own in entries for alias in own if alias}
    names: list[str] = []
    redacted: list[str] = []
    keys: set[str] = set()
    for entries in segments:
        for raw_name, own in entries:
            name = _clean_name(raw_name)
            if not name:
                continue
            if _GENERIC.search(name):
                break  # "Each of the foregoing parties is referred to as a "Party" and …": the rest too
            if not re.search(r"[^\W_]", name):
                redacted.append(name)
                continue
            if name.casefold() in _PRONOUNS or (" " not in name and name.casefold() in {a.casefold() for a in own}):
                continue
            if _made_of(name, sorted(aliases | {n.casefold() for n in names}, key=len, reverse=True)):
                continue
            for part in _joined_names(name):
                key = party_key(part)
                if key not in keys:
                    keys.add(key)
                    names.append(part)
    return names, redacted


def _joined_names(name: str) -> list[str]:
    """``WYZZ, Inc. and WYZZ Licensee, Inc.`` is two names: an "and" after a legal form joins
    two; ``Babcock and Wilcox Company`` stays one."""
    left, joined, right = name.partition(" and ")
    if not joined or not right.strip():
        return [name]
    left = left.rstrip(" ,")
    # the key drops a legal form only at the end: one there if it is kept before another word
    if party_key(left + " zq") == party_key(left) + " zq":
        return [name]
    return [left, *_joined_names(right.strip())]


def _top_level_segments(answer: str) -> list[str]:
    """The answer cut at ';' and line breaks outside parentheses."""
    segments: list[str] = []
    current: list[str] = []
    depth = 0
    for char in answer:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        if char in ";\n" and depth == 0:
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
    segments.append("".join(current))
    return segments


def _group_end(text: str, start: int) -> int:
    """The index after the ')' closing the '(' at ``start`` (or the end of the text)."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            depth -= 1
            if depth == 0:
                return index + 1
    return len(text)


def _quoted(text: str) -> list[str]:
    return [part.strip() for part in re.findall(r"[\"“”]([^\"“”]*)[\"“”]", text)]


def _named_entries(segment: str) -> Iterator[tuple[str, list[str]]]:
    """(name, aliases) pairs of one segment: a name ends where an alias starts (a quote, or a
    parenthesis holding one); a parenthesis without quotes is part of the name (``TOM Online
    (BVI) Limited``)."""
    start = index = 0
    while index < len(segment):
        char = segment[index]
        if char == "(":
            end = _group_end(segment, index)
            group = segment[index:end]
            if any(quote in group for quote in _QUOTES):
                yield segment[start:index], _quoted(group)
                start = index = end
                continue
            index = end
            continue
        if char in _QUOTES:
            close = next((i for i in range(index + 1, len(segment)) if segment[i] in _QUOTES), len(segment) - 1)
            yield segment[start:index], [segment[index + 1 : close].strip()]
            start = index = close + 1
            continue
        index += 1
    if start < len(segment):
        yield segment[start:], []


def _clean_name(raw: str) -> str:
    name = _TAIL.sub("", " ".join(raw.split()))
    while _TRAILING_GROUP.search(name):
        name = _TRAILING_GROUP.sub("", name)
    return name.strip(" ,;:()").lstrip(". ").strip()


def _made_of(name: str, known: Sequence[str]) -> bool:
    """Whether ``name`` is only other entries' names or aliases joined by "and", commas, "the"."""
    rest = name.casefold()
    if not any(word in rest for word in known):
        return False
    for word in known:
        rest = re.sub(r"(?<!\w)" + re.escape(word) + r"(?!\w)", " ", rest)
    return not _CONNECTORS.sub("", rest)


# ---- matching -----------------------------------------------------------------------------------


def party_key(name: str) -> str:
    """A party name's key: case, punctuation and legal forms folded as the entities' keys are."""
    return entity_key("ORG", name)


def title_key(title: str) -> str:
    return " ".join(title.casefold().split())


_DURATION = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?")


def duration_key(value: str) -> str | None:
    """A duration's comparable form: years as months, weeks as days (P1Y == P12M, P2W == P14D);
    perpetual and until_terminated as they are; None if it is none of these."""
    if value in (PERPETUAL, UNTIL_TERMINATED):
        return value
    match = _DURATION.fullmatch(value.strip().upper())
    if match is None or not any(match.groups()):
        return None
    years, months, weeks, days = (int(part or 0) for part in match.groups())
    return f"P{years * 12 + months}M{weeks * 7 + days}D"


_LAW_PREFIX = re.compile(
    r"^(?:the )?(?:(?:state|commonwealth|province|kingdom|federal republic|peoples republic|republic) of )?(?:the )?"
)
# Few and general: another name of the same legal system.
LAW_ALIASES: dict[str, str] = {
    "prc": "china",
    "uk": "united kingdom",
    "great britain": "united kingdom",
    "britain": "united kingdom",
    "england": "england and wales",
    "wales": "england and wales",
    "usa": "united states",
    "us": "united states",
    "united states of america": "united states",
    "holland": "netherlands",
    "korea": "south korea",
}


def law_key(place: str) -> str:
    """A jurisdiction's comparable form: case, punctuation, "the", "State of", "Commonwealth of",
    "Republic of" folded ("People's Republic of China" -> "china"), and the aliases above."""
    folded = place.casefold().replace("’", "").replace("'", "").replace(".", "")
    folded = " ".join(re.sub(r"[^\w\s]", " ", folded).split())
    folded = _LAW_PREFIX.sub("", folded)
    return LAW_ALIASES.get(folded, folded)


def law_parts(gold: str) -> frozenset[str]:
    """The keys of a gold jurisdiction, each part of "X; Y" or "X, Y" on its own."""
    return frozenset(law_key(part) for part in re.split(r"[;,]", gold) if part.strip())


def same_value(field_name: str, gold: str, predicted: str | None) -> bool:
    """Whether the lake's (normalised) value is the gold value of the field."""
    if predicted is None:
        return False
    if field_name in DATE_FIELDS:
        return gold.strip() == predicted.strip()
    if field_name in DURATION_FIELDS:
        key = duration_key(gold)
        return key is not None and key == duration_key(predicted)
    if field_name == "governing_law":
        return law_key(predicted) in law_parts(gold)
    if field_name == PARTY:
        return party_key(gold) == party_key(predicted)
    return title_key(gold) == title_key(predicted)


def last_day_in_force(gold: Sequence[str], predicted: str | None) -> str | None:
    """The gold expiration that ``predicted`` is the day before, if any and none is equal. A term
    ends either on the last day it is in force ("expiring May 31st 2021") or on the anniversary it
    runs to ("12 months from June 1st 2020": CUAD's 6/1/21): the same end, in two conventions."""
    if predicted is None or predicted in gold:
        return None
    try:
        following = (dt.date.fromisoformat(predicted) + dt.timedelta(days=1)).isoformat()
    except ValueError:
        return None
    return following if following in gold else None


# ---- scoring ------------------------------------------------------------------------------------


@dataclass
class FieldCounts:
    """One field over the documents scored for it. ``stated``: gold values (a party: names;
    other fields: documents whose gold states it); ``empty`` / ``empty_none``: documents whose
    gold leaves a single-valued field empty, and of them those without a lake value."""

    documents: int = 0
    stated: int = 0
    predicted: int = 0
    right: int = 0
    empty: int = 0
    empty_none: int = 0

    def add(self, other: FieldCounts) -> None:
        for name in ("documents", "stated", "predicted", "right", "empty", "empty_none"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def precision(self) -> float | None:
        return self.right / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.right / self.stated if self.stated else None

    @property
    def f1(self) -> float | None:
        return f1(self.precision, self.recall)

    @property
    def empty_none_share(self) -> float | None:
        """ "No invented values": the share of gold-empty documents the lake leaves empty."""
        return self.empty_none / self.empty if self.empty else None

    def figures(self, single: bool) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "stated": self.stated,
            "predicted": self.predicted,
            "right": self.right,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            # right / stated: for a single-valued field the same figure as recall, named as asked
            "accuracy_stated": self.recall if single else None,
            "empty": self.empty if single else None,
            "empty_none": self.empty_none if single else None,
            "empty_none_share": self.empty_none_share if single else None,
        }


@dataclass(frozen=True)
class Prediction:
    """A lake value: its normalised form (what is compared), as written, and its evidence."""

    normalized: str | None
    written: str
    confidence: float
    method: str
    page_no: int | None


@dataclass(frozen=True)
class FieldError:
    file: str
    doc_id: str
    field: str
    kind: ErrorKind
    expected: tuple[str, ...]  # normalised gold values (a party: its key); () : none expected
    expected_written: tuple[str, ...]
    found: str | None  # normalised lake value (a party: its key)
    found_written: str | None
    page_no: int | None
    confidence: float | None
    method: str | None

    @property
    def expected_text(self) -> str:
        """The gold as one line: normalised values, with the gold's own writing where it differs."""
        written = f" ({' | '.join(self.expected_written)})" if self.expected_written != self.expected else ""
        return " ".join(((" | ".join(self.expected) or "none") + written).split())


@dataclass(frozen=True)
class Judged:
    """A lake value on a scorable field, right or wrong: the reliability table's and the
    calibration's unit."""

    field: str
    method: str
    confidence: float
    right: bool


def score_single(
    field_name: str, gold: GoldField, predicted: Prediction | None
) -> tuple[FieldCounts, ErrorKind | None, bool | None]:
    """One document's single-valued field: its counts, its error, and whether the lake's value
    is right (None: no value)."""
    counts = FieldCounts(documents=1)
    if gold.values:
        counts.stated = 1
        if predicted is None:
            return counts, "missed", None
        counts.predicted = 1
        right = any(same_value(field_name, value, predicted.normalized) for value in gold.values)
        counts.right = int(right)
        return counts, None if right else "wrong", right
    counts.empty = 1
    if predicted is None:
        counts.empty_none = 1
        return counts, None, None
    counts.predicted = 1
    return counts, "invented", False


SLIP_MIN_CHARS = 8  # the shortest party key a one-character slip is forgiven in


def one_slip(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by at most one character inserted, deleted, replaced, or
    two neighbours swapped (optimal string alignment distance <= 1)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    prefix = 0
    while prefix < min(len(a), len(b)) and a[prefix] == b[prefix]:
        prefix += 1
    a, b = a[prefix:], b[prefix:]
    if len(a) == len(b):
        return a[1:] == b[1:] or (len(a) >= 2 and a[0] == b[1] and a[1] == b[0] and a[2:] == b[2:])
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[1:] == shorter


def score_parties(
    gold: GoldField, predicted: Mapping[str, Prediction]
) -> tuple[FieldCounts, list[str], list[str], dict[str, bool], list[tuple[str, str]]]:
    """One document's parties as sets of keys: counts, gold names missed, predicted keys not in
    the gold, each predicted key's rightness, and the (gold name, predicted key) pairs matched
    despite a one-character slip in a name of SLIP_MIN_CHARS or more (CUAD's "Pifzer Inc.",
    "Loin Biotechnologies, Inc."). ``predicted``: key -> its best row."""
    gold_keys = {party_key(name): name for name in gold.values}
    right = {key: key in gold_keys for key in predicted}
    unmatched = [key for key in predicted if key not in gold_keys]
    slips: list[tuple[str, str]] = []
    for key, name in gold_keys.items():
        if key in predicted or len(key) < SLIP_MIN_CHARS:
            continue
        near = next((k for k in unmatched if len(k) >= SLIP_MIN_CHARS and one_slip(key, k)), None)
        if near is not None:
            unmatched.remove(near)
            right[near] = True
            slips.append((name, near))
    slipped = {name for name, _ in slips}
    counts = FieldCounts(documents=1, stated=len(gold_keys), predicted=len(predicted))
    counts.right = sum(right.values())
    missed = [name for key, name in gold_keys.items() if key not in predicted and name not in slipped]
    return counts, missed, unmatched, right, slips


@dataclass
class DocumentResult:
    file: str
    doc_id: str
    fields: int  # fields scored


@dataclass
class FieldsEvaluation:
    eval_id: str
    evaluated_at: dt.datetime
    gold: str
    gold_sha256: str
    format: FieldsFormat
    fields: tuple[str, ...]
    counts: dict[str, FieldCounts] = field(default_factory=dict)
    extras: dict[str, FieldCounts] = field(default_factory=dict)  # EFFECTIVE_STATED, TERM_PERPETUAL
    documents: list[DocumentResult] = field(default_factory=list)
    problems: list[GoldProblem] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)
    judged: list[Judged] = field(default_factory=list)
    run_id: str | None = None
    model: str | None = None
    model_version: str | None = None

    def total(self) -> FieldCounts:
        """Micro counts over the fields (party names and single-valued documents alike)."""
        total = FieldCounts()
        for counts in self.counts.values():
            total.add(counts)
        total.documents = len(self.documents)
        return total

    def error_counts(self) -> dict[str, int]:
        return {kind: sum(1 for e in self.errors if e.kind == kind) for kind in ERROR_KINDS}

    def rows(self) -> list[dict[str, Any]]:
        """The ``evaluations`` rows: each scored field and ``ALL``."""
        labelled = [(name, c) for name, c in self.counts.items() if c.documents] + [(ALL, self.total())]
        return [
            {
                "eval_id": self.eval_id,
                "evaluated_at": self.evaluated_at,
                "task": "fields",
                "gold": self.gold,
                "gold_sha256": self.gold_sha256,
                "documents": len(self.documents),
                "run_id": self.run_id,
                "model": self.model,
                "model_version": self.model_version,
                "scheme": SCHEME,
                "label": label,
                "gold_spans": counts.stated,
                "predicted": counts.predicted,
                "tp": float(counts.right),
                "fp": float(counts.predicted - counts.right),
                "fn": float(counts.stated - counts.right),
                "precision": counts.precision,
                "recall": counts.recall,
                "f1": counts.f1,
            }
            for label, counts in labelled
        ]

    def summary(self) -> dict[str, Any]:
        """The whole result as JSON-ready data."""
        metrics = {name: c.figures(name != PARTY) for name, c in self.counts.items() if c.documents}
        metrics[ALL] = self.total().figures(single=False)
        return {
            "eval_id": self.eval_id,
            "evaluated_at": self.evaluated_at.isoformat(),
            "task": "fields",
            "gold": self.gold,
            "gold_sha256": self.gold_sha256,
            "format": self.format,
            "run_id": self.run_id,
            "model": self.model,
            "model_version": self.model_version,
            "fields": list(self.fields),
            "documents": [asdict(d) for d in self.documents],
            "problems": [asdict(p) for p in self.problems],
            "metrics": metrics,
            "extras": {name: c.figures(single=True) for name, c in self.extras.items() if c.documents},
            "error_counts": self.error_counts(),
            "errors": [asdict(e) for e in self.errors],
            "reliability": [asdict(b) for b in reliability(self)],
            "methods": [
                {"field": f, "method": m, "right": right, "total": total}
                for (f, m), (right, total) in sorted(method_counts(self).items())
            ],
        }


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float  # exclusive, but for the last bin
    values: int
    right: int
    share_right: float | None
    mean_confidence: float | None


def confidence_bin(confidence: float) -> int:
    """The index of the bin of BINS holding ``confidence`` (out-of-range values: the end bins)."""
    for index, (_, high) in enumerate(BINS[:-1]):
        if confidence < high:
            return index
    return len(BINS) - 1


def reliability_of(judged: Iterable[Judged]) -> list[ReliabilityBin]:
    """Judged values binned by confidence, with the share right in each bin."""
    binned: list[list[Judged]] = [[] for _ in BINS]
    for value in judged:
        binned[confidence_bin(value.confidence)].append(value)
    bins = []
    for (low, high), values in zip(BINS, binned, strict=True):
        right = sum(1 for v in values if v.right)
        bins.append(
            ReliabilityBin(
                low,
                high,
                len(values),
                right,
                right / len(values) if values else None,
                sum(v.confidence for v in values) / len(values) if values else None,
            )
        )
    return bins


def reliability(result: FieldsEvaluation) -> list[ReliabilityBin]:
    """The reliability table of an evaluation: the lake's values on scorable fields by confidence."""
    return reliability_of(result.judged)


def method_counts(result: FieldsEvaluation) -> dict[tuple[str, str], tuple[int, int]]:
    """(field, method) -> (right, total) over the lake's judged values: what
    ``udfs.fields.calibrate.fit`` takes."""
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    for value in result.judged:
        right, total = counts.get((value.field, value.method), (0, 0))
        counts[(value.field, value.method)] = (right + int(value.right), total + 1)
    return counts


# ---- the evaluation of a lake ---------------------------------------------------------------------

_FIELD_COLUMNS = [
    "doc_id",
    "field",
    "rank",
    "value",
    "normalized_value",
    "confidence",
    "method",
    "page_no",
    "entity_key",
]


def _prediction(row: Mapping[str, Any]) -> Prediction:
    normalized = row["normalized_value"]
    if row["field"] == PARTY:
        normalized = row["entity_key"] or party_key(row["value"])
    elif normalized is None and row["field"] in TEXT_FIELDS:
        normalized = row["value"]
    return Prediction(normalized, row["value"], float(row["confidence"]), row["method"], row["page_no"])


def _best_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Field -> its rank-1 row (the lowest rank, then the highest confidence)."""
    best: dict[str, Mapping[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (r["rank"], -r["confidence"])):
        best.setdefault(row["field"], row)
    return best


def _party_predictions(rows: Sequence[Mapping[str, Any]]) -> dict[str, Prediction]:
    """Party key -> its best row's value: every party row counts, each party once."""
    found: dict[str, Prediction] = {}
    for row in sorted((r for r in rows if r["field"] == PARTY), key=lambda r: (r["rank"], -r["confidence"])):
        prediction = _prediction(row)
        assert prediction.normalized is not None
        found.setdefault(prediction.normalized, prediction)
    return found


def _error(
    document: FieldsGoldDocument,
    doc_id: str,
    field_name: str,
    kind: ErrorKind,
    expected: tuple[str, ...],
    expected_written: tuple[str, ...],
    found: Prediction | None,
) -> FieldError:
    return FieldError(
        document.file,
        doc_id,
        field_name,
        kind,
        expected,
        expected_written,
        None if found is None else found.normalized,
        None if found is None else found.written,
        None if found is None else found.page_no,
        None if found is None else found.confidence,
        None if found is None else found.method,
    )


def score_document(
    result: FieldsEvaluation, document: FieldsGoldDocument, doc_id: str, rows: Sequence[Mapping[str, Any]]
) -> int:
    """Add one gold document's fields to ``result``; the number of fields scored."""
    best = _best_rows(rows)
    scored = 0
    for field_name in result.fields:
        gold = document.fields.get(field_name)
        if gold is None:
            continue
        scored += 1
        if field_name == PARTY:
            predicted = _party_predictions(rows)
            counts, missed, spurious, rightness, slips = score_parties(gold, predicted)
            result.counts[PARTY].add(counts)
            result.problems.extend(
                GoldProblem(
                    document.file, f"party {name!r} matched {predicted[key].written!r} despite a one-character slip"
                )
                for name, key in slips
            )
            for name in missed:
                result.errors.append(_error(document, doc_id, PARTY, "missed", (party_key(name),), (name,), None))
            for key in spurious:
                result.errors.append(_error(document, doc_id, PARTY, "spurious", (), (), predicted[key]))
            result.judged.extend(
                Judged(PARTY, predicted[key].method, predicted[key].confidence, right)
                for key, right in rightness.items()
            )
            continue
        row = best.get(field_name)
        prediction = None if row is None else _prediction(row)
        if field_name == "expiration_date" and prediction is not None:
            anniversary = last_day_in_force(gold.values, prediction.normalized)
            if anniversary is not None:
                result.problems.append(
                    GoldProblem(
                        document.file,
                        f"expiration {prediction.normalized} (as written: {' '.join(prediction.written.split())!r}) "
                        f"read as the gold's {anniversary}: the last day in force, the day before the anniversary",
                    )
                )
                prediction = replace(prediction, normalized=anniversary)
        counts, kind, right = score_single(field_name, gold, prediction)
        result.counts[field_name].add(counts)
        if field_name == "effective_date" and not gold.derived and gold.values:
            result.extras.setdefault(EFFECTIVE_STATED, FieldCounts()).add(counts)
        if kind is not None:
            result.errors.append(_error(document, doc_id, field_name, kind, gold.values, gold.written, prediction))
        if prediction is not None and right is not None:
            result.judged.append(Judged(field_name, prediction.method, prediction.confidence, right))
    if document.perpetual and "expiration_date" in result.fields:
        term = best.get("term")
        perpetual = GoldField((PERPETUAL, UNTIL_TERMINATED), ("perpetual (expiration)",))
        counts, _, _ = score_single("term", perpetual, None if term is None else _prediction(term))
        result.extras.setdefault(TERM_PERPETUAL, FieldCounts()).add(counts)
    return scored


def evaluate_fields(
    lake: str | Path,
    gold_path: str | Path,
    *,
    fmt: FieldsFormat | None = None,
    fields: Sequence[str] | None = None,
    now: dt.datetime | None = None,
) -> FieldsEvaluation:
    """Measure the contract fields of ``lake`` against the gold file (nothing is written).
    ``fields``: those to score (default: every field the gold has values or empties for)."""
    path = Path(gold_path)
    fmt = fmt or format_of(path)
    unknown = sorted(set(fields or ()) - set(FIELD_NAMES))
    if unknown:
        raise ValueError(f"unknown fields {unknown} (fields: {', '.join(FIELD_NAMES)})")
    gold = read_fields_gold(path, fmt)
    in_gold = {name for document in gold.documents for name in document.fields}
    evaluated = tuple(name for name in FIELD_NAMES if (name in fields if fields else name in in_gold))
    now = now or dt.datetime.now(dt.UTC)
    result = FieldsEvaluation(
        eval_id=new_eval_id(now),
        evaluated_at=now,
        gold=path.name,
        gold_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        format=fmt,
        fields=evaluated,
        counts={name: FieldCounts() for name in evaluated},
        problems=list(gold.problems),
    )
    state_column = STATE_COLUMNS[FIELDS.name]
    documents = read_arrow(lake, DOCUMENTS.name).to_pylist()
    as_gold = [GoldDocument(d.file, None, [], d.where) for d in gold.documents]
    resolved = resolve_documents(as_gold, documents, result.problems)
    doc_ids = sorted({row["doc_id"] for row in resolved.values()})
    rows_by_doc: dict[str, list[dict[str, Any]]] = {}
    table = read_arrow(lake, CONTRACT_FIELDS.name, _FIELD_COLUMNS, pc.field("doc_id").isin(doc_ids))
    for row in table.to_pylist():
        rows_by_doc.setdefault(row["doc_id"], []).append(row)
    states: list[Mapping[str, Any]] = []
    seen: dict[str, str] = {}
    for index, document in enumerate(gold.documents):
        row = resolved.get(index)
        if row is None:
            continue
        state = row.get(state_column)
        if state is None:
            problem = f"{document.file!r} has not been through the fields stage: not evaluated"
            result.problems.append(GoldProblem(document.where, problem))
            continue
        if row["doc_id"] in seen:
            problem = f"{document.file!r} is evaluated already (gold {seen[row['doc_id']]}): not evaluated again"
            result.problems.append(GoldProblem(document.where, problem))
            continue
        seen[row["doc_id"]] = document.where
        scored = score_document(result, document, row["doc_id"], rows_by_doc.get(row["doc_id"], []))
        result.documents.append(DocumentResult(document.file, row["doc_id"], scored))
        states.append(state)
    result.extras = {name: result.extras[name] for name in (EFFECTIVE_STATED, TERM_PERPETUAL) if name in result.extras}
    describe_run(result, lake, states, FIELDS.name)
    return result


def save_fields_evaluation(lake: str | Path, result: FieldsEvaluation, out: str | Path | None = None) -> Path | None:
    """Append the rows to ``evaluations`` (one commit) and write the JSON result to ``out``."""
    return save_evaluation(lake, result, out, task="fields")
