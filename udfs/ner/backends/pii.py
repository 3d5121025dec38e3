"""PII NER backend: Microsoft Presidio's analyzer recognizers, offline, as docner labels.

Presidio (``presidio-analyzer``) brings recognizers that are well kept and validated: Luhn for
card numbers, mod-97 for IBANs, the ABA checksum for routing numbers, Google's
``phonenumbers`` for phones, the invalid SSN ranges; each has context words ("routing",
"social security") that raise a match's score when they stand in the five words before it.
This backend runs a chosen subset of them (``ner.pii.labels``; :data:`RECOGNIZERS` is the one
registry of what each label is made of), adds what Presidio lacks (US EINs, street addresses,
dates of birth: pattern recognizers built here the same way), and hands the matches to the
merge step as candidates (source ``pii``). PERSON, signatories' names included, comes from
the spaCy backend and the rules, not from here.

Formats that many harmless numbers share need their context: a nine-digit number passes the
ABA checksum one time in ten, any eight to seventeen digits look like a bank account, any
date like a date of birth, a section number like an IPv4 address, ten bare digits like a
phone number. For the labels of ``context_required``, and for a match that does not fit its
label's ``shape`` (a phone number not written as one: :data:`PHONE_SHAPE`), a match is kept only
when one of its label's context words (its recognizers', or the spec's own: :data:`PHONE_WORDS`,
:data:`IP_WORDS`) starts one of the :data:`CONTEXT_WORDS` words before it, on its line or the
one before. A match of its label's shape stands as it is; the other matches need
``min_score``, after the context step.

The context step is this module's, not Presidio's: Presidio's needs an NLP pipeline's lemmas
(a spaCy run on every text, three times the cost of the recognizers themselves, and its lemmas
miss words: ``born`` is ``bear``), and it skips a match whose checksum passed. Here a context
word raises a match's score as Presidio's ``LemmaContextAwareEnhancer`` would (by 0.35, to at
least 0.4) unless its checksum already made it certain, and Presidio runs with its ``no_op``
NLP engine. Everything is offline: ``tldextract`` (the e-mail recognizer's domain check) is
held to its bundled public-suffix snapshot instead of fetching the list from the web.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from udfs.errors import ModelUnavailable
from udfs.model_cache import get_model
from udfs.ner.backends import Described
from udfs.ner.entities import SOURCE_PII, Candidate

MODEL = "presidio-analyzer"
CONTEXT_WORDS = 6  # words before a match that may hold its context word
# A context word raises a match's score as Presidio's LemmaContextAwareEnhancer does: by this,
# to at least that.
CONTEXT_BOOST, CONTEXT_FLOOR = 0.35, 0.4
# A phone number's own words (not Presidio's "number": "account number"), and the shape of one
# written as such: digit groups with separators or brackets, "617.253.1000", "(617) 253-1000",
# "+44 20 7946 0958"; not "13.1-564" (a section) or "26356633.19" (a document number).
PHONE_WORDS = ("phone", "telephone", "tel", "fax", "facsimile", "mobile", "cell", "call", "contact")
PHONE_SHAPE = r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)|\d{2,4})[ .-]?\d{3,4}[ .-]\d{3,4}"
# A routing number's words: Presidio's, and how payment instructions name one ("ACH: 021000322").
ROUTING_WORDS = ("aba", "routing", "abarouting", "association", "bankrouting", "ach", "wire", "transit")
# Where an IPv4 address can be told from a section number (4.1.3.2) only by its words.
IP_WORDS = ("ip", "ipv4", "ipv6", "address", "server", "host", "network", "gateway", "subnet", "router")
_WORD = re.compile(r"[^\W\d_]+")

# Dates as contracts and forms write them (for dates of birth).
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
    r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DATE_PATTERNS = (
    ("numeric date", r"\b(?:0?[1-9]|1[0-2])[/.-](?:0?[1-9]|[12]\d|3[01])[/.-](?:19|20)\d{2}\b"),
    ("ISO date", r"\b(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\b"),
    ("month day, year", rf"\b{_MONTH}\s+(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?,?\s+(?:19|20)\d{{2}}\b"),
    ("day month year", rf"\b(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(?:19|20)\d{{2}}\b"),
)
# A US street address: a number, an optional direction, one to four name words and a street
# type, an optional unit; then, on the same line or the next (OCR may put a blank line between),
# optionally the city, the state (code or name) and the ZIP code. Or a post office box.
_STREET_TYPE = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Drive|Dr|Lane|Ln|Way|Court|Ct|Place|Pl|Parkway|Pkwy|"
    r"Highway|Hwy|Circle|Cir|Terrace|Ter|Square|Sq|Trail|Trl|Plaza|Pike|Alley|Row)"
)
_STREET = (
    r"\b\d{1,6}(?:-\d{1,4})?[A-Z]?[ \t]+(?:[NSEW]\.?[ \t]+)?"
    r"(?:(?:\d{1,3}(?:st|nd|rd|th)|[A-Z][A-Za-z'’-]+)\.?[ \t]+){1,4}"
    rf"{_STREET_TYPE}\b\.?"
    r"(?:,?[ \t]+(?:Suite|Ste|Apt|Apartment|Unit|Floor|Fl|Room|Rm|#)\.?[ \t]*#?[\w-]+)?"
)
_CITY_STATE_ZIP = (
    r"(?:,?[ \t]*(?:\n[ \t]*){0,2}[A-Z][A-Za-z.'’-]+(?:[ \t]+[A-Z][A-Za-z.'’-]+){0,3},?[ \t]+"
    r"(?:[A-Z]{2}|[A-Z][a-z]+(?:[ \t]+[A-Z][a-z]+)?)[ \t]+\d{5}(?:-\d{4})?\b)?"
)
_ADDRESS_PATTERNS = (
    ("street address", _STREET + _CITY_STATE_ZIP),
    ("post office box", r"\bP\.?[ \t]?O\.?[ \t]+Box[ \t]+\d{1,6}\b" + _CITY_STATE_ZIP),
)


def _email(api: Any) -> list[Any]:
    return [api.EmailRecognizer()]


def _phone(api: Any) -> list[Any]:
    return [api.PhoneRecognizer(supported_regions=("US", "CA", "GB", "IE", "DE", "FR", "NL", "CH", "AU", "IN"))]


def _ssn(api: Any) -> list[Any]:
    return [api.UsSsnRecognizer()]


def _itin(api: Any) -> list[Any]:
    return [api.UsItinRecognizer()]


def _ein(api: Any) -> list[Any]:
    # Presidio's provider tax-id recognizer holds the EIN shape with the IRS's valid prefixes.
    weak = [p for p in api.UsProviderTaxIdRecognizer.PATTERNS if "weak" in p.name.lower()]
    patterns = [api.Pattern("EIN", p.regex, 0.1) for p in weak]
    context = ["ein", "employer", "identification", "tax", "taxpayer", "tin", "federal", "fein", "irs"]
    return [
        api.PatternRecognizer(supported_entity="US_EIN", name="UsEinRecognizer", patterns=patterns, context=context)
    ]


def _iban(api: Any) -> list[Any]:
    return [api.IbanRecognizer()]


def _card(api: Any) -> list[Any]:
    return [api.CreditCardRecognizer()]


def _bank_account(api: Any) -> list[Any]:
    return [api.UsBankRecognizer()]


def _routing(api: Any) -> list[Any]:
    return [api.AbaRoutingRecognizer()]


def _ip(api: Any) -> list[Any]:
    return [api.IpRecognizer()]


def _birth(api: Any) -> list[Any]:
    patterns = [api.Pattern(name, regex, 0.1) for name, regex in _DATE_PATTERNS]
    context = ["birth", "born", "dob", "birthday", "birthdate"]
    return [api.PatternRecognizer(supported_entity="DATE_OF_BIRTH", name="DateOfBirthRecognizer", patterns=patterns,
                                  context=context)]  # fmt: skip


def _address(api: Any) -> list[Any]:
    patterns = [api.Pattern(name, regex, 0.6) for name, regex in _ADDRESS_PATTERNS]
    context = ["address", "located", "residing", "resides", "office", "business", "notices", "mail"]
    # Case matters here (a street's name is capitalised), where Presidio ignores it by default.
    return [api.PatternRecognizer(supported_entity="STREET_ADDRESS", name="StreetAddressRecognizer",
                                  patterns=patterns, context=context, global_regex_flags=re.MULTILINE)]  # fmt: skip


@dataclass(frozen=True)
class PiiLabel:
    label: str  # the docner label
    entity: str  # the entity name its recognizers report
    build: Callable[[Any], list[Any]]  # the recognizers, from the presidio_analyzer API namespace
    context: tuple[str, ...] | None = None  # its context words; None: its recognizers'
    shape: str | None = None  # a match of another shape stands only with a context word


RECOGNIZERS: dict[str, PiiLabel] = {
    spec.label: spec
    for spec in (
        PiiLabel("EMAIL", "EMAIL_ADDRESS", _email),
        PiiLabel("PHONE", "PHONE_NUMBER", _phone, PHONE_WORDS, PHONE_SHAPE),
        PiiLabel("US_SSN", "US_SSN", _ssn),
        PiiLabel("US_ITIN", "US_ITIN", _itin),
        PiiLabel("US_EIN", "US_EIN", _ein),
        PiiLabel("IBAN", "IBAN_CODE", _iban),
        PiiLabel("CREDIT_CARD", "CREDIT_CARD", _card),
        PiiLabel("BANK_ACCOUNT", "US_BANK_NUMBER", _bank_account),
        PiiLabel("ROUTING_NUMBER", "ABA_ROUTING_NUMBER", _routing, ROUTING_WORDS),
        PiiLabel("IP_ADDRESS", "IP_ADDRESS", _ip, IP_WORDS),
        PiiLabel("DATE_OF_BIRTH", "DATE_OF_BIRTH", _birth),
        PiiLabel("STREET_ADDRESS", "STREET_ADDRESS", _address),
    )
}
PII_LABELS: tuple[str, ...] = tuple(RECOGNIZERS)


@dataclass(frozen=True)
class PiiOptions:
    """The ``ner.pii`` settings."""

    labels: tuple[str, ...] | None = None  # the PII labels looked for; None: all of RECOGNIZERS
    min_score: float = 0.5  # Presidio's score after context: lower matches are dropped (context_required: see there)
    # Labels kept only with a supporting context word before them (shapes many harmless values share)
    context_required: tuple[str, ...] = (
        "US_EIN", "US_ITIN", "BANK_ACCOUNT", "ROUTING_NUMBER", "DATE_OF_BIRTH", "IP_ADDRESS"
    )  # fmt: skip

    def __post_init__(self) -> None:
        unknown = sorted(set(self.labels or ()) - set(RECOGNIZERS)) + sorted(
            set(self.context_required) - set(RECOGNIZERS)
        )
        if unknown:
            raise ValueError(f"unknown PII label(s) {', '.join(unknown)} (labels: {', '.join(PII_LABELS)})")
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score must be in [0, 1] (got {self.min_score})")

    @property
    def chosen(self) -> tuple[str, ...]:
        return self.labels if self.labels is not None else PII_LABELS


def _offline_tldextract() -> None:
    """The e-mail recognizer's tldextract uses its bundled public-suffix snapshot: no fetch from
    the web (which would hang on a network that drops packets), no cache written to disk."""
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    import tldextract
    import tldextract.tldextract as module

    module.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@dataclass
class LoadedPii:
    analyzer: Any
    entities: dict[str, str]  # Presidio entity -> docner label
    context: dict[str, tuple[str, ...]]  # docner label -> its recognizers' context words
    version: str


def has_context(text: str, start: int, words: Sequence[str]) -> bool:
    """One of the ``CONTEXT_WORDS`` words before ``start`` (on its line or the one before)
    starts with one of ``words``."""
    line_start = text.rfind("\n", 0, start) + 1  # 0: the first line
    previous_line = text.rfind("\n", 0, line_start - 1) + 1 if line_start > 0 else 0
    before = text[max(previous_line, start - 200) : start].casefold()
    return any(word.startswith(words) for word in _WORD.findall(before)[-CONTEXT_WORDS:])


def _version(options: PiiOptions, presidio: str) -> str:
    """Presidio's version and a digest of what is looked for (labels, patterns, thresholds)."""
    content = {
        "labels": list(options.chosen),
        "min_score": options.min_score,
        "context_required": sorted(options.context_required),
        "patterns": [_DATE_PATTERNS, _ADDRESS_PATTERNS],
        "context": [CONTEXT_WORDS, CONTEXT_BOOST, CONTEXT_FLOOR],
        "words": {label: [spec.context, spec.shape] for label, spec in RECOGNIZERS.items()},
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:12]
    return f"{presidio} {digest}"


