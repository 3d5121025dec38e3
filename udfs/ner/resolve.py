"""Contract resolution: what the merged entities of one document mean, read from the document.

A news-trained model tags every capitalised word of a contract: roles (``Company``), defined
terms (``Confidential Information``), headings (``LIMITATION OF LIABILITY``). This step reads the
document's own evidence and rewrites the merged entities:

1. **Definitions.** A defined term (``ABC Corp. (the "Company")``, ``hereinafter "Supplier"``)
   that follows a party's name is tied to that party. A term made from the name (its initials,
   a part of it: ``"BFGI"``, ``"Logan's"``) is a proper name: an ``ORG`` (or ``PERSON``). Any
   other term is a role: an ``ALIAS``. Both carry ``refers_to`` (the party), and every later
   mention of the term becomes such a row — entity linking within the document. A term defined
   with no party before it (``all confidential information ("Confidential Information")``,
   ``"Territory" means``) is a ``DEFINED_TERM``; the models' calls on its mentions are dropped.
2. **Names of the parties.** A party's name without its legal form, and its leading words where
   they are not words of the document's running text, are mentions of that party.
3. **Document evidence against common words.** A name, place or person candidate made only of
   words the document also writes in lower case (``Services``, ``Driver``, ``NOTICES``) is a
   common noun in capitals (a heading, a defined term), not an entity; so is one the document
   quotes as a defined term, or defines as an abbreviation of a phrase (``DSP``), and a part of
   an address (``Suite 200``).
   With a lexicon (``udfs.ner.lexicon``), the words and defined terms of many documents count
   as this one's here; the parties' names and short names are decided by this document alone.
4. **Places.** ``the State of New York`` is the GPE ``New York``; ``a Nevada corporation``
   holds the GPE ``Nevada``. With a gazetteer (``udfs.ner.places``), a model's ORG that is a
   known place's name is a GPE, and the places of addresses the models missed are found.
5. **Shapes.** A model's ``DATE`` holds a month, a year or a numeric date (a list of months is
   one ``DATE`` per month); its ``MONEY`` a currency; a ``PERSON`` personal-name words; a
   ``LAW`` the word of an act, code or regulation.

Only the models' candidates are judged by shape and evidence (and the rules' PERSON names, by
evidence: a "name" after a title made of common words is none); the rules' values (``MONEY``,
``DATE``, ``SECTION_REF`` …) and whole legal names stand. Offsets are never changed: every row
still satisfies ``text[start:end] == entity.text``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import regex

from udfs.ner.entities import SOURCE_RULES, Candidate
from udfs.ner.lexicon import WORD, Lexicon, quoted_terms, running_words
from udfs.ner.merge import Merged
from udfs.ner.normalize import entity_key
from udfs.ner.places import Place, Places, address_places, find_places

RESOLVER = "resolve"  # Candidate.source of the rows this step makes
ALIAS, ORG, PERSON, DEFINED_TERM = "ALIAS", "ORG", "PERSON", "DEFINED_TERM"
NAME_LABELS = frozenset({ORG, PERSON})
JUDGED = frozenset({ORG, PERSON, "GPE", "LOC", "NORP", "FAC", "PRODUCT", "WORK_OF_ART", "EVENT"})
VALUE_LABELS = frozenset({"MONEY", "DATE", "PERCENT", "DURATION", "SECTION_REF"})

_ARTICLE = re.compile(r"(?:the|The|THE)\s+")
_POSSESSIVE = re.compile(r"['’]s?$")
_MONTH = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?(?![a-z])", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_NUMERIC_DATE = re.compile(r"(?<!\d)\d{1,4}\s*[/.-]\s*\d{1,2}\s*[/.-]\s*\d{2,4}(?!\d)")
_CURRENCY = re.compile(
    r"[$€£¥₹]|\b(?:USD|EUR|GBP|CHF|JPY|CAD|AUD|CNY|RMB|HKD|INR)\b|\b(?:dollars?|euros?|pounds?|sterling|yen|francs?|"
    r"rupees?|yuan|renminbi|cents?)\b|No/100",
    re.IGNORECASE,
)
_LAW_WORD = re.compile(
    r"\b(?:acts?|codes?|regulations?|rules?|laws?|treaty|convention|directive|statutes?|ordinance|constitution|"
    r"u\.?c\.?c\.?)\b",
    re.IGNORECASE,
)
_PERSON_SHAPE = re.compile(r"[^\W\d_][\w.'’\- ()]*")
_LEGAL_FORM = re.compile(
    r"(?<![\w&])(?:Inc|Corp|Co|Ltd|L\.?L\.?C|L\.?P|L\.?L\.?P|S\.?A|N\.?V|B\.?V|Pty|Pte|GmbH|AG|PLC|plc|Limited|"
    r"Incorporated|Corporation|Company|LLC|LLP|LP|SE|SpA|Srl|AB|Oy|A/S)\.?(?![\w&])",
    re.IGNORECASE,
)
# The head words of organizations whose every word is also a common word ("Securities and
# Exchange Commission"): a capitalised phrase ending in one names a body, not a concept.
_BODY_HEAD = re.compile(
    r"\b(?:Commission|Court|Bank|Exchange|University|Agency|Administration|Department|Ministry|Bureau|Authority|"
    r"Association|Institute|Foundation|Council|Federation|Service|Office|Organization|Organisation)$",
    re.IGNORECASE,
)
_COLLECTIVE = re.compile(r"\b(?:together|collectively|jointly|all)\b[^()]*$", re.IGNORECASE)
_DISTRIBUTIVE = re.compile(r"\b(?:individually|either)\b[^()]*$|\b(?:a|an)\s+[\"“]$", re.IGNORECASE)
_DISTRIBUTIVE_BEFORE = re.compile(r"\b(?:each|either|neither|other|one)\s+$", re.IGNORECASE)
_BARRIER = regex.compile(
    r";|\n\s*\n|(?<![A-Z][a-z]|\b[A-Z]|\bNo|\bCo|\bInc|\bLtd|\bCorp|\bInc|\bN\.V|\bS\.A)\.\s+(?=[A-Z])"
)
_PLACE_HEAD = re.compile(
    r"\b(?:Street|St|Road|Rd|Avenue|Ave|Suite|Building|Bldg|Floor|Plaza|Parkway|Pkwy|Drive|Dr|Boulevard|Blvd|Lane|"
    r"Zone|Tower|Centre|Center|Square|Highway|Hwy|Box)\b\.?"
)
_STATE_OF = re.compile(r"(?:State|STATE|Commonwealth|COMMONWEALTH|Province|PROVINCE)\s+(?:of|OF)\s+")
_PLACE_FORM = re.compile(
    r"([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)\s+(?i:corporation|company|limited\s+liability\s+company|"
    r"limited\s+partnership|partnership|limited\s+company|LLC)"
)
_MONTH_NAME = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?(?![\w])"
)
_MONTH_LIST = re.compile(
    rf"{_MONTH_NAME}(?:(?:\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or|through|to)\s+){_MONTH_NAME})+(?P<year>,?\s+(?:19|20)\d\d)?"
)
_INDEFINITE_BEFORE = re.compile(r"\b(?:a|an)\s+$", re.IGNORECASE)
_HONORIFIC = re.compile(r"(?:Esq|Mr|Mrs|Ms|Dr|Jr|Sr|Messrs)\.?")
_ACRONYM = re.compile(r"\((?:the\s+)?[\"“]?([A-Z][A-Z0-9&]{1,7})[\"”]?\)")
_FUNCTION_WORDS = frozenset({"of", "and", "the", "for", "to", "in", "on", "a", "an", "&"})
_TITLE_BEFORE = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Miss|Prof|Sir)\.?\s+$")
_APPOSITION = re.compile(r",\s+(?:a|an|the)\s+[^,;()]*$", re.IGNORECASE)
_BETWEEN = re.compile(r"\bbetween\b", re.IGNORECASE)
_PARTY_SLOT = re.compile(r"\b(?:between|among|and)[ \t]*\n?[ \t]*$", re.IGNORECASE)
_DEFINITION_START = re.compile(r"(?:\(|\b(?:hereinafter|referred\s+to|known|designated)\b)[^()]*$", re.IGNORECASE)
LEGAL_NAME_RULE = "org-legal-form"  # the rules' whole company names (conf/rules/contracts.yaml)
MAX_GAP = 300  # characters between a party's name and the definition that names it
MIN_NAME_CHARS = 2


@dataclass(frozen=True)
class Definition:
    term: str
    start: int
    end: int
    kind: str  # "role" (ALIAS), "name" (ORG/PERSON), "term" (DEFINED_TERM), "collective" (not marked)
    party: Candidate | None  # the entity the term names, for "role" and "name"
    distributive: bool = False  # "each a 'Party'": a mention stands for one party only after each/either/…


def lower_words(text: str) -> frozenset[str]:
    """The words the document writes in lower case (its running text, not its web addresses)."""
    return frozenset(running_words(text))


def _core(text: str) -> str:
    """A name without a leading article and a possessive."""
    text = text.strip()
    article = _ARTICLE.match(text)
    return _POSSESSIVE.sub("", text[article.end() :] if article else text)


def is_common(text: str, lowered: frozenset[str]) -> bool:
    """Every word of ``text`` is written in lower case elsewhere in the document, and it does
    not end in the head word of a body (``Commission``, ``Bank``)."""
    words = WORD.findall(_core(text))
    if not words or _BODY_HEAD.search(_core(text)):
        return False
    return all(_POSSESSIVE.sub("", word).lower() in lowered for word in words)


def _letters(text: str) -> str:
    return "".join(char for char in text.casefold() if char.isalnum())


def _subsequence(short: str, long: str) -> bool:
    position = 0
    for char in short:
        position = long.find(char, position) + 1
        if position == 0:
            return False
    return True


def made_from_name(term: str, name: str) -> bool:
    """The term is the name's initials, some of its words, or its letters in order starting
    with its first: ``BFGI`` of ``Birch First Global Investments Inc.``, ``Logan's`` of
    ``Logan's Roadhouse, Inc.``, ``NW1`` of ``Network 1 Financial``."""
    if _LEGAL_FORM.fullmatch(_core(term).strip()):
        return False  # "Company" of "Acme Company": the legal form is a role word
    name = _LEGAL_FORM.sub(" ", name)
    short, long = _letters(_core(term)), _letters(name)
    if len(short) < MIN_NAME_CHARS or not long:
        return False
    name_words = {w.casefold() for w in WORD.findall(name)}
    term_words = [w.casefold() for w in WORD.findall(_core(term))]
    if term_words and all(_POSSESSIVE.sub("", w) in name_words or w in name_words for w in term_words):
        return True
    return short[0] == long[0] and _subsequence(short, long)


