"""The lake's tables, declared once: name, schema, key and what else readers and writers need.

Nullability is declared on purpose: a NOT NULL column is enforced by the Delta writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pyspark.sql import types as T

from jobs.catalog.stages import FIGURES, STAGE_NAMES, STAGES


@dataclass(frozen=True)
class Coverage:
    """Which documents must have rows in a stage's table (checked by ``docner validate``)."""

    check: str  # the check's name
    rows: Literal["some", "one"]  # every document the stage left ok or partial has rows / exactly one row
    description: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    schema: T.StructType
    key: tuple[str, ...]
    partition_by: tuple[str, ...] = ()
    description: str = ""
    stage: str | None = None  # the stage that produces its rows (None: every stage writes it)
    # Rows of a document's content, keyed by doc_id: a removed document leaves the table, and a
    # document processed again by an earlier stage leaves the tables of the stages after it.
    per_document: bool = False
    coverage: Coverage | None = None
    # Rows hold no document, page or cell text, only short fields: a write hands its tasks
    # Arrow batches bounded by row count alone (``lake.write_batch_rows``), sparing Spark's
    # per-row byte accounting (measured: 774k against 595k rows/s for a million entity rows).
    narrow_rows: bool = False
    # Meant to be shared once the redact stage is on: no value of a redacted label may appear in
    # it (``docner validate`` checks; docs/redaction.md).
    shareable: bool = False


# Where one stage left a document: its outcome and the stage version that produced it.
# The fields are nullable because the struct is (a nullable struct with NOT NULL fields
# cannot be written by Arrow); the code fills status, version, run_id and finished_at.
STAGE_STATE = T.StructType(
    [
        T.StructField("status", T.StringType(), True),  # ok | partial | failed | skipped | removed
        T.StructField("error_class", T.StringType(), True),
        T.StructField("error_message", T.StringType(), True),
        T.StructField("version", T.StringType(), True),  # digest of code, settings, models (jobs.lake.state)
        T.StructField("run_id", T.StringType(), True),
        T.StructField("finished_at", T.TimestampType(), True),
    ]
)


def _state_fields() -> list[T.StructField]:
    """One state column per stage; the first stage makes the row, so its state is never null."""
    return [
        T.StructField(stage.state_column, STAGE_STATE, index > 0)  # null: not processed (yet, or again)
        for index, stage in enumerate(STAGES)
    ]


DOCUMENTS = TableSpec(
    name="documents",
    description="One row per input PDF file, whatever happened to it.",
    key=("doc_id", "source_path"),
    stage=STAGES[0].name,
    schema=T.StructType(
        [
            T.StructField("doc_id", T.StringType(), False),  # sha256 of the file's bytes
            T.StructField("source_path", T.StringType(), False),
            T.StructField("file_name", T.StringType(), False),
            T.StructField("size_bytes", T.LongType(), False),
            T.StructField("modified_at", T.TimestampType(), True),  # the file's modification time
            T.StructField("page_count", T.IntegerType(), True),  # null when the file cannot be opened
            T.StructField("status", T.StringType(), False),  # ok | partial | failed | skipped | removed
            T.StructField("error_class", T.StringType(), True),
            T.StructField("error_message", T.StringType(), True),
            T.StructField("error_stage", T.StringType(), True),  # the stage whose state decided the status
            *_state_fields(),
            T.StructField("run_id", T.StringType(), False),  # the run that last read the file
            T.StructField("ingested_at", T.TimestampType(), False),
        ]
    ),
)

BOX_SPAN = T.StructType(
    [
        T.StructField("start", T.IntegerType(), False),
        T.StructField("end", T.IntegerType(), False),
        T.StructField("x0", T.FloatType(), False),
        T.StructField("top", T.FloatType(), False),
        T.StructField("x1", T.FloatType(), False),
        T.StructField("bottom", T.FloatType(), False),
    ]
)

