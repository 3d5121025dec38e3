"""Entity-level scores of predicted spans against gold spans, and the errors behind them.

The four schemes of SemEval-2013 task 9.1, as the ``nervaluate`` package computes them:

- ``strict``: a prediction counts when its boundaries and its label are the gold span's;
- ``exact``: boundaries equal, the label whatever it is;
- ``partial``: boundaries equal count 1, an overlap counts 0.5, the label whatever it is;
- ``type``: an overlap with the same label counts ("overlap precision / recall").

Each gold span and each prediction is matched at most once (overlaps: largest first).
Precision is matches / predictions, recall matches / gold spans. Per label, gold and
predictions are both restricted to the label; ``ALL`` is the micro average over every span,
``MACRO`` the mean of the labels' figures. Errors are named as in ``nervaluate``: ``missed``
(no prediction overlaps a gold span), ``spurious`` (no gold span overlaps a prediction),
``type`` (same boundaries, another label), ``boundary`` (same label, other boundaries) and
``boundary_type`` (an overlap with neither).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

Scheme = Literal["strict", "exact", "partial", "type"]
SCHEMES: tuple[Scheme, ...] = ("strict", "exact", "partial", "type")
ALL = "ALL"
MACRO = "MACRO"
ErrorKind = Literal["missed", "spurious", "type", "boundary", "boundary_type"]
ERROR_KINDS: tuple[ErrorKind, ...] = ("missed", "spurious", "type", "boundary", "boundary_type")


@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    label: str


@dataclass
class Counts:
    """Gold spans, predictions and matches (a float: ``partial`` counts half matches)."""

    gold: int = 0
    predicted: int = 0
    matched: float = 0.0

    def add(self, gold: int, predicted: int, matched: float) -> None:
        self.gold += gold
        self.predicted += predicted
        self.matched += matched

    @property
    def precision(self) -> float | None:
        return self.matched / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.matched / self.gold if self.gold else None

    @property
    def f1(self) -> float | None:
        return f1(self.precision, self.recall)


def f1(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None:
        return None
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def overlap(a: Span, b: Span) -> int:
    return max(0, min(a.end, b.end) - max(a.start, b.start))


def _greedy_overlaps(gold: Sequence[Span], predicted: Sequence[Span], same_label: bool) -> int:
    """One-to-one matches of overlapping spans, the largest overlaps first."""
    pairs = sorted(
        (-overlap(g, p), i, j)
        for i, g in enumerate(gold)
        for j, p in enumerate(predicted)
        if overlap(g, p) > 0 and (not same_label or g.label == p.label)
    )
    used_gold: set[int] = set()
    used_predicted: set[int] = set()
    for _, i, j in pairs:
        if i not in used_gold and j not in used_predicted:
            used_gold.add(i)
            used_predicted.add(j)
    return len(used_gold)


K = TypeVar("K", bound=Hashable)


def _common(gold: Iterable[K], predicted: Iterable[K]) -> tuple[int, Counter[K], Counter[K]]:
    """Matches of equal keys (as multisets) and what is left of each side."""
    left_gold, left_predicted = Counter(gold), Counter(predicted)
    common = left_gold & left_predicted
    return sum(common.values()), left_gold - common, left_predicted - common


def matched(gold: Sequence[Span], predicted: Sequence[Span], scheme: Scheme) -> float:
    """Matches of one document's predictions with its gold spans under ``scheme``."""
    if scheme == "strict":
        return float(_common(gold, predicted)[0])
    if scheme == "exact":
        return float(_common(((g.start, g.end) for g in gold), ((p.start, p.end) for p in predicted))[0])
    if scheme == "type":
        return float(_greedy_overlaps(gold, predicted, same_label=True))
    # partial: equal boundaries count 1; of the rest, overlaps count 0.5
    exact, left_gold, left_predicted = _common(((g.start, g.end) for g in gold), ((p.start, p.end) for p in predicted))
    rest_gold = [Span(s, e, "") for (s, e), n in left_gold.items() for _ in range(n)]
    rest_predicted = [Span(s, e, "") for (s, e), n in left_predicted.items() for _ in range(n)]
    return exact + 0.5 * _greedy_overlaps(rest_gold, rest_predicted, same_label=False)


@dataclass
class Scores:
    """Counts by scheme and by label (``ALL`` included), summed over documents."""

    labels: tuple[str, ...]
    counts: dict[Scheme, dict[str, Counts]]

    @classmethod
    def empty(cls, labels: Iterable[str], schemes: Sequence[Scheme] = SCHEMES) -> Scores:
        names = tuple(sorted(set(labels)))
        return cls(names, {scheme: {label: Counts() for label in (*names, ALL)} for scheme in schemes})

    def add(self, gold: Sequence[Span], predicted: Sequence[Span]) -> None:
        """Add one document (predictions already restricted to the evaluated labels and region)."""
        for scheme in self.counts:
            self.counts[scheme][ALL].add(len(gold), len(predicted), matched(gold, predicted, scheme))
            for label in self.labels:
                g = [s for s in gold if s.label == label]
                p = [s for s in predicted if s.label == label]
                if g or p:
                    self.counts[scheme][label].add(len(g), len(p), matched(g, p, scheme))

    def macro(self, scheme: Scheme) -> tuple[float | None, float | None, float | None]:
        """Mean precision, recall and F1 over the labels that have gold spans or predictions."""
        present = [c for label, c in self.counts[scheme].items() if label != ALL and (c.gold or c.predicted)]

        def mean(values: list[float | None]) -> float | None:
            known = [v for v in values if v is not None]
            return sum(known) / len(known) if known else None

        return (
            mean([c.precision for c in present]),
            mean([c.recall for c in present]),
            mean([c.f1 for c in present]),
        )


@dataclass(frozen=True)
class Error:
    kind: ErrorKind
    gold: Span | None
    predicted: Span | None  # the overlapping prediction that was wrong (largest overlap)


def errors(gold: Sequence[Span], predicted: Sequence[Span]) -> list[Error]:
    """Every gold span not predicted exactly, and every prediction overlapping no gold span."""
    found = []
    exact = set(predicted)
    for g in gold:
        if g in exact:
            continue
        touching = sorted((p for p in predicted if overlap(g, p) > 0), key=lambda p: (-overlap(g, p), p))
        same_boundary = [p for p in touching if (p.start, p.end) == (g.start, g.end)]
        same_label = [p for p in touching if p.label == g.label]
        if same_boundary:
            found.append(Error("type", g, same_boundary[0]))
        elif same_label:
            found.append(Error("boundary", g, same_label[0]))
        elif touching:
            found.append(Error("boundary_type", g, touching[0]))
        else:
            found.append(Error("missed", g, None))
    for p in predicted:
        if not any(overlap(g, p) > 0 for g in gold):
            found.append(Error("spurious", None, p))
    return found
