"""Redact: personal data out of the text of this run's documents → ``redacted_pages`` and
``redactions`` (docs/redaction.md).

Off by default (``redact.enabled``); ``docner run --stages …,redact`` and ``docner redact`` run it
anyway. Each document is read whole: its ``document_text`` and the entities whose label the
policy redacts go to the worker (udfs.redact.run), which replaces them (and, with
``propagate``, every other whole-word occurrence of their values) on each page and returns the
redacted pages with the map back to the original offsets, and one audit row per redacted
piece. A page that still holds a redacted value is kept out by the ``redacted_pages`` suite; a
document that fails gets no redacted page at all.

The key of the ``hash`` action is read here, on the driver, from the environment or a file; it
reaches the tasks inside their options and is never written: the stage version holds only its
fingerprint, so a new key redacts every document again.
"""

from __future__ import annotations

import time
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from jobs.catalog.rows import REDACT_RESULT
from jobs.catalog.tables import ENTITIES, PAGES, REDACTED_PAGES, REDACTIONS
from jobs.lake.tables import read_table
from jobs.ops.progress import ProgressCounters, counted_input
from jobs.stages.base import Output, StageContext, StageResult, documents_to_process, publish_outcomes, status_counts
from jobs.stages.fields import transform_documents
from jobs.stages.ner import document_sizes, spread_by_size, transform_statuses, with_word_boxes
from jobs.stages.policy import option_key_id, redact_options
from jobs.stages.runs import record_run
from jobs.stages.versions import redact_version
from udfs.errors import STATUS_OK
from udfs.redact.run import ENTITY_COLUMNS, redact_batches
from udfs.redact.text import MIN_PROPAGATED_CHARS, RedactOptions

STAGE = "redact"


def redacted_values(entities_df: DataFrame, labels: list[str]) -> DataFrame:
    """(doc_id, values): the distinct values of each document's entities with a redacted label,
    of ``MIN_PROPAGATED_CHARS`` or more characters: what no shareable text of it may hold."""
    value = F.trim(F.regexp_replace("text", r"\s+", " "))
    return (
        entities_df.where(F.col("label").isin(labels) & (F.length(value) >= MIN_PROPAGATED_CHARS))
        .groupBy("doc_id")
        .agg(F.collect_set(value).alias("values"))
    )


def whole_word_pattern(value: Column) -> Column:
    """A Java regex matching ``value`` as whole words, any case, any whitespace between its words."""
    words = F.transform(F.split(value, " "), lambda word: F.concat(F.lit(r"\Q"), word, F.lit(r"\E")))
    return F.concat(F.lit(r"(?U)(?i)(?<!\w)"), F.array_join(words, r"\s+"), F.lit(r"(?!\w)"))


def leaked(text: Column, values: Column) -> Column:
    """How many of ``values`` (an array of strings, or null) occur in ``text`` as whole words."""
    found = F.filter(F.coalesce(values, F.array()), lambda v: F.regexp_like(text, whole_word_pattern(v)))
    return F.size(found)


def transform_redact(
    documents_df: DataFrame, options: RedactOptions, counters: ProgressCounters | None = None
) -> DataFrame:
    """(doc_id, text, pages, entities) → one REDACT_RESULT row per document."""
    out_schema = to_arrow_schema(REDACT_RESULT)

    def redact(batches):
        return redact_batches(counted_input(batches, counters, "pages"), options, out_schema)

    return documents_df.select("doc_id", "text", "pages", "entities").mapInArrow(redact, REDACT_RESULT)


def page_rows(outcomes_df: DataFrame, run_id: str) -> DataFrame:
    pages = outcomes_df.select("doc_id", F.explode("pages").alias("page")).select("doc_id", "page.*")
    return pages.select(
        *[F.lit(run_id).alias(f.name) if f.name == "run_id" else F.col(f.name) for f in REDACTED_PAGES.schema.fields]
    )


