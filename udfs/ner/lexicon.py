"""A lexicon learned from a collection of documents: the evidence of many contracts, for one.

One contract may never write "affiliates" in lower case, or never define "Territory"; a
hundred contracts do. Two lists are learned, each kept when at least ``min_documents``
documents show it:

- ``lower_words``: words written in lower case in running text (``services``, ``company``);
- ``defined_terms``: capitalised phrases set in quotes, the way contracts define their terms
  (``"Affiliate"``, ``"Confidential Information"``), folded.

``udfs.ner.resolve`` reads a model's ORG, PERSON or place made only of such words, or equal to
such a term, as a common noun or a defined term, as it does with one document's own evidence;
the parties' own names and defined short names are decided by the document alone. The lexicon
is a JSON file (``docner lexicon`` writes it from a lake; ``ner.lexicon`` names it), and its
digest is part of the NER stage version.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = "docner-lexicon/1"
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_QUOTED = re.compile(r'["“]([^"“”\n]{1,80}?)[.,;:]?["”]')


class LexiconError(ValueError):
    """A lexicon file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Lexicon:
    lower_words: frozenset[str]
    defined_terms: frozenset[str]  # casefolded
    documents: int  # how many documents it was learned from
    min_documents: int
    digest: str  # sha256 of the file's content, for the NER stage version


_ADDRESS = re.compile(r"\S*(?:@|://|www\.|\w\.(?:com|net|org|gov|edu|io|co)\b)\S*", re.IGNORECASE)
_POSSESSIVE = re.compile(r"['’]s$")
_QUOTED_SHORT = re.compile(r'["“][^"“”\n]{1,40}["”]')


def running_words(text: str) -> set[str]:
    """The words a text writes in lower case in its running text: not in web or e-mail
    addresses ("union.baidu.com"), nor quoted as a mark or a term ("baidu")."""
    running = _QUOTED_SHORT.sub(" ", _ADDRESS.sub(" ", text))
    return {_POSSESSIVE.sub("", word) for word in WORD.findall(running) if word.islower()}


def quoted_terms(text: str) -> set[str]:
    """The capitalised phrases a text sets in quotes: its defined terms, wherever defined."""
    return {m[1] for m in _QUOTED.finditer(text) if m[1][:1].isupper()}


def document_words(text: str) -> tuple[set[str], set[str]]:
    """The lower-case words of one text, and its quoted capitalised phrases (folded)."""
    lower = running_words(text)
    # Abbreviations ("FDA", "PRC") are names as often as terms: a lexicon does not judge them.
    terms = {term.strip().casefold() for term in quoted_terms(text) if not term.isupper()}
    return lower, terms


def learn(texts: Iterable[str], min_documents: int) -> dict[str, Any]:
    """The lexicon of ``texts`` (one per document) as JSON-ready data."""
    if min_documents < 1:
        raise ValueError("min_documents must be at least 1")
    lower: Counter[str] = Counter()
    terms: Counter[str] = Counter()
    documents = 0
    for text in texts:
        words, quoted = document_words(text)
        lower.update(words)
        terms.update(quoted)
        documents += 1
    return {
        "format": FORMAT,
        "documents": documents,
        "min_documents": min_documents,
        "lower_words": sorted(word for word, count in lower.items() if count >= min_documents),
        "defined_terms": sorted(term for term, count in terms.items() if count >= min_documents),
    }


def write_lexicon(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")


def load_lexicon(path: Path) -> Lexicon:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LexiconError(f"{path}: cannot read lexicon: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LexiconError(f"{path}: not a JSON lexicon ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise LexiconError(f'{path}: not a docner lexicon (expected "format": "{FORMAT}"; `docner lexicon` writes one)')
    for key in ("lower_words", "defined_terms"):
        values = data.get(key)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise LexiconError(f"{path}: {key} must be a list of strings")
    for key in ("documents", "min_documents"):
        if not isinstance(data.get(key), int) or data[key] < 0:
            raise LexiconError(f"{path}: {key} must be a non-negative integer")
    return Lexicon(
        frozenset(data["lower_words"]),
        frozenset(term.casefold() for term in data["defined_terms"]),
        data["documents"],
        data["min_documents"],
        hashlib.sha256(raw).hexdigest()[:16],
    )
