"""CUAD's gold as annotations (jobs.learn.cuad): marked strings found again in the stored text,
completed inside regions, the governing-law place only inside its clause."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from jobs.learn.cuad import (
    LABEL_DATE,
    LABEL_LAW,
    LABEL_PARTY,
    MAX_REGION,
    cuad_annotations,
    document_spans,
    find_all,
    mention_pattern,
    paragraph_of,
    regions_for,
)

TEXT = (
    "SUPPLY AGREEMENT\n\n"
    "This Supply Agreement is made on May 8, 2014 between ACME\nHOLDINGS, INC., a New York corporation "
    "(\u201cAcme\u201d), and Papa John\u2019s Foods LLC (\u201cSupplier\u201d).\n\n"
    "1. Supply. Acme Holdings, Inc. buys what Papa John's Foods LLC sells.\n\n"
    "2. Term. Acme may end it.\n\n"
    "12. Law. This Agreement shall be governed by the laws of the State of New York.\n\n"
    "Signed: ACME HOLDINGS, INC."
)


def test_mentions_ignore_case_whitespace_and_apostrophes_but_not_word_edges():
    assert [TEXT[s:e] for s, e in find_all(TEXT, "Acme Holdings, Inc.")] == [
        "ACME\nHOLDINGS, INC.",
        "Acme Holdings, Inc.",
        "ACME HOLDINGS, INC.",
    ]
    assert [TEXT[s:e] for s, e in find_all(TEXT, "Papa John's Foods LLC")] == [
        "Papa John\u2019s Foods LLC",
        "Papa John's Foods LLC",
    ]
    assert find_all("Acmes and Acme", "Acme") == [(10, 14)]
    text = "Tickets.com, Inc. and MP3.com Inc sign. Acme."
    assert [text[s:e] for s, e in find_all(text, "Tickets.com Inc.")] == ["Tickets.com, Inc."]
    assert [text[s:e] for s, e in find_all(text, "MP3.com, Inc.")] == ["MP3.com Inc"]
    assert [text[s:e] for s, e in find_all(text, "Acme")] == ["Acme"]  # not the sentence's full stop
    assert mention_pattern("   ") is None and find_all(TEXT, "") == []


def test_regions_are_the_paragraphs_of_the_mentions_merged():
    start = TEXT.index("May 8")
    assert TEXT[slice(*paragraph_of(TEXT, start, start + 11))].startswith("This Supply Agreement is made")
    first, second = TEXT.index("ACME\nHOLDINGS"), TEXT.index("Papa John\u2019s")
    assert len(regions_for(TEXT, [(first, first + 5), (second, second + 5)])) == 1  # one paragraph
    long = "word " * 1000 + "\nACME HOLDINGS here\n" + "word " * 1000
    (region,) = regions_for(long, [(long.index("ACME"), long.index("ACME") + 13)])
    assert region[1] - region[0] <= MAX_REGION and "ACME HOLDINGS here" in long[slice(*region)]


def test_every_occurrence_in_a_region_and_the_law_only_in_its_clause():
    found = document_spans(
        TEXT,
        ["Acme Holdings, Inc.", "Papa John's Foods LLC"],
        ["May 8, 2014"],
        [("This Agreement shall be governed by the laws of the State of New York.", "New York")],
    )
    labelled = [(TEXT[s:e], label) for s, e, label in found["spans"]]
    assert labelled == [
        ("May 8, 2014", LABEL_DATE),
        ("ACME\nHOLDINGS, INC.", LABEL_PARTY),
        ("Papa John\u2019s Foods LLC", LABEL_PARTY),
        ("Acme Holdings, Inc.", LABEL_PARTY),
        ("Papa John's Foods LLC", LABEL_PARTY),
        ("New York", LABEL_LAW),  # not the "New York corporation" of the preamble
        ("ACME HOLDINGS, INC.", LABEL_PARTY),
    ]
    assert "2. Term" not in "".join(TEXT[s:e] for s, e in found["regions"])  # no mention: not reviewed
    assert found["missed"] == []
    missed = document_spans(TEXT, ["Nobody Corp."], [], [("A clause not in the text.", "Texas")])["missed"]
    assert missed == ["PARTY 'Nobody Corp.'", "GOVERNING_LAW 'Texas' in 'A clause not in the text.'"]


@given(st.lists(st.sampled_from(["Acme Holdings, Inc.", "May 8, 2014", "Papa John's Foods LLC", "Acme"]), max_size=4))
def test_spans_are_disjoint_sorted_and_inside_regions(needles):
    found = document_spans(TEXT, needles, needles, [])
    spans = found["spans"]
    assert spans == sorted(spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    assert all(any(r0 <= s and e <= r1 for r0, r1 in found["regions"]) for s, e, _ in spans)


def test_a_gold_csv_becomes_span_records(tmp_path: Path):
    row = {
        "document": "supply.pdf",
        "parties_spans": "['ACME HOLDINGS, INC.', 'Acme', \"Papa John's Foods LLC\"]",
        "parties_answer": 'Acme Holdings, Inc. ("Acme"); Papa John\'s Foods LLC ("Supplier")',
        "agreement_date_spans": "['May 8, 2014']",
        "agreement_date_answer": "5/8/14",
        "governing_law_spans": "['This Agreement shall be governed by the laws of the State of New York.']",
        "governing_law_answer": "New York",
    }
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(row)
    writer.writerow({**row, "document": "elsewhere.pdf"})
    gold = tmp_path / "gold.csv"
    gold.write_text(out.getvalue())
    result = cuad_annotations(gold, {"supply.pdf": ("d1", TEXT)})
    assert result.found == {LABEL_PARTY: 5, LABEL_DATE: 1, LABEL_LAW: 1}
    assert result.missed == ["elsewhere.pdf: not in the lake"]
    for record in result.records:
        assert record["file"] == "d1" and TEXT[record["doc_start"] :].startswith(record["text"])
        for span in record["spans"]:
            assert record["text"][span["start"] : span["end"]].strip()
    assert not any(s["label"] == LABEL_PARTY and s["end"] - s["start"] == 4 for r in result.records for s in r["spans"])
