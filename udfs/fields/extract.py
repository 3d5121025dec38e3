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
from udfs.fields.rules import FieldRules
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
    """What the finders read: the text, its entities (sorted by start), the rules (the phrases
    that state each field, conf/rules/fields.yaml), its date order, the words it writes in lower
    case and, optionally, the gazetteer of places (udfs.ner.places)."""

    text: str
    entities: Sequence[Mapping[str, Any]]
    rules: FieldRules
    places: Places | None = None
    order: DateOrder = field(init=False)
    preamble_end: int = field(init=False)
    lowered: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.entities = sorted(self.entities, key=lambda e: (e["doc_start"], e["doc_end"]))
        self.order = date_order(self.text)
        self.preamble_end = _preamble_end(self.text, self.rules)
        self.lowered = frozenset(running_words(self.text))

    def of_label(self, *labels: str, start: int = 0, end: int | None = None) -> list[Mapping[str, Any]]:
        stop = len(self.text) if end is None else end
        return [e for e in self.entities if e["label"] in labels and start <= e["doc_start"] < stop]


def _preamble_end(text: str, rules: FieldRules) -> int:
    """Where the preamble (title, parties, date) ends: the recitals or the first article."""
    between = rules["preamble_between"].search(text, 0, PREAMBLE_CHARS)
    after = between.end() if between else 0
    stop = rules["preamble_stop"].search(text, after, min(len(text), after + PREAMBLE_CHARS))
    return stop.start() if stop else min(len(text), after + 1500 if between else PREAMBLE_CHARS)


# ---- document_title ----------------------------------------------------------------------------


def find_title(doc: Document) -> list[FieldValue]:
    for line in re.finditer(r"[^\n]+", doc.text[:TITLE_CHARS]):
        body = line.group().strip()
        words = body.split()
        if (
            not (1 <= len(words) <= 12)
            or not doc.rules["title_word"].search(body)
            or doc.rules["not_title"].search(body)
        ):
            continue
        capitalised = sum(w[0].isupper() for w in words if w[0].isalpha())
        if capitalised < max(1, len([w for w in words if len(w) > 3]) - 1):
            continue  # running text, not a heading
        start = line.start() + line.group().index(body)
        start, end = _whole_heading(doc, start, start + len(body))
        return [FieldValue("document_title", start, end, " ".join(doc.text[start:end].split()), "heading", 0.9)]
    # A rendering without line breaks: the first run of words in capitals that ends in the word
    # of an agreement ("Exhibit 10.16 MARKETING AFFILIATE AGREEMENT This Agreement is made …").
    run = doc.rules["caps_title"].search(doc.text, 0, TITLE_CHARS)
    if run:
        form = doc.rules["form_of"].match(doc.text, run.start(), run.end())
        start = form.end() if form else run.start()
        return [
            FieldValue(
                "document_title", start, run.end(), " ".join(doc.text[start : run.end()].split()), "capitals", 0.75
            )
        ]
    return []


def _whole_heading(doc: Document, start: int, end: int) -> tuple[int, int]:
    """A title continued on the next line ("SERVICE AGREEMENT" / "FOR TRANSFER AGENT SERVICES",
    or "FOR" alone on its line), without a leading "FORM OF"."""
    text = doc.text
    if text[start:end].isupper():
        line_end = text.find("\n", end)
        if line_end != -1 and text[end:line_end].strip() == "":
            lines = text[line_end + 1 :].split("\n", 2)
            tail = lines[0].strip()
            if tail in ("FOR", "OF", "ON", "IN") and len(lines) > 1:
                tail = f"{tail} {lines[1].strip()}"
            continued = doc.rules["heading_tail"].fullmatch(tail)
            if continued:
                end = line_end + 1 + len(lines[0]) + (len(lines[1]) + 1 if tail != lines[0].strip() else 0)
                end = len(text[:end].rstrip())
    form = doc.rules["form_of"].match(text, start, end)
    return (form.end() if form else start), end


# ---- party -------------------------------------------------------------------------------------

_DEFINITION_RULES = ("alias-parenthetical", "alias-referred-to", "defined-term")


