"""Label profiles: which labels a use of docner wants, and whether contracts are resolved.

One registry, ``PROFILES``; ``ner.profile`` names one. ``ner.labels``, when set, overrides the
profile's labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from udfs.ner.backends.pii import PII_LABELS


@dataclass(frozen=True)
class Profile:
    name: str
    labels: frozenset[str] | None  # None: every label the backends produce
    resolve: bool  # run udfs.ner.resolve (definitions, parties, document evidence, shapes)
    description: str


CONTRACT_LABELS = frozenset(
    {
        "ORG", "PERSON", "GPE", "LOC", "DATE", "MONEY", "PERCENT", "DURATION", "LAW",
        "ALIAS", "SECTION_REF", "DEFINED_TERM", "PRODUCT_CODE",
        *PII_LABELS,  # found only when the pii backend runs
    }
)  # fmt: skip

PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            "contracts",
            CONTRACT_LABELS,
            True,
            "parties, places, dates, amounts, laws, references and defined terms of contracts, resolved",
        ),
        Profile(
            "ontonotes", None, False, "every label of the backends (OntoNotes' 18 for spaCy), as they propose them"
        ),
    )
}
PROFILE_NAMES = tuple(PROFILES)
DEFAULT_PROFILE = "contracts"


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown NER profile {name!r} (profiles: {', '.join(PROFILE_NAMES)})") from None
