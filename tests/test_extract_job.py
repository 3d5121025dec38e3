"""The extract job's units of work: long documents become many, a batch of many stays whole."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jobs.stages.extract import RANGES_PER_SLOT, page_ranges, range_size, ranges_frame


def test_long_documents_are_split_into_page_ranges():
    documents = [("a", "/a.pdf", 300), ("b", "/b.pdf", 5), ("c", "/c.pdf", 0), ("d", "/d.pdf", None)]
    documents.append(("e", "/e.pdf", 9000))
    ranges = {(doc, first, last) for doc, _, _, first, last in page_ranges(documents, 32, 5000)}
    a = sorted((first, last) for doc, first, last in ranges if doc == "a")
    assert a[0] == (1, 32) and a[-1] == (289, 300) and len(a) == 10
    assert sum(last - first + 1 for first, last in a) == 300
    assert {(doc, f, last) for doc, f, last in ranges if doc in "bcd"} == {("b", 1, 5), ("c", 1, 1), ("d", 1, 1)}
    e = sorted((first, last) for doc, first, last in ranges if doc == "e")
    assert e[-1] == (4993, 5000)  # nothing past the page cap is scanned


def test_range_size_keeps_a_big_batch_whole_and_spreads_one_long_document():
    # 102 contracts (1,796 pages) on 2 slots: ranges of 225 pages, so no contract is cut
    assert range_size(1796, 2, 32, 512) == 225
    # one 300-page scan alone on 2 slots: 8 ranges of 38 pages, 4 per slot
    assert range_size(300, 2, 32, 512) == 38
    # on 64 slots the floor holds: a range is never shorter than pages_per_range …
    assert range_size(300, 64, 32, 512) == 32
    # … nor longer than max_pages_per_range, however big the batch
    assert range_size(10_000_000, 2, 32, 512) == 512


@given(
    counts=st.lists(st.one_of(st.none(), st.integers(0, 3000)), min_size=1, max_size=20),
    slots=st.integers(1, 256),
    low=st.integers(1, 64),
    extra=st.integers(0, 1000),
    cap=st.integers(1, 5000),
)
def test_ranges_cover_every_page_once_within_bounds(counts, slots, low, extra, cap):
    documents = [(f"d{i}", f"/d{i}.pdf", count) for i, count in enumerate(counts)]
    total = sum(min(count or 0, cap) for count in counts)
    size = range_size(total, slots, low, low + extra)
    assert low <= size <= low + extra
    if low < size < low + extra:  # neither bound applies: the batch makes RANGES_PER_SLOT units per slot
        assert -(-total // size) <= slots * RANGES_PER_SLOT
    ranges = page_ranges(documents, size, cap)
    for doc_id, _, count in documents:
        mine = sorted((first, last) for doc, _, _, first, last in ranges if doc == doc_id)
        pages = [page for first, last in mine for page in range(first, last + 1)]
        assert pages == list(range(1, max(min(count or 0, cap), 1) + 1))
        assert all(last - first + 1 <= size for first, last in mine)


def test_ranges_are_placed_in_tasks_of_about_equal_pages(spark):
    documents = [(f"d{i:02d}", f"/d{i}.pdf", pages) for i, pages in enumerate([120, 90, 60, 40, 30, 20, 10, 10, 5, 5])]
    units = page_ranges(documents, 512, 5000)
    frame = ranges_frame(spark, units, 3)
    assert frame.rdd.getNumPartitions() == 3
    loads = frame.rdd.mapPartitions(lambda rows: [sum(r["last_page"] - r["first_page"] + 1 for r in rows)]).collect()
    assert sorted(loads) == [130, 130, 130]  # LPT: 120+10 | 90+30+10 | 60+40+20+5+5
    assert sorted((r["doc_id"], r["first_page"], r["last_page"]) for r in frame.collect()) == sorted(
        (doc, first, last) for doc, _, _, first, last in units
    )