def shape_ok(candidate: Candidate) -> bool:
    """A model's candidate has the shape of its label."""
    text, label = candidate.text, candidate.label
    if label == "DATE":
        return bool(_MONTH.search(text) or _YEAR.search(text) or _NUMERIC_DATE.search(text))
    if label == "MONEY":
        return (bool(_CURRENCY.search(text)) and any(char.isdigit() for char in text)) or bool(
            re.search(r"\b(?:dollars?|euros?|No/100)\b", text, re.IGNORECASE)
        )
    if label == "LAW":
        return bool(_LAW_WORD.search(text)) and not re.match(r"(?i)(?:sections?|articles?)\b", text)
    if label == PERSON:
        core = _core(text)
        words = WORD.findall(core)
        return (
            bool(_PERSON_SHAPE.fullmatch(core))
            and not any(char.isdigit() for char in core)
            and all(word[0].isupper() for word in words if len(word) > 3)
            and not (len(words) == 1 and core.isupper())
        )
    if label in ("GPE", ORG):
        return any(char.isalpha() for char in text) and not (label == "GPE" and any(c.isdigit() for c in text))
    return True


def find_definitions(
    text: str, merged: Sequence[Merged], lowered: frozenset[str], terms: set[str], lexicon: Lexicon | None = None
) -> list[Definition]:
    """The document's defined terms (the rules' ALIAS candidates) and what each names;
    ``lowered``: the document's running words, ``terms``: its quoted terms (folded)."""
    common = lowered | lexicon.lower_words if lexicon is not None else lowered
    names = [
        m.entity
        for m in merged
        if m.entity.label in NAME_LABELS
        and (
            m.entity.rule == LEGAL_NAME_RULE
            or (
                m.entity.source != SOURCE_RULES
                and shape_ok(m.entity)
                and (_listed_party(text, m.entity, terms) or not _not_a_name(text, m.entity, terms, lowered))
            )
        )
    ]
    definitions: list[Definition] = []
    barrier = 0  # where the previous definition ended: a name before it is not this one's
    for item in merged:
        alias = item.entity
        if alias.label != ALIAS or alias.source != SOURCE_RULES:
            continue
        opening = _DEFINITION_START.search(text, max(0, alias.start - 160), alias.start)
        lead = text[opening.start() : alias.start] if opening else ""
        anchor = opening.start() if opening else alias.start
        term = alias.text
        party = None
        distributive = bool(_DISTRIBUTIVE.search(lead))
        if _COLLECTIVE.search(lead) and _core(term).endswith("s"):
            kind = "collective"
        elif not term[:1].isupper():
            kind = "term"  # ("we", "us"): a pronoun or a lower-case term names no one by name
        else:
            party = _party_before(text, names, term, anchor, barrier)
            if party is not None and _made_from_party(term, party, lowered, common):
                kind = "name"
            elif party is None and _BETWEEN.search(text, max(0, anchor - 200), anchor) and not is_common(term, lowered):
                # a party clause without a name we know: "between [***] (the "Provider")" names a
                # role; "between Bank of America, N.A. ("Bank of America")" the party itself
                kind = "name" if _name_shaped(term, common) else "role"
            elif party is None or _defines_phrase_before(text, term, anchor):
                kind, party = "term", None
            elif _name_shaped(term, common):
                kind = "name"  # "IMNTV", "SpinRecords.com" (not "Licensor")
            else:
                kind = "role"
        if distributive and kind == "role":
            party = None  # "each a 'Party'": a role of every party, not of one
        definitions.append(Definition(term, alias.start, alias.end, kind, party, distributive))
        barrier = alias.end
    return definitions


