"""Extract: the text of every page of this run's documents → ``pages`` and ``tables``.

Three passes (see :mod:`udfs.extract.passes`): scan page ranges (text layer, routing, layout),
OCR the pages that need it spread evenly over all task slots, then assemble each
document's pages in order (headers/footers, cleaning with offsets, status).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema

from jobs.catalog.rows import EXTRACT_RESULT, RAW_PAGE, SCAN_RESULT
from jobs.catalog.tables import PAGES, TABLE_CELLS
from jobs.config import DocnerConfig, options_from
from jobs.ops.progress import ProgressCounters, finished_pages, listed_items, struct_child
from jobs.stages.base import (
    Output,
    StageContext,
    StageResult,
    balanced_bins,
    documents_to_process,
    partition_keys,
    partitions_for,
    publish_outcomes,
    status_counts,
)
from jobs.stages.runs import record_run
from jobs.stages.versions import extract_version
from udfs.extract.ocr import tesseract_problem, tesseract_version
from udfs.extract.passes import PENDING, ExtractOptions, assemble_table, finish_batches, scan_batches

STAGE = "extract"
log = logging.getLogger(__name__)


# The extract settings that stay on the driver: they size the tasks, not what a task does.
DRIVER_SETTINGS = {
    "pages_per_range": "scan ranges (range_size)",
    "max_pages_per_range": "scan ranges (range_size)",
    "ocr_pages_per_task": "OCR tasks (extracted)",
}


def extract_options(config: DocnerConfig) -> ExtractOptions:
    """The ``extract`` settings as the (picklable) options the tasks run with."""
    return options_from(config.extract, ExtractOptions, elsewhere=DRIVER_SETTINGS)


# Scan units per task slot that a batch's pages are cut into at least (while ranges stay
# within extract.pages_per_range … max_pages_per_range), and tasks per slot they are placed
# in: enough for Spark's dynamic scheduling to even out pages of unequal cost (layout, OCR).
RANGES_PER_SLOT = 4
SCAN_TASKS_PER_SLOT = 8
ASSEMBLE_TASKS_PER_SLOT = 4


def batch_pages(documents: Sequence[tuple[str, str, int | None]], max_pages: int) -> int:
    """Pages a batch of (doc_id, source_path, page_count) documents has to extract, within the page cap."""
    return sum(min(page_count or 0, max_pages) for _, _, page_count in documents)


def range_size(pages_total: int, slots: int, min_pages: int, max_pages: int) -> int:
    """Pages per scan range for a batch of ``pages_total`` pages on ``slots`` task slots.

    As long as the batch still makes ``RANGES_PER_SLOT`` units per slot, and within
    [``min_pages``, ``max_pages``]: a batch of many documents keeps them whole (each is then
    assembled in its own scan task, without a shuffle), while one long document alone is
    cut small enough to spread over every slot."""
    wanted = math.ceil(max(pages_total, 1) / (max(slots, 1) * RANGES_PER_SLOT))
    return max(min_pages, min(max_pages, wanted))


def page_ranges(
    documents: Sequence[tuple[str, str, int | None]], size: int, max_pages: int
) -> list[tuple[str, str, int | None, int, int]]:
    """(doc_id, source_path, page_count) → (…, first_page, last_page) ranges of at most
    ``size`` pages up to the page cap; a document with no pages still gets one (empty) range."""
    ranges = []
    for doc_id, source_path, page_count in documents:
        last = max(min(page_count or 0, max_pages), 1)
        for first in range(1, last + 1, size):
            ranges.append((doc_id, source_path, page_count, first, min(first + size - 1, last)))
    return ranges


def ranges_frame(spark: SparkSession, ranges: Sequence[tuple[str, str, int | None, int, int]], tasks: int) -> DataFrame:
    """The scan units as a DataFrame in ``tasks`` partitions of about equal page counts
    (largest first onto the least loaded task)."""
    bins = balanced_bins({index: last - first + 1 for index, (*_, first, last) in enumerate(ranges)}, tasks)
    keys = partition_keys(spark, tasks)
    rows = [(*unit, keys[bins[index]]) for index, unit in enumerate(ranges)]
    schema = "doc_id string, source_path string, page_count int, first_page int, last_page int, task_key bigint"
    return spark.createDataFrame(rows, schema).repartition(tasks, "task_key").drop("task_key")


def transform_scan(
    ranges_df: DataFrame, options: ExtractOptions, counters: ProgressCounters | None = None
) -> DataFrame:
    """Page ranges → SCAN_RESULT rows: raw pages, or whole documents already assembled."""
    out_schema = to_arrow_schema(SCAN_RESULT)

    def scan(batches):
        for batch in scan_batches(batches, options, out_schema):
            if counters is not None:
                outcome = batch.column("outcome")
                counters.add(
                    documents=len(outcome) - outcome.null_count,
                    pages=finished_pages(batch.column("raw"), PENDING) + listed_items(struct_child(outcome, "pages")),
                )
            yield batch

    return ranges_df.mapInArrow(scan, SCAN_RESULT)


def transform_finish(
    pending_df: DataFrame, options: ExtractOptions, counters: ProgressCounters | None = None
) -> DataFrame:
    """Pending (OCR) pages → finished page rows; spread ``pending_df`` evenly first."""
    out_schema = to_arrow_schema(RAW_PAGE)

    def finish(batches):
        for batch in finish_batches(batches, options, out_schema):
            if counters is not None:
                counters.add(pages=batch.num_rows)
            yield batch

    return pending_df.mapInArrow(finish, RAW_PAGE)


def transform_assemble(
    raw_pages_df: DataFrame, options: ExtractOptions, partitions: int, counters: ProgressCounters | None = None
) -> DataFrame:
    """Page rows → one outcome row per document. The explicit repartition keeps the work
    spread: left to adaptive execution, the (small) shuffle was coalesced into one task."""
    out_schema = to_arrow_schema(EXTRACT_RESULT)

    def assemble(table):
        assembled = assemble_table(table, options, out_schema)
        if counters is not None:
            counters.add(documents=assembled.num_rows)
        return assembled

    return raw_pages_df.repartition(partitions, "doc_id").groupBy("doc_id").applyInArrow(assemble, EXTRACT_RESULT)


def explode_pages(outcomes_df: DataFrame, run_id: str) -> DataFrame:
    return outcomes_df.select("doc_id", F.explode("pages").alias("page")).select(
        "doc_id", "page.*", F.lit(run_id).alias("run_id")
    )


def explode_tables(outcomes_df: DataFrame, run_id: str) -> DataFrame:
    return outcomes_df.select("doc_id", F.explode("tables").alias("cell")).select(
        "doc_id", "cell.*", F.lit(run_id).alias("run_id")
    )


def page_figures(rows: DataFrame) -> dict[str, Any]:
    """What the stage measures of the ``pages`` rows it publishes (one Spark job)."""
    row = rows.agg(
        F.count("*").alias("pages"),
        F.sum((F.col("status") == "ok").cast("int")).alias("ok"),
        F.sum(((F.col("status") == "ok") & (F.col("method") == "ocr")).cast("int")).alias("ocr"),
    ).first()
    if row is None:  # an aggregate without grouping always has its row
        return {"pages": 0, "ok_pages": 0, "ocr_pages": 0}
    return {"pages": int(row["pages"]), "ok_pages": int(row["ok"] or 0), "ocr_pages": int(row["ocr"] or 0)}


def run_figures(result: StageResult) -> dict[str, Any]:
    """The stage's figures in its ``runs`` row (``jobs.catalog.stages``: pages, rate, OCR share)."""
    if not result.documents_in or "pages" not in result.figures:
        return {}
    pages, ok = result.figures["pages"], result.figures["ok_pages"]
    return {
        "pages": pages,
        "pages_per_s": pages / result.seconds if result.seconds > 0 else None,
        "ocr_page_share": result.figures["ocr_pages"] / ok if ok else None,
    }