def _load(options: PiiOptions) -> LoadedPii:
    _offline_tldextract()
    try:
        import presidio_analyzer
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer import predefined_recognizers as predefined
        from presidio_analyzer.nlp_engine import NoOpNlpEngine
    except ImportError as exc:
        raise ModelUnavailable(f"the pii backend needs presidio-analyzer ({exc}); `make venv` installs it") from None
    from importlib.metadata import version

    api = _Api(predefined, presidio_analyzer)
    engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])  # context: this module's
    registry = RecognizerRegistry(supported_languages=["en"])
    for label in options.chosen:
        for recognizer in RECOGNIZERS[label].build(api):
            registry.add_recognizer(recognizer)
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
    entities = {RECOGNIZERS[label].entity: label for label in options.chosen}
    context: dict[str, tuple[str, ...]] = {}
    for recognizer in registry.recognizers:
        owner = entities.get(recognizer.supported_entities[0])
        if owner is not None:
            context[owner] = tuple(sorted({*context.get(owner, ()), *(w.casefold() for w in recognizer.context or ())}))
    context.update({label: spec.context for label, spec in RECOGNIZERS.items() if spec.context is not None})
    return LoadedPii(analyzer, entities, context, _version(options, version("presidio-analyzer")))


class _Api:
    """The names the recognizer builders use, from Presidio's modules."""

    def __init__(self, predefined: Any, root: Any) -> None:
        self._predefined = predefined
        self._root = root

    def __getattr__(self, name: str) -> Any:
        return getattr(self._predefined, name, None) or getattr(self._root, name)