def find_parties(doc: Document) -> list[FieldValue]:
    """The preamble's parties: names a definition ties a term to, and legal names after
    "between"; one value per party key, in the order the preamble names them."""
    end = doc.preamble_end
    between = doc.rules["between"].search(doc.text, 0, end)
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
        if not legal and not doc.rules["party_slot"].search(
            doc.text, max(0, name["doc_start"] - 30), name["doc_start"]
        ):
            continue  # a model's name that is not listed as a party: "located at … Las Vegas NV"
        if key in referred and (after_between or between is None):
            method, score = "defined-party", 0.95
        elif after_between and doc.rules["individual"].match(doc.text, name["doc_end"]):
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
            value = _party_value(doc, name, "signature-block", 0.7, [])
            found.setdefault(value.entity_key or name["entity_key"], value)
    return [value for key, value in found.items() if not _tail_of_other(doc.rules, key, value, found)]


_NAME_TOKEN = re.compile(r"(?:^|(?<=[ \t\n]))(?P<token>[A-Za-z][\w.&'’-]*|/)[ \t]*\n?[ \t]*$")


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
        if (
            token is None
            or token["token"].lower() in doc.rules.words["not_name_token"]
            or not _name_word(token["token"])
        ):
            break
        start = token.start("token")
    if start == value.start or not doc.rules["party_slot"].search(doc.text, max(0, start - 30), start):
        return value
    start = _without_column_lead(doc.text, start, value.end)  # not "SEV" again before "SEV GROUP LIMITED"
    if start == value.start:
        return value
    written = doc.text[start : value.end]
    return replace(
        value, start=start, normalized_value=_one_line(written), entity_id=None, entity_key=entity_key("ORG", written)
    )


def _unrecognized_names(doc: Document, start: int, end: int) -> list[FieldValue]:
    values = []
    for match in doc.rules["lower_name"].finditer(doc.text, start, end):
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