def _made_from_party(term: str, party: Candidate, lowered: frozenset[str], common: frozenset[str]) -> bool:
    """A term is a name of its party, not a role: made from the name and no word of this
    document's running text (``BFGI``, ``Logan's``; a word in capitals, ``NICE``, may be a
    common word elsewhere), or the name itself without its legal form (``Water Now`` of
    ``Water Now, Inc.``)."""
    if made_from_name(term, party.text) and not is_common(term, lowered):
        return _core(term).isupper() or not is_common(term, common)
    return entity_key(ORG, term) == entity_key(ORG, party.text)


def acronym_terms(text: str, merged: Sequence[Merged]) -> set[str]:
    """Abbreviations the document defines for a phrase that is not a name: "digital signal
    processing (DSP)", "Request for Proposal (RFP)" (folded)."""
    names = [(m.entity.start, m.entity.end) for m in merged if m.entity.label in NAME_LABELS]
    found = set()
    for match in _ACRONYM.finditer(text):
        letters = _letters(match[1])
        words = [(w.start(), w[0]) for w in WORD.finditer(text, max(0, match.start() - 120), match.start())]
        words = [(start, w) for start, w in words if w.casefold() not in _FUNCTION_WORDS]
        if len(words) < len(letters) or "".join(w[0] for _, w in words[-len(letters) :]).casefold() != letters:
            continue
        phrase_start = words[-len(letters)][0]
        if not any(s < match.start() and phrase_start < e for s, e in names):
            found.add(match[1].casefold())
    return found


