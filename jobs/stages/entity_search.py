"""The ``entity_search`` table, the NER stage's second output: one row per recognized document.

``transform_entity_search`` folds a document's entities into nested, search-ready form (one
item per label + entity_key, with its mentions, pages and spans) and a ``search_hash`` of
that content, which ``docner export-search`` (``jobs.ops.export_search``) compares to export
only what changed.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.catalog.tables import ENTITY_SEARCH, ENTITY_SPAN, SEARCH_ENTITY
from jobs.lake.state import STATUS_REMOVED
from udfs.errors import STATUS_OK

# The columns search_hash covers, in this order: everything exported, nothing run-specific.
HASHED_COLUMNS = ("doc_id", "file_name", "source_path", "page_count", "status", "entity_count", "labels", "entities")

_ENTITY_KEY = ("doc_id", "label", "entity_key")
# The NOT NULL entities columns the transform uses, with a default that only types them.
_ENTITY_COLUMNS: dict[str, str | int] = {
    "doc_id": "",
    "label": "",
    "entity_key": "",
    "text": "",
    "page_no": 0,
    "end_page_no": 0,
    "start": 0,
    "end": 0,
    "doc_start": 0,
    "doc_end": 0,
}


def _not_null(column: Column, default: str | int) -> Column:
    """``column`` typed NOT NULL. Only for values that are never null (NOT NULL columns, an
    aggregate over a non-empty group): Spark cannot cast a nullable nested field to a NOT NULL
    one, and tables read back through its Parquet reader come out all nullable."""
    return F.coalesce(column, F.lit(default))


def transform_entity_search(entities_df: DataFrame, documents_df: DataFrame, run_id: str) -> DataFrame:
    """ENTITY_SEARCH rows of the documents in ``documents_df`` (``documents`` rows; only the
    primary one of each document is used: not removed, ``ingest_state.status`` ok) from their
    ``entities`` rows. A document without entities gets a row with empty arrays; entities of
    documents not in ``documents_df`` are left out."""
    entities = entities_df.select(
        *[_not_null(F.col(f"`{name}`"), default).alias(name) for name, default in _ENTITY_COLUMNS.items()],
        "normalized_value",
    )
    # How often each surface text / normalized value occurs within its entity (doc, label, key).
    entities = entities.withColumn(
        "text_mentions", F.count("*").over(Window.partitionBy(*_ENTITY_KEY, "text"))
    ).withColumn(
        "value_mentions", F.count("normalized_value").over(Window.partitionBy(*_ENTITY_KEY, "normalized_value"))
    )
    # min() of (-mentions, length, value): the most frequent, then the shortest, then the first.
    text_rank = F.struct(
        (-F.col("text_mentions")).alias("rank"), F.length("text").alias("length"), F.col("text").alias("value")
    )
    value_rank = F.when(
        F.col("normalized_value").isNotNull(),
        F.struct(
            (-F.col("value_mentions")).alias("rank"),
            F.length("normalized_value").alias("length"),
            F.col("normalized_value").alias("value"),
        ),
    )
    # Spans sorted by doc_start (then doc_end, page_no, …): the struct sorts on its first fields.
    span_sort = F.struct("doc_start", "doc_end", "page_no", "start", "end")
    grouped = entities.groupBy(*_ENTITY_KEY).agg(
        _not_null(F.min(text_rank)["value"], "").alias("text"),
        F.min(value_rank)["value"].alias("normalized_value"),
        F.count("*").cast("int").alias("mentions"),
        F.array_sort(F.array_distinct(F.flatten(F.collect_list(F.sequence("page_no", "end_page_no"))))).alias("pages"),
        F.transform(
            F.sort_array(F.collect_list(span_sort)),
            lambda span: F.struct(*[span[field.name].alias(field.name) for field in ENTITY_SPAN.fields]),
        ).alias("spans"),
    )
    # (label, entity_key) is unique within a document, so the struct sort orders by exactly them.
    per_document = grouped.groupBy("doc_id").agg(
        F.sort_array(F.collect_list(F.struct(*[F.col(field.name) for field in SEARCH_ENTITY.fields]))).alias("entities")
    )
    documents = documents_df.where(
        (F.col("status") != STATUS_REMOVED) & (F.col("ingest_state.status") == STATUS_OK)
    ).select(
        _not_null(F.col("doc_id"), "").alias("doc_id"),
        _not_null(F.col("file_name"), "").alias("file_name"),
        _not_null(F.col("source_path"), "").alias("source_path"),
        F.col("page_count").cast("int").alias("page_count"),
        _not_null(F.col("status"), "").alias("status"),
    )
    entities_type = ENTITY_SEARCH.schema["entities"].dataType
    joined = documents.join(per_document, "doc_id", "left").withColumn(
        "entities", F.coalesce(F.col("entities"), F.array().cast(entities_type))
    )
    with_summary = joined.withColumn(
        "entity_count",
        _not_null(F.aggregate("entities", F.lit(0), lambda count, entity: count + entity["mentions"]), 0),
    ).withColumn("labels", F.array_sort(F.array_distinct(F.transform("entities", lambda entity: entity["label"]))))
    # ignoreNullFields off: a null page_count / normalized_value is in the JSON, whatever the session's default.
    content = F.to_json(F.struct(*HASHED_COLUMNS), {"ignoreNullFields": "false"})
    return with_summary.select(
        *HASHED_COLUMNS,
        _not_null(F.sha2(content, 256), "").alias("search_hash"),
        F.lit(run_id).alias("run_id"),
    )
