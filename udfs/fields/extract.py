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
from udfs.ner.normalize import entity_key
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
        start, end = _whole_heading(doc.text, start, start + len(body))
        return [FieldValue("document_title", start, end, " ".join(doc.text[start:end].split()), "heading", 0.9)]
    # A rendering without line breaks: the first run of words in capitals that ends in the word
    # of an agreement ("Exhibit 10.16 MARKETING AFFILIATE AGREEMENT This Agreement is made …").
    run = _CAPS_TITLE.search(doc.text, 0, TITLE_CHARS)
    if run:
        form = _FORM_OF.match(doc.text, run.start(), run.end())
        start = form.end() if form else run.start()
        return [
            FieldValue(
                "document_title", start, run.end(), " ".join(doc.text[start : run.end()].split()), "capitals", 0.75
            )
        ]
    return []


_HEADING_TAIL = re.compile(r"(?:FOR|OF|ON|IN)[ \t]+[A-Z][A-Z&’' -]{2,60}[A-Z]")
_FORM_OF = re.compile(r"(?:FORM\s+OF|Form\s+of)\s+")  # matched at the title's start


def _whole_heading(text: str, start: int, end: int) -> tuple[int, int]:
    """A title continued on the next line ("SERVICE AGREEMENT" / "FOR TRANSFER AGENT SERVICES",
    or "FOR" alone on its line), without a leading "FORM OF"."""
    if text[start:end].isupper():
        line_end = text.find("\n", end)
        if line_end != -1 and text[end:line_end].strip() == "":
            lines = text[line_end + 1 :].split("\n", 2)
            tail = lines[0].strip()
            if tail in ("FOR", "OF", "ON", "IN") and len(lines) > 1:
                tail = f"{tail} {lines[1].strip()}"
            continued = _HEADING_TAIL.fullmatch(tail)
            if continued:
                end = line_end + 1 + len(lines[0]) + (len(lines[1]) + 1 if tail != lines[0].strip() else 0)
                end = len(text[:end].rstrip())
    form = _FORM_OF.match(text, start, end)
    return (form.end() if form else start), end


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
        value = _party_value(doc, name, method, score, own)
        if after_between:
            value = _with_name_start(doc, value)
        found.setdefault(value.entity_key or key, value)
    if between is not None:
        for value in _unrecognized_names(doc, between.start(), end):
            if not any(v.start <= value.start < v.end or value.start <= v.start < value.end for v in found.values()):
                found.setdefault(value.entity_key or "", value)
    for name in _signing_names(doc):
        if name["entity_key"] not in found and not name.get("refers_to_key") and _name_like(doc, name):
            found[name["entity_key"]] = _party_value(doc, name, "signature-block", 0.7, [])
    return [value for key, value in found.items() if not _tail_of_other(key, value, found)]


_NAME_TOKEN = re.compile(r"(?:^|(?<=[ \t\n]))(?P<token>[A-Za-z][\w.&'’-]*|/)[ \t]*\n?[ \t]*$")
_NOT_NAME_TOKEN = frozenset(
    {"between", "and", "among", "amongst", "by", "with", "of", "the", "to", "is", "this", "that"}
)


def _name_word(token: str) -> bool:
    """A word of a company's name: capitalised, in capitals, or in mixed case (eFashion, mPhase)."""
    return token == "/" or token[0].isupper() or any(c.isupper() for c in token[1:]) or ".com" in token.lower()


def _with_name_start(doc: Document, value: FieldValue) -> FieldValue:
    """The party's name with the words a recognizer left off its start: "eFashion" of "eFashion
    Solutions, LLC", a first line of "Blackstone / GSO Long-Short Credit\nIncome Fund". Only
    where the longer name still stands in a party slot (after "between", "and", a comma)."""
    start = value.start
    for _ in range(8):
        token = _NAME_TOKEN.search(doc.text, max(0, start - 60), start)
        if token is None or token["token"].lower() in _NOT_NAME_TOKEN or not _name_word(token["token"]):
            break
        start = token.start("token")
    if start == value.start or not _PARTY_SLOT.search(doc.text, max(0, start - 30), start):
        return value
    written = doc.text[start : value.end]
    return replace(
        value, start=start, normalized_value=_one_line(written), entity_id=None, entity_key=entity_key("ORG", written)
    )


# "between theglobe.com, Inc.", "and iBio Inc.": names no recognizer reads (they start in lower case).
_LOWER_NAME = re.compile(
    r"(?:\bbetween|\band|\bamong|,)\s+(?P<name>(?-i:[a-z][\w.&'’-]*[A-Z.][\w.&'’-]*|[a-z][\w-]*\.com|[a-z]-[a-z]\w+)"
    r"(?:[ \t]+(?-i:[A-Z])[\w.&'’-]*){0,4},?[ \t]+(?:Inc\.?|LLC|L\.L\.C\.|Ltd\.?|Limited|Corp\.?|Corporation|Co\.|"
    r"Company|GmbH|AG|S\.A\.|B\.V\.|N\.V\.|plc|LLP|L\.P\.|LP))(?![\w-])",
    re.IGNORECASE,
)