class PiiBackend:
    """A :class:`udfs.ner.entities.NerBackend` over a loaded Presidio analyzer."""

    source = SOURCE_PII
    model = MODEL

    def __init__(self, loaded: LoadedPii, options: PiiOptions) -> None:
        self.loaded = loaded
        self.options = options
        self.model_version = loaded.version
        self._need_context = frozenset(options.context_required)

    def recognize(self, texts: Sequence[str]) -> list[list[Candidate]]:
        """Candidates of each text, offsets into that text, sorted by (start, end, label)."""
        results: list[list[Candidate]] = []
        for text in texts:
            found: dict[tuple[int, int, str], Candidate] = {}
            if text and not text.isspace():
                for match in self.loaded.analyzer.analyze(
                    text, language="en", entities=list(self.loaded.entities), score_threshold=0.0,
                    return_decision_process=True,
                ):  # fmt: skip
                    candidate = self._candidate(text, match)
                    if candidate is None:
                        continue
                    key = (candidate.start, candidate.end, candidate.label)
                    if key not in found or (candidate.score or 0) > (found[key].score or 0):
                        found[key] = candidate
            results.append([found[key] for key in sorted(found)])
        return results

    def _candidate(self, text: str, match: Any) -> Candidate | None:
        label = self.loaded.entities.get(match.entity_type)
        if label is None:
            return None
        explanation = match.analysis_explanation
        score = float(match.score)
        context = has_context(text, match.start, self.loaded.context.get(label, ()))
        if context and not (explanation is not None and explanation.validation_result):
            score = min(1.0, max(score + CONTEXT_BOOST, CONTEXT_FLOOR))
        shape = RECOGNIZERS[label].shape
        if label in self._need_context or (
            shape is not None and not re.fullmatch(shape, text[match.start : match.end])
        ):
            if not context:
                return None
        elif shape is None and score < self.options.min_score:
            return None  # a match of its label's shape (a phone number written as one) stands as it is
        start, end = match.start, match.end
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            return None
        rule = None
        if explanation is not None:
            rule = explanation.recognizer + (f"/{explanation.pattern_name}" if explanation.pattern_name else "")
        return Candidate(start, end, text[start:end], label, round(score, 4), SOURCE_PII, MODEL,
                         self.model_version, rule=rule)  # fmt: skip


# --- the backend contract (udfs.ner.backends) --------------------------------------------------

Options = PiiOptions


def prepare(options: PiiOptions, conf_dir: Path) -> PiiOptions:
    return options


def describe(options: PiiOptions, local: bool) -> Described:
    """Build the analyzer on the driver: a missing library or spaCy model fails the stage at once."""
    backend = load(options)
    return Described(f"{MODEL} {backend.model_version}", f"PII: {', '.join(options.chosen)}")


def load(options: PiiOptions) -> PiiBackend:
    loaded = get_model((SOURCE_PII, options), lambda: _load(options))
    return PiiBackend(loaded, options)
