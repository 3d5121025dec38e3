"""Merging the candidates of several backends, and placing document offsets on pages."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from udfs.ner.entities import Candidate
from udfs.ner.merge import MergePolicy, PriorityRule, merge_candidates
from udfs.ner.recognize import PagePlace, entity_id, place_on_pages

POLICY = MergePolicy(
    (
        PriorityRule("rules", frozenset({"MONEY", "DATE"})),
        PriorityRule("transformers"),
        PriorityRule("spacy"),
        PriorityRule("rules"),
    )
)


def cand(start, end, label, source, score=None, priority=0, text=None):
    return Candidate(start, end, text or "x" * (end - start), label, score, source, source + "-model", "1", priority)


def spans(merged):
    return [(m.entity.start, m.entity.end, m.entity.label, m.entity.source) for m in merged]


def test_source_and_label_priority_beats_length():
    merged = merge_candidates(
        [cand(0, 20, "MONEY", "spacy"), cand(2, 12, "MONEY", "rules"), cand(15, 30, "ORG", "rules")], POLICY
    )
    # rules/MONEY ranks first; spacy's longer MONEY overlaps it and loses; rules/ORG ranks last
    # but spaCy's span is gone, so it stays.
    assert spans(merged) == [(2, 12, "MONEY", "rules"), (15, 30, "ORG", "rules")]
    assert merged[0].sources == ("rules", "spacy")
    assert merged[1].sources == ("rules", "spacy")


def test_within_a_rank_longest_then_score_then_rule_priority():
    assert spans(merge_candidates([cand(0, 5, "ORG", "spacy"), cand(3, 12, "PERSON", "spacy")], POLICY)) == [
        (3, 12, "PERSON", "spacy")
    ]
    scored = merge_candidates(
        [cand(0, 5, "ORG", "transformers", 0.6), cand(0, 5, "PERSON", "transformers", 0.9)], POLICY
    )
    assert spans(scored) == [(0, 5, "PERSON", "transformers")]
    rules = merge_candidates([cand(0, 9, "ALIAS", "rules", 0.9, 1), cand(0, 4, "CODE", "rules", 0.9, 5)], POLICY)
    assert spans(rules) == [(0, 4, "CODE", "rules")]


def test_unranked_sources_come_last_and_empty_spans_are_ignored():
    policy = MergePolicy((PriorityRule("spacy"),))
    merged = merge_candidates([cand(0, 10, "X", "rules"), cand(5, 6, "ORG", "spacy"), cand(7, 7, "Y", "spacy")], policy)
    assert spans(merged) == [(5, 6, "ORG", "spacy")]


candidates_strategy = st.lists(
    st.builds(
        lambda start, length, label, source, score, priority: cand(
            start, start + length, label, source, score, priority
        ),
        st.integers(0, 60),
        st.integers(0, 15),
        st.sampled_from(["ORG", "PERSON", "MONEY", "DATE"]),
        st.sampled_from(["rules", "spacy", "transformers"]),
        st.one_of(st.none(), st.floats(0, 1)),
        st.integers(0, 3),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(candidates_strategy, st.randoms(use_true_random=False))
def test_merge_is_order_independent_and_never_overlaps(candidates, rng: random.Random):
    first = merge_candidates(candidates, POLICY)
    shuffled = list(candidates)
    rng.shuffle(shuffled)
    assert merge_candidates(shuffled, POLICY) == first
    kept = [m.entity for m in first]
    for a, b in itertools.pairwise(kept):
        assert a.end <= b.start
    # every non-empty candidate either won or overlaps a winner
    for c in candidates:
        if c.end > c.start:
            assert any(w.start < c.end and c.start < w.end for w in kept)
    for merged in first:
        assert merged.entity.source in merged.sources


PAGES = [
    {"page_no": 1, "start": 0, "end": 10},
    {"page_no": 2, "start": 12, "end": 30},
    {"page_no": 4, "start": 32, "end": 40},
]


def test_place_on_pages():
    assert place_on_pages(PAGES, 0, 4) == PagePlace(1, 0, 4, 1)
    assert place_on_pages(PAGES, 14, 30) == PagePlace(2, 2, 18, 2)
    assert place_on_pages(PAGES, 33, 40) == PagePlace(4, 1, 8, 4)
    # runs over the break after page 2 onto page 4
    assert place_on_pages(PAGES, 25, 35) == PagePlace(2, 13, 18, 4)
    # starts in a page break: no page
    assert place_on_pages(PAGES, 10, 14) is None
    assert place_on_pages([], 0, 1) is None


@given(st.lists(st.integers(0, 20), min_size=1, max_size=8), st.data())
def test_placed_offsets_stay_on_the_page(lengths, data):
    pages, position = [], 0
    for number, length in enumerate(lengths, start=1):
        pages.append({"page_no": number, "start": position, "end": position + length})
        position += length + 2
    start = data.draw(st.integers(0, max(0, position - 3)))
    end = data.draw(st.integers(start + 1, position))
    place = place_on_pages(pages, start, end)
    if place is not None:
        page = next(p for p in pages if p["page_no"] == place.page_no)
        assert 0 <= place.start < place.end <= page["end"] - page["start"]
        assert place.end_page_no >= place.page_no


def test_entity_id_is_deterministic_and_distinct():
    assert entity_id("d", 1, 5, "ORG") == entity_id("d", 1, 5, "ORG")
    assert len({entity_id("d", 1, 5, "ORG"), entity_id("d", 1, 5, "PERSON"), entity_id("e", 1, 5, "ORG")}) == 3
