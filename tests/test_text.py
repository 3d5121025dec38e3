"""Cleaning that keeps offsets: every character of the cleaned text still knows its box."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from udfs.extract.mapped_text import (
    NO_SOURCE,
    MappedText,
    clean_mapped,
    find_repeated_edges,
    normalize_unicode,
    remove_headers_and_footers,
)
from udfs.ner.backends.spacy import chunk_spans


def _words(*words: str) -> MappedText:
    """Words with ids 0, 1, 2 … separated by generated spaces."""
    pieces: list[tuple[str, int]] = []
    for index, word in enumerate(words):
        if index:
            pieces.append((" ", NO_SOURCE))
        pieces.append((word, index))
    return MappedText.from_pieces(pieces)


def test_cleaning_normalises_what_pdfs_emit():
    raw = MappedText.from_pieces(
        [
            ("  Con\ufb01dential", 0),
            ("\r\n", NO_SOURCE),
            ("Agree\x02", 1),
            ("\r\n", NO_SOURCE),
            ("ment\x00", 2),
            (" between\t\tA\u00a0and B  \r\n\r\n\r\n\r\n", 3),
            ("End \x0c", 4),
        ]
    )
    cleaned = clean_mapped(raw)
    assert cleaned.text == "Confidential\nAgreement between\tA and B\n\nEnd"
    # the ligature expanded to two characters that both come from word 0
    assert cleaned.sources[:12] == (0,) * 12
    # the de-hyphenated word keeps both halves' sources
    assert cleaned.sources[13:18] == (1,) * 5 and cleaned.sources[18:22] == (2,) * 4


def test_pdfium_joined_hyphen_is_removed():
    assert clean_mapped(_words("resolu\ufffetion", "approved")).text == "resolution approved"


def test_capitalised_continuation_keeps_the_hyphen():
    raw = MappedText.from_pieces([("Smith-", 0), ("\n", NO_SOURCE), ("Jones", 1)])
    assert clean_mapped(raw).text == "Smith-\nJones"


def test_nfkc_keeps_combining_marks_with_their_base():
    mapped = normalize_unicode(MappedText.from_pieces([("Cafe\u0301", 7)]))
    assert mapped.text == "Café"
    assert mapped.sources == (7, 7, 7, 7)


def test_spans_are_the_runs_of_real_sources():
    mapped = _words("Acme", "Robotics")
    assert mapped.spans() == [(0, 4, 0), (5, 13, 1)]


def test_headers_footers_and_page_numbers_are_found_across_pages():
    pages = [
        "ACME CORP - CONFIDENTIAL\nThe first page body.\nPage 1 of 3",
        "ACME CORP - CONFIDENTIAL\nSecond page body text.\nPage 2 of 3",
        "ACME CORP - CONFIDENTIAL\nThird and last page.\n3",
    ]
    cleaned = remove_headers_and_footers([MappedText.from_pieces([(p, 0)]) for p in pages])
    assert [c.text for c in cleaned] == ["The first page body.", "Second page body text.", "Third and last page."]


def test_two_pages_are_too_few_to_call_a_line_a_header():
    drops = find_repeated_edges(["Same title\nbody one", "Same title\nbody two"])
    assert drops == [[], []]


unicode_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)) | st.sampled_from(list(" \n\t\r-\x02\u00ad\ufffe\ufb01")),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(unicode_text, min_size=1, max_size=6))
def test_cleaning_is_idempotent_and_keeps_sources_aligned(words):
    raw = _words(*words)
    once = clean_mapped(raw)
    assert len(once.text) == len(once.sources)
    assert clean_mapped(once) == once
    # every source id in the output is one of the input's: nothing invented
    assert set(once.sources) <= set(raw.sources)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abcXYZ ", min_size=1, max_size=12).filter(str.strip), min_size=1, max_size=8))
def test_words_keep_their_own_source_through_cleaning(words):
    cleaned = clean_mapped(_words(*words))
    for start, end, source in cleaned.spans():
        assert " ".join(cleaned.text[start:end].split()) in " ".join(words[source].split())


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .\n")), max_size=400), st.integers(1, 50))
def test_chunks_cover_the_text_in_order_within_the_limit(text, max_chars):
    spans = chunk_spans(text, max_chars)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end == start
    assert all(0 < end - start <= max_chars for start, end in spans) or text == ""


def test_chunks_prefer_paragraph_breaks():
    text = "first paragraph here.\n\nsecond paragraph is here."
    assert chunk_spans(text, 30) == [(0, 23), (23, len(text))]
