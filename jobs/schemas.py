"""Schemas of the lake's tables and of the rows the UDFs hand back to Spark.

Nullability is declared on purpose: a NOT NULL column is enforced by the Delta writer.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import types as T


@dataclass(frozen=True)
class TableSpec:
    name: str
    schema: T.StructType
    key: tuple[str, ...]
    partition_by: tuple[str, ...] = ()
    description: str = ""


DOCUMENTS = TableSpec(
    name="documents",
    description="One row per input PDF file, whatever happened to it.",
    key=("doc_id", "source_path"),
    schema=T.StructType(
        [
            T.StructField("doc_id", T.StringType(), False),  # sha256 of the file's bytes
            T.StructField("source_path", T.StringType(), False),
            T.StructField("file_name", T.StringType(), False),
            T.StructField("size_bytes", T.LongType(), False),
            T.StructField("page_count", T.IntegerType(), True),  # null when the file cannot be opened
            T.StructField("status", T.StringType(), False),  # ok | partial | failed | skipped
            T.StructField("error_class", T.StringType(), True),
            T.StructField("error_message", T.StringType(), True),
            T.StructField("error_stage", T.StringType(), True),  # ingest | extract | ner
            T.StructField("run_id", T.StringType(), False),
            T.StructField("ingested_at", T.TimestampType(), False),
        ]
    ),
)

PAGES = TableSpec(
    name="pages",
    description="The stored text of every page; entity offsets point into `text`.",
    key=("doc_id", "page_no"),
    schema=T.StructType(
        [
            T.StructField("doc_id", T.StringType(), False),
            T.StructField("page_no", T.IntegerType(), False),  # from 1
            T.StructField("method", T.StringType(), False),  # text | ocr
            T.StructField("text", T.StringType(), False),
            T.StructField("char_count", T.IntegerType(), False),
            T.StructField("run_id", T.StringType(), False),
        ]
    ),
)

ENTITIES = TableSpec(
    name="entities",
    description="Named entities; text == pages.text[start:end] of the same doc_id and page_no.",
    key=("doc_id", "page_no", "start", "end", "label"),
    schema=T.StructType(
        [
            T.StructField("doc_id", T.StringType(), False),
            T.StructField("page_no", T.IntegerType(), False),
            T.StructField("start", T.IntegerType(), False),
            T.StructField("end", T.IntegerType(), False),
            T.StructField("text", T.StringType(), False),
            T.StructField("label", T.StringType(), False),
            T.StructField("score", T.DoubleType(), True),  # null where the model gives none
            T.StructField("source", T.StringType(), False),
            T.StructField("model", T.StringType(), False),
            T.StructField("model_version", T.StringType(), False),
            T.StructField("run_id", T.StringType(), False),
        ]
    ),
)

TABLES: dict[str, TableSpec] = {spec.name: spec for spec in (DOCUMENTS, PAGES, ENTITIES)}

# What the per-document / per-page UDFs return: one outcome row per unit of work, with
# its results nested and its error (if any) alongside, so that nothing is silently lost.
PROBE_RESULT = T.StructType(
    [
        T.StructField("source_path", T.StringType(), False),
        T.StructField("doc_id", T.StringType(), False),
        T.StructField("size_bytes", T.LongType(), False),
        T.StructField("page_count", T.IntegerType(), True),
        T.StructField("status", T.StringType(), False),
        T.StructField("error_class", T.StringType(), True),
        T.StructField("error_message", T.StringType(), True),
    ]
)

PAGE_RESULT = T.StructType(
    [
        T.StructField("page_no", T.IntegerType(), False),
        T.StructField("method", T.StringType(), False),
        T.StructField("text", T.StringType(), False),
        T.StructField("char_count", T.IntegerType(), False),
    ]
)

EXTRACT_RESULT = T.StructType(
    [
        T.StructField("doc_id", T.StringType(), False),
        T.StructField("status", T.StringType(), False),
        T.StructField("error_class", T.StringType(), True),
        T.StructField("error_message", T.StringType(), True),
        T.StructField("pages", T.ArrayType(PAGE_RESULT, False), False),
    ]
)

ENTITY_RESULT = T.StructType(
    [
        T.StructField("start", T.IntegerType(), False),
        T.StructField("end", T.IntegerType(), False),
        T.StructField("text", T.StringType(), False),
        T.StructField("label", T.StringType(), False),
        T.StructField("score", T.DoubleType(), True),
    ]
)

NER_RESULT = T.StructType(
    [
        T.StructField("doc_id", T.StringType(), False),
        T.StructField("page_no", T.IntegerType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("model", T.StringType(), False),
        T.StructField("model_version", T.StringType(), False),
        T.StructField("error_class", T.StringType(), True),
        T.StructField("error_message", T.StringType(), True),
        T.StructField("entities", T.ArrayType(ENTITY_RESULT, False), False),
    ]
)