def page_frames(rows: DataFrame) -> dict[str, DataFrame]:
    """What the ``pages`` suite checks: the rows with the length of their text."""
    return {"rows": rows.withColumn("_text_len", F.length("text"))}


def run_extract(ctx: StageContext, *, reprocess: bool = False) -> StageResult:
    """Extract the documents not yet extracted with this stage version (all: ``reprocess``)."""
    started = time.monotonic()
    options = extract_options(ctx.config)
    settings = ctx.config.extract
    result = StageResult(STAGE, ctx.run_id)
    tesseract = None
    if options.ocr.enabled:
        problem = tesseract_problem(options.ocr)
        if problem:
            # Digital pages still extract; pages that need OCR fail and are recorded as such.
            log.warning("OCR unavailable: %s", problem)
            result.notes.append(f"OCR unavailable: {problem}")
        else:
            tesseract = tesseract_version(options.ocr)
    version = extract_version(ctx.config, tesseract)
    result.stage_version = version
    documents = [
        (r["doc_id"], r["source_path"], r["page_count"]) for r in documents_to_process(ctx, STAGE, version, reprocess)
    ]
    doc_ids = [doc_id for doc_id, _, _ in documents]
    result.documents_in = len(doc_ids)
    if doc_ids:
        with ctx.tracking(STAGE, len(doc_ids), batch_pages(documents, settings.max_pages)) as progress:
            ctx.prepare_checks(PAGES, TABLE_CELLS)
            _extract_documents(ctx, result, options, version, documents, progress.counters)
    result.statuses = status_counts(ctx)
    result.seconds = time.monotonic() - started
    record_run(ctx, result, run_figures(result))
    return result