PAGES = TableSpec(
    name="pages",
    description="Every page of every processed document; entity offsets point into `text`.",
    key=("doc_id", "page_no"),
    stage="extract",
    per_document=True,
    coverage=Coverage("extracted_have_pages", "some", "every document extracted (ok or partial) has pages rows"),
    schema=T.StructType(
        [
            T.StructField("doc_id", T.StringType(), False),
            T.StructField("page_no", T.IntegerType(), False),  # from 1
            T.StructField("status", T.StringType(), False),  # ok | failed | skipped
            T.StructField("error_class", T.StringType(), True),
            T.StructField("error_message", T.StringType(), True),
            T.StructField("method", T.StringType(), False),  # text | ocr | none
            T.StructField("route_reason", T.StringType(), True),
            T.StructField("text", T.StringType(), False),
            T.StructField("char_count", T.IntegerType(), False),
            T.StructField("text_chars", T.IntegerType(), True),
            T.StructField("image_coverage", T.DoubleType(), True),
            T.StructField("bad_char_share", T.DoubleType(), True),
            T.StructField("invisible_share", T.DoubleType(), True),
            T.StructField("ocr_confidence", T.DoubleType(), True),
            T.StructField("width_pt", T.DoubleType(), True),
            T.StructField("height_pt", T.DoubleType(), True),
            T.StructField("word_boxes", T.ArrayType(BOX_SPAN, False), False),
            T.StructField("run_id", T.StringType(), False),
        ]
    ),
)

TABLE_CELLS = TableSpec(
    name="tables",
    description="Cells of the ruled tables found on digital pages, also present in the page text.",
    key=("doc_id", "page_no", "table_no", "row", "col"),
    stage="extract",
    per_document=True,
    schema=T.StructType(
        [
            T.StructField("doc_id", T.StringType(), False),
            T.StructField("page_no", T.IntegerType(), False),
            T.StructField("table_no", T.IntegerType(), False),  # from 1 on each page
            T.StructField("row", T.IntegerType(), False),  # from 1
            T.StructField("col", T.IntegerType(), False),  # from 1
            T.StructField("text", T.StringType(), False),
            T.StructField("x0", T.DoubleType(), False),
            T.StructField("top", T.DoubleType(), False),
            T.StructField("x1", T.DoubleType(), False),
            T.StructField("bottom", T.DoubleType(), False),
            T.StructField("run_id", T.StringType(), False),
        ]
    ),
)

ENTITY_FIELDS = [
    T.StructField("entity_id", T.StringType(), False),  # sha256 of doc_id, doc_start, doc_end, label
    T.StructField("page_no", T.IntegerType(), False),  # the page the entity starts on
    T.StructField("start", T.IntegerType(), False),  # offsets into that page's pages.text
    T.StructField("end", T.IntegerType(), False),
    T.StructField("end_page_no", T.IntegerType(), False),  # > page_no: it runs over a page break
    T.StructField("doc_start", T.IntegerType(), False),  # offsets into document_text.text
    T.StructField("doc_end", T.IntegerType(), False),
    T.StructField("text", T.StringType(), False),
    T.StructField("label", T.StringType(), False),
    T.StructField("score", T.DoubleType(), True),  # model probability, a rule's score; null if none
    T.StructField("source", T.StringType(), False),  # the backend whose candidate won the merge
    T.StructField("sources", T.ArrayType(T.StringType(), False), False),  # backends with an overlapping candidate
    T.StructField("rule", T.StringType(), True),  # the rule id, for source = rules
    T.StructField("model", T.StringType(), False),
    T.StructField("model_version", T.StringType(), False),
    T.StructField("normalized_value", T.StringType(), True),  # ISO date, decimal amount, number, ISO duration
    T.StructField("currency", T.StringType(), True),  # ISO 4217, for MONEY
    T.StructField("entity_key", T.StringType(), False),  # canonical form that groups one entity across documents
    # ALIAS rows and a party's short names: the entity_key of the party they stand for
    T.StructField("refers_to_key", T.StringType(), True),
]

