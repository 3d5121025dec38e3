"""Redacted page text: which spans of a document go, what replaces them, and where they were.

A document's PII entities (``udfs.ner``: the pii backend's labels, PERSON) are replaced on
each page by their label's action (:data:`ACTIONS`):

- ``mask``: ``█`` for every character but line breaks, so the offsets stay those of the page;
- ``label``: ``[EMAIL]``;
- ``hash``: ``[PERSON:3f9a1c2b7d0e]``, a keyed HMAC-SHA256 of the label and the value
  (case and spacing folded), the same token for the same value across the lake; the key
  comes from the environment or a file on the driver and is never written anywhere;
- ``keep``: left as it is.

With ``propagate``, every other whole-word occurrence of a redacted value in the same
document is redacted as well (``source="propagated"``): a name the model tagged once and
missed twice must not be left in the text. Each redacted piece keeps the map to its original
offsets (``RedactedPage.spans``) and becomes one audit row (``Redaction``) without the text.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from udfs.ner.backends.pii import PII_LABELS

MASK = "█"
ACTIONS = ("mask", "label", "hash", "keep")
# The labels that are personal data: each needs an action (redact.policy), so none is kept by omission.
REDACT_LABELS: tuple[str, ...] = ("PERSON", *PII_LABELS)
SOURCE_PROPAGATED = "propagated"
MIN_KEY_BYTES = 16
MIN_PROPAGATED_CHARS = 3  # shorter values ("Al") are not searched for elsewhere in the text
HASH_HEX_CHARS = 12


class RedactionKeyError(ValueError):
    """The hash action has no usable key."""


@dataclass(frozen=True)
class RedactOptions:
    """The ``redact`` settings the workers use."""

    policy: tuple[tuple[str, str], ...] = ()  # (label, action); labels not listed are kept
    propagate: bool = True  # redact the other occurrences of a redacted value in the document
    key: bytes | None = field(default=None, repr=False)  # the HMAC key, when an action is hash

    def __post_init__(self) -> None:
        bad = sorted({action for _, action in self.policy} - set(ACTIONS))
        if bad:
            raise ValueError(f"unknown redaction action(s) {', '.join(bad)} (actions: {', '.join(ACTIONS)})")
        if self.uses_hash and (self.key is None or len(self.key) < MIN_KEY_BYTES):
            raise RedactionKeyError(f"the hash action needs a key of at least {MIN_KEY_BYTES} bytes")

    @property
    def actions(self) -> dict[str, str]:
        return dict(self.policy)

    @property
    def uses_hash(self) -> bool:
        return any(action == "hash" for _, action in self.policy)

    @property
    def redacted_labels(self) -> frozenset[str]:
        return frozenset(label for label, action in self.policy if action != "keep")


def key_fingerprint(key: bytes) -> str:
    """A short id of the key (an HMAC of a constant): it tells keys apart in a stage version
    without revealing anything about the key."""
    return hmac.new(key, b"docner redaction key id", hashlib.sha256).hexdigest()[:12]


def fold(value: str) -> str:
    """The form a value is hashed in: case and runs of whitespace folded."""
    return " ".join(value.split()).casefold()


def replacement(label: str, action: str, value: str, key: bytes | None) -> str:
    """What replaces ``value`` (a whole entity, or its part on one page for ``mask``)."""
    if action == "mask":
        return "".join(char if char in "\r\n" else MASK for char in value)
    if action == "label":
        return f"[{label}]"
    if action == "hash":
        if key is None:
            raise RedactionKeyError("the hash action needs a key")
        digest = hmac.new(key, f"{label}\x00{fold(value)}".encode(), hashlib.sha256).hexdigest()
        return f"[{label}:{digest[:HASH_HEX_CHARS]}]"
    if action == "keep":
        return value
    raise ValueError(f"unknown redaction action {action!r} (actions: {', '.join(ACTIONS)})")


@dataclass(frozen=True)
class Target:
    """A span of the document text to redact, before it is cut into pages."""

    doc_start: int
    doc_end: int
    label: str
    action: str
    value: str  # the whole value (never stored): what a hash token is made from
    source: str  # the entity's backend, or "propagated"
    rule: str | None = None
    score: float | None = None
    entity_id: str | None = None


@dataclass(frozen=True)
class PageText:
    page_no: int
    doc_start: int  # where the page's text starts in the document text
    text: str


@dataclass(frozen=True)
class Piece:
    """One redacted stretch of one page: original offsets → offsets in the redacted text."""

    start: int
    end: int
    redacted_start: int
    redacted_end: int


@dataclass(frozen=True)
class Redaction:
    """The audit row of one redacted piece (a target's part on one page): never its text."""

    page_no: int
    start: int  # into the page's original text
    end: int
    redacted_start: int  # into the page's redacted text
    redacted_end: int
    doc_start: int
    doc_end: int
    label: str
    action: str
    source: str
    rule: str | None
    score: float | None
    entity_id: str | None


@dataclass(frozen=True)
class RedactedPage:
    page_no: int
    text: str
    spans: tuple[Piece, ...]  # sorted; outside them the texts match, shifted


def to_redacted(spans: Sequence[Piece], offset: int) -> int:
    """Where an original page offset lands in the redacted text (an offset inside a redacted
    piece lands at the piece's start)."""
    shift = 0
    for piece in spans:
        if offset < piece.end:
            return piece.redacted_start if offset > piece.start else offset + shift
        shift = piece.redacted_end - piece.end
    return offset + shift


def whole_word(value: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in value.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def propagated(text: str, targets: Sequence[Target]) -> list[Target]:
    """Other whole-word occurrences of the targets' values in ``text``, not overlapping any
    target, longest values first (so "Jane Doe" wins over "Jane")."""
    taken = sorted((t.doc_start, t.doc_end) for t in targets)
    found: list[Target] = []
    seen: set[tuple[str, str]] = set()
    for target in sorted(targets, key=lambda t: -len(t.value)):
        key = (target.label, fold(target.value))
        if key in seen or len(key[1]) < MIN_PROPAGATED_CHARS:
            continue
        seen.add(key)
        for match in whole_word(target.value).finditer(text):
            start, end = match.span()
            if any(s < end and start < e for s, e in taken):
                continue
            taken.append((start, end))
            found.append(Target(start, end, target.label, target.action, target.value, SOURCE_PROPAGATED))
    return found


def _without_overlaps(targets: Iterable[Target]) -> list[Target]:
    """Targets sorted by start; of overlapping ones the earlier (then longer) one is kept and
    the later one cut to what lies after it, so every character is replaced once."""
    kept: list[Target] = []
    for target in sorted(targets, key=lambda t: (t.doc_start, -t.doc_end)):
        if kept and target.doc_start < kept[-1].doc_end:
            if target.doc_end <= kept[-1].doc_end:
                continue
            target = Target(**{**target.__dict__, "doc_start": kept[-1].doc_end})
        kept.append(target)
    return kept


def redact_document(
    text: str, pages: Sequence[PageText], targets: Sequence[Target], options: RedactOptions
) -> tuple[list[RedactedPage], list[Redaction]]:
    """Every page's redacted text and the audit rows of what was redacted on it. ``targets``
    carry offsets into the document ``text`` that ``pages`` are slices of; a target across a
    page break is redacted on each page it touches."""
    chosen = [t for t in targets if t.action != "keep"]
    if options.propagate and chosen:
        chosen += propagated(text, chosen)
    ordered = _without_overlaps(chosen)
    out_pages: list[RedactedPage] = []
    rows: list[Redaction] = []
    for page in pages:
        page_end = page.doc_start + len(page.text)
        parts: list[str] = []
        spans: list[Piece] = []
        cursor = 0
        for target in ordered:
            start, end = max(target.doc_start, page.doc_start), min(target.doc_end, page_end)
            if start >= end:
                continue
            start, end = start - page.doc_start, end - page.doc_start
            parts.append(page.text[cursor:start])
            redacted_start = sum(len(part) for part in parts)
            value = page.text[start:end] if target.action == "mask" else target.value
            parts.append(replacement(target.label, target.action, value, options.key))
            redacted_end = redacted_start + len(parts[-1])
            cursor = end
            spans.append(Piece(start, end, redacted_start, redacted_end))
            rows.append(
                Redaction(
                    page.page_no, start, end, redacted_start, redacted_end,
                    start + page.doc_start, end + page.doc_start,
                    target.label, target.action, target.source, target.rule, target.score, target.entity_id,
                )
            )  # fmt: skip
        parts.append(page.text[cursor:])
        out_pages.append(RedactedPage(page.page_no, "".join(parts), tuple(spans)))
    return out_pages, rows


def pages_of(text: str, pages: Iterable[tuple[int, int, int]]) -> list[PageText]:
    """(page_no, start, end) of each page in the document text (``jobs.lake.views.document_text``)
    → the pages with their text."""
    return [PageText(page_no, start, text[start:end]) for page_no, start, end in sorted(pages)]


def targets_of(entities: Iterable[Mapping[str, object]], actions: Mapping[str, str]) -> list[Target]:
    """The entities rows (dicts with doc_start, doc_end, label, text, source, rule, score,
    entity_id) whose label has an action other than keep."""
    targets = []
    for entity in entities:
        label = str(entity["label"])
        action = actions.get(label, "keep")
        if action == "keep":
            continue
        score = entity.get("score")
        targets.append(
            Target(
                int(entity["doc_start"]),  # type: ignore[call-overload]
                int(entity["doc_end"]),  # type: ignore[call-overload]
                label,
                action,
                str(entity["text"]),
                str(entity["source"]),
                None if entity.get("rule") is None else str(entity["rule"]),
                None if score is None else float(score),  # type: ignore[arg-type]
                None if entity.get("entity_id") is None else str(entity["entity_id"]),
            )
        )
    return targets
