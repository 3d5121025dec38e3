"""Schemas of the rows the Python UDFs hand back to Spark: one outcome row per unit of work,
with its results nested and its error (if any) alongside, so that nothing is silently lost.

They are the contract between a stage (``jobs/stages``) and its worker code (``udfs``); the
tables the stages write from them are in ``jobs.catalog.tables``.
"""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.catalog.tables import BOX_SPAN, CONTRACT_FIELDS, CONTRACTS, ENTITY_FIELDS, REDACTED_PAGES, REDACTIONS

# ingest: one row per probed file.
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

_SIGNALS = [
    T.StructField("text_chars", T.IntegerType(), True),
    T.StructField("image_coverage", T.DoubleType(), True),
    T.StructField("bad_char_share", T.DoubleType(), True),
    T.StructField("invisible_share", T.DoubleType(), True),
]

TABLE_CELL = T.StructType(
    [
        T.StructField("table_no", T.IntegerType(), False),
        T.StructField("row", T.IntegerType(), False),
        T.StructField("col", T.IntegerType(), False),
        T.StructField("text", T.StringType(), False),
        T.StructField("x0", T.DoubleType(), False),
        T.StructField("top", T.DoubleType(), False),
        T.StructField("x1", T.DoubleType(), False),
        T.StructField("bottom", T.DoubleType(), False),
    ]
)

# Extract pass 1 and 2 output: one row per page (page_no 0: the whole document failed).
RAW_PAGE = T.StructType(
    [
        T.StructField("doc_id", T.StringType(), False),
        T.StructField("source_path", T.StringType(), False),
        T.StructField("page_count", T.IntegerType(), True),
        T.StructField("page_no", T.IntegerType(), False),
        T.StructField("status", T.StringType(), False),  # ok | failed | pending_ocr
        T.StructField("method", T.StringType(), False),
        T.StructField("route_reason", T.StringType(), True),
        T.StructField("error_class", T.StringType(), True),
        T.StructField("error_message", T.StringType(), True),
        T.StructField("width_pt", T.DoubleType(), True),
        T.StructField("height_pt", T.DoubleType(), True),
        T.StructField("text", T.StringType(), False),
        T.StructField("spans", T.ArrayType(BOX_SPAN, False), False),
        T.StructField("tables", T.ArrayType(TABLE_CELL, False), False),
        *_SIGNALS,
        T.StructField("ruling_lines", T.IntegerType(), True),
        T.StructField("columns", T.IntegerType(), True),
        T.StructField("ocr_confidence", T.DoubleType(), True),
        T.StructField("ocr_dpi", T.IntegerType(), True),
        T.StructField("ocr_rotation", T.IntegerType(), True),
        T.StructField("ocr_skew", T.DoubleType(), True),
    ]
)

PAGE_RESULT = T.StructType(
    [
        T.StructField("page_no", T.IntegerType(), False),
        T.StructField("status", T.StringType(), False),
        T.StructField("error_class", T.StringType(), True),
        T.StructField("error_message", T.StringType(), True),
        T.StructField("method", T.StringType(), False),
        T.StructField("route_reason", T.StringType(), True),
        T.StructField("text", T.StringType(), False),
        T.StructField("char_count", T.IntegerType(), False),
        *_SIGNALS,
        T.StructField("ocr_confidence", T.DoubleType(), True),
        T.StructField("width_pt", T.DoubleType(), True),
        T.StructField("height_pt", T.DoubleType(), True),
        T.StructField("word_boxes", T.ArrayType(BOX_SPAN, False), False),
    ]
)

PAGE_TABLE_CELL = T.StructType([T.StructField("page_no", T.IntegerType(), False), *TABLE_CELL.fields])

# Extract pass 3 output: one row per document.
EXTRACT_RESULT = T.StructType(
    [
        T.StructField("doc_id", T.StringType(), False),
        T.StructField("status", T.StringType(), False),
        T.StructField("error_class", T.StringType(), True),
        T.StructField("error_message", T.StringType(), True),
        T.StructField("pages", T.ArrayType(PAGE_RESULT, False), False),
        T.StructField("tables", T.ArrayType(PAGE_TABLE_CELL, False), False),
    ]
)

# Extract pass 1 output: a page row still to be OCR'd or assembled, or a document that the
# scan task assembled whole (one range, nothing to OCR).
SCAN_RESULT = T.StructType(
    [
        T.StructField("raw", RAW_PAGE, True),
        T.StructField("outcome", EXTRACT_RESULT, True),
    ]
)

ENTITY_RESULT = T.StructType(ENTITY_FIELDS)

# NER output: one row per document.
NER_RESULT = T.StructType(
    [
        T.StructField("doc_id", T.StringType(), False),
        T.StructField("error_class", T.StringType(), True),
        T.StructField("error_message", T.StringType(), True),
        T.StructField("unmapped", T.IntegerType(), False),  # spans dropped: offsets not matching the text
        T.StructField("entities", T.ArrayType(ENTITY_RESULT, False), False),
    ]
)

# Fields output: one row per document, its field values (the contract_fields columns the
# stage does not add itself) and its contracts row.
_STAGE_ADDED = ("doc_id", "x0", "top", "x1", "bottom", "run_id")
FIELD_VALUE = T.StructType([f for f in CONTRACT_FIELDS.schema.fields if f.name not in _STAGE_ADDED])
CONTRACT = T.StructType([f for f in CONTRACTS.schema.fields if f.name not in ("doc_id", "run_id")])

FIELDS_RESULT = T.StructType(
    [
        T.StructField("doc_id", T.StringType(), False),
        T.StructField("error_class", T.StringType(), True),
        T.StructField("error_message", T.StringType(), True),
        T.StructField("unplaced", T.IntegerType(), False),  # values dropped: evidence not on a page
        T.StructField("values", T.ArrayType(FIELD_VALUE, False), False),
        T.StructField("contract", CONTRACT, True),  # null when the document failed
    ]
)

# redact: one row per document, its redacted pages and the audit rows (without the boxes, which
# the stage adds from the word boxes); both empty when the document failed.
REDACTED_PAGE = T.StructType([f for f in REDACTED_PAGES.schema.fields if f.name not in ("doc_id", "run_id")])
REDACTION = T.StructType([f for f in REDACTIONS.schema.fields if f.name not in _STAGE_ADDED])

REDACT_RESULT = T.StructType(
    [
        T.StructField("doc_id", T.StringType(), False),
        T.StructField("error_class", T.StringType(), True),
        T.StructField("error_message", T.StringType(), True),
        T.StructField("pages", T.ArrayType(REDACTED_PAGE, False), False),
        T.StructField("redactions", T.ArrayType(REDACTION, False), False),
    ]
)