ENTITIES = TableSpec(
    name="entities",
    description=(
        "Named entities; text == document_text.text[doc_start:doc_end], and pages.text[start:end] of "
        "(doc_id, page_no) when end_page_no == page_no (else its part on page_no)."
    ),
    key=("doc_id", "entity_id"),
    stage="ner",
    per_document=True,
    narrow_rows=True,
    schema=T.StructType(
        [
            T.StructField("doc_id", T.StringType(), False),
            *ENTITY_FIELDS[:8],
            T.StructField("label", T.StringType(), False),
            T.StructField("score", T.DoubleType(), True),
            T.StructField("x0", T.DoubleType(), True),  # box of the entity's words on page_no, in points
            T.StructField("top", T.DoubleType(), True),
            T.StructField("x1", T.DoubleType(), True),
            T.StructField("bottom", T.DoubleType(), True),
            *ENTITY_FIELDS[10:],
            T.StructField("run_id", T.StringType(), False),
        ]
    ),
)

ENTITY_SPAN = T.StructType(
    [
        T.StructField("page_no", T.IntegerType(), False),
        T.StructField("start", T.IntegerType(), False),  # offsets into that page's pages.text
        T.StructField("end", T.IntegerType(), False),
        T.StructField("doc_start", T.IntegerType(), False),  # offsets into document_text.text
        T.StructField("doc_end", T.IntegerType(), False),
    ]
)

SEARCH_ENTITY = T.StructType(
    [
        T.StructField("label", T.StringType(), False),
        T.StructField("entity_key", T.StringType(), False),
        T.StructField("text", T.StringType(), False),  # most frequent surface text; ties: shortest, then lowest
        T.StructField("normalized_value", T.StringType(), True),  # most frequent non-null one; null if none
        T.StructField("mentions", T.IntegerType(), False),
        T.StructField(
            "pages", T.ArrayType(T.IntegerType(), False), False
        ),  # sorted, distinct, from page_no to end_page_no
        T.StructField("spans", T.ArrayType(ENTITY_SPAN, False), False),  # sorted by doc_start
    ]
)

ENTITY_SEARCH = TableSpec(
    name="entity_search",
    stage="ner",
    per_document=True,
    shareable=True,  # the values of redacted labels are redacted here too (jobs.stages.redact)
    coverage=Coverage(
        "recognized_have_search_row",
        "one",
        "every document recognized (ok or partial) has exactly one entity_search row",
    ),
    description=(
        "One row per recognized document: its entities grouped by label and entity_key, with a "
        "hash of that content for incremental export to a search engine."
    ),
    key=("doc_id",),
    schema=T.StructType(
        [
            T.StructField("doc_id", T.StringType(), False),
            T.StructField("file_name", T.StringType(), False),  # of the document's primary documents row
            T.StructField("source_path", T.StringType(), False),
            T.StructField("page_count", T.IntegerType(), True),
            T.StructField("status", T.StringType(), False),  # the document's overall status
            T.StructField("entity_count", T.IntegerType(), False),  # mentions: the document's entities rows
            T.StructField("labels", T.ArrayType(T.StringType(), False), False),  # sorted, distinct
            T.StructField("entities", T.ArrayType(SEARCH_ENTITY, False), False),  # sorted by label, entity_key
            T.StructField("search_hash", T.StringType(), False),  # sha256 hex of the columns above as JSON
            T.StructField("run_id", T.StringType(), False),
        ]
    ),
)