def _defines_phrase_before(text: str, term: str, anchor: int) -> bool:
    """The words of the term end the text just before its definition: ``processing services
    ("Services")``, ``the effective date (the "Effective Date")`` define a phrase, not a party."""
    words = [w.casefold() for w in WORD.findall(_core(term))]
    preceding = text[max(0, anchor - 80) : anchor]
    if not words or _APPOSITION.search(preceding):
        return False  # ", a Delaware company (the "Company")" describes the party before it
    before = [w.casefold() for w in WORD.findall(preceding)]
    if words[-1] in before[-len(words) - 2 :] and set(words) <= set(before):
        return True
    letters = _letters(term)  # an acronym of the words before it: "assisted listening device ("ALD")"
    return term.isupper() and 2 <= len(letters) <= 8 and "".join(w[0] for w in before[-len(letters) :]) == letters


def _party_before(text: str, names: Sequence[Candidate], term: str, anchor: int, barrier: int) -> Candidate | None:
    """The name a term defined at ``anchor`` stands for: among the names within MAX_GAP before
    it, after ``barrier`` and with no sentence end or semicolon between, the one the term is
    made from, else the last whole legal name, else the first name; None when there is none."""
    window = [
        n
        for n in names
        if barrier <= n.start
        and n.end <= anchor
        and anchor - n.end <= MAX_GAP
        and not _BARRIER.search(text, n.end, anchor)
    ]
    if not window:
        return None
    made = [n for n in window if made_from_name(term, n.text)]
    if made:
        return made[-1]
    legal = [n for n in window if n.rule == LEGAL_NAME_RULE or _LEGAL_FORM.search(n.text)]
    if legal:
        return legal[-1]
    return window[0]


