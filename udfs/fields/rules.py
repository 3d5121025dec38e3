"""The fields stage's rules: the phrases of contract language that state each field.

They live in a YAML file of ``kind: fields`` beside the entity rules (``conf/rules/fields.yaml``;
the NER stage's rules backend skips it), read and checked once on the driver:

- ``patterns``: name -> Python ``re`` expression, one for each name in PATTERNS, with the named
  groups the finders take from it (a leading ``(?i)`` makes one ignore case);
- ``words``: name -> list of words, one for each name in WORDS;
- ``jurisdictions``: a place's short or formal name -> its plain English name (``PRC`` -> ``China``).

A file that lacks a pattern the finders read, or holds one they do not, is an error that names
the file and the pattern, so a misspelt name is never silently ignored.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

KIND = "fields"

# Every pattern the finders (udfs.fields.extract) read, with the named groups they take from it.
PATTERNS: dict[str, tuple[str, ...]] = {
    # the preamble
    "preamble_stop": (),
    "preamble_between": (),
    # document_title
    "title_word": (),
    "caps_title": (),
    "not_title": (),
    "heading_tail": (),
    "form_of": (),
    # party
    "between": (),
    "party_slot": (),
    "individual": (),
    "lower_name": ("name",),
    "address_word": (),
    "by_line": (),
    "line_lead": (),
    "signs_for": (),
    "name_lead": (),
    "form_tail": (),
    # dates
    "agreement_cue": (),
    "effective_defined": (),
    "effective_before": (),
    "signed_date": (),
    "agreement_strong": (),
    "document_noun": (),
    "dated": (),
    "that_certain": (),
    "effective_label": (),
    "effective_last_signed": (),
    "opening_verb": (),
    "this_before": (),
    "own_name_line": (),
    "other_label": (),
    "day_of": ("day",),
    "place_and_date": (),
    "signature_below": (),
    "labelled_numeric": ("date",),
    # term, renewal, notice
    "term_clause": (),
    "term_lead": (),
    "within": (),
    "not_term_sentence": (),
    "term_sentence": (),
    "term_defined": (),
    "term_noun": (),
    "term_noun_tail": (),
    "anniversary": ("ordinal", "number"),
    "not_term_tail": (),
    "perpetual": (),
    "until_terminated": (),
    "renewal": (),
    "renewal_frequency": ("word", "basis", "periods", "every", "unit", "thereafter"),
    "not_renewed": (),
    "bare_unit": ("unit",),
    "same_duration": (),
    "notice": (),
    "not_notice": (),
    "notice_after": (),
    "notice_subject": (),
    "renew_word": (),
    # expiration
    "expires_before": (),
    "ending_subject": (),
    "term_word": (),
    "no_later_than": (),
    "calendar_year_end": (),
    "expiry_label": (),
    "day_before_month": ("day",),
    "relative_to": ("anchor",),
    "anchor": (),
    "later_of": (),
    "earlier_of_termination": (),
    "agreement_anchor": (),
    # governing_law
    "law_clause": ("place",),
    "law_before": ("place",),
    "place_tail": (),
    "place_stop": (),
    "not_place": (),
    "federal_and_state": ("place",),
    "law_adjective": ("place",),
    "thereof": ("place",),
}
# Every word list the finders read.
WORDS = ("not_name_token", "form_words", "ordinal_years")


class FieldRulesError(ValueError):
    """A fields rule file that cannot be used; the message names the file and the problem."""


class FieldRulesFile(BaseModel):
    """A fields rule file as written in YAML."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    kind: Literal["fields"]
    name: Annotated[str, Field(min_length=1)]
    version: Annotated[str, Field(min_length=1)]
    patterns: dict[str, Annotated[str, Field(min_length=1)]]
    words: dict[str, list[Annotated[str, Field(min_length=1)]]]
    jurisdictions: dict[str, Annotated[str, Field(min_length=1)]] = Field(default_factory=dict)


@dataclass(frozen=True)
class FieldRules:
    """The compiled rules the finders read; ``digest`` (of the file's content) goes into the
    fields stage's version."""

    name: str
    version: str
    patterns: Mapping[str, re.Pattern[str]]
    words: Mapping[str, tuple[str, ...]]
    jurisdictions: Mapping[str, str]  # casefolded name -> plain English name
    source: str
    digest: str

    def __getitem__(self, name: str) -> re.Pattern[str]:
        return self.patterns[name]

    def word_set(self, name: str) -> frozenset[str]:
        return frozenset(self.words[name])


def fields_rule_file(path: Path | str) -> Path:
    """The fields rule file ``path`` names: the file itself, or the one ``kind: fields`` file of a
    rules directory (the entity rule files beside it are not read here)."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FieldRulesError(f"{path}: no such fields rule file or directory")
    found = [candidate for candidate in sorted(path.glob("*.yaml")) if _kind(candidate) == KIND]
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise FieldRulesError(f"{path}: expected one rule file of kind: {KIND} in this directory, found {names}")
    return found[0]


def _kind(path: Path) -> str | None:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None  # not this loader's to report: the entity rules' loader names the broken file
    return raw.get("kind") if isinstance(raw, dict) else None


def load_field_rules(path: Path | str) -> FieldRules:
    """Read, check and compile a fields rule file (or the one in a rules directory)."""
    path = fields_rule_file(path)
    try:
        content = path.read_bytes()
        raw = yaml.safe_load(content.decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FieldRulesError(f"{path}: cannot read fields rule file: {exc}") from None
    if not isinstance(raw, dict):
        raise FieldRulesError(f"{path}: expected a mapping with kind, name, version, patterns and words")
    try:
        spec = FieldRulesFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors())
        raise FieldRulesError(f"{path}: {problems}") from None
    _check_names(path, "pattern", spec.patterns, tuple(PATTERNS))
    _check_names(path, "word list", spec.words, WORDS)
    patterns = {name: _compile(path, name, spec.patterns[name]) for name in PATTERNS}
    return FieldRules(
        name=spec.name,
        version=spec.version,
        patterns=patterns,
        words={name: tuple(word.casefold() for word in spec.words[name]) for name in WORDS},
        jurisdictions={" ".join(k.casefold().split()): v for k, v in spec.jurisdictions.items()},
        source=str(path),
        digest=hashlib.sha256(content).hexdigest()[:16],
    )


def _check_names(path: Path, what: str, given: Mapping[str, object], wanted: Sequence[str]) -> None:
    missing = [name for name in wanted if name not in given]
    unknown = [name for name in given if name not in wanted]
    if missing or unknown:
        parts = [f"missing {what}s {missing}" if missing else "", f"unknown {what}s {unknown}" if unknown else ""]
        raise FieldRulesError(f"{path}: {'; '.join(p for p in parts if p)} (the finders read: {', '.join(wanted)})")


def _compile(path: Path, name: str, pattern: str) -> re.Pattern[str]:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise FieldRulesError(f"{path}: pattern {name!r}: {exc}") from None
    missing = [group for group in PATTERNS[name] if group not in compiled.groupindex]
    if missing:
        raise FieldRulesError(f"{path}: pattern {name!r}: the finders read the named groups {missing}, not in it")
    return compiled