CONTRACT_FIELDS = TableSpec(
    name="contract_fields",
    stage="fields",
    per_document=True,
    narrow_rows=True,
    description=(
        "Contract key fields (udfs.fields): one row per value found, with its evidence; value == "
        "document_text.text[doc_start:doc_end]. A field the contract does not state has no row."
    ),
    key=("doc_id", "field", "doc_start", "doc_end"),
    schema=T.StructType(
        [
            T.StructField("doc_id", T.StringType(), False),
            T.StructField("field", T.StringType(), False),  # one of udfs.fields.extract.FIELD_NAMES
            T.StructField("rank", T.IntegerType(), False),  # 1: the field's best value in the document, by confidence
            T.StructField("value", T.StringType(), False),  # the evidence as written
            # ISO date, ISO 8601 duration, perpetual | until_terminated, a jurisdiction's name, a title;
            # null: stated in a form that cannot be read (a numeric date of unknown order)
            T.StructField("normalized_value", T.StringType(), True),
            T.StructField("confidence", T.DoubleType(), False),  # calibrated share of such values that are right
            T.StructField("method", T.StringType(), False),  # how it was found (docs/fields.md)
            T.StructField("page_no", T.IntegerType(), False),  # the page the evidence starts on
            T.StructField("start", T.IntegerType(), False),  # offsets into that page's pages.text
            T.StructField("end", T.IntegerType(), False),
            T.StructField("end_page_no", T.IntegerType(), False),
            T.StructField("doc_start", T.IntegerType(), False),  # offsets into document_text.text
            T.StructField("doc_end", T.IntegerType(), False),
            T.StructField("x0", T.DoubleType(), True),  # box of the evidence's words on page_no, in points
            T.StructField("top", T.DoubleType(), True),
            T.StructField("x1", T.DoubleType(), True),
            T.StructField("bottom", T.DoubleType(), True),
            T.StructField("entity_id", T.StringType(), True),  # the entities row the value is, if any
            T.StructField("entity_key", T.StringType(), True),
            T.StructField("party_role", T.StringType(), True),  # party: its role (Licensor, Distributor, …)
            T.StructField("party_alias", T.StringType(), True),  # party: the term the contract defines for it
            T.StructField("run_id", T.StringType(), False),
        ]
    ),
)

CONTRACT_PARTY = T.StructType(
    [
        T.StructField("name", T.StringType(), False),  # the legal name as written
        T.StructField("role", T.StringType(), True),
        T.StructField("alias", T.StringType(), True),
        T.StructField("key", T.StringType(), False),  # its entity_key: the same party across documents
    ]
)

CONTRACTS = TableSpec(
    name="contracts",
    stage="fields",
    per_document=True,
    coverage=Coverage(
        "fielded_have_contract_row", "one", "every document the fields stage left ok has exactly one contracts row"
    ),
    description=(
        "One row per document the fields stage read: its key fields, each the best value of contract_fields "
        "(rank 1), and the fields it does not state."
    ),
    key=("doc_id",),
    schema=T.StructType(
        [
            T.StructField("doc_id", T.StringType(), False),
            T.StructField("title", T.StringType(), True),
            T.StructField("parties", T.ArrayType(CONTRACT_PARTY, False), False),  # in the order of the text
            T.StructField("party_keys", T.ArrayType(T.StringType(), False), False),  # sorted, distinct: to filter on
            T.StructField("agreement_date", T.DateType(), True),
            T.StructField("effective_date", T.DateType(), True),
            T.StructField("expiration_date", T.DateType(), True),
            T.StructField("term", T.StringType(), True),  # ISO 8601 duration, perpetual or until_terminated
            T.StructField("renewal_term", T.StringType(), True),
            T.StructField("notice_period", T.StringType(), True),
            T.StructField("governing_law", T.StringType(), True),
            T.StructField("missing_fields", T.ArrayType(T.StringType(), False), False),  # fields without a row
            T.StructField("run_id", T.StringType(), False),
        ]
    ),
)

REDACTED_SPAN = T.StructType(
    [
        T.StructField("start", T.IntegerType(), False),  # into the page's original pages.text
        T.StructField("end", T.IntegerType(), False),
        T.StructField("redacted_start", T.IntegerType(), False),  # into redacted_pages.text
        T.StructField("redacted_end", T.IntegerType(), False),
    ]
)

