"""What every NER backend hands back: candidate spans with character offsets into the text
it was given, and who proposed them. The merge step picks among overlapping candidates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

SOURCE_SPACY = "spacy"
SOURCE_TRANSFORMERS = "transformers"
SOURCE_RULES = "rules"
SOURCE_PII = "pii"


class Candidate(NamedTuple):
    start: int  # character offsets into the text given to the backend: text[start:end] == self.text
    end: int
    text: str
    label: str
    score: float | None  # model probability in [0, 1]; a rule's configured score; None when unknown
    source: str  # SOURCE_SPACY, SOURCE_TRANSFORMERS, SOURCE_RULES or SOURCE_PII
    model: str  # model name, or the rule set's name
    model_version: str
    priority: int = 0  # rules: the rule's configured priority (higher wins); models: 0
    rule: str | None = None  # rules: the id of the rule that matched


class NerBackend(Protocol):
    """A loaded backend, held once per Python worker."""

    source: str
    model: str
    model_version: str

    def recognize(self, texts: Sequence[str]) -> list[list[Candidate]]:
        """Candidates of each text, offsets into that text, sorted by (start, end, label)."""
        ...