@dataclass(frozen=True)
class _Mention:
    start: int
    end: int
    label: str
    definition: Definition | None
    party: Candidate | None


def _occurrences(text: str, term: str, after: int) -> list[tuple[int, int]]:
    """Where ``term`` (as written, or in capitals) occurs from ``after`` on, as whole words;
    a line break may stand for a space."""
    found = []
    for variant in {term, term.upper(), term.title() if term.isupper() else term}:
        body = r"\s+".join(re.escape(word) for word in variant.split())
        pattern = re.compile(r"(?<![\w&'’-])" + body + r"(?![\w&-]|['’](?!s\b)\w)")
        found += [(m.start(), m.end()) for m in pattern.finditer(text, after)]
    return sorted(set(found))


def resolve_document(
    text: str, merged: Sequence[Merged], lexicon: Lexicon | None = None, places: Places | None = None
) -> list[Merged]:
    """The merged entities of one document, resolved as the module describes; ``lexicon``
    adds the evidence of other documents to this one's where a model's call is judged;
    ``places`` (a gazetteer) types and finds the places (udfs.ner.places)."""
    lowered = lower_words(text)
    quoted = {_core(term).casefold() for term in quoted_terms(text)}
    definitions = find_definitions(text, merged, lowered, quoted, lexicon)
    sites = {(d.start, d.end): d for d in definitions}
    # The names a definition in a party clause ties a term to are parties, whatever words they
    # are made of ('between … and The Associated Press ("Customer")').
    parties = {
        (d.party.start, d.party.end)
        for d in definitions
        if d.party is not None and _listed_party(text, d.party, quoted)
    }
    mentions = _mentions(text, definitions, merged, lowered, set(sites), places)
    names = {_core(d.term).casefold() for d in definitions if d.kind == "name"}
    terms = quoted | acronym_terms(text, merged)
    if lexicon is not None:
        lowered |= lexicon.lower_words
        terms |= lexicon.defined_terms
    terms -= names
    named = address_places(text, places, lowered) if places is not None else []
    kept: list[Merged] = []
    for item in merged:
        entity = item.entity
        if (entity.start, entity.end) in sites:
            resolved = _definition_row(item, sites[entity.start, entity.end])
            if resolved is not None:
                kept.append(resolved)
            continue
        if _covered(entity, mentions):
            continue
        if entity.rule == LEGAL_NAME_RULE:
            if _written_lower(text, entity.text) or _term_and_company(entity.text, terms):
                continue  # "Holding Company" (the text writes "holding company"); "Statement of Work, Company"
            place = trim(text, item)
            if place is not None and place.entity.label == "GPE":  # "a Nevada Corporation"
                kept.append(place)
                continue
        if entity.source == SOURCE_RULES:
            if entity.label == PERSON and is_common(entity.text, lowered):
                continue  # a name the rules read after a title or "Name:" made of common words
            if entity.label == ORG and entity.rule != LEGAL_NAME_RULE and _role_named(entity.text, terms, lowered):
                continue  # "Licensee, a Delaware corporation": a defined term, not a name
            kept.append(item)
            continue
        months = split_months(item)
        if months:
            kept += months
            continue
        trimmed = trim(text, item)
        if trimmed is None or not shape_ok(trimmed.entity):
            continue
        named_party = (entity.start, entity.end) in parties and entity.label in NAME_LABELS
        if trimmed.entity.label in JUDGED and not named_party and _not_a_name(text, trimmed.entity, terms, lowered):
            continue
        located = _as_places(text, trimmed, places, named) if places is not None else []
        kept += located or [trimmed]
    kept += [_mention_row(text, mention, merged) for mention in mentions]
    if places is not None:
        kept += _found_places(text, kept, places, named)
    kept.sort(key=lambda m: (m.entity.start, m.entity.end))
    return kept