def redaction_rows(outcomes_df: DataFrame, pages_df: DataFrame, run_id: str) -> DataFrame:
    """The audit rows, with the box of each piece's words on its page."""
    rows = outcomes_df.select("doc_id", F.explode("redactions").alias("r")).select(
        "doc_id", "r.*", F.lit(run_id).alias("run_id")
    )
    return with_word_boxes(rows, pages_df, REDACTIONS.schema)


def page_frames(rows: DataFrame, values_df: DataFrame) -> dict[str, DataFrame]:
    """What the ``redacted_pages`` suite checks: the rows with their text's length and how many of
    the document's redacted values their text still holds."""
    checked = rows.join(values_df, "doc_id", "left")
    return {
        "rows": checked.withColumn("_text_len", F.length("text"))
        .withColumn("_leaked", leaked(F.col("text"), F.col("values")))
        .drop("values")
    }


def redaction_figures(rows: DataFrame) -> dict[str, Any]:
    by_label = rows.groupBy("label").count().collect()
    return {
        "redactions": sum(int(r["count"]) for r in by_label),
        "by_label": {r["label"]: int(r["count"]) for r in by_label},
    }


def run_figures(result: StageResult) -> dict[str, Any]:
    if not result.documents_in or "redactions" not in result.figures:
        return {}
    return {
        "redactions": result.figures["redactions"],
        "redactions_per_document": result.figures["redactions"] / result.documents_in,
        "redaction_mix": dict(sorted(result.figures["by_label"].items())),
    }


def run_redact(ctx: StageContext, *, reprocess: bool = False) -> StageResult:
    """Redact the documents recognized but not yet redacted with this stage version (policy,
    key, settings, code); all recognized ones with ``reprocess``."""
    started = time.monotonic()
    options = redact_options(ctx.config)
    result = StageResult(STAGE, ctx.run_id)
    version = redact_version(ctx.config, option_key_id(options))
    result.stage_version = version
    doc_ids = [r["doc_id"] for r in documents_to_process(ctx, STAGE, version, reprocess)]
    result.documents_in = len(doc_ids)
    if doc_ids:
        with ctx.tracking(STAGE, len(doc_ids)) as progress:
            ctx.prepare_checks(REDACTED_PAGES, REDACTIONS)
            spark = ctx.spark
            labels = sorted(options.redacted_labels)
            pages_df = read_table(spark, ctx.lake, PAGES.name).where(
                F.col("doc_id").isin(doc_ids) & (F.col("status") == STATUS_OK)
            )
            entities_df = read_table(spark, ctx.lake, ENTITIES.name).where(
                F.col("doc_id").isin(doc_ids) & F.col("label").isin(labels or [""])
            )
            ctx.describe("size the documents")
            measured, progress.pages_total = document_sizes(pages_df)
            sizes = dict.fromkeys(doc_ids, 0) | measured
            doc_ids_df = spark.createDataFrame(
                [(d,) for d in doc_ids], T.StructType([T.StructField("doc_id", T.StringType(), False)])
            )
            documents_df = spread_by_size(
                ctx,
                transform_documents(doc_ids_df, pages_df, entities_df, ENTITY_COLUMNS),
                sizes,
                ctx.config.redact.chars_per_task,
            )
            outcomes_df = transform_redact(documents_df, options, progress.counters)
            values_df = redacted_values(entities_df, labels)
            ctx.describe(f"redact {len(doc_ids)} document(s), check and write them")
            publish_outcomes(
                ctx,
                result,
                stage=STAGE,
                version=version,
                doc_ids=doc_ids,
                outcomes_df=outcomes_df,
                outputs=[
                    Output(
                        REDACTED_PAGES, lambda df, _: page_rows(df, ctx.run_id), lambda r: page_frames(r, values_df)
                    ),
                    Output(REDACTIONS, lambda df, _: redaction_rows(df, pages_df, ctx.run_id), None, redaction_figures),
                ],
                statuses=transform_statuses,
            )
    result.statuses = status_counts(ctx)
    result.seconds = time.monotonic() - started
    record_run(ctx, result, run_figures(result))
    return result
