"""Views over the lake's tables, registered by ``docner sql`` beside the tables themselves."""

from __future__ import annotations

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


# view name -> (table it is computed from, how)
VIEWS = {"document_text": ("pages", document_text)}
