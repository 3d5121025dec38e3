"""NER: entities of every page of this run's documents → ``entities``; failures → ``documents``."""

from __future__ import annotations

import time

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema

from jobs.config import DocnerConfig
from jobs.lake import read_table
from jobs.schemas import ENTITIES, NER_RESULT, PAGES
from jobs.stage import (
    Output,
    StageContext,
    StageResult,
    documents_of_run,
    partitions_for,
    publish_outcomes,
    status_counts,
)
from udfs.errors import STATUS_FAILED, STATUS_OK, STATUS_PARTIAL
from udfs.ner import recognize_batches
from udfs.ner_spacy import SpacyOptions, load_spacy

STAGE = "ner"


def spacy_options(config: DocnerConfig) -> SpacyOptions:
    settings = config.ner.spacy
    return SpacyOptions(
        model=settings.model,
        batch_size=settings.batch_size,
        max_chunk_chars=settings.max_chunk_chars,
        labels=tuple(settings.labels) if settings.labels else None,
    )


def transform_recognize(pages_df: DataFrame, options: SpacyOptions) -> DataFrame:
    """(doc_id, page_no, text) → one NER_RESULT row per page: its entities, or its error."""
    out_schema = to_arrow_schema(NER_RESULT)

    def recognize(batches):
        return recognize_batches(batches, options, out_schema)

    return pages_df.select("doc_id", "page_no", "text", "word_boxes").mapInArrow(recognize, NER_RESULT)


def explode_entities(outcomes_df: DataFrame, run_id: str) -> DataFrame:
    return outcomes_df.select(
        "doc_id", "page_no", "source", "model", "model_version", F.explode("entities").alias("entity")
    ).select(
        "doc_id",
        "page_no",
        F.col("entity.start").alias("start"),
        F.col("entity.end").alias("end"),
        F.col("entity.text").alias("text"),
        F.col("entity.label").alias("label"),
        F.col("entity.score").alias("score"),
        F.col("entity.x0").alias("x0"),
        F.col("entity.top").alias("top"),
        F.col("entity.x1").alias("x1"),
        F.col("entity.bottom").alias("bottom"),
        "source",
        "model",
        "model_version",
        F.lit(run_id).alias("run_id"),
    )


def transform_page_failures(outcomes_df: DataFrame) -> DataFrame:
    """Per document with failed pages: partial when some pages worked, failed when none did."""
    failed_page = F.col("error_class").isNotNull()
    return (
        outcomes_df.groupBy("doc_id")
        .agg(
            F.count("*").alias("pages"),
            F.sum(failed_page.cast("int")).alias("failed_pages"),
            F.min("error_class").alias("error_class"),
            F.concat_ws(
                "; ",
                F.sort_array(
                    F.collect_list(
                        F.when(
                            failed_page, F.concat(F.lit("page "), F.col("page_no"), F.lit(": "), F.col("error_message"))
                        )
                    )
                ),
            ).alias("error_message"),
        )
        .where(F.col("failed_pages") > 0)
        .select(
            "doc_id",
            F.when(F.col("failed_pages") == F.col("pages"), F.lit(STATUS_FAILED))
            .otherwise(F.lit(STATUS_PARTIAL))
            .alias("status"),
            "error_class",
            "error_message",
        )
    )


def run_ner(ctx: StageContext) -> StageResult:
    started = time.monotonic()
    options = spacy_options(ctx.config)
    load_spacy(options.model, options.max_chunk_chars)  # fail fast, with the install hint, on the driver
    result = StageResult(STAGE, ctx.run_id)
    doc_ids = [
        r["doc_id"] for r in documents_of_run(ctx, [STATUS_OK, STATUS_PARTIAL]).select("doc_id").distinct().collect()
    ]
    result.documents_in = len(doc_ids)
    if doc_ids:
        pages_df = read_table(ctx.spark, ctx.lake, PAGES.name).where(
            F.col("doc_id").isin(doc_ids) & (F.col("status") == STATUS_OK) & (F.col("char_count") > 0)
        )
        page_count = pages_df.count()
        parts = partitions_for(page_count, ctx.config.ner.pages_per_task)
        publish_outcomes(
            ctx,
            result,
            stage=STAGE,
            doc_ids=doc_ids,
            outcomes_df=transform_recognize(pages_df.repartition(parts), options),
            outputs=[Output(ENTITIES, lambda df: explode_entities(df, ctx.run_id))],
            failures=transform_page_failures,
        )
    result.statuses = status_counts(ctx)
    result.seconds = time.monotonic() - started
    return result


if __name__ == "__main__":
    import sys

    from jobs.cli import main

    sys.exit(main(["ner", *sys.argv[1:]]))