REDACTED_PAGES = TableSpec(
    name="redacted_pages",
    stage="redact",
    per_document=True,
    shareable=True,
    coverage=Coverage("redacted_have_pages", "some", "every document the redact stage left ok has redacted_pages rows"),
    description=(
        "Every ok page of a redacted document, its personal data replaced by the policy's action; outside "
        "`spans` the text is pages.text shifted, so any original offset maps to the redacted text."
    ),
    key=("doc_id", "page_no"),
    schema=T.StructType(
        [
            T.StructField("doc_id", T.StringType(), False),
            T.StructField("page_no", T.IntegerType(), False),
            T.StructField("text", T.StringType(), False),  # the redacted text
            T.StructField("char_count", T.IntegerType(), False),  # of the redacted text
            T.StructField("redaction_count", T.IntegerType(), False),  # pieces replaced on the page
            T.StructField("spans", T.ArrayType(REDACTED_SPAN, False), False),  # sorted by start
            T.StructField("run_id", T.StringType(), False),
        ]
    ),
)

REDACTIONS = TableSpec(
    name="redactions",
    stage="redact",
    per_document=True,
    narrow_rows=True,
    shareable=True,
    description=(
        "The audit of the redact stage: one row per redacted piece (an entity's part on one page), with its "
        "label, action, box, rule and score, never its text."
    ),
    key=("doc_id", "redaction_id"),
    schema=T.StructType(
        [
            T.StructField("doc_id", T.StringType(), False),
            T.StructField("redaction_id", T.StringType(), False),  # sha256 of doc_id, page_no, start, end
            T.StructField("page_no", T.IntegerType(), False),
            T.StructField("start", T.IntegerType(), False),  # into that page's original pages.text
            T.StructField("end", T.IntegerType(), False),
            T.StructField("redacted_start", T.IntegerType(), False),  # into redacted_pages.text
            T.StructField("redacted_end", T.IntegerType(), False),
            T.StructField("doc_start", T.IntegerType(), False),  # into document_text.text
            T.StructField("doc_end", T.IntegerType(), False),
            T.StructField("label", T.StringType(), False),
            T.StructField("action", T.StringType(), False),  # mask | label | hash
            T.StructField("source", T.StringType(), False),  # the entity's backend, or propagated
            T.StructField("rule", T.StringType(), True),  # the rule id, for source = rules
            T.StructField("score", T.DoubleType(), True),  # the entity's score; null when propagated
            T.StructField("entity_id", T.StringType(), True),  # the entities row; null when propagated
            T.StructField("x0", T.DoubleType(), True),  # box of the piece's words on page_no, in points
            T.StructField("top", T.DoubleType(), True),
            T.StructField("x1", T.DoubleType(), True),
            T.StructField("bottom", T.DoubleType(), True),
            T.StructField("run_id", T.StringType(), False),
        ]
    ),
)

QUARANTINE = TableSpec(
    name="quarantine",
    description="Rows a data-quality check kept out of their table, with the check and the reason.",
    key=("table_name", "row_key", "check"),
    per_document=True,
    schema=T.StructType(
        [
            T.StructField("table_name", T.StringType(), False),  # the table the row was for
            T.StructField("doc_id", T.StringType(), False),
            T.StructField("row_key", T.StringType(), False),  # JSON of the row's key columns
            T.StructField("check", T.StringType(), False),  # the expectation's id in its suite
            T.StructField("suite", T.StringType(), False),  # suite name and version
            T.StructField("reason", T.StringType(), False),
            T.StructField("row_values", T.StringType(), True),  # JSON of the checked columns of the row
            T.StructField("stage", T.StringType(), False),
            T.StructField("run_id", T.StringType(), False),
            T.StructField("quarantined_at", T.TimestampType(), False),
        ]
    ),
)

_COUNTS = T.MapType(T.StringType(), T.LongType(), False)