PLACE_LABELS = frozenset({ORG, "GPE", "LOC", "FAC"})  # a model's types that a known place's name corrects


def _as_places(text: str, item: Merged, places: Places, named: Sequence[Place]) -> list[Merged]:
    """A model's ORG, LOC or FAC that is only the names of known places (``AUSTRALIA``,
    ``Ontario Canada``, ``Victoria, Australia``): one GPE per place. A city counts only where
    the text names it as a place (``named``: udfs.ner.places.address_places): ``Mercedes``,
    ``Sterling`` and ``Homewood`` are cities, and brands. Empty otherwise."""
    entity = item.entity
    if entity.label not in PLACE_LABELS:
        return []
    found = [Place(entity.start + p.start, entity.start + p.end, p.kind) for p in find_places(entity.text, places)]
    if not found or found[0].start != entity.start or found[-1].end != entity.end:
        return []
    gaps = [text[a.end : b.start] for a, b in itertools.pairwise(found)]
    if not all(re.fullmatch(r"[ \t]*,?[ \t]*\n?[ \t]*", gap) for gap in gaps):
        return []
    if entity.label == "GPE" and len(found) == 1:
        return []  # already right
    spans = {(p.start, p.end) for p in named}
    if not all((p.start, p.end) in spans for p in found):
        return []  # a city outside an address, a place whose words the text writes in lower case
    return [_place_row(text, place, "place-type", places, (entity.source,)) for place in found]


def _found_places(text: str, kept: Sequence[Merged], places: Places, named: Sequence[Place]) -> list[Merged]:
    """The places the text names (udfs.ner.places.address_places) where no entity stands."""
    taken = sorted((m.entity.start, m.entity.end) for m in kept)
    rows = []
    for place in named:
        if any(start < place.end and place.start < end for start, end in taken):
            continue
        rows.append(_place_row(text, place, "place-name", places, ()))
    return rows


def _place_row(text: str, place: Place, rule: str, places: Places, sources: tuple[str, ...]) -> Merged:
    candidate = Candidate(
        place.start,
        place.end,
        text[place.start : place.end],
        "GPE",
        None,
        RESOLVER,
        "places",
        places.digest[:12],
        0,
        rule,
    )
    return Merged(candidate, tuple(sorted({RESOLVER, *sources})))


def _listed_party(text: str, entity: Candidate, terms: set[str]) -> bool:
    """A model's name listed in a party clause ('by and between X ("Kubient"), and The Associated
    Press'): after "between", "among" or "and" that follow a "between", and not a defined term."""
    if _core(entity.text).casefold() in terms:
        return False
    before = text[max(0, entity.start - 24) : entity.start]
    if not _PARTY_SLOT.search(before):
        return False
    return bool(_BETWEEN.search(text, max(0, entity.start - MAX_GAP), entity.start))


def _role_named(name: str, terms: set[str], lowered: frozenset[str]) -> bool:
    """A name the rules read from its context (not from a legal form) that is a defined term,
    or one word the text writes in lower case (``Seller``); several common words can be a name
    (``The Right Solution``, ``Associated Press``)."""
    core = _core(name)
    return core.casefold() in terms or (len(core.split()) == 1 and is_common(core, lowered))


def _name_shaped(term: str, common: frozenset[str]) -> bool:
    """A term shaped like a name, not a role word: no common word, and an abbreviation, a word
    with a digit, a dot or a capital inside, or several words (``IMNTV``, ``SpinRecords.com``,
    ``Bank of America``; not ``Licensor``, ``Provider``)."""
    core = _core(term)
    if is_common(term, common):
        return False
    words = core.split()
    shaped = any(char.isdigit() or char == "." for char in core) or any(
        any(char.isupper() for char in word[1:]) for word in words
    )
    return shaped or len(words) > 1


def _term_and_company(name: str, terms: set[str]) -> bool:
    """A defined term followed by ", Company": a list of terms, not a company's name."""
    match = re.fullmatch(r"(.+?),\s*(?:Company|COMPANY)", name)
    return match is not None and _core(match[1]).casefold() in terms


def _written_lower(text: str, phrase: str) -> bool:
    """The document also writes ``phrase`` in lower case, as a phrase of its running text."""
    body = r"\s+".join(re.escape(word) for word in phrase.lower().split())
    return bool(re.search(r"(?<![\w-])" + body + r"(?![\w-])", text))


