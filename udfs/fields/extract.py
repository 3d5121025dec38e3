"""Contract key fields from one document's text and its entities (the NER stage's rows).

Each field has a finder (FINDERS, the one registry of fields): a function of the document that
returns candidate values, each with its evidence (``start``/``end`` into the text: the value
as written), a normalised value, the method that found it and a raw score. The clauses that
state each field are found by general patterns of contract language, and the values are taken
from the NER stage's entities wherever there is one (a party's ORG, a DATE), so a field row
points at an entity row too:

- ``document_title``: the first heading of the first page that names a kind of agreement;
- ``party``: the names a definition in the preamble ties a term to (``ABC Corp. (the
  "Company")``: ``refers_to_key``), and the legal names listed after "between"; the role and
  the alias are the terms defined for it;
- ``agreement_date``: the date of the preamble ("dated", "made … as of", "this … day of");
  else the date of the signature blocks;
- ``effective_date``: a date defined as the "Effective Date" or stated as the date the
  contract is effective from; where the contract names no other, its agreement date
  (method ``agreement-date``);
- ``term``, ``renewal_term``, ``notice_period``: the durations of the term, renewal and notice
  clauses (ISO 8601), or ``perpetual`` / ``until_terminated``;
- ``expiration_date``: a date the term ends on, or the effective date plus the initial term
  (method ``computed``);
- ``governing_law``: the place whose laws govern the contract, by its plain English name.

A field the document does not state has no candidate: nothing is guessed. Numeric dates are
read in the document's own order (udfs.fields.dates).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from udfs.fields.dates import DateOrder, date_order, read_date
from udfs.ner.lexicon import running_words
from udfs.ner.places import Places

PERPETUAL, UNTIL_TERMINATED = "perpetual", "until_terminated"
PREAMBLE_CHARS = 4000  # how far into the document the preamble is looked for
TITLE_CHARS = 1500


@dataclass(frozen=True)
class FieldValue:
    field: str
    start: int  # the value as written: text[start:end]
    end: int
    normalized_value: str | None
    method: str
    score: float  # the finder's raw score in [0, 1]; udfs.fields.calibrate maps it to a confidence
    entity_id: str | None = None
    entity_key: str | None = None
    party_role: str | None = None
    party_alias: str | None = None


@dataclass
class Document:
    """What the finders read: the text, its entities (sorted by start), its date order, the
    words it writes in lower case and, optionally, the gazetteer of places (udfs.ner.places)."""

    text: str
    entities: Sequence[Mapping[str, Any]]
    places: Places | None = None
    order: DateOrder = field(init=False)
    preamble_end: int = field(init=False)
    lowered: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.entities = sorted(self.entities, key=lambda e: (e["doc_start"], e["doc_end"]))
        self.order = date_order(self.text)
        self.preamble_end = _preamble_end(self.text)
        self.lowered = frozenset(running_words(self.text))

    def of_label(self, *labels: str, start: int = 0, end: int | None = None) -> list[Mapping[str, Any]]:
        stop = len(self.text) if end is None else end
        return [e for e in self.entities if e["label"] in labels and start <= e["doc_start"] < stop]


_PREAMBLE_STOP = re.compile(
    r"\n[ \t]*(?:W\s*I\s*T\s*N\s*E\s*S\s*S\s*E\s*T\s*H|WHEREAS|Whereas|RECITALS|Recitals|BACKGROUND|Background|"
    r"NOW,?\s+THEREFORE|Now,?\s+therefore|(?:ARTICLE|Article|SECTION|Section)\s+(?:1|I)\b|1\.\s+[A-Z])"
)


def _preamble_end(text: str) -> int:
    """Where the preamble (title, parties, date) ends: the recitals or the first article."""
    between = re.search(r"\b(?:between|among|by\s+and\s+between)\b", text[:PREAMBLE_CHARS], re.IGNORECASE)
    after = between.end() if between else 0
    stop = _PREAMBLE_STOP.search(text, after, min(len(text), after + PREAMBLE_CHARS))
    return stop.start() if stop else min(len(text), after + 1500 if between else PREAMBLE_CHARS)


# ---- document_title ----------------------------------------------------------------------------

_TITLE_WORD = re.compile(
    r"\b(?:AGREEMENT|Agreement|CONTRACT|Contract|AMENDMENT|Amendment|LICEN[CS]E|Licen[cs]e|LEASE|Lease|"
    r"MEMORANDUM|Memorandum|DEED|Deed|ADDENDUM|Addendum|TERMS|Terms)\b"
)
_CAPS_TITLE = re.compile(
    r"(?<![\w&’'-])(?:(?!THIS\b|THE\b|EXHIBIT\b)[A-Z][A-Z&’'-]*,?\s+){0,8}"
    r"(?:AGREEMENT|CONTRACT|AMENDMENT|LICEN[CS]E|LEASE|MEMORANDUM|DEED|ADDENDUM)(?![\w-])"
)
_NOT_TITLE = re.compile(r"^(?:This|THIS|The|THE|Exhibit|EXHIBIT|Schedule|SCHEDULE|Page|PAGE)\b|[.;:]$|\d{3,}")


def find_title(doc: Document) -> list[FieldValue]:
    for line in re.finditer(r"[^\n]+", doc.text[:TITLE_CHARS]):
        body = line.group().strip()
        words = body.split()
        if not (1 <= len(words) <= 12) or not _TITLE_WORD.search(body) or _NOT_TITLE.search(body):
            continue
        capitalised = sum(w[0].isupper() for w in words if w[0].isalpha())
        if capitalised < max(1, len([w for w in words if len(w) > 3]) - 1):
            continue  # running text, not a heading
        start = line.start() + line.group().index(body)
        return [FieldValue("document_title", start, start + len(body), " ".join(words), "heading", 0.9)]
    # A rendering without line breaks: the first run of words in capitals that ends in the word
    # of an agreement ("Exhibit 10.16 MARKETING AFFILIATE AGREEMENT This Agreement is made …").
    run = _CAPS_TITLE.search(doc.text, 0, TITLE_CHARS)
    if run:
        return [FieldValue("document_title", run.start(), run.end(), " ".join(run.group().split()), "capitals", 0.75)]
    return []


# ---- party -------------------------------------------------------------------------------------

_BETWEEN = re.compile(r"\b(?:between|among|amongst)\b", re.IGNORECASE)
# Where a party's name stands in a party clause: after "between", "among", "and", a comma or the
# bracket that closes the previous party's definition.
_PARTY_SLOT = re.compile(r"(?:\bbetween|\bamong|\band|,|\))\s*(?:the\s+)?$", re.IGNORECASE)
# "and Paul Silas ("Celebrity"), an individual": a person who is a party.
_INDIVIDUAL = re.compile(r"\s*(?:\([^()]{0,40}\)\s*)?,?\s+an?\s+individual\b", re.IGNORECASE)
_DEFINITION_RULES = ("alias-parenthetical", "alias-referred-to", "defined-term")


def find_parties(doc: Document) -> list[FieldValue]:
    """The preamble's parties: names a definition ties a term to, and legal names after
    "between"; one value per party key, in the order the preamble names them."""
    end = doc.preamble_end
    between = _BETWEEN.search(doc.text, 0, end)
    names = doc.of_label("ORG", "PERSON", end=end)
    definitions = [
        e
        for e in doc.of_label("ALIAS", "ORG", "PERSON", end=min(len(doc.text), end + 500))
        if e.get("refers_to_key") and e.get("rule") in _DEFINITION_RULES
    ]
    referred = {e["refers_to_key"] for e in definitions}
    found: dict[str, FieldValue] = {}
    for name in names:
        key = name["entity_key"]
        if name.get("refers_to_key") or key in found:
            continue  # a short name or alias of a party, or a party seen already
        after_between = between is not None and name["doc_start"] >= between.start()
        legal = name.get("rule") in ("org-legal-form", "org-party-clause")
        if not _name_like(doc, name):
            continue
        if not legal and not _PARTY_SLOT.search(doc.text, max(0, name["doc_start"] - 30), name["doc_start"]):
            continue  # a model's name that is not listed as a party: "located at … Las Vegas NV"
        if key in referred and (after_between or between is None):
            method, score = "defined-party", 0.95
        elif after_between and _INDIVIDUAL.match(doc.text, name["doc_end"]):
            method, score = "individual-party", 0.85
        elif legal and after_between:
            method, score = "listed-party", 0.75
        else:
            continue
        own = [e for e in definitions if e["refers_to_key"] == key and e["doc_start"] >= name["doc_end"]]
        found[key] = _party_value(name, method, score, own)
    for name in _signing_names(doc):
        if name["entity_key"] not in found and not name.get("refers_to_key") and _name_like(doc, name):
            found[name["entity_key"]] = _party_value(name, "signature-block", 0.7, [])
    return list(found.values())


_ADDRESS_WORD = re.compile(
    r"\b(?:Street|Suite|Drive|Avenue|Road|Floor|Boulevard|Lane|Parkway|Highway|Court|Estate)\b|"
    r"\b(?:STREET|SUITE|DRIVE|AVENUE|ROAD|FLOOR|BOULEVARD)\b|\b(?:St|Ave|Rd|Blvd|Pkwy|Hwy)\.|^\d+\s"
)


def _name_like(doc: Document, name: Mapping[str, Any]) -> bool:
    """A party's name, not a piece of an address, a place, or one common word left of a
    longer name the rendering broke (``Solutions, LLC`` of ``eFashion Solutions, LLC``)."""
    text = name["text"]
    if _ADDRESS_WORD.search(text):
        return False
    key_words = (name.get("entity_key") or "").split()
    if not key_words:
        return False
    if doc.places is not None and doc.places.kind(" ".join(key_words)) is not None:
        return False
    return not (len(key_words) == 1 and key_words[0] in doc.lowered)


_BY_LINE = re.compile(r"^[ \t]*(?:By|BY)[ \t]*:", re.MULTILINE)


def _signing_names(doc: Document) -> list[Mapping[str, Any]]:
    """The names that sign: an ORG (or PERSON) alone on one of the three lines above a "By:"
    line of a signature block ("ACME CORP.\nBy: ____\nName: …")."""
    names = []
    for by in _BY_LINE.finditer(doc.text, doc.preamble_end):
        above = doc.text.rfind("\n", 0, max(0, by.start() - 1))
        for _ in range(2):
            above = doc.text.rfind("\n", 0, max(0, above))
        window_start = max(0, above + 1)
        for entity in doc.of_label("ORG", start=window_start, end=by.start()):
            line_start = doc.text.rfind("\n", 0, entity["doc_start"]) + 1
            line_end = doc.text.find("\n", entity["doc_end"])
            line = doc.text[line_start : line_end if line_end != -1 else len(doc.text)]
            if line.strip(" \t:,") == entity["text"].strip() and entity.get("rule") == "org-legal-form":
                names.append(entity)
    return names


def _party_value(name: Mapping[str, Any], method: str, score: float, own: Sequence[Mapping[str, Any]]) -> FieldValue:
    role = next((e["text"] for e in own if e["label"] == "ALIAS"), None)
    alias = next((e["text"] for e in own if e["label"] != "ALIAS"), None) or role
    return FieldValue(
        "party",
        name["doc_start"],
        name["doc_end"],
        _one_line(name["text"]),
        method,
        score,
        entity_id=name.get("entity_id"),
        entity_key=name["entity_key"],
        party_role=_one_line(role) if role else None,
        party_alias=_one_line(alias) if alias else None,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


# ---- dates -------------------------------------------------------------------------------------

_AGREEMENT_CUE = re.compile(
    r"(?:\bdated|\bmade|\bentered\s+into|\bexecuted|\bas\s+of|\beffective|\bthis|\bon)\b[^.;]{0,60}$|"
    r"\b(?:last\s+)?(?:updated|revised)\s*:\s*$",
    re.IGNORECASE,
)
_EFFECTIVE_DEFINED = re.compile(
    r"^[^.;]{0,25}\((?:the\s+|this\s+)?[\"“](?:Effective|Commencement)\s+Date[\"”]\)", re.IGNORECASE
)
_EFFECTIVE_BEFORE = re.compile(
    r"(?:\beffective\s+(?:as\s+(?:of|from)|on|from)|[\"“](?:Effective|Commencement)\s+Date[\"”]\s+(?:shall\s+)?means?:?|"
    r"\b(?:Effective|Commencement)\s+Date\s*:|\bcome\s+into\s+(?:force|effect)\s+on|"
    r"\b(?:shall|will)\s+(?:commence|become\s+effective)\s+(?:on|as\s+of))\s*(?:the\s+)?(?:day\s+of\s+)?$",
    re.IGNORECASE,
)
_SIGNED_DATE = re.compile(
    r"(?:\b(?:Date|Dated|Date\s+Signed|Signature\s+Date)\s*:?[ \t]*|"
    r"\bsigned\b[^.\n]{0,40}?\b(?:on|this)\s+(?:this\s+)?|/s/[^\n]{1,40}?[ \t]+)$",
    re.IGNORECASE,
)
# The strong cues of a contract's own date, looked for beyond the preamble too (a table of
# contents can come first): "made as of", "dated", "entered into on", "Last Updated:".
_AGREEMENT_STRONG = re.compile(
    r"(?:\bdated|\bmade|\bentered\s+into|\bexecuted)\b[^.;]{0,40}$|\b(?:last\s+)?(?:updated|revised)\s*:\s*$",
    re.IGNORECASE,
)
AGREEMENT_CHARS = 8000  # how far the strong cues are looked for


def _date_value(doc: Document, entity: Mapping[str, Any], field_name: str, method: str, score: float) -> FieldValue:
    value = entity.get("normalized_value") or read_date(entity["text"], doc.order)
    if value is not None and not re.fullmatch(r"\d{4}-\d\d-\d\d", value):
        value = None
    numeric = re.search(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}", entity["text"]) is not None
    if numeric and value is not None and not entity.get("normalized_value"):
        method = f"{method}; order by {doc.order.evidence}"
    return FieldValue(
        field_name,
        entity["doc_start"],
        entity["doc_end"],
        value,
        method,
        score if value is not None else score / 2,
        entity_id=entity.get("entity_id"),
        entity_key=entity.get("entity_key"),
    )


def _dates(doc: Document, start: int = 0, end: int | None = None) -> list[Mapping[str, Any]]:
    return [e for e in doc.of_label("DATE", start=start, end=end) if re.search(r"\d", e["text"])]


def find_agreement_date(doc: Document) -> list[FieldValue]:
    """The first full date the preamble states with a cue ("dated", "made … as of", "this … day
    of"); else the latest date of the signature blocks ("Date: …"), when the last party signed;
    else a partial date of the preamble (``March 2020``: a row without a normalised value)."""
    partial = None
    for entity in _dates(doc, end=doc.preamble_end):
        before = doc.text[max(0, entity["doc_start"] - 80) : entity["doc_start"]]
        if _AGREEMENT_CUE.search(before):
            value = _date_value(doc, entity, "agreement_date", "preamble-date", 0.9)
            if value.normalized_value is not None:
                return [value]
            partial = partial or value
    for entity in _dates(doc, start=doc.preamble_end, end=max(doc.preamble_end, AGREEMENT_CHARS)):
        before = doc.text[max(0, entity["doc_start"] - 80) : entity["doc_start"]]
        if _AGREEMENT_STRONG.search(before):
            value = _date_value(doc, entity, "agreement_date", "opening-date", 0.8)
            if value.normalized_value is not None:
                return [value]
    signed = [
        value
        for entity in _dates(doc)
        if _SIGNED_DATE.search(doc.text[max(0, entity["doc_start"] - 60) : entity["doc_start"]])
        for value in [_date_value(doc, entity, "agreement_date", "signature-date", 0.6)]
        if value.normalized_value is not None
    ]
    if signed:  # a contract is made when its last party signs
        return [max(signed, key=lambda v: v.normalized_value or "")]
    return [partial] if partial is not None else []


def find_effective_date(doc: Document, agreement: Sequence[FieldValue]) -> list[FieldValue]:
    for entity in _dates(doc):
        before = doc.text[max(0, entity["doc_start"] - 60) : entity["doc_start"]]
        after = doc.text[entity["doc_end"] : entity["doc_end"] + 60]
        if _EFFECTIVE_DEFINED.search(after) or _EFFECTIVE_BEFORE.search(before):
            return [_date_value(doc, entity, "effective_date", "effective-clause", 0.9)]
    return [
        replace(value, field="effective_date", method="agreement-date", score=value.score * 0.8) for value in agreement
    ]


# ---- term, renewal, notice --------------------------------------------------------------------

_TERM_CLAUSE = re.compile(
    r"\b(?:(?:initial\s+)?term\s+of\s+this\s+agreement|this\s+agreement|the\s+(?:initial\s+)?term)\b"
    r"[^.;]{0,160}?\b(?:(?:shall|will)\s+(?:be|continue|remain|commence|expire|run|last)|is|for\s+(?:a|an\s+initial)\s+(?:period|term))\b",
    re.IGNORECASE,
)
# What introduces the length of a term: "for a period of", "shall be", "continue for", "of".
_TERM_LEAD = re.compile(
    r"\b(?:for|of|be|last|until\s+the\s+end\s+of)\s+(?:an?\s+)?(?:(?:initial|further|fixed)\s+)?"
    r"(?:(?:period|term)\s+of\s+)?(?:the\s+)?(?:first\s+)?$",
    re.IGNORECASE,
)
_NOT_TERM_TAIL = re.compile(
    r"[’'`]?s?\s*(?:\(\d+\)\s*)?(?:prior|advance|written|notice|after\s+(?:receipt|notice|written))", re.IGNORECASE
)
_PERPETUAL = re.compile(r"\b(?:perpetual|in\s+perpetuity|perpetually)\b", re.IGNORECASE)
_UNTIL_TERMINATED = re.compile(
    r"\b(?:until|unless\s+and\s+until)\s+(?:terminated|this\s+agreement\s+is\s+terminated)\b", re.IGNORECASE
)
_RENEWAL = re.compile(
    r"\b(?:automatically\s+)?(?:renew(?:ed|s|al)?|extend(?:ed|s)?)\b[^.;]{0,80}?\b(?:for\s+)?(?:(?:an?|one|each|successive|"
    r"additional|consecutive|further|subsequent)\s+)+",
    re.IGNORECASE,
)
_RENEWAL_FREQUENCY = re.compile(
    r"\b(?P<word>annual|yearly|month-to-month|monthly)\s+(?:automatic\s+)?renewals?\b|"
    r"\brenew(?:s|ed)?\s+(?:automatically\s+)?(?:on\s+an?\s+)?(?P<basis>annual|yearly|month-to-month|monthly)\s+basis\b",
    re.IGNORECASE,
)
_NOTICE = re.compile(
    r"(?:\bupon|\bon|\bwith|\bby|\bgiving|\bgives|\bprovides?|\bprovid(?:ing|ed)|\bat\s+least|\bno\s+less\s+than|"
    r"\bnot\s+less\s+than|\bminimum\s+of|\bgives?)\s+(?:the\s+other(?:\s+party)?\s+)?(?:at\s+least\s+)?$",
    re.IGNORECASE,
)


_NOT_NOTICE = re.compile(r"\b(?:within|after|following|before|than)\s+$", re.IGNORECASE)


def _duration_value(entity: Mapping[str, Any], field_name: str, method: str, score: float) -> FieldValue | None:
    value = entity.get("normalized_value")
    if not value or not value.startswith("P"):
        return None
    months = re.fullmatch(r"P(\d+)M", value)
    if months and int(months[1]) % 12 == 0:
        value = f"P{int(months[1]) // 12}Y"  # one form per length: 12 months is P1Y
    return FieldValue(
        field_name,
        entity["doc_start"],
        entity["doc_end"],
        value,
        method,
        score,
        entity_id=entity.get("entity_id"),
        entity_key=entity.get("entity_key"),
    )


def find_term(doc: Document) -> list[FieldValue]:
    for clause in _TERM_CLAUSE.finditer(doc.text):
        sentence_end = _sentence_end(doc.text, clause.end())
        window = doc.text[clause.start() : sentence_end]
        if re.search(r"\brenew", window[: clause.end() - clause.start()], re.IGNORECASE):
            continue
        for entity in doc.of_label("DURATION", start=clause.start(), end=sentence_end):
            lead = doc.text[max(clause.start(), entity["doc_start"] - 60) : entity["doc_start"]]
            tail = doc.text[entity["doc_end"] : entity["doc_end"] + 40]
            if not _TERM_LEAD.search(lead) or _NOT_TERM_TAIL.match(tail):
                continue  # a notice or cure period inside the sentence, not the term's length
            value = _duration_value(entity, "term", "term-clause", 0.85)
            if value is not None:
                return [value]
        perpetual = _PERPETUAL.search(window)
        if perpetual:
            start = clause.start() + perpetual.start()
            return [FieldValue("term", start, start + len(perpetual.group()), PERPETUAL, "term-clause", 0.8)]
        until = _UNTIL_TERMINATED.search(window)
        if until:
            start = clause.start() + until.start()
            return [FieldValue("term", start, start + len(until.group()), UNTIL_TERMINATED, "term-clause", 0.7)]
    return []


def find_renewal_term(doc: Document) -> list[FieldValue]:
    """The length of each renewal: a duration right after "renew … for successive", or an
    annual or monthly renewal named by its frequency ("automatic annual renewals")."""
    for clause in _RENEWAL.finditer(doc.text):
        for entity in doc.of_label("DURATION", start=clause.start(), end=clause.end() + 40):
            value = _duration_value(entity, "renewal_term", "renewal-clause", 0.85)
            if value is not None:
                return [value]
    frequency = _RENEWAL_FREQUENCY.search(doc.text)
    if frequency:
        group = "word" if frequency["word"] else "basis"
        period = "P1M" if frequency[group].lower().startswith("month") else "P1Y"
        start, end = frequency.span(group)
        return [FieldValue("renewal_term", start, end, period, "renewal-frequency", 0.75)]
    return []


def find_notice_period(doc: Document) -> list[FieldValue]:
    for entity in doc.of_label("DURATION"):
        before = doc.text[max(0, entity["doc_start"] - 40) : entity["doc_start"]]
        after = doc.text[entity["doc_end"] : entity["doc_end"] + 60]
        if not re.match(
            r"[’'`]?s?\s*(?:\(\d+\)\s*)?(?:prior\s+|advance\s+|written\s+|prior\s+written\s+)*notice",
            after,
            re.IGNORECASE,
        ):
            continue
        sentence = doc.text[max(0, entity["doc_start"] - 300) : entity["doc_end"] + 200]
        if not re.search(r"\b(?:terminat|renew|non-renew|expir)", sentence, re.IGNORECASE):
            continue
        if _NOT_NOTICE.search(before):
            continue  # "within thirty (30) days after notice": a time to act, not a notice period
        value = _duration_value(entity, "notice_period", "notice-clause", 0.8 if _NOTICE.search(before) else 0.7)
        if value is not None:
            return [value]
    return []


# ---- expiration -------------------------------------------------------------------------------

_EXPIRES_BEFORE = re.compile(
    r"\b(?:expire|expiring|terminate|terminating|end|ending|until|through|continue\s+(?:in\s+effect\s+)?until|"
    r"remain\s+in\s+(?:full\s+)?(?:force\s+and\s+)?effect\s+(?:until|through))\s+(?:on\s+)?(?:the\s+)?$",
    re.IGNORECASE,
)


def find_expiration_date(
    doc: Document, effective: Sequence[FieldValue], term: Sequence[FieldValue]
) -> list[FieldValue]:
    for clause in _TERM_CLAUSE.finditer(doc.text):
        sentence_end = _sentence_end(doc.text, clause.end())
        for entity in _dates(doc, start=clause.start(), end=sentence_end):
            before = doc.text[max(0, entity["doc_start"] - 50) : entity["doc_start"]]
            if _EXPIRES_BEFORE.search(before):
                return [_date_value(doc, entity, "expiration_date", "term-clause", 0.85)]
    starts = [v for v in effective if v.normalized_value]
    lengths = [v for v in term if v.normalized_value and v.normalized_value.startswith("P")]
    if starts and lengths:
        ends = _add(starts[0].normalized_value or "", lengths[0].normalized_value or "")
        if ends is not None:
            anchor = lengths[0]
            return [FieldValue("expiration_date", anchor.start, anchor.end, ends, "computed", 0.7)]
    return []


def _add(iso_date: str, duration: str) -> str | None:
    """``iso_date`` plus an ISO duration of years, months or days: the anniversary the term
    ends on (a one-year term from 2020-01-01 ends on 2021-01-01, as CUAD's answers read it)."""
    match = re.fullmatch(r"P(\d+)([YMD])", duration)
    if match is None:
        return None
    count, unit = int(match[1]), match[2]
    start = date.fromisoformat(iso_date)
    if unit == "D":
        end = date.fromordinal(start.toordinal() + count)
    else:
        months = count * 12 if unit == "Y" else count
        year, month = divmod(start.month - 1 + months, 12)
        day = min(start.day, _days_in(start.year + year, month + 1))
        end = date(start.year + year, month + 1, day)
    return end.isoformat()


def _days_in(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - date(year, month, 1)).days


def _sentence_end(text: str, start: int) -> int:
    stop = re.compile(r"\.\s+[A-Z(]|;|\n\s*\n").search(text, start, min(len(text), start + 600))
    return stop.start() + 1 if stop else min(len(text), start + 600)


# ---- governing_law -----------------------------------------------------------------------------

_LAW_CLAUSE = re.compile(
    r"\b(?:govern(?:ed|s)?|constru(?:ed|e|ction)|interpret(?:ed|ation)?|enforced|enforcement|determined|controlled|"
    r"appl(?:y|ies|ied))\b[^.;]{0,200}?"
    r"\blaws?(?:\s+and\s+(?:decisions|regulations|rules|statutes))?\s+(?:(?:in\s+force|applicable)\s+in\s+|of\s+)"
    r"(?:the\s+)?(?:internal\s+|substantive\s+)?(?:laws?\s+of\s+)?"
    r"(?:(?:State|Commonwealth|Province|Republic|Kingdom|Canton)\s+of\s+)?(?:the\s+)?"
    r"(?P<place>(?-i:[A-Z][\w'’.-]*(?:[ \t]+(?:and[ \t]+|of[ \t]+|the[ \t]+)?[A-Z][\w'’.-]*){0,5}))",
    re.IGNORECASE,
)
_LAW_BEFORE = re.compile(
    r"\blaws?\s+of\s+(?:the\s+)?(?:(?:State|Commonwealth|Province)\s+of\s+)?"
    r"(?P<place>(?-i:[A-Z][\w'’.-]*(?:[ \t]+(?:and[ \t]+|of[ \t]+)?[A-Z][\w'’.-]*){0,4}))"
    r"[^.;]{0,120}?\b(?:govern|appl(?:y|ies)\b)",
    re.IGNORECASE,
)
_PLACE_TAIL = re.compile(
    r"(?:[ \t]+(?:and|of|the|without|excluding|applicable|including|as|in|to|which|that|with))+$", re.IGNORECASE
)
_NOT_PLACE = re.compile(
    r"^(?:United\s+States(?:\s+of\s+America)?|U\.?S\.?A?\.?)$|^(?:this|such|any|said|its|their|each)\b", re.IGNORECASE
)


# "the laws of the United States and the State of California": the state's.
_FEDERAL_AND_STATE = re.compile(
    r"\b(?:govern|constru|interpret|appl)\w*\b[^.;]{0,200}?\blaws?\s+of\s+the\s+United\s+States"
    r"(?:\s+of\s+America)?\s*,?\s+and\s+(?:of\s+)?(?:the\s+)?(?:State|Commonwealth)\s+of\s+"
    r"(?P<place>(?-i:[A-Z][\w'’.-]*(?:[ \t]+[A-Z][\w'’.-]*){0,2}))",
    re.IGNORECASE,
)
# "governed by PRC Laws", "governed by Delaware law": the place before the word.
_LAW_ADJECTIVE = re.compile(
    r"\bgoverned\s+(?:exclusively\s+)?by\s+(?:the\s+)?(?P<place>(?-i:[A-Z][\w'’.-]*(?:[ \t]+[A-Z][\w'’.-]*){0,3}))"
    r"\s+laws?\b",
    re.IGNORECASE,
)
_THEREOF = re.compile(
    r"\b(?:State|Commonwealth|Province)\s+of\s+(?P<place>(?-i:[A-Z][\w'’.-]*(?:[ \t]+[A-Z][\w'’.-]*){0,2}))"
    r"[^.;]{0,120}?\bgoverned\b[^.;]{0,80}?\blaws\s+thereof\b",
    re.IGNORECASE,
)


def find_governing_law(doc: Document) -> list[FieldValue]:
    """The place of a governing-law clause ("governed by … the laws of the State of New York"),
    or of a clause that names the place first ("the State of Nevada … governed by … the laws
    thereof"); at most two places (a clause may name a country and its state)."""
    found: list[FieldValue] = []
    patterns = (
        (_FEDERAL_AND_STATE, 0.9),
        (_LAW_CLAUSE, 0.9),
        (_LAW_BEFORE, 0.8),
        (_LAW_ADJECTIVE, 0.8),
        (_THEREOF, 0.8),
    )
    for pattern, score in patterns:
        for clause in pattern.finditer(doc.text):
            place = clause["place"]
            trimmed = _PLACE_TAIL.sub("", place)
            if trimmed.endswith(".") and "." not in trimmed[:-1].split()[-1]:
                trimmed = trimmed[:-1]  # the sentence's full stop, not an abbreviation's
            if not trimmed or not trimmed[0].isupper() or _NOT_PLACE.search(trimmed):
                continue
            if trimmed.split()[0].casefold() in ("state", "laws", "law"):
                continue
            start = clause.start("place")
            value = FieldValue(
                "governing_law", start, start + len(trimmed), _jurisdiction(trimmed), "law-clause", score
            )
            if not any(v.normalized_value == value.normalized_value for v in found):
                found.append(value)
        if found:
            break
    return found[:2]


# Short and formal names of countries, by their plain English name.
_COUNTRY_NAMES = {
    "prc": "China", "p.r.c.": "China", "p.r. china": "China", "people's republic of china": "China",
    "uk": "United Kingdom", "u.k.": "United Kingdom", "federal republic of germany": "Germany",
    "republic of korea": "South Korea", "russian federation": "Russia", "holland": "Netherlands",
}  # fmt: skip


def _jurisdiction(place: str) -> str:
    """The place's plain English name: one line, plain apostrophes, title case for a name set in
    capitals (``THE STATE OF NEW YORK`` -> ``New York``)."""
    words = place.replace("’", "'").split()
    alias = _COUNTRY_NAMES.get(" ".join(words).casefold())
    if alias is not None:
        return alias
    if all(w.isupper() for w in words if w.isalpha()):
        words = [w.lower() if w.lower() in ("and", "of", "the") else w.capitalize() for w in words]
    return " ".join(words)


# ---- the registry ------------------------------------------------------------------------------

Finder = Callable[[Document, dict[str, list[FieldValue]]], list[FieldValue]]
# In order: a finder may read the values of the fields before it.
FINDERS: dict[str, Finder] = {
    "document_title": lambda doc, found: find_title(doc),
    "party": lambda doc, found: find_parties(doc),
    "agreement_date": lambda doc, found: find_agreement_date(doc),
    "effective_date": lambda doc, found: find_effective_date(doc, found["agreement_date"]),
    "term": lambda doc, found: find_term(doc),
    "renewal_term": lambda doc, found: find_renewal_term(doc),
    "notice_period": lambda doc, found: find_notice_period(doc),
    "expiration_date": lambda doc, found: find_expiration_date(doc, found["effective_date"], found["term"]),
    "governing_law": lambda doc, found: find_governing_law(doc),
}
FIELD_NAMES = tuple(FINDERS)


def extract_fields(text: str, entities: Sequence[Mapping[str, Any]], places: Places | None = None) -> list[FieldValue]:
    """Every field value found in one document, field by field in FIELD_NAMES order;
    ``places`` (the NER stage's gazetteer) keeps places out of the parties."""
    doc = Document(text, entities, places)
    found: dict[str, list[FieldValue]] = {}
    for name, finder in FINDERS.items():
        found[name] = [v for v in finder(doc, found) if 0 <= v.start < v.end <= len(text)]
    return [value for name in FIELD_NAMES for value in found[name]]
