from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from udfs.ner_spacy import chunk_spans
from udfs.text import clean_page_text, printable_chars


def test_cleaning_normalises_what_pdfs_emit():
    raw = "  Con\ufb01dential\r\nAgree\x02\r\nment\x00 between\t\tA\u00a0and B  \r\n\r\n\r\n\r\nEnd \x0c"
    assert clean_page_text(raw) == "Confidential\nAgree-\nment between A and B\n\nEnd"


def test_printable_chars_ignores_blank_and_replacement_characters():
    assert printable_chars(" \n\t\ufffd\ufffd ab c ") == 3


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_cleaning_is_idempotent(raw):
    once = clean_page_text(raw)
    assert clean_page_text(once) == once


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
