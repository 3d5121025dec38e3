"""Ingest: list the input PDFs and record each one in ``documents`` (sha256 id, pages, status)."""

from __future__ import annotations

import datetime as dt
import time

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema

from jobs.lake import in_list
from jobs.runs import record_run
from jobs.schemas import DOCUMENTS, PROBE_RESULT
from jobs.stage import StageContext, StageResult, partitions_for, status_counts
from udfs.errors import STATUS_OK, STATUS_SKIPPED
from udfs.files import InputFile, list_pdfs
from udfs.ingest import probe_batches

STAGE = "ingest"


def transform_probe_files(files_df: DataFrame, max_file_bytes: int) -> DataFrame:
    """(source_path, size_bytes) → one PROBE_RESULT row per file (hash, page count, status)."""
    out_schema = to_arrow_schema(PROBE_RESULT)

    def probe(batches):
        return probe_batches(batches, max_file_bytes, out_schema)

    return files_df.mapInArrow(probe, PROBE_RESULT)


def transform_documents(probes_df: DataFrame, run_id: str, ingested_at: dt.datetime) -> DataFrame:
    """Probe rows → ``documents`` rows; a second file with the same bytes is a skipped duplicate."""
    by_content = Window.partitionBy("doc_id").orderBy("source_path")
    ranked = probes_df.withColumn("_rank", F.row_number().over(by_content)).withColumn(
        "_first_path", F.first("source_path").over(by_content)
    )
    is_duplicate = (F.col("_rank") > 1) & (F.col("status") == STATUS_OK)
    return ranked.select(
        "doc_id",
        "source_path",
        F.element_at(F.split("source_path", "/"), -1).alias("file_name"),
        F.col("size_bytes").cast("long").alias("size_bytes"),
        "page_count",
        F.when(is_duplicate, F.lit(STATUS_SKIPPED)).otherwise(F.col("status")).alias("status"),
        F.when(is_duplicate, F.lit("DuplicateContent")).otherwise(F.col("error_class")).alias("error_class"),
        F.when(is_duplicate, F.concat(F.lit("identical bytes to "), F.col("_first_path")))
        .otherwise(F.col("error_message"))
        .alias("error_message"),
        F.when(is_duplicate | F.col("error_class").isNotNull(), F.lit(STAGE)).alias("error_stage"),
        F.lit(run_id).alias("run_id"),
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
    )


def run_ingest(ctx: StageContext, input_location: str) -> StageResult:
    started = time.monotonic()
    files: list[InputFile] = list_pdfs(input_location)
    result = StageResult(STAGE, ctx.run_id, documents_in=len(files))
    if not files:
        result.notes.append(f"no *.pdf files under {input_location}")
        result.seconds = time.monotonic() - started
        record_run(ctx, result)
        return result
    settings = ctx.config.ingest
    files_df = ctx.spark.createDataFrame(
        [(f.path, f.size_bytes) for f in files], "source_path string, size_bytes long"
    ).repartition(partitions_for(len(files), settings.files_per_task))
    documents_df = transform_documents(
        transform_probe_files(files_df, settings.max_file_bytes), ctx.run_id, dt.datetime.now(dt.UTC)
    ).persist()
    try:
        doc_ids = [r["doc_id"] for r in documents_df.select("doc_id").distinct().collect()]
        written = ctx.write(documents_df, DOCUMENTS, stage=STAGE, replace_where=in_list("doc_id", doc_ids))
    finally:
        documents_df.unpersist()
    result.rows_written[DOCUMENTS.name] = len(files)
    result.versions[DOCUMENTS.name] = written.version
    result.statuses = status_counts(ctx)
    result.seconds = time.monotonic() - started
    record_run(ctx, result)
    return result


if __name__ == "__main__":
    import sys

    from jobs.cli import main

    sys.exit(main(["ingest", *sys.argv[1:]]))