RUNS = TableSpec(
    name="runs",
    description="One row per stage per run: what went in and out, how long it took, with what.",
    key=("run_id", "stage"),
    schema=T.StructType(
        [
            T.StructField("run_id", T.StringType(), False),
            T.StructField("stage", T.StringType(), False),  # one of jobs.catalog.stages.STAGE_NAMES
            T.StructField("env", T.StringType(), False),
            T.StructField("started_at", T.TimestampType(), False),
            T.StructField("finished_at", T.TimestampType(), False),
            T.StructField("seconds", T.DoubleType(), False),
            T.StructField("documents_in", T.IntegerType(), False),
            T.StructField("documents_by_status", _COUNTS, False),  # this run's documents after the stage
            T.StructField("rows_written", _COUNTS, False),  # table -> rows
            T.StructField("table_versions", _COUNTS, False),  # table -> version committed
            # The stages' own figures (jobs.catalog.stages: StageSpec.figures), null in other stages' rows.
            *(T.StructField(figure.name, figure.type, True) for figure in FIGURES),
            T.StructField(
                "models", T.MapType(T.StringType(), T.StringType(), False), False
            ),  # backend -> model version
            T.StructField("rows_quarantined", _COUNTS, False),  # table -> rows kept out by checks
            T.StructField("dq_success", T.BooleanType(), True),  # every check passed; null: nothing checked
            T.StructField("dq_failed", _COUNTS, False),  # "table.check" -> failing rows (1 for table checks)
            T.StructField("dq_seconds", T.DoubleType(), True),  # time spent validating
            T.StructField("stage_version", T.StringType(), True),  # extract / ner: see jobs.lake.state
            T.StructField("code_version", T.StringType(), False),
            T.StructField("config_hash", T.StringType(), False),  # sha256 of the effective configuration
            T.StructField("notes", T.ArrayType(T.StringType(), False), False),
        ]
    ),
)

EVALUATIONS = TableSpec(
    name="evaluations",
    description=(
        "One row per evaluation, scheme and label: the lake's entities measured against a gold file (docner eval ner)."
    ),
    key=("eval_id", "scheme", "label"),
    schema=T.StructType(
        [
            T.StructField("eval_id", T.StringType(), False),
            T.StructField("evaluated_at", T.TimestampType(), False),
            T.StructField("task", T.StringType(), False),  # ner | fields
            T.StructField("gold", T.StringType(), False),  # the gold file's name
            T.StructField("gold_sha256", T.StringType(), False),
            T.StructField("documents", T.IntegerType(), False),  # gold documents evaluated
            T.StructField("run_id", T.StringType(), True),  # the NER run whose entities were measured (the latest)
            T.StructField("model", T.StringType(), True),  # the NER backends' models, as runs.models has them
            T.StructField("model_version", T.StringType(), True),  # the NER stage version ("mixed" if several)
            T.StructField("scheme", T.StringType(), False),  # ner: strict | exact | partial | type; fields: value
            T.StructField("label", T.StringType(), False),  # a label (fields: a field), ALL (micro) or MACRO (mean)
            T.StructField("gold_spans", T.LongType(), False),
            T.StructField("predicted", T.LongType(), False),
            T.StructField("tp", T.DoubleType(), False),  # matches (partial: an overlap counts 0.5)
            T.StructField("fp", T.DoubleType(), False),  # predicted - tp
            T.StructField("fn", T.DoubleType(), False),  # gold_spans - tp
            T.StructField("precision", T.DoubleType(), True),  # null: nothing predicted
            T.StructField("recall", T.DoubleType(), True),  # null: no gold span
            T.StructField("f1", T.DoubleType(), True),
        ]
    ),
)

