"""Views over the lake's tables, registered by ``docner sql`` beside the tables themselves."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

PAGE_BREAK = "\n\n"


def document_text(pages_df: DataFrame) -> DataFrame:
    """Each document's extracted pages joined in page order with ``PAGE_BREAK`` between them,
    and where each page starts and ends in that text: ``text[start:end]`` is the page's text,
    so an entity found in document text maps back to its page."""
    in_order = Window.partitionBy("doc_id").orderBy("page_no").rowsBetween(Window.unboundedPreceding, -1)
    placed = pages_df.where(F.col("status") == "ok").withColumn(
        "start",
        F.coalesce(F.sum(F.col("char_count") + F.lit(len(PAGE_BREAK))).over(in_order), F.lit(0)).cast("int"),
    )
    grouped = placed.groupBy("doc_id").agg(
        F.sort_array(F.collect_list(F.struct("page_no", "start", "char_count", "text"))).alias("parts")
    )
    return grouped.select(
        "doc_id",
        F.array_join(F.transform("parts", lambda part: part["text"]), PAGE_BREAK).alias("text"),
        F.transform(
            "parts",
            lambda part: F.struct(
                part["page_no"].alias("page_no"),
                part["start"].alias("start"),
                (part["start"] + part["char_count"]).alias("end"),
            ),
        ).alias("pages"),
    )


@dataclass(frozen=True)
class DocumentText:
    """One document's ``document_text`` on the driver: the text and where each page lies in it."""

    text: str
    pages: tuple[tuple[int, int, int], ...]  # (page_no, start, end), in page order

    def page_at(self, offset: int) -> int | None:
        """The page holding ``offset`` (None: in a page break or outside the text)."""
        for page_no, start, end in self.pages:
            if start <= offset < end:
                return page_no
        return None


def join_pages(pages: Iterable[Mapping[str, Any]]) -> DocumentText:
    """:func:`document_text` for one document's ``pages`` rows, in Python: the ok pages in page
    order joined with ``PAGE_BREAK`` (the same text and page offsets, for driver-side readers)."""
    parts, placed, offset = [], [], 0
    for row in sorted((r for r in pages if r["status"] == "ok"), key=lambda r: r["page_no"]):
        text = row["text"]
        placed.append((int(row["page_no"]), offset, offset + len(text)))
        parts.append(text)
        offset += len(text) + len(PAGE_BREAK)
    return DocumentText(PAGE_BREAK.join(parts), tuple(placed))


def stored_texts(lake: str | Path, doc_ids: Collection[str]) -> dict[str, DocumentText]:
    """The ``document_text`` of each of ``doc_ids`` that has pages, read from the lake's pages
    table (:func:`join_pages`)."""
    import pyarrow.compute as pc

    from jobs.catalog.tables import PAGES
    from jobs.lake.tables import read_arrow

    pages: dict[str, list[dict[str, Any]]] = {}
    if doc_ids:
        columns = ["doc_id", "page_no", "status", "text"]
        for row in read_arrow(lake, PAGES.name, columns, pc.field("doc_id").isin(sorted(doc_ids))).to_pylist():
            pages.setdefault(row["doc_id"], []).append(row)
    return {doc_id: join_pages(rows) for doc_id, rows in pages.items()}


def redacted_values(lake: str | Path, doc_ids: Collection[str]) -> dict[str, dict[str, str]]:
    """doc_id -> {value: what replaced it} for each document of ``doc_ids`` with ``redactions``
    rows: each redacted piece's original text (``pages.text``, whitespace folded) and its
    replacement (``redacted_pages.text``), read with delta-rs. What a shareable copy of the
    document must not hold, and the tokens to put in its place."""
    import pyarrow.compute as pc

    from jobs.catalog.tables import PAGES, REDACTED_PAGES, REDACTIONS
    from jobs.lake.tables import read_arrow

    if not doc_ids:
        return {}
    where = pc.field("doc_id").isin(sorted(doc_ids))
    columns = ["doc_id", "page_no", "text"]
    original = {
        (r["doc_id"], r["page_no"]): r["text"] for r in read_arrow(lake, PAGES.name, columns, where).to_pylist()
    }
    redacted = {
        (r["doc_id"], r["page_no"]): r["text"]
        for r in read_arrow(lake, REDACTED_PAGES.name, columns, where).to_pylist()
    }
    found: dict[str, dict[str, str]] = {}
    pieces = ["doc_id", "page_no", "start", "end", "redacted_start", "redacted_end"]
    for r in read_arrow(lake, REDACTIONS.name, pieces, where).to_pylist():
        page = (r["doc_id"], r["page_no"])
        value = " ".join(original.get(page, "")[r["start"] : r["end"]].split())
        if value:
            token = redacted.get(page, "")[r["redacted_start"] : r["redacted_end"]]
            found.setdefault(r["doc_id"], {})[value] = token
    return found


# view name -> (table it is computed from, how)
VIEWS = {"document_text": ("pages", document_text)}