def _unrecognized_names(doc: Document, start: int, end: int) -> list[FieldValue]:
    values = []
    for match in _LOWER_NAME.finditer(doc.text, start, end):
        written = match["name"]
        values.append(
            FieldValue(
                "party",
                match.start("name"),
                match.end("name"),
                _one_line(written),
                "preamble-name",
                0.7,
                entity_key=entity_key("ORG", written),
            )
        )
    return values


_FORM_WORDS = frozenset({"limited", "liability", "company", "corporation", "partnership", "incorporated", "llc"})


def _tail_of_other(key: str, value: FieldValue, found: Mapping[str, FieldValue]) -> bool:
    """A name the rendering or a descriptor cut from a longer one: the last words of another
    party's name (``Associates, Inc.`` of ``Networks Associates, Inc.``), or legal-form words
    alone (``Liability Company`` of "a Nevada limited liability company"). A party defined
    by its own term is kept."""
    words = key.split()
    if all(word in _FORM_WORDS for word in words):
        return True
    if value.method == "defined-party":
        return False
    longer = [other.split() for other in found if len(other.split()) > len(words)]
    # (not the name set twice by a rendering: "Solutions Media Solutions Media")
    return any(other[-len(words) :] == words and other != words * (len(other) // len(words)) for other in longer)


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


# What may stand before a signing party's name on its line: an article, a signature word.
_LINE_LEAD = re.compile(
    r"^(?:(?:ATTEST|Attest|WITNESS|Witness|ACCEPTED|Accepted|AGREED|Agreed)\b[:,]?\s+)?(?:(?:THE|The)\s+)?"
)
# "By: Clarus IV GP, L.P., its general partner", "By:Yorkville Advisors Global, LLC\nIts:General
# Partner": a partnership's or a fund's manager signs for it, and is bound too.
_SIGNS_FOR = re.compile(
    r"[ \t]*,?[ \t]*(?:its|as)[ \t]*:?[ \t]*(?:sole[ \t]+)?(?:general[ \t]+partner|managing[ \t]+member|manager|"
    r"investment[ \t]+(?:manager|adviser|advisor)|trustee)\b",
    re.IGNORECASE,
)


def _signing_names(doc: Document) -> list[Mapping[str, Any]]:
    """The names that sign: an ORG alone on one of the three lines above a "By:" line of a
    signature block ("ACME CORP.\nBy: ____\nName: …"), and the manager or general partner that
    signs for one ("By: Acme GP, L.P., its general partner"). Signature blocks are read
    wherever they are: a short joint filing agreement is all preamble."""
    names = []
    for by in _BY_LINE.finditer(doc.text):
        above = doc.text.rfind("\n", 0, max(0, by.start() - 1))
        for _ in range(2):
            above = doc.text.rfind("\n", 0, max(0, above))
        window_start = max(0, above + 1)
        for entity in doc.of_label("ORG", start=window_start, end=by.start()):
            line_start = doc.text.rfind("\n", 0, entity["doc_start"]) + 1
            line_end = doc.text.find("\n", entity["doc_end"])
            line = doc.text[line_start : line_end if line_end != -1 else len(doc.text)]
            alone = _LINE_LEAD.sub("", line.strip(" \t:,"))  # "THE BLACKSTONE GROUP INC.", "ATTEST: KIOSK …"
            if alone == _LINE_LEAD.sub("", entity["text"].strip()) and entity.get("rule") == "org-legal-form":
                names.append(entity)
        line_end = doc.text.find("\n", by.end())
        for entity in doc.of_label("ORG", start=by.end(), end=line_end if line_end != -1 else len(doc.text)):
            if (
                entity.get("rule") == "org-legal-form"
                and doc.text[by.end() : entity["doc_start"]].strip() == ""
                and _SIGNS_FOR.match(doc.text, entity["doc_end"], entity["doc_end"] + 60)
            ):
                names.append(entity)
    return names


# Words a recognizer took into a name from what stands before it in a heading or a signature block.
_NAME_LEAD = re.compile(
    r"(?:RECITALS\s+|Recitals\s+)?(?:WHEREAS|Whereas|ATTEST|Attest|WITNESS(?:ETH)?|Witness(?:eth)?|ACCEPTED|Accepted|"
    r"AGREED|Agreed)\b[:,]?\s+"
)
# Legal-form words a recognizer left off the end: "Great Lakes Gas Transmission Limited" + "Partnership".
_FORM_TAIL = re.compile(r"[ \t]+(?:Partnership|PARTNERSHIP|Company|COMPANY)\b")


def _party_value(
    doc: Document, name: Mapping[str, Any], method: str, score: float, own: Sequence[Mapping[str, Any]]
) -> FieldValue:
    """The party's row: the name without a heading's or a signature block's word before it
    ("RECITALS WHEREAS, SINA Corporation", "ATTEST KIOSK CONCEPTS, INC."), with a legal form's
    last word the recognizer left off ("… Limited" + "Partnership")."""
    value = _plain_party_value(name, method, score, own)
    lead = _NAME_LEAD.match(doc.text, value.start, value.end)
    start = lead.end() if lead else value.start
    end = value.end
    if doc.text[value.start : value.end].split()[-1].rstrip(".,") in ("Limited", "LIMITED"):
        tail = _FORM_TAIL.match(doc.text, value.end)
        end = tail.end() if tail else end
    if (start, end) == (value.start, value.end):
        return value
    written = doc.text[start:end]
    key = entity_key("ORG", written)
    return replace(value, start=start, end=end, normalized_value=_one_line(written), entity_id=None, entity_key=key)


def _plain_party_value(
    name: Mapping[str, Any], method: str, score: float, own: Sequence[Mapping[str, Any]]
) -> FieldValue:
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
    r"\b(?:shall|will)\s+(?:commence|begin|start|become\s+effective)\s+(?:on|as\s+of))\s*(?:the\s+)?(?:day\s+of\s+)?$",
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
# The date of another document: "confirmed by letter dated", "the letter agreements, dated",
# "the Confidentiality Agreement between the parties dated" (not "this Agreement, dated").
_DOCUMENT_NOUN = re.compile(
    r"\b(?:letters?|agreements?|amendments?|memorand(?:um|a)|contracts?|notices?|orders?|proposals?|plans?)\b",
    re.IGNORECASE,
)
_DATED = re.compile(r"\bdated\s*(?:as\s+of\s*)?(?:the\s+)?$", re.IGNORECASE)
# "this Consulting Agreement", "(this “Intellectual Property Agreement”)", "This License, Development and
# Commercialization Agreement", or the document's own name opening its line ("SPONSORSHIP AGREEMENT, dated");
# not "This First Amendment to the Loan Agreement".
_THIS_BEFORE = re.compile(
    r"\b(?:this|these)\s+(?:(?!(?:to|of|under|with)\b)[\w“”\"'‘’,&-]+\s+){0,6}$|"
    r"(?:^|\n)[ \t]*(?-i:(?:[A-Z][\w,&-]*\s+){0,6})$",
    re.IGNORECASE,
)
# A labelled date that is not when the contract was signed: "Termination Date:", "Effective Date:".
_OTHER_LABEL = re.compile(
    r"\b(?:termination|expiration|expiry|end|start|effective|commencement|delivery|due|payment|invoice)\s+date"
    r"\s*:?[ \t]*$",
    re.IGNORECASE,
)


def _other_documents_date(before: str) -> bool:
    """``before`` (the text before a date) ends in "dated" after a document that is not this one:
    the document named nearest "dated" decides ("This First Amendment to the Loan Agreement
    dated": the loan agreement's date)."""
    dated = _DATED.search(before)
    if dated is None:
        return False
    nouns = [  # not a defined term in quotes: this "Agreement") dated
        m
        for m in _DOCUMENT_NOUN.finditer(before, max(0, dated.start() - 60), dated.start())
        if before[max(0, m.start() - 1) : m.start()] not in ('"', "“", "'", "‘")
    ]
    if not nouns or re.search(r"[.;]", before[nouns[-1].end() : dated.start()]):
        return False
    return _THIS_BEFORE.search(before, 0, nouns[-1].start()) is None


def _date_value(doc: Document, entity: Mapping[str, Any], field_name: str, method: str, score: float) -> FieldValue:
    value = entity.get("normalized_value") or read_date(entity["text"], doc.order)
    if value is not None and not re.fullmatch(r"\d{4}-\d\d-\d\d", value):
        value = None
    numeric = re.search(r"(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}", entity["text"])
    ambiguous = numeric is not None and numeric[1] != numeric[2] and max(int(numeric[1]), int(numeric[2])) <= 12
    if ambiguous and value is not None and not entity.get("normalized_value"):
        method = f"{method}; order by {doc.order.evidence}"  # how the day and the month were told apart
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
        if _AGREEMENT_CUE.search(before) and not _other_documents_date(before):
            value = _date_value(doc, entity, "agreement_date", "preamble-date", 0.9)
            if value.normalized_value is None:
                value = _with_day_before(doc, entity, value)
            if value.normalized_value is not None:
                return [value]
            partial = partial or value
    for entity in _dates(doc, start=doc.preamble_end, end=max(doc.preamble_end, AGREEMENT_CHARS)):
        before = doc.text[max(0, entity["doc_start"] - 80) : entity["doc_start"]]
        if _AGREEMENT_STRONG.search(before) and not _other_documents_date(before):
            value = _date_value(doc, entity, "agreement_date", "opening-date", 0.8)
            if value.normalized_value is not None:
                return [value]
    for entity in _dates(doc, end=min(len(doc.text), TITLE_CHARS)):
        if _heading_date(doc, entity):
            value = _date_value(doc, entity, "agreement_date", "heading-date", 0.7)
            if value.normalized_value is not None:
                return [value]
    signed = [
        value
        for entity in [*_dates(doc), *_labelled_numeric_dates(doc)]
        if _signed(doc, entity)
        for value in [_date_value(doc, entity, "agreement_date", "signature-date", 0.6)]
        if value.normalized_value is not None
    ]
    if signed:  # a contract is made when its last party signs
        return [max(signed, key=lambda v: v.normalized_value or "")]
    return [partial] if partial is not None else []


# "this 20th day of Friday, March 2020", "1st day of --- November, 2003": the day the
# recognizer's "March 2020" left out, across what a form or a rendering put between.
_DAY_OF = re.compile(r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+day\s+of\b[^.;\d]{0,60}$", re.IGNORECASE)


def _with_day_before(doc: Document, entity: Mapping[str, Any], value: FieldValue) -> FieldValue:
    if not re.fullmatch(r"[A-Za-z]+\.?,?\s+\d{4}", entity["text"].strip()):
        return value  # only a month and a year
    day = _DAY_OF.search(doc.text, max(0, entity["doc_start"] - 80), entity["doc_start"])
    if day is None:
        return value
    iso = read_date(f"{day['day']} {entity['text']}", doc.order)
    if iso is None:
        return value
    return replace(value, start=day.start(), normalized_value=iso, entity_id=None, entity_key=None, score=0.8)


# "Hamburg, November 19th, 2012" above the signatures: where and when it was signed.
_PLACE_AND_DATE = re.compile(r"(?:^|\n)[ \t]*[A-Z][A-Za-z .'’-]{1,30},[ \t]*$")
_SIGNATURE_BELOW = re.compile(r"/s/|\bBy\s*:|\bSignature\b|\bSigned\b", re.IGNORECASE)


def _signed(doc: Document, entity: Mapping[str, Any]) -> bool:
    """A date of the signature blocks: "Date: …", "signed on …", "/s/ … <date>", or a place and
    a date right above the signatures; not a labelled other date, nor another document's."""
    before = doc.text[max(0, entity["doc_start"] - 60) : entity["doc_start"]]
    if _OTHER_LABEL.search(before) or _other_documents_date(
        doc.text[max(0, entity["doc_start"] - 80) : entity["doc_start"]]
    ):
        return False
    if _SIGNED_DATE.search(before):
        return True
    below = doc.text[entity["doc_end"] : entity["doc_end"] + 150]
    return bool(_PLACE_AND_DATE.search(before)) and _SIGNATURE_BELOW.search(below) is not None


# A numeric date after a "Date:" label that no recognizer read ("Date: 3-14-18").
_LABELLED_NUMERIC = re.compile(r"\bDate\s*:[ \t]*(?P<date>\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2}))(?![\d/.-])")


def _labelled_numeric_dates(doc: Document) -> list[dict[str, Any]]:
    known = {(e["doc_start"], e["doc_end"]) for e in doc.of_label("DATE")}
    return [
        {"doc_start": m.start("date"), "doc_end": m.end("date"), "text": m["date"], "label": "DATE"}
        for m in _LABELLED_NUMERIC.finditer(doc.text)
        if m.span("date") not in known
    ]


def _heading_date(doc: Document, entity: Mapping[str, Any]) -> bool:
    """A date set under the title, alone on its line ("AGENCY AGREEMENT\nMay 14, 2014"), or
    ending a line that names the agreement ("Hosting Agreement between A and B, 18/9/2008")."""
    line_start = doc.text.rfind("\n", 0, entity["doc_start"]) + 1
    line_end = doc.text.find("\n", entity["doc_end"])
    line_end = len(doc.text) if line_end == -1 else line_end
    if doc.text[entity["doc_end"] : line_end].strip(" \t.,") != "":
        return False
    head = doc.text[line_start : entity["doc_start"]].strip(" \t,")
    if head:
        return _TITLE_WORD.search(head) is not None and _BETWEEN.search(head) is not None
    above = doc.text[max(0, line_start - 200) : line_start].rstrip().rsplit("\n", 1)[-1]
    return _TITLE_WORD.search(above) is not None and above.strip().isupper()


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
    # not "any other term of this Agreement": a provision, not the term
    r"\b(?<!other\s)(?<!any\s)(?<!each\s)(?:(?:initial\s+)?term\s+of\s+this\s+agreement|this\s+agreement|"
    r"the\s+(?:initial\s+)?term)\b"
    r"[^.;]{0,160}?\b(?:(?:shall|will)\s+(?:be|continue|remain|commence|begin|start|expire|run|last|terminate|end)|is|"
    r"remains|continues|commences|begins|expires|runs|lasts|terminates|ends|"
    r"for\s+(?:a|an\s+initial)\s+(?:period|term))\b",
    re.IGNORECASE,
)
# What introduces the length of a term: "for a period of", "shall be", "continue for", "of".
_TERM_LEAD = re.compile(
    r"\b(?:for|of|be|last|until|terminate|expire|end|date|until\s+the\s+end\s+of)\s+(?:on\s+)?(?:an?\s+)?"
    r"(?:(?:initial|further|fixed)\s+)?(?:(?:period|term)\s+of\s+)?(?:the\s+)?(?:first\s+)?$",
    re.IGNORECASE,
)
# "shall within a period of five months": a time to act, not the term's length.
_WITHIN = re.compile(r"\bwithin\s+(?:a\s+|the\s+)?(?:period\s+of\s+)?$", re.IGNORECASE)
# A sentence about something else that lasts: what survives the term, confidentiality, a warranty.
_NOT_TERM_SENTENCE = re.compile(
    r"\b(?:surviv\w*|confidential\w*|warrant\w*|non-?compet\w*|(?:after|following)\s+(?:the\s+)?"
    r"(?:expiration|termination|expiry))\b",
    re.IGNORECASE,
)
# The sentence that sets the term, rather than one that mentions the agreement in passing.
_TERM_SENTENCE = re.compile(
    r"\binitial\s+term\b|\bterm\s+of\s+this\s+agreement\b|\(\s*(?:the\s+)?[\"“]?(?:initial\s+)?term\b|"
    r"\b(?:in\s+(?:full\s+)?(?:force|effect)|commenc\w*|effective)\b",
    re.IGNORECASE,
)
# "until the fourth (4th) anniversary of the Effective Date": a term of four years.
_ANNIVERSARY = re.compile(
    r"\b(?P<ordinal>first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|(?P<number>\d{1,2})(?:st|nd|rd|th))"
    r"\s*(?:\(\d{1,2}(?:st|nd|rd|th)?\)\s*)?anniversary\s+of\s+(?:the\s+)?"
    r"(?:effective\s+date|commencement\s+date|date\s+(?:hereof|of\s+this\s+agreement))",
    re.IGNORECASE,
)
_ORDINAL_YEARS = {w: n for n, w in enumerate(
    ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"), start=1
)}  # fmt: skip
_NOT_TERM_TAIL = re.compile(
    r"[’'`]?s?\s*(?:\(\d+\)\s*)?(?:prior|advance|written|notice|after\s+(?:receipt|notice|written))", re.IGNORECASE
)
_PERPETUAL = re.compile(r"\b(?:perpetual|in\s+perpetuity|perpetually)\b", re.IGNORECASE)
_UNTIL_TERMINATED = re.compile(
    r"\b(?:until|unless\s+and\s+until)\s+(?:terminated|this\s+agreement\s+is\s+terminated)\b|"
    r"\bfor\s+an?\s+(?:indefinite|unlimited)\s+(?:term|period)\b",
    re.IGNORECASE,
)
_RENEWAL = re.compile(
    r"\b(?:(?:automatically\s+)?(?:renew(?:ed|s|al)?|extend(?:ed|s)?)|automatically\s+continue)\b[^.;]{0,80}?\b(?:for\s+)?"
    r"(?:(?:an?|one|each|successive|additional|consecutive|further|subsequent|another)\s+)+",
    re.IGNORECASE,
)
_RENEWAL_FREQUENCY = re.compile(
    r"\b(?P<word>annual|yearly|month[- ]to[- ]month|monthly)\s+(?:automatic\s+)?renewals?\b"
    r"(?!\s+(?:fees?|charges?|payments?|price))|"
    r"\brenew(?:s|ed)?\s+(?:automatically\s+|tacitly\s+)?(?:on\s+an?\s+)?"
    r"(?P<basis>annual|yearly|month[- ]to[- ]month|monthly)\s+basis\b|"
    r"\b(?:renew(?:s|ed)?|continue|extended)\s+(?:automatically\s+|tacitly\s+)?(?:for\s+)?(?:successive\s+)?"
    r"(?P<periods>annual|yearly|monthly)\s+(?:periods|terms)\b|"
    r"\brenew(?:s|ed)?\s+(?:automatically\s+|tacitly\s+)?(?P<every>every|each)\s+(?P<unit>year|month)\b|"
    r"\bthereafter\b[^.;]{0,60}?\b(?P<thereafter>month[- ]to[- ]month|year[- ]to[- ]year)\b",
    re.IGNORECASE,
)
# What is extended but is not the contract (a deadline, a payment, a warranty), a renewal the
# parties may agree on later, and one that did not happen ("has not been renewed").
_NOT_RENEWED = re.compile(
    r"\b(?:deadlines?|due\s+dates?|payments?|deliver(?:y|ies)|cure\s+periods?|time\s+(?:for|to)|credit|invoices?|"
    r"warrant(?:y|ies)|coverage|mutual(?:ly)?|not\s+(?:been\s+)?(?:renewed|extended))\b",
    re.IGNORECASE,
)
_BARE_UNIT = re.compile(r"(?P<unit>year|month|week|day)\b", re.IGNORECASE)
# "renew for successive terms of the same duration": each renewal as long as the initial term.
_SAME_DURATION = re.compile(
    r"\brenew\w*\b[^.;]{0,80}?\b(?:terms?|periods?)\s+of\s+(?:the\s+)?(?:same|equal|like)\s+(?:duration|length)\b",
    re.IGNORECASE,
)
_NOTICE = re.compile(
    r"(?:\bupon|\bon|\bwith|\bby|\bgiving|\bgives|\bprovides?|\bprovid(?:ing|ed)|\bat\s+least|\bno\s+less\s+than|"
    r"\bnot\s+less\s+than|\bminimum\s+of|\bgives?)\s+(?:the\s+other(?:\s+party)?\s+)?(?:at\s+least\s+)?$",
    re.IGNORECASE,
)


_NOT_NOTICE = re.compile(r"\b(?:within|after|following|before|later\s+than|more\s+than)\s+$", re.IGNORECASE)


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
    """The initial term's length: a duration the term sentence leads to ("shall continue for a
    period of three (3) years"), an anniversary it ends on, or perpetual / until terminated.
    The sentence that sets the term (initial term, in force, commences) wins over an earlier
    one that only names the agreement; sentences about what survives it do not count."""
    first: FieldValue | None = None
    for clause in _TERM_CLAUSE.finditer(doc.text):
        value = _term_of_clause(doc, clause)
        if value is None:
            continue
        sentence = doc.text[clause.start() : _sentence_end(doc.text, clause.end())]
        if _TERM_SENTENCE.search(sentence):
            return [value]
        first = first or value
    return [first] if first is not None else []


def _term_of_clause(doc: Document, clause: re.Match[str]) -> FieldValue | None:
    sentence_end = _sentence_end(doc.text, clause.end())
    window = doc.text[clause.start() : sentence_end]
    if re.search(r"\brenew", window[: clause.end() - clause.start()], re.IGNORECASE) or _NOT_TERM_SENTENCE.search(
        window
    ):
        return None
    for entity in doc.of_label("DURATION", start=clause.start(), end=sentence_end):
        lead = doc.text[max(clause.start(), entity["doc_start"] - 60) : entity["doc_start"]]
        tail = doc.text[entity["doc_end"] : entity["doc_end"] + 40]
        if not _TERM_LEAD.search(lead) or _NOT_TERM_TAIL.match(tail) or _WITHIN.search(lead):
            continue  # a notice or cure period inside the sentence, not the term's length
        value = _duration_value(entity, "term", "term-clause", 0.85)
        if value is not None:
            return value
    anniversary = _ANNIVERSARY.search(window)
    if anniversary:
        ordinal = anniversary["ordinal"].lower()
        years = int(anniversary["number"]) if anniversary["number"] else _ORDINAL_YEARS[ordinal]
        start = clause.start() + anniversary.start()
        return FieldValue("term", start, start + len(anniversary.group()), f"P{years}Y", "term-anniversary", 0.8)
    perpetual = _PERPETUAL.search(window)
    if perpetual:
        start = clause.start() + perpetual.start()
        return FieldValue("term", start, start + len(perpetual.group()), PERPETUAL, "term-clause", 0.8)
    until = _UNTIL_TERMINATED.search(window)
    if until:
        start = clause.start() + until.start()
        return FieldValue("term", start, start + len(until.group()), UNTIL_TERMINATED, "term-clause", 0.7)
    return None


def find_renewal_term(doc: Document, term: Sequence[FieldValue] = ()) -> list[FieldValue]:
    """The length of each renewal: a duration right after "renew … for successive", or an
    annual or monthly renewal named by its frequency ("automatic annual renewals")."""
    for clause in _RENEWAL.finditer(doc.text):
        sentence_end = _sentence_end(doc.text, clause.end())
        if _NOT_RENEWED.search(doc.text, max(0, clause.start() - 40), min(sentence_end, clause.end() + 80)):
            continue  # "extend the delivery deadline for an additional thirty (30) days"
        # the duration the "successive", "additional" … words lead to, not the initial term's
        # ("renew on expiry of the initial three (3) year term for successive one (1) year periods")
        lead = clause.end() - len(clause.group().split()[-1]) - 1
        for entity in doc.of_label("DURATION", start=lead, end=clause.end() + 40):
            value = _duration_value(entity, "renewal_term", "renewal-clause", 0.85)
            if value is not None:
                return [value]
        unit = _BARE_UNIT.match(doc.text, clause.end())  # "for an additional month of service"
        if unit:
            period = {"year": "P1Y", "month": "P1M", "week": "P1W", "day": "P1D"}[unit["unit"].lower()]
            return [FieldValue("renewal_term", unit.start("unit"), unit.end("unit"), period, "renewal-clause", 0.8)]
    frequency = _RENEWAL_FREQUENCY.search(doc.text)
    if frequency:
        group = next(g for g in ("word", "basis", "periods", "unit", "thereafter") if frequency[g])
        period = "P1M" if frequency[group].lower().startswith("month") else "P1Y"
        start, end = frequency.span(group)
        return [FieldValue("renewal_term", start, end, period, "renewal-frequency", 0.75)]
    same = _SAME_DURATION.search(doc.text)
    lengths = [v for v in term if v.normalized_value and v.normalized_value.startswith("P")]
    if same and lengths:
        start, end = same.span()
        return [FieldValue("renewal_term", start, end, lengths[0].normalized_value, "renewal-as-term", 0.7)]
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
    r"(?:\b(?:expire|expiring|terminate|terminating|end|ending|until|through|continue\s+(?:in\s+effect\s+)?until|"
    r"remain\s+in\s+(?:full\s+)?(?:force\s+and\s+)?effect\s+(?:until|through))|"
    r"\bfrom\s+\S+(?:\s+\S+){0,3}?\s+\d{4}\s+(?:to|through))\s+(?:on\s+)?(?:the\s+)?$",  # from <date> to <date>
    re.IGNORECASE,
)
# What may end on a date, besides the agreement: its term, an amendment, a venture, the rights granted.
_ENDING_SUBJECT = re.compile(
    r"\b(?:this|the)\s+(?:[\w-]+\s+){0,3}?(?:agreement|amendment|term|venture|license|licen[cs]es|rights|contract|"
    r"lease|arrangement)\b[^.;]{0,200}?\b(?:shall|will|is|are)\b",
    re.IGNORECASE,
)


# In a term sentence: "… five (5) years following the launch, but in no event later than <date>".
_NO_LATER_THAN = re.compile(r"\bin\s+no\s+event\s+later\s+than\s+$", re.IGNORECASE)
# "shall remain in effect until the end of the current calendar year": December 31 of the year it took effect.
_CALENDAR_YEAR_END = re.compile(
    r"\buntil\s+the\s+end\s+of\s+the\s+(?:current|then[- ]current|same|first)\s+calendar\s+year\b", re.IGNORECASE
)
# "Expiration Date: August 31, 2006", "TERM: November 01, 2014 to October 31, 2017".
_EXPIRY_LABEL = re.compile(
    r"\b(?:expiration|expiry|termination|end)\s+date\s*:\s*$|\bterm\s*:\s*[^\n:]{0,40}?\s(?:to|through|until|-|–)\s+$",
    re.IGNORECASE,
)
# What the initial term runs from, when it is not the effective date: "five (5) years from the
# Reseller's first purchase order", "twelve (12) months after the Launch".
_RELATIVE_TO = re.compile(
    r"\b(?:from|after|following)\s+(?:the\s+)?(?P<anchor>(?:[\w'’-]+\s+){0,5}?"
    r"(?:date|launch|order|delivery|completion|acceptance|installation|shipment|opening)\b)",
    re.IGNORECASE,
)
_ANCHOR = re.compile(
    r"(?:(?:initial\s+)?effective\s+date|commencement\s+date|date\s+(?:hereof|of\s+(?:this\s+agreement|execution|"
    r"its\s+execution|signature))|execution\s+date|such\s+date)\b",
    re.IGNORECASE,
)


def find_expiration_date(
    doc: Document, effective: Sequence[FieldValue], term: Sequence[FieldValue]
) -> list[FieldValue]:
    """A date the term clause says it ends on, or a labelled end date ("Expiration Date: …");
    else the effective date plus the initial term, when the term runs from the effective date
    (not from a launch or a first order the contract cannot date)."""
    starts = [v for v in effective if v.normalized_value]
    for clause in _TERM_CLAUSE.finditer(doc.text):
        sentence_end = _sentence_end(doc.text, clause.end())
        if _NOT_TERM_SENTENCE.search(doc.text, _sentence_start(doc.text, clause.start()), sentence_end):
            continue  # "the confidentiality obligations … shall remain in effect until …"
        for entity in _dates(doc, start=clause.start(), end=sentence_end):
            before = doc.text[max(0, entity["doc_start"] - 50) : entity["doc_start"]]
            if _EXPIRES_BEFORE.search(before) or _NO_LATER_THAN.search(before):
                return [_date_value(doc, entity, "expiration_date", "term-clause", 0.85)]
        year_end = _CALENDAR_YEAR_END.search(doc.text, clause.start(), sentence_end)
        if year_end and starts:
            last_day = f"{(starts[0].normalized_value or '')[:4]}-12-31"
            return [
                FieldValue("expiration_date", year_end.start(), year_end.end(), last_day, "calendar-year-end", 0.75)
            ]
    # The same of another subject that lasts ("This Second Amendment … shall expire on …").
    for entity in _dates(doc):
        before = doc.text[max(0, entity["doc_start"] - 50) : entity["doc_start"]]
        if not _EXPIRES_BEFORE.search(before):
            continue
        sentence = doc.text[_sentence_start(doc.text, entity["doc_start"]) : entity["doc_start"]]
        if (
            _ENDING_SUBJECT.search(sentence)
            and (_TERM_SENTENCE.search(sentence) or re.search(r"\bterm\b", sentence, re.IGNORECASE))
            and not _NOT_TERM_SENTENCE.search(sentence)
        ):
            return [_date_value(doc, entity, "expiration_date", "term-sentence", 0.75)]
    for entity in _dates(doc):
        before = doc.text[max(0, entity["doc_start"] - 80) : entity["doc_start"]]
        if _EXPIRY_LABEL.search(before):
            value = _date_value(doc, entity, "expiration_date", "end-date-label", 0.8)
            if value.normalized_value is not None:
                return [value]
    lengths = [v for v in term if v.normalized_value and v.normalized_value.startswith("P")]
    if starts and lengths and _runs_from_effective_date(doc, lengths[0]):
        ends = _add(starts[0].normalized_value or "", lengths[0].normalized_value or "")
        if ends is not None:
            anchor = lengths[0]
            return [FieldValue("expiration_date", anchor.start, anchor.end, ends, "computed", 0.7)]
    return []


def _runs_from_effective_date(doc: Document, term: FieldValue) -> bool:
    """Whether the term's sentence counts it from the effective date (or names no start)."""
    sentence = doc.text[_sentence_start(doc.text, term.start) : _sentence_end(doc.text, term.end)]
    if re.search(r"\b(?:later|earlier|earliest|latest)\s+of\b", sentence, re.IGNORECASE):
        return False  # "the later of (a) … or (b) …": no one date
    return all(_ANCHOR.match(sentence, m.start("anchor")) for m in _RELATIVE_TO.finditer(sentence))


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


_SENTENCE_STOP = re.compile(r"\.\s+[A-Z(]|;|\n\s*\n")


def _sentence_end(text: str, start: int) -> int:
    stop = _SENTENCE_STOP.search(text, start, min(len(text), start + 600))
    return stop.start() + 1 if stop else min(len(text), start + 600)


def _sentence_start(text: str, at: int) -> int:
    """Where the sentence holding ``at`` starts: after the last full stop or blank line before it."""
    return max(text.rfind(". ", 0, at), text.rfind("\n\n", 0, at)) + 1


# ---- governing_law -----------------------------------------------------------------------------

_LAW_CLAUSE = re.compile(
    r"\b(?:govern(?:ed|s)?|constru(?:ed|e|ction)|interpret(?:ed|ation)?|enforced|enforcement|determined|controlled|"
    r"appl(?:y|ies|ied))\b[^.;]{0,200}?"
    # "laws, of the State of", and a rendering's glued words: "laws ofthe State ofTexas"
    r"\blaws?(?:\s+and\s+(?:decisions|regulations|rules|statutes))?,?\s+(?:(?:in\s+force|applicable)\s+in\s+|of\s*)"
    r"(?:the\s*)?(?:internal\s+|substantive\s+)?(?:laws?\s+of\s+)?"
    r"(?:(?:State|Commonwealth|Province|Republic|Kingdom|Canton)\s+of\s*)?(?:the\s+)?"
    r"(?P<place>(?-i:[A-Z][\w'’.-]*(?:(?:[ \t]+|[ \t]*\n[ \t]*)(?:and[ \t]+|of[ \t]+|the[ \t]+)?[A-Z][\w'’.-]*){0,5}))",
    re.IGNORECASE,
)
_LAW_BEFORE = re.compile(
    r"\blaws?\s+of\s+(?:the\s+)?(?:(?:State|Commonwealth|Province)\s+of\s+)?"
    r"(?P<place>(?-i:[A-Z][\w'’.-]*(?:[ \t]+(?:and[ \t]+|of[ \t]+)?[A-Z][\w'’.-]*){0,4}))"
    r"[^.;]{0,120}?\b(?:govern|appl(?:y|ies)\b)",
    re.IGNORECASE,
)
_PLACE_TAIL = re.compile(r"(?:\s+(?:and|of|the))+$", re.IGNORECASE)
# Where the place's name has ended: a word that starts what follows ("… New York without regard
# to …", "NEW YORK WITHOUT REGARD TO CONFLICTS").
_PLACE_STOP = re.compile(
    r"\s+(?:without|excluding|applicable|including|as|in|to|which|that|with|except|notwithstanding|"
    r"regardless|other|irrespective|exclusive|governing|and\s+(?:the\s+)?(?:federal|applicable|any|all))\b",
    re.IGNORECASE,
)
_ABBREVIATION_END = re.compile(r"\b(?:[A-Z]\.){2,}(?=\s+\S)")
_SENTENCE_END = re.compile(r"(?<=[a-z]{3})\.(?=\s|$)", re.IGNORECASE)
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
            stop = _PLACE_STOP.search(place)
            place = place[: stop.start()] if stop else place
            full_stop = _SENTENCE_END.search(place)  # "Virginia. All disputes": the sentence ended
            place = place[: full_stop.start()] if full_stop else place
            abbreviation = _ABBREVIATION_END.search(place)  # "P.R.C. Any dispute"
            place = place[: abbreviation.end()] if abbreviation else place
            if "\n" in place:  # "Hong\nKong", but not "Texas\nARTICLE 12"
                head, tail = place.split("\n", 1)
                if head.strip().isupper() != tail.strip().isupper():
                    place = head
            trimmed = _PLACE_TAIL.sub("", place)
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
    "republic of korea": "South Korea", "korea": "South Korea", "russian federation": "Russia",
    "holland": "Netherlands",
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
    "renewal_term": lambda doc, found: find_renewal_term(doc, found["term"]),
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
