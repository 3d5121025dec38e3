"""Merge the candidates of several NER backends into one set of non-overlapping entities.

Overlaps are resolved by a total order, so the result does not depend on the order the
candidates arrive in: the configured priority of (source, label) first, then a rule's own
priority, then the longest span, then the higher score, then position, label and source.
The winner keeps the names of every source that proposed an overlapping span.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from udfs.ner.entities import Candidate


@dataclass(frozen=True)
class PriorityRule:
    """Candidates from ``source`` (any source when None) with one of ``labels`` (any label
    when None) rank at this rule's position in the policy; earlier ranks win."""

    source: str | None = None
    labels: frozenset[str] | None = None

    def matches(self, candidate: Candidate) -> bool:
        return (self.source is None or candidate.source == self.source) and (
            self.labels is None or candidate.label in self.labels
        )


@dataclass(frozen=True)
class MergePolicy:
    priority: tuple[PriorityRule, ...] = ()

    def rank(self, candidate: Candidate) -> int:
        for position, rule in enumerate(self.priority):
            if rule.matches(candidate):
                return position
        return len(self.priority)


@dataclass(frozen=True)
class Merged:
    entity: Candidate  # the winning candidate
    sources: tuple[str, ...]  # every source with a candidate overlapping the winner, sorted
    refers_to: tuple[str, str] | None = None  # (label, text) of the party a defined term names (udfs.ner.resolve)


def _order(policy: MergePolicy, candidate: Candidate) -> tuple:
    score = candidate.score if candidate.score is not None else -1.0
    return (
        policy.rank(candidate),
        -candidate.priority,
        -(candidate.end - candidate.start),
        -score,
        candidate.start,
        candidate.label,
        candidate.source,
        candidate.model,
        candidate.rule or "",
    )


def merge_candidates(candidates: Iterable[Candidate], policy: MergePolicy) -> list[Merged]:
    """Non-overlapping winners sorted by start; empty spans are ignored."""
    ranked = sorted((c for c in candidates if c.end > c.start), key=lambda c: _order(policy, c))
    winners: list[Candidate] = []
    taken: list[tuple[int, int]] = []  # sorted, non-overlapping (start, end) of the winners
    for candidate in ranked:
        if not _overlaps(taken, candidate.start, candidate.end):
            insort(taken, (candidate.start, candidate.end))
            winners.append(candidate)
    winners.sort(key=lambda c: (c.start, c.end))
    return [Merged(winner, sources) for winner, sources in zip(winners, _sources_over(ranked, winners), strict=True)]


def _overlaps(taken: Sequence[tuple[int, int]], start: int, end: int) -> bool:
    index = bisect_left(taken, (start, start))
    if index > 0 and taken[index - 1][1] > start:
        return True
    return index < len(taken) and taken[index][0] < end


def _sources_over(candidates: Sequence[Candidate], winners: Sequence[Candidate]) -> list[tuple[str, ...]]:
    """For each winner (sorted by start, not overlapping), the sources of the candidates
    overlapping it. The winners overlapping one candidate are a contiguous run."""
    starts = [w.start for w in winners]
    ends = [w.end for w in winners]
    found: list[set[str]] = [set() for _ in winners]
    for candidate in candidates:
        first = bisect_right(ends, candidate.start)  # first winner ending after the candidate starts
        last = bisect_left(starts, candidate.end)  # winners from here on start at or after its end
        for index in range(first, last):
            found[index].add(candidate.source)
    return [tuple(sorted(sources)) for sources in found]