def _tail_of_other(rules: FieldRules, key: str, value: FieldValue, found: Mapping[str, FieldValue]) -> bool:
    """A name the rendering or a descriptor cut from a longer one: the last words of another
    party's name (``Associates, Inc.`` of ``Networks Associates, Inc.``), or legal-form words
    alone (``Liability Company`` of "a Nevada limited liability company"). A party defined
    by its own term is kept."""
    words = key.split()
    if all(word in rules.words["form_words"] for word in words):
        return True
    if value.method == "defined-party":
        return False
    longer = [other.split() for other in found if len(other.split()) > len(words)]
    # (not the name set twice by a rendering: "Solutions Media Solutions Media")
    return any(other[-len(words) :] == words and other != words * (len(other) // len(words)) for other in longer)


def _name_like(doc: Document, name: Mapping[str, Any]) -> bool:
    """A party's name, not a piece of an address, a place, or one common word left of a
    longer name the rendering broke (``Solutions, LLC`` of ``eFashion Solutions, LLC``)."""
    text = name["text"]
    if doc.rules["address_word"].search(text):
        return False
    key_words = (name.get("entity_key") or "").split()
    if not key_words:
        return False
    if doc.places is not None and doc.places.kind(" ".join(key_words)) is not None:
        return False
    return not (len(key_words) == 1 and key_words[0] in doc.lowered)


def _signing_names(doc: Document) -> list[Mapping[str, Any]]:
    """The names that sign: an ORG alone on one of the three lines above a "By:" line of a
    signature block ("ACME CORP.\nBy: ____\nName: …"), and the manager or general partner that
    signs for one ("By: Acme GP, L.P., its general partner"). Signature blocks are read
    wherever they are: a short joint filing agreement is all preamble."""
    names = []
    for by in doc.rules["by_line"].finditer(doc.text):
        above = doc.text.rfind("\n", 0, max(0, by.start() - 1))
        for _ in range(2):
            above = doc.text.rfind("\n", 0, max(0, above))
        window_start = max(0, above + 1)
        for entity in doc.of_label("ORG", start=window_start, end=by.start()):
            line_start = doc.text.rfind("\n", 0, entity["doc_start"]) + 1
            line_end = doc.text.find("\n", entity["doc_end"])
            line = doc.text[line_start : line_end if line_end != -1 else len(doc.text)]
            alone = doc.rules["line_lead"].sub(
                "", line.strip(" \t:,")
            )  # "THE BLACKSTONE GROUP INC.", "ATTEST: KIOSK …"
            if (
                alone == doc.rules["line_lead"].sub("", entity["text"].strip())
                and entity.get("rule") == "org-legal-form"
            ):
                names.append(entity)
        line_end = doc.text.find("\n", by.end())
        for entity in doc.of_label("ORG", start=by.end(), end=line_end if line_end != -1 else len(doc.text)):
            if (
                entity.get("rule") == "org-legal-form"
                and doc.text[by.end() : entity["doc_start"]].strip() == ""
                and doc.rules["signs_for"].match(doc.text, entity["doc_end"], entity["doc_end"] + 60)
            ):
                names.append(entity)
    return names


def _party_value(
    doc: Document, name: Mapping[str, Any], method: str, score: float, own: Sequence[Mapping[str, Any]]
) -> FieldValue:
    """The party's row: the name without a heading's or a signature block's word before it
    ("RECITALS WHEREAS, SINA Corporation", "ATTEST KIOSK CONCEPTS, INC."), with a legal form's
    last word the recognizer left off ("… Limited" + "Partnership")."""
    value = _plain_party_value(name, method, score, own)
    lead = doc.rules["name_lead"].match(doc.text, value.start, value.end)
    start = lead.end() if lead else _without_column_lead(doc.text, value.start, value.end)
    end = value.end
    if doc.text[value.start : value.end].split()[-1].rstrip(".,") in ("Limited", "LIMITED"):
        tail = doc.rules["form_tail"].match(doc.text, value.end)
        end = tail.end() if tail else end
    if (start, end) == (value.start, value.end):
        return value
    written = doc.text[start:end]
    key = entity_key("ORG", written)
    return replace(value, start=start, end=end, normalized_value=_one_line(written), entity_id=None, entity_key=key)


def _without_column_lead(text: str, start: int, end: int) -> int:
    """Where a party's name starts without the short name a two-column rendering set before it:
    the name's own first words again ("SEV SEV GROUP LIMITED", "Solutions Media SOLUTIONS
    MEDIA, INC.") or its initials ("DCL DAIRY CREST LIMITED"), as party lists drafted with the
    short name in a margin column come out of a PDF."""
    words = list(re.finditer(r"\S+", text[start:end]))
    folded = [w.group().casefold().strip(",.") for w in words]
    for count in range(1, len(words) // 2 + 1):
        if folded[:count] == folded[count : 2 * count] and len(words) > count + 1:
            return start + words[count].start()
    if len(words) >= 3:
        lead = words[0].group()
        initials = "".join(w.group()[0] for w in words[1:] if w.group()[0].isalpha()).upper()
        if lead.isupper() and lead.isalpha() and 2 <= len(lead) <= 5 and lead == initials:
            return start + words[1].start()
    return start


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

AGREEMENT_CHARS = 8000  # how far the strong cues are looked for


OTHER_DOCUMENT_CHARS = 240  # how far before a date the document it belongs to is looked for


def _other_documents_date(doc: Document, at: int) -> bool:
    """The date at ``at`` follows "dated" or "effective as of" after a document that is not this
    one: the document named nearest the cue in its sentence decides ("This First Amendment to the
    Loan Agreement dated": the loan agreement's date; "the Master Transaction Agreement entered
    into by and between A and B, dated as of": that agreement's; "that certain agreement
    effective as of": another's)."""
    start = max(_sentence_start(doc.text, at), at - OTHER_DOCUMENT_CHARS)
    before = doc.text[start:at]
    cue = doc.rules["dated"].search(before)
    if cue is None:
        return False
    if doc.rules["that_certain"].search(before, 0, cue.start()):
        return True
    nouns = [  # not a defined term in quotes: this "Agreement") dated, (“Second Amendment”) is effective
        m
        for m in doc.rules["document_noun"].finditer(before, 0, cue.start())
        if before[max(0, m.start() - 1) : m.start()] not in ('"', "“", "'", "‘")
        and before[m.end() : m.end() + 1] not in ('"', "”", "'", "’")
    ]
    if not nouns or re.search(r"[.;]", before[nouns[-1].end() : cue.start()]):
        return False
    if doc.rules["this_before"].search(before, 0, nouns[-1].start()):
        return False
    own_line = doc.rules["own_name_line"].search(before, 0, nouns[-1].start())
    if own_line is None:
        return True
    line_start = start + own_line.start() + (before[own_line.start() : own_line.start() + 1] == "\n")
    return (line_start > 0 and doc.text[line_start - 1] != "\n") or _wrapped(doc.text, line_start)


def _wrapped(text: str, line_start: int) -> bool:
    """The line at ``line_start`` goes on with a sentence the rendering broke ("… the following
    contract(s): Service\nAgreement dated …"): the line before it is running text, six words or
    more, not in capitals, without a closing stop. A document named at the start of its own line
    is this one; one named inside a sentence is not."""
    previous = text[text.rfind("\n", 0, max(0, line_start - 1)) + 1 : line_start].strip()
    return len(previous.split()) >= 6 and previous[-1] not in ".:;!?" and not previous.isupper()


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
        if (
            doc.rules["agreement_cue"].search(before)
            and not _effective_label_in_body(doc, entity)
            and not _other_documents_date(doc, entity["doc_start"])
        ):
            value = _date_value(doc, entity, "agreement_date", "preamble-date", 0.9)
            if value.normalized_value is None:
                value = _with_day_before(doc, entity, value)
            if value.normalized_value is not None:
                return [value]
            partial = partial or value
    for entity in _dates(doc, start=doc.preamble_end, end=max(doc.preamble_end, AGREEMENT_CHARS)):
        before = doc.text[max(0, entity["doc_start"] - 80) : entity["doc_start"]]
        if doc.rules["agreement_strong"].search(before) and not _other_documents_date(doc, entity["doc_start"]):
            value = _date_value(doc, entity, "agreement_date", "opening-date", 0.8)
            if value.normalized_value is not None:
                return [value]
    for entity in _dates(doc, end=min(len(doc.text), TITLE_CHARS)):
        if _heading_date(doc, entity) and not _other_documents_date(doc, entity["doc_start"]):
            value = _date_value(doc, entity, "agreement_date", "heading-date", 0.7)
            if value.normalized_value is not None:
                return [value]
    last = _last_signature(doc, "agreement_date", "signature-date", 0.6)
    if last is not None:  # a contract is made when its last party signs
        return [last]
    return [partial] if partial is not None else []


def _last_signature(doc: Document, field_name: str, method: str, score: float) -> FieldValue | None:
    """The latest full date of the signature blocks, if any."""
    signed = [
        value
        for entity in [*_dates(doc), *_labelled_numeric_dates(doc)]
        if _signed(doc, entity)
        for value in [_date_value(doc, entity, field_name, method, score)]
        if value.normalized_value is not None
    ]
    return max(signed, key=lambda v: v.normalized_value or "") if signed else None


def _effective_label_in_body(doc: Document, entity: Mapping[str, Any]) -> bool:
    """A date labelled "Effective Date:" after the opening sentence ("… is entered into by …",
    then "1. EFFECTIVE DATE: November 01, 2016"): the date the terms take effect, not the
    contract's own. Above the opening sentence such a label heads a form and dates it."""
    before = doc.text[max(0, entity["doc_start"] - 60) : entity["doc_start"]]
    if not doc.rules["effective_label"].search(before):
        return False
    return doc.rules["opening_verb"].search(doc.text, 0, entity["doc_start"]) is not None


# A date of only a month and a year ("March 2020"), which the recognizer leaves unnormalised.
_MONTH_YEAR = re.compile(r"[A-Za-z]+\.?,?\s+\d{4}")


def _with_day_before(doc: Document, entity: Mapping[str, Any], value: FieldValue) -> FieldValue:
    if not _MONTH_YEAR.fullmatch(entity["text"].strip()):
        return value  # only a month and a year
    day = doc.rules["day_of"].search(doc.text, max(0, entity["doc_start"] - 80), entity["doc_start"])
    if day is None:
        return value
    iso = read_date(f"{day['day']} {entity['text']}", doc.order)
    if iso is None:
        return value
    return replace(value, start=day.start(), normalized_value=iso, entity_id=None, entity_key=None, score=0.8)


def _signed(doc: Document, entity: Mapping[str, Any]) -> bool:
    """A date of the signature blocks: "Date: …", "signed on …", "/s/ … <date>", or a place and
    a date right above the signatures; not a labelled other date, nor another document's."""
    before = doc.text[max(0, entity["doc_start"] - 60) : entity["doc_start"]]
    if doc.rules["other_label"].search(before) or _other_documents_date(doc, entity["doc_start"]):
        return False
    if doc.rules["signed_date"].search(before):
        return True
    below = doc.text[entity["doc_end"] : entity["doc_end"] + 150]
    return bool(doc.rules["place_and_date"].search(before)) and doc.rules["signature_below"].search(below) is not None


def _labelled_numeric_dates(doc: Document) -> list[dict[str, Any]]:
    known = {(e["doc_start"], e["doc_end"]) for e in doc.of_label("DATE")}
    return [
        {"doc_start": m.start("date"), "doc_end": m.end("date"), "text": m["date"], "label": "DATE"}
        for m in doc.rules["labelled_numeric"].finditer(doc.text)
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
        return doc.rules["title_word"].search(head) is not None and doc.rules["between"].search(head) is not None
    above = doc.text[max(0, line_start - 200) : line_start].rstrip().rsplit("\n", 1)[-1]
    return doc.rules["title_word"].search(above) is not None and above.strip().isupper()


def find_effective_date(doc: Document, agreement: Sequence[FieldValue]) -> list[FieldValue]:
    """The date the contract says it takes effect: the last signature's, where it says so ("The
    Effective Date shall be the later of the dates shown by the signatures below"); a date defined
    as the "Effective Date" or stated as the date it is effective from; else the agreement date."""
    if doc.rules["effective_last_signed"].search(doc.text):
        last = _last_signature(doc, "effective_date", "last-signature", 0.9)
        if last is not None:
            return [last]
    for entity in _dates(doc):
        before = doc.text[max(0, entity["doc_start"] - 60) : entity["doc_start"]]
        after = doc.text[entity["doc_end"] : entity["doc_end"] + 60]
        if doc.rules["effective_defined"].search(after) or (
            doc.rules["effective_before"].search(before) and not _other_documents_date(doc, entity["doc_start"])
        ):
            return [_date_value(doc, entity, "effective_date", "effective-clause", 0.9)]
    return [
        replace(value, field="effective_date", method="agreement-date", score=value.score * 0.8) for value in agreement
    ]


# ---- term, renewal, notice --------------------------------------------------------------------


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
    for clause in doc.rules["term_clause"].finditer(doc.text):
        value = _term_of_clause(doc, clause)
        if value is None:
            continue
        sentence = doc.text[clause.start() : _sentence_end(doc.text, clause.end())]
        if doc.rules["term_sentence"].search(sentence):
            return [value]
        first = first or value
    # "Agent's appointment … shall continue for three years thereafter (the “Initial Term”)": a
    # duration the contract defines as its term, whatever the sentence's subject, over a sentence
    # that only names the agreement.
    for entity in doc.of_label("DURATION"):
        tail = doc.text[entity["doc_end"] : entity["doc_end"] + 60]
        if doc.rules["term_defined"].match(tail) and not doc.rules["not_term_tail"].match(tail):
            value = _duration_value(entity, "term", "term-defined", 0.8)
            if value is not None:
                return [value]
    if first is not None:
        return [first]
    # "The COMPANY agrees to a one year engagement": a duration that names the term it measures.
    for entity in doc.of_label("DURATION"):
        lead = doc.text[max(0, entity["doc_start"] - 20) : entity["doc_start"]]
        tail = doc.text[entity["doc_end"] : entity["doc_end"] + 20]
        if not (doc.rules["term_noun"].search(lead) and doc.rules["term_noun_tail"].match(tail)):
            continue
        sentence = doc.text[_sentence_start(doc.text, entity["doc_start"]) : _sentence_end(doc.text, entity["doc_end"])]
        if doc.rules["renew_word"].search(sentence) or doc.rules["not_term_sentence"].search(sentence):
            continue
        value = _duration_value(entity, "term", "term-noun", 0.7)
        if value is not None:
            return [value]
    return []


def _term_of_clause(doc: Document, clause: re.Match[str]) -> FieldValue | None:
    sentence_end = _sentence_end(doc.text, clause.end())
    window = doc.text[clause.start() : sentence_end]
    if doc.rules["renew_word"].search(window, 0, clause.end() - clause.start()) or doc.rules[
        "not_term_sentence"
    ].search(window):
        return None
    for entity in doc.of_label("DURATION", start=clause.start(), end=sentence_end):
        lead = doc.text[max(clause.start(), entity["doc_start"] - 60) : entity["doc_start"]]
        tail = doc.text[entity["doc_end"] : entity["doc_end"] + 40]
        if (
            not doc.rules["term_lead"].search(lead)
            or doc.rules["not_term_tail"].match(tail)
            or doc.rules["within"].search(lead)
        ):
            continue  # a notice or cure period inside the sentence, not the term's length
        value = _duration_value(entity, "term", "term-clause", 0.85)
        if value is not None:
            return value
    anniversary = doc.rules["anniversary"].search(window)
    if anniversary:
        ordinal = anniversary["ordinal"].lower()
        years = (
            int(anniversary["number"]) if anniversary["number"] else doc.rules.words["ordinal_years"].index(ordinal) + 1
        )
        start = clause.start() + anniversary.start()
        return FieldValue("term", start, start + len(anniversary.group()), f"P{years}Y", "term-anniversary", 0.8)
    perpetual = doc.rules["perpetual"].search(window)
    if perpetual:
        start = clause.start() + perpetual.start()
        return FieldValue("term", start, start + len(perpetual.group()), PERPETUAL, "term-clause", 0.8)
    until = doc.rules["until_terminated"].search(window)
    if until:
        start = clause.start() + until.start()
        return FieldValue("term", start, start + len(until.group()), UNTIL_TERMINATED, "term-clause", 0.7)
    return None


def find_renewal_term(doc: Document, term: Sequence[FieldValue] = ()) -> list[FieldValue]:
    """The length of each renewal: a duration right after "renew … for successive", or an
    annual or monthly renewal named by its frequency ("automatic annual renewals")."""
    for clause in doc.rules["renewal"].finditer(doc.text):
        sentence_end = _sentence_end(doc.text, clause.end())
        if doc.rules["not_renewed"].search(doc.text, max(0, clause.start() - 40), min(sentence_end, clause.end() + 80)):
            continue  # "extend the delivery deadline for an additional thirty (30) days"
        # the duration the "successive", "additional" … words lead to, not the initial term's
        # ("renew on expiry of the initial three (3) year term for successive one (1) year periods")
        lead = clause.end() - len(clause.group().split()[-1]) - 1
        for entity in doc.of_label("DURATION", start=lead, end=clause.end() + 40):
            value = _duration_value(entity, "renewal_term", "renewal-clause", 0.85)
            if value is not None:
                return [value]
        unit = doc.rules["bare_unit"].match(doc.text, clause.end())  # "for an additional month of service"
        if unit:
            period = {"year": "P1Y", "month": "P1M", "week": "P1W", "day": "P1D"}[unit["unit"].lower()]
            return [FieldValue("renewal_term", unit.start("unit"), unit.end("unit"), period, "renewal-clause", 0.8)]
    frequency = doc.rules["renewal_frequency"].search(doc.text)
    if frequency:
        group = next(g for g in ("word", "basis", "periods", "unit", "thereafter") if frequency[g])
        period = "P1M" if frequency[group].lower().startswith("month") else "P1Y"
        start, end = frequency.span(group)
        return [FieldValue("renewal_term", start, end, period, "renewal-frequency", 0.75)]
    same = doc.rules["same_duration"].search(doc.text)
    lengths = [v for v in term if v.normalized_value and v.normalized_value.startswith("P")]
    if same and lengths:
        start, end = same.span()
        return [FieldValue("renewal_term", start, end, lengths[0].normalized_value, "renewal-as-term", 0.7)]
    return []


def find_notice_period(doc: Document) -> list[FieldValue]:
    for entity in doc.of_label("DURATION"):
        before = doc.text[max(0, entity["doc_start"] - 40) : entity["doc_start"]]
        after = doc.text[entity["doc_end"] : entity["doc_end"] + 60]
        if not doc.rules["notice_after"].match(after):
            continue
        sentence = doc.text[max(0, entity["doc_start"] - 300) : entity["doc_end"] + 200]
        if not doc.rules["notice_subject"].search(sentence):
            continue
        if doc.rules["not_notice"].search(before):
            continue  # "within thirty (30) days after notice": a time to act, not a notice period
        value = _duration_value(
            entity, "notice_period", "notice-clause", 0.8 if doc.rules["notice"].search(before) else 0.7
        )
        if value is not None:
            return [value]
    return []


# ---- expiration -------------------------------------------------------------------------------


def find_expiration_date(
    doc: Document, effective: Sequence[FieldValue], term: Sequence[FieldValue], agreement: Sequence[FieldValue] = ()
) -> list[FieldValue]:
    """A date the term clause says it ends on, or a labelled end date ("Expiration Date: …");
    else the effective date plus the initial term, when the term runs from the effective date
    (not from a launch or a first order the contract cannot date), or the agreement date plus
    the term when it runs from "the date hereof"."""
    starts = [v for v in effective if v.normalized_value]
    for clause in doc.rules["term_clause"].finditer(doc.text):
        sentence_end = _sentence_end(doc.text, clause.end())
        if doc.rules["not_term_sentence"].search(doc.text, _sentence_start(doc.text, clause.start()), sentence_end):
            continue  # "the confidentiality obligations … shall remain in effect until …"
        for entity in _dates(doc, start=clause.start(), end=sentence_end):
            before = doc.text[max(0, entity["doc_start"] - 50) : entity["doc_start"]]
            if doc.rules["expires_before"].search(before) or doc.rules["no_later_than"].search(before):
                return [_date_value(doc, entity, "expiration_date", "term-clause", 0.85)]
        year_end = doc.rules["calendar_year_end"].search(doc.text, clause.start(), sentence_end)
        if year_end and starts:
            last_day = f"{(starts[0].normalized_value or '')[:4]}-12-31"
            return [
                FieldValue("expiration_date", year_end.start(), year_end.end(), last_day, "calendar-year-end", 0.75)
            ]
    # The same of another subject that lasts ("This Second Amendment … shall expire on …").
    for entity in _dates(doc):
        before = doc.text[max(0, entity["doc_start"] - 50) : entity["doc_start"]]
        if not doc.rules["expires_before"].search(before):
            continue
        sentence = doc.text[_sentence_start(doc.text, entity["doc_start"]) : entity["doc_start"]]
        if (
            doc.rules["ending_subject"].search(sentence)
            and (doc.rules["term_sentence"].search(sentence) or doc.rules["term_word"].search(sentence))
            and not doc.rules["not_term_sentence"].search(sentence)
        ):
            return [_date_value(doc, entity, "expiration_date", "term-sentence", 0.75)]
    for entity in _dates(doc):
        before = doc.text[max(0, entity["doc_start"] - 80) : entity["doc_start"]]
        if doc.rules["expiry_label"].search(before):
            value = _month_end(doc, _date_value(doc, entity, "expiration_date", "end-date-label", 0.8), entity)
            if value.normalized_value is not None:
                return [value]
    lengths = [v for v in term if v.normalized_value and v.normalized_value.startswith("P")]
    if lengths and doc.rules["agreement_anchor"].search(doc.text, lengths[0].start, lengths[0].end + 40):
        # "the seventh anniversary of the date hereof", "three (3) years from the date hereof"
        starts = [v for v in agreement if v.normalized_value]
    if starts and lengths and _runs_from_effective_date(doc, lengths[0]):
        ends = _add(starts[0].normalized_value or "", lengths[0].normalized_value or "")
        if ends is not None:
            anchor = lengths[0]
            return [FieldValue("expiration_date", anchor.start, anchor.end, ends, "computed", 0.7)]
    return []


def _month_end(doc: Document, value: FieldValue, entity: Mapping[str, Any]) -> FieldValue:
    """An end date the recognizer read as a month ("… to 315t December 2013"): the day before it,
    if one stands there, else the month's last day (a term "to December 2013" runs to its end)."""
    first = None
    if value.normalized_value is None and _MONTH_YEAR.fullmatch(entity["text"].strip()):
        first = read_date(f"1 {entity['text']}", doc.order)
    if first is None:
        return value
    year, month = int(first[:4]), int(first[5:7])
    day = doc.rules["day_before_month"].search(doc.text, max(0, entity["doc_start"] - 12), entity["doc_start"])
    if day is not None and 1 <= int(day["day"]) <= _days_in(year, month):
        return replace(value, start=day.start(), normalized_value=date(year, month, int(day["day"])).isoformat())
    last = date(year, month, _days_in(year, month)).isoformat()
    return replace(value, normalized_value=last, method=f"{value.method}; month end", score=value.score * 0.9)


def _runs_from_effective_date(doc: Document, term: FieldValue) -> bool:
    """Whether the term's sentence counts it from the effective date (or names no start)."""
    sentence = doc.text[_sentence_start(doc.text, term.start) : _sentence_end(doc.text, term.end)]
    alternatives = doc.rules["later_of"].search(sentence)
    if alternatives and not doc.rules["earlier_of_termination"].match(sentence, alternatives.start()):
        return False  # "the later of (a) … or (b) …": no one date
    return all(
        doc.rules["anchor"].match(sentence, m.start("anchor")) for m in doc.rules["relative_to"].finditer(sentence)
    )


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

_ABBREVIATION_END = re.compile(r"\b(?:[A-Z]\.){2,}(?=\s+\S)")
_SENTENCE_END = re.compile(r"(?<=[a-z]{3})\.(?=\s|$)", re.IGNORECASE)


def find_governing_law(doc: Document) -> list[FieldValue]:
    """The place of a governing-law clause ("governed by … the laws of the State of New York"),
    or of a clause that names the place first ("the State of Nevada … governed by … the laws
    thereof"); at most two places (a clause may name a country and its state)."""
    found: list[FieldValue] = []
    patterns = (
        (doc.rules["federal_and_state"], 0.9),
        (doc.rules["law_clause"], 0.9),
        (doc.rules["law_before"], 0.8),
        (doc.rules["law_adjective"], 0.8),
        (doc.rules["thereof"], 0.8),
    )
    for pattern, score in patterns:
        for clause in pattern.finditer(doc.text):
            place = clause["place"]
            stop = doc.rules["place_stop"].search(place)
            place = place[: stop.start()] if stop else place
            full_stop = _SENTENCE_END.search(place)  # "Virginia. All disputes": the sentence ended
            place = place[: full_stop.start()] if full_stop else place
            abbreviation = _ABBREVIATION_END.search(place)  # "P.R.C. Any dispute"
            place = place[: abbreviation.end()] if abbreviation else place
            if "\n" in place:  # "Hong\nKong", but not "Texas\nARTICLE 12"
                head, tail = place.split("\n", 1)
                if head.strip().isupper() != tail.strip().isupper():
                    place = head
            trimmed = doc.rules["place_tail"].sub("", place)
            if not trimmed or not trimmed[0].isupper() or doc.rules["not_place"].search(trimmed):
                continue
            if trimmed.split()[0].casefold() in ("state", "laws", "law"):
                continue
            start = clause.start("place")
            value = FieldValue(
                "governing_law", start, start + len(trimmed), _jurisdiction(doc.rules, trimmed), "law-clause", score
            )
            if not any(v.normalized_value == value.normalized_value for v in found):
                found.append(value)
        if found:
            break
    return found[:2]


def _jurisdiction(rules: FieldRules, place: str) -> str:
    """The place's plain English name: one line, plain apostrophes, title case for a name set in
    capitals (``THE STATE OF NEW YORK`` -> ``New York``)."""
    words = place.replace("’", "'").split()
    alias = rules.jurisdictions.get(" ".join(words).casefold())
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
    "expiration_date": lambda doc, found: find_expiration_date(
        doc, found["effective_date"], found["term"], found["agreement_date"]
    ),
    "governing_law": lambda doc, found: find_governing_law(doc),
}
FIELD_NAMES = tuple(FINDERS)


def extract_fields(
    text: str, entities: Sequence[Mapping[str, Any]], rules: FieldRules, places: Places | None = None
) -> list[FieldValue]:
    """Every field value found in one document, field by field in FIELD_NAMES order, by the
    phrases of ``rules``; ``places`` (the NER stage's gazetteer) keeps places out of the parties."""
    doc = Document(text, entities, rules, places)
    found: dict[str, list[FieldValue]] = {}
    for name, finder in FINDERS.items():
        found[name] = [v for v in finder(doc, found) if 0 <= v.start < v.end <= len(text)]
    return [value for name in FIELD_NAMES for value in found[name]]