def _not_a_name(text: str, entity: Candidate, terms: set[str], lowered: frozenset[str]) -> bool:
    """A defined term, a capitalised common noun (a heading too), or a part of an address."""
    core = _core(entity.text)
    if core.casefold() in terms or is_common(entity.text, lowered):
        return True
    if _PLACE_HEAD.search(core) or _HONORIFIC.fullmatch(core):  # "Suite 200", "Winter Street"; "Esq."
        return True
    if entity.label == PERSON:  # a personal name has no word of the running text (initials aside)
        words = [w for w in WORD.findall(core) if not w.islower() and len(w) > 1]
        if len(words) == 1 and not _TITLE_BEFORE.search(text, max(0, entity.start - 6), entity.start):
            return True  # one word is a name only after a title: "Mr. Smith"
        return any(_POSSESSIVE.sub("", w).lower() in lowered for w in words)
    return False


def trim(text: str, item: Merged) -> Merged | None:
    """A model's span without a leading article, surrounding space and trailing punctuation;
    ``the State of New York`` -> GPE ``New York``; ``a Nevada corporation`` -> GPE ``Nevada``."""
    entity = item.entity
    start, end, label = entity.start, entity.end, entity.label
    article = _ARTICLE.match(text, start, end)
    if article and label != "DATE":
        start = article.end()
    while start < end and text[start].isspace():
        start += 1
    tail = text.find("\n", start, end)
    if tail != -1 and not any(char.isalpha() for char in text[tail:end]):
        end = tail  # "Kathy Whitworth\n-9-": the page number after the name is not part of it
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:"):
        end -= 1
    if label in (ORG, "GPE", "LOC"):
        state = _STATE_OF.match(text, start, end)
        if state:
            start, label = state.end(), "GPE"
        form = _PLACE_FORM.fullmatch(text, start, end)
        if form and _INDEFINITE_BEFORE.search(text, max(0, start - 4), start):
            end, label = form.end(1), "GPE"
    if end <= start:
        return None
    if (start, end, label) == (entity.start, entity.end, entity.label):
        return item
    return replace(item, entity=entity._replace(start=start, end=end, text=text[start:end], label=label))


def split_months(item: Merged) -> list[Merged]:
    """A model's DATE that lists months (``April, May, June and July 2021``): one DATE per month,
    the last with the year (docs/annotation.md). Empty when the span is not such a list."""
    entity = item.entity
    if entity.label != "DATE":
        return []
    listed = _MONTH_LIST.fullmatch(entity.text)
    if listed is None:
        return []
    months = list(re.finditer(_MONTH_NAME, entity.text))
    parts = []
    for index, month in enumerate(months):
        start, end = month.start(), month.end()
        if index == len(months) - 1 and listed["year"]:
            end = listed.end("year")
        parts.append(
            replace(
                item,
                entity=entity._replace(start=entity.start + start, end=entity.start + end, text=entity.text[start:end]),
            )
        )
    return parts


def _definition_row(item: Merged, definition: Definition) -> Merged | None:
    entity = item.entity
    if definition.kind == "collective":
        return None
    if definition.kind == "term":
        return replace(item, entity=entity._replace(label=DEFINED_TERM))
    party = definition.party
    label = (party.label if party is not None else ORG) if definition.kind == "name" else ALIAS
    return replace(
        item,
        entity=entity._replace(label=label),
        refers_to=(party.label, party.text) if party is not None else None,
    )


def _covered(entity: Candidate, mentions: Sequence[_Mention]) -> bool:
    """A mention overlaps this candidate: the mention stands, unless the candidate is a value
    or a whole legal name."""
    if entity.label in VALUE_LABELS or entity.rule == LEGAL_NAME_RULE:
        return False
    return any(m.start < entity.end and entity.start < m.end for m in mentions)