@dataclass(frozen=True)
class Extraction:
    """The extracted documents of a batch: one outcome row per document (pages and table
    cells nested), computed lazily from cached scan (and assembly) results."""

    outcomes_df: DataFrame
    pending_pages: int


@contextlib.contextmanager
def extracted(
    ctx: StageContext,
    options: ExtractOptions,
    documents: Sequence[tuple[str, str, int | None]],
    counters: ProgressCounters | None = None,
) -> Iterator[Extraction]:
    """Scan ``documents`` (doc_id, source_path, page_count), OCR the pages that need it and
    assemble every document — the extraction path, without its checks and writes. The scan
    runs here (to know how many pages need OCR); the rest when the outcomes are used, inside
    the ``with`` block, which releases the cached results on leaving."""
    settings = ctx.config.extract
    slots = ctx.spark.sparkContext.defaultParallelism
    size = range_size(
        batch_pages(documents, settings.max_pages), slots, settings.pages_per_range, settings.max_pages_per_range
    )
    units = page_ranges(documents, size, settings.max_pages)
    ranges_df = ranges_frame(ctx.spark, units, min(len(units), slots * SCAN_TASKS_PER_SLOT))
    scanned_df = transform_scan(ranges_df, options, counters).persist()
    assembled_df = None
    try:
        ctx.describe(f"scan {len(units)} page range(s) of {len(documents)} document(s)")
        raw_df = scanned_df.where(F.col("raw").isNotNull()).select("raw.*")
        raw_counts = {
            bool(r["pending"]): int(r["count"])
            for r in raw_df.groupBy((F.col("status") == PENDING).alias("pending")).count().collect()
        }
        pending_pages = raw_counts.get(True, 0)
        # Documents the scan assembled whole come straight from it; the others (split into
        # ranges, or with pages to OCR) are grouped by a shuffle and assembled. Both parts
        # are cached, so the outcomes are not cached again: each table is written from them.
        outcomes_df = scanned_df.where(F.col("outcome").isNotNull()).select("outcome.*")
        if raw_counts:
            pending = raw_df.where(F.col("status") == PENDING)
            finished_df = transform_finish(
                pending.repartition(partitions_for(pending_pages, settings.ocr_pages_per_task)), options, counters
            )
            grouped_df = raw_df.where(F.col("status") != PENDING).unionByName(finished_df)
            assembled_df = transform_assemble(
                grouped_df, options, min(len(documents), slots * ASSEMBLE_TASKS_PER_SLOT), counters
            ).persist()
            outcomes_df = outcomes_df.unionByName(assembled_df)
        yield Extraction(outcomes_df, pending_pages)
    finally:
        scanned_df.unpersist()
        if assembled_df is not None:
            assembled_df.unpersist()


def _extract_documents(
    ctx: StageContext,
    result: StageResult,
    options: ExtractOptions,
    version: str,
    documents: list[tuple[str, str, int | None]],
    counters: ProgressCounters,
) -> None:
    doc_ids = [doc_id for doc_id, _, _ in documents]
    with extracted(ctx, options, documents, counters) as extraction:
        ctx.describe(f"OCR {extraction.pending_pages} page(s), assemble documents, check and write pages and tables")
        publish_outcomes(
            ctx,
            result,
            stage=STAGE,
            version=version,
            doc_ids=doc_ids,
            outcomes_df=extraction.outcomes_df,
            outputs=[
                Output(PAGES, lambda df, _: explode_pages(df, ctx.run_id), page_frames, page_figures),
                Output(TABLE_CELLS, lambda df, _: explode_tables(df, ctx.run_id)),
            ],
            statuses=lambda df: df.select("doc_id", "status", "error_class", "error_message"),
            cache=False,
        )
        result.notes.append(f"{extraction.pending_pages} page(s) OCR'd")