ANNOTATIONS = TableSpec(
    name="annotations",
    description=(
        "Entity spans people annotated, one row per span and import (docner annotations import), and one with a "
        "null label per passage reviewed without entities; text == document_text.text[start:end] when imported. "
        "Each import is a new version: none replaces another."
    ),
    key=("version", "annotation_id"),
    narrow_rows=True,
    schema=T.StructType(
        [
            T.StructField("annotation_id", T.StringType(), False),  # sha256 of version, doc_id, start, end, label
            T.StructField("version", T.IntegerType(), False),  # the import: 1, 2, … (the latest per document counts)
            T.StructField("doc_id", T.StringType(), False),
            T.StructField("start", T.IntegerType(), False),  # offsets into document_text.text
            T.StructField("end", T.IntegerType(), False),
            # the passage the annotator reviewed (the record's text), whose other words are no entity
            T.StructField("region_start", T.IntegerType(), False),
            T.StructField("region_end", T.IntegerType(), False),
            T.StructField("page_no", T.IntegerType(), True),  # the page the span starts on
            T.StructField("label", T.StringType(), True),  # null: a passage reviewed without entities
            T.StructField("text", T.StringType(), False),
            T.StructField("annotator", T.StringType(), True),  # who annotated, when the file says (completed_by)
            T.StructField("source", T.StringType(), False),  # the imported file's name
            T.StructField("source_sha256", T.StringType(), False),
            T.StructField("source_format", T.StringType(), False),  # labelstudio | jsonl | conll
            T.StructField("record", T.StringType(), False),  # the record in the file: "tasks.json task 12"
            T.StructField("imported_by", T.StringType(), False),
            T.StructField("imported_at", T.TimestampType(), False),
        ]
    ),
)

MODELS = TableSpec(
    name="models",
    description="One row per trained model version (docner train): where it is, what it learned, how it scored.",
    key=("name", "version"),
    narrow_rows=True,
    schema=T.StructType(
        [
            T.StructField("name", T.StringType(), False),
            T.StructField("version", T.IntegerType(), False),  # 1, 2, … per name
            T.StructField("backend", T.StringType(), False),  # spacy
            T.StructField("base_model", T.StringType(), False),  # the pipeline it started from, or blank
            T.StructField("labels", T.ArrayType(T.StringType(), False), False),  # every label it predicts
            T.StructField("trained_labels", T.ArrayType(T.StringType(), False), False),  # those annotated
            T.StructField("path", T.StringType(), False),  # <lake>/_models/<name>/<version>: ner.spacy.model
            T.StructField("data_sha256", T.StringType(), False),  # of the passages and spans it learned from
            T.StructField("train_documents", T.IntegerType(), False),
            T.StructField("heldout_documents", T.IntegerType(), False),
            T.StructField("train_spans", T.IntegerType(), False),
            T.StructField("heldout_spans", T.IntegerType(), False),
            T.StructField(
                "heldout_f1", T.DoubleType(), True
            ),  # strict micro F1 over trained_labels; null: none held out
            T.StructField("heldout_f1_by_label", T.MapType(T.StringType(), T.DoubleType(), False), False),
            T.StructField("created_at", T.TimestampType(), False),
        ]
    ),
)

# Every table of the lake, declared once: the list the rest derives from.
TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        DOCUMENTS,
        PAGES,
        TABLE_CELLS,
        ENTITIES,
        ENTITY_SEARCH,
        CONTRACT_FIELDS,
        CONTRACTS,
        REDACTED_PAGES,
        REDACTIONS,
        QUARANTINE,
        RUNS,
        EVALUATIONS,
        ANNOTATIONS,
        MODELS,
    )
}
# The tables holding a document's content, keyed by doc_id: a removed document leaves them.
DATA_TABLES: tuple[TableSpec, ...] = tuple(spec for spec in TABLES.values() if spec.per_document)


def stage_tables(stage: str) -> tuple[TableSpec, ...]:
    """The content tables ``stage`` produces (its ``documents`` state aside)."""
    return tuple(spec for spec in DATA_TABLES if spec.stage == stage)


def _check_stages() -> None:
    unknown = sorted({spec.stage for spec in TABLES.values() if spec.stage is not None} - set(STAGE_NAMES))
    if unknown:
        raise ValueError(f"tables name unknown stages {unknown} (stages: {', '.join(STAGE_NAMES)})")


_check_stages()
