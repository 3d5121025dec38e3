"""Extract: the text of every page of this run's documents → ``pages``; failures → ``documents``."""

from __future__ import annotations

import logging
import time

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema

from jobs.config import DocnerConfig
from jobs.schemas import EXTRACT_RESULT, PAGES
from jobs.stage import (
    StageContext,
    StageResult,
    documents_of_run,
    partitions_for,
    publish_outcomes,
    status_counts,
)
from udfs.errors import STATUS_OK
from udfs.extract import ExtractOptions, extract_batches
from udfs.ocr import OcrOptions, tesseract_problem

STAGE = "extract"
log = logging.getLogger(__name__)


def extract_options(config: DocnerConfig) -> ExtractOptions:
    settings = config.extract
    return ExtractOptions(
        min_text_chars=settings.min_text_chars,
        ocr_enabled=settings.ocr.enabled,
        ocr=OcrOptions(
            tesseract_cmd=settings.ocr.tesseract_cmd,
            language=settings.ocr.language,
            dpi=settings.ocr.dpi,
            timeout_s=settings.ocr.page_timeout_s,
            psm=settings.ocr.psm,
        ),
    )


def transform_extract(documents_df: DataFrame, options: ExtractOptions) -> DataFrame:
    """(doc_id, source_path) → one EXTRACT_RESULT row per document: status, error, pages."""
    out_schema = to_arrow_schema(EXTRACT_RESULT)

    def extract(batches):
        return extract_batches(batches, options, out_schema)

    return documents_df.select("doc_id", "source_path").mapInArrow(extract, EXTRACT_RESULT)


def explode_pages(outcomes_df: DataFrame, run_id: str) -> DataFrame:
    return outcomes_df.select("doc_id", F.explode("pages").alias("page")).select(
        "doc_id",
        F.col("page.page_no").alias("page_no"),
        F.col("page.method").alias("method"),
        F.col("page.text").alias("text"),
        F.col("page.char_count").alias("char_count"),
        F.lit(run_id).alias("run_id"),
    )


def run_extract(ctx: StageContext) -> StageResult:
    started = time.monotonic()
    options = extract_options(ctx.config)
    result = StageResult(STAGE, ctx.run_id)
    if options.ocr_enabled:
        problem = tesseract_problem(options.ocr)
        if problem:
            # Digital pages still extract; pages that need OCR fail and are recorded as such.
            log.warning("OCR unavailable: %s", problem)
            result.notes.append(f"OCR unavailable: {problem}")
    documents_df = documents_of_run(ctx, [STATUS_OK]).select("doc_id", "source_path").dropDuplicates(["doc_id"])
    doc_ids = [r["doc_id"] for r in documents_df.select("doc_id").collect()]
    result.documents_in = len(doc_ids)
    if doc_ids:
        parts = partitions_for(len(doc_ids), ctx.config.extract.docs_per_task)
        publish_outcomes(
            ctx,
            result,
            stage=STAGE,
            spec=PAGES,
            doc_ids=doc_ids,
            outcomes_df=transform_extract(documents_df.repartition(parts), options),
            rows=lambda outcomes_df: explode_pages(outcomes_df, ctx.run_id),
            row_count=F.size("pages"),
            failures=lambda outcomes_df: outcomes_df.where(F.col("status") != STATUS_OK).select(
                "doc_id", "status", "error_class", "error_message"
            ),
        )
    result.statuses = status_counts(ctx)
    result.seconds = time.monotonic() - started
    return result


if __name__ == "__main__":
    import sys

    from jobs.cli import main

    sys.exit(main(["extract", *sys.argv[1:]]))