def _mentions(
    text: str,
    definitions: Sequence[Definition],
    merged: Sequence[Merged],
    lowered: frozenset[str],
    sites: set[tuple[int, int]],
    places: Places | None = None,
) -> list[_Mention]:
    """Later mentions of the parties' terms and short names, longest first where they overlap."""
    # Values stand, and so do whole legal names: "Antares Pharma, Inc." is not cut to "Antares".
    values = [
        (m.entity.start, m.entity.end)
        for m in merged
        if m.entity.label in VALUE_LABELS or m.entity.rule == LEGAL_NAME_RULE
    ]
    wanted: list[tuple[int, int, str, Definition | None, Candidate | None]] = []
    for definition in definitions:
        if definition.kind not in ("role", "name"):
            continue
        if definition.kind == "name":
            label = definition.party.label if definition.party is not None else ORG
        else:
            label = ALIAS
        for start, end in _occurrences(text, _core(definition.term), definition.end):
            if definition.distributive and not _DISTRIBUTIVE_BEFORE.search(text[max(0, start - 12) : start]):
                continue
            wanted.append((start, end, label, definition, definition.party))
    for party in _parties(text, merged, definitions):
        for short in _short_names(party.text, lowered, places):
            for start, end in _occurrences(text, short, 0):
                if _continues_name(text, end):
                    continue
                wanted.append((start, end, party.label, None, party))
    named = [(d.start, d.end) for d in definitions if d.kind == "name"]
    chosen: list[_Mention] = []
    for start, end, label, found_in, of_party in sorted(wanted, key=lambda w: (-(w[1] - w[0]), w[0])):
        if (start, end) in sites or any(s < end and start < e for s, e in values):
            continue
        if any(s <= start and end <= e for s, e in named):
            continue  # a word of a name a definition gives ("Bank" of "Bank of America")
        if any(m.start < end and start < m.end for m in chosen):
            continue
        if of_party is not None and of_party.start <= start and end <= of_party.end:
            continue  # inside the party's own full name
        chosen.append(_Mention(start, end, label, found_in, of_party))
    return sorted(chosen, key=lambda m: m.start)


def _parties(text: str, merged: Sequence[Merged], definitions: Sequence[Definition]) -> list[Candidate]:
    """Parties whose short names stand for them: whole legal names (``… Inc.``), the rules' or
    a definition's; not a kind of company in a place (``a Virginia Corporation``)."""
    found = {
        d.party
        for d in definitions
        if d.party is not None and d.kind in ("role", "name") and _LEGAL_FORM.search(d.party.text)
    }
    found |= {m.entity for m in merged if m.entity.label == ORG and m.entity.rule == LEGAL_NAME_RULE}
    return sorted(
        (
            party
            for party in found
            if not (
                _PLACE_FORM.fullmatch(party.text)
                and _INDEFINITE_BEFORE.search(text, max(0, party.start - 4), party.start)
            )
        ),
        key=lambda c: (c.start, c.end),
    )


def _short_names(name: str, lowered: frozenset[str], places: Places | None = None) -> list[str]:
    """The name without its legal form, and its leading words, where its first word is not a
    word of the running text (``Antares`` of ``Antares Pharma, Inc.``; not ``Network`` of
    ``Network 1 Financial``), nor a place's name (``Beijing`` of ``Beijing Tuniu Technology
    Co., Ltd.``)."""
    core = _LEGAL_FORM.split(_core(name))[0].strip(" ,.\n")
    words = core.split()
    if not words or words[0].lower() in lowered or _POSSESSIVE.sub("", words[0]).lower() in lowered:
        return []
    if len(_letters(words[0])) < 3:
        return []
    shorts = [" ".join(words[:count]) for count in range(len(words), 0, -1)]
    return [short for short in shorts if places is None or places.kind(short) is None]


def _continues_name(text: str, end: int) -> bool:
    """A capitalised word follows: the match is the start of a longer name (``United`` of
    ``United States``)."""
    return bool(re.match(r"[ \t]+[A-Z][\w&-]", text[end : end + 3]))


def _mention_row(text: str, mention: _Mention, merged: Sequence[Merged]) -> Merged:
    sources = sorted(
        {RESOLVER} | {m.entity.source for m in merged if m.entity.start < mention.end and mention.start < m.entity.end}
    )
    rule = "defined-term" if mention.definition is not None else "party-name"
    candidate = Candidate(
        mention.start,
        mention.end,
        text[mention.start : mention.end],
        mention.label,
        None,
        RESOLVER,
        "contracts",
        "1",
        0,
        rule,
    )
    party = mention.party
    return Merged(candidate, tuple(sources), (party.label, party.text) if party is not None else None)
