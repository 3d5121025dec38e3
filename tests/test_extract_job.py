"""The extract job's Spark transforms: long documents become many units of work."""

from __future__ import annotations

from jobs.extract import explode_page_ranges


def test_long_documents_are_split_into_page_ranges(spark):
    documents = spark.createDataFrame(
        [("a", "/a.pdf", 300), ("b", "/b.pdf", 5), ("c", "/c.pdf", 0), ("d", "/d.pdf", None), ("e", "/e.pdf", 9000)],
        "doc_id string, source_path string, page_count int",
    )
    ranges = {
        (r["doc_id"], r["first_page"], r["last_page"]) for r in explode_page_ranges(documents, 32, 5000).collect()
    }
    a = sorted((first, last) for doc, first, last in ranges if doc == "a")
    assert a[0] == (1, 32) and a[-1] == (289, 300) and len(a) == 10
    assert sum(last - first + 1 for first, last in a) == 300
    assert {(doc, f, last) for doc, f, last in ranges if doc in "bcd"} == {("b", 1, 5), ("c", 1, 1), ("d", 1, 1)}
    e = sorted((first, last) for doc, first, last in ranges if doc == "e")
    assert e[-1] == (4993, 5000)  # nothing past the page cap is scanned
