"""What the stage jobs share: run ids, stage results, and recording document outcomes."""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from jobs.config import DocnerConfig
from jobs.lake import LakeError, WriteResult, in_list, read_table, sql_quote, write_table
from jobs.schemas import DOCUMENTS, TableSpec
from udfs.errors import truncate

STAGES = ("ingest", "extract", "ner")


def new_run_id(now: dt.datetime | None = None) -> str:
    """``20261123T101500Z-1a2b3c4d``: sortable by time, unique across concurrent runs."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(4)}"


@dataclass
class StageResult:
    stage: str
    run_id: str
    documents_in: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # documents by status after the stage
    rows_written: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int | None] = field(default_factory=dict)  # table -> committed version
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)  # backend -> "model version"


@dataclass(frozen=True)
class StageContext:
    spark: SparkSession
    config: DocnerConfig
    lake: Path
    run_id: str

    def write(self, df: DataFrame, spec: TableSpec, *, stage: str, replace_where: str | None = None) -> WriteResult:
        """Write a stage's output in one commit, idempotent per (run, stage, table)."""
        lake_settings = self.config.lake
        return write_table(
            df,
            self.lake,
            spec,
            mode="replace" if replace_where else "append",
            replace_where=replace_where,
            txn=(f"docner/{self.run_id}/{stage}/{spec.name}", 1),
            user_metadata=f"docner run {self.run_id} stage {stage}",
            compression=lake_settings.compression,
            max_rows_per_file=lake_settings.max_rows_per_file,
            commit_retries=lake_settings.commit_retries,
        )


def partitions_for(count: int, per_task: int, minimum: int = 1) -> int:
    return max(minimum, math.ceil(count / per_task))


def partition_keys(spark: SparkSession, partitions: int) -> list[int]:
    """One bigint key per partition such that ``repartition(partitions, key)`` sends the key
    of index i to partition i: hash partitioning uses the same Murmur3 hash as ``F.hash``.
    (Range partitioning on a few distinct values can put them all in one partition.)"""
    candidates = (
        spark.range(0, max(64, partitions * 32))
        .select("id", F.expr(f"pmod(hash(id), {partitions})").alias("part"))
        .groupBy("part")
        .agg(F.min("id").alias("id"))
        .collect()
    )
    keys = {int(r["part"]): int(r["id"]) for r in candidates}
    if len(keys) < partitions:  # not seen for small ranges; a wider search would find them
        raise RuntimeError(f"no hash key found for {partitions - len(keys)} of {partitions} partitions")
    return [keys[index] for index in range(partitions)]


def latest_run_id(spark: SparkSession, lake: Path) -> str:
    row = (
        read_table(spark, lake, DOCUMENTS.name)
        .groupBy("run_id")
        .agg(F.max("ingested_at").alias("at"))
        .orderBy(F.col("at").desc(), F.col("run_id").desc())
        .first()
    )
    if row is None:
        raise LakeError(f"no run in {lake}: the documents table is empty; run ingest first")
    return str(row["run_id"])


def documents_of_run(ctx: StageContext, statuses: Iterable[str]) -> DataFrame:
    return read_table(ctx.spark, ctx.lake, DOCUMENTS.name).where(
        (F.col("run_id") == ctx.run_id) & F.col("status").isin(list(statuses))
    )


def status_counts(ctx: StageContext) -> dict[str, int]:
    rows = (
        read_table(ctx.spark, ctx.lake, DOCUMENTS.name)
        .where(F.col("run_id") == ctx.run_id)
        .groupBy("status")
        .count()
        .collect()
    )
    return {str(r["status"]): int(r["count"]) for r in sorted(rows, key=lambda r: r["status"])}


@dataclass(frozen=True)
class Output:
    """One table a stage writes from its UDF outcomes, and how to get its rows from them."""

    spec: TableSpec
    rows: Callable[[DataFrame], DataFrame]


def publish_outcomes(
    ctx: StageContext,
    result: StageResult,
    *,
    stage: str,
    doc_ids: list[str],
    outcomes_df: DataFrame,
    outputs: Sequence[Output],
    failures: Callable[[DataFrame], DataFrame],
    summarize: Callable[[DataFrame], list[str]] | None = None,
    cache: bool = True,
) -> None:
    """Write a stage's rows for ``doc_ids`` (replacing their earlier rows), one commit per
    table, then record the documents it failed. The UDF outcomes are computed once;
    ``summarize`` adds notes on them to the stage result. ``cache=False``: the caller has
    cached what is expensive in ``outcomes_df`` already."""
    cached = outcomes_df.persist() if cache else outcomes_df
    try:
        if cache:
            # Compute the outcomes once with the UDF stages' own parallelism, then write each
            # table from the cache in as many tasks (and files) as there are task slots.
            cached.count()
        files = ctx.spark.sparkContext.defaultParallelism
        for output in outputs:
            rows = output.rows(cached).coalesce(files)
            written = ctx.write(rows, output.spec, stage=stage, replace_where=in_list("doc_id", doc_ids))
            result.versions[output.spec.name] = written.version
            result.rows_written[output.spec.name] = written.rows
        failed = [row.asDict() for row in failures(cached).collect()]
        if summarize is not None:
            result.notes.extend(summarize(cached))
    finally:
        if cache:
            cached.unpersist()
    record_outcomes(ctx, failed, stage)


def record_outcomes(ctx: StageContext, outcomes: Sequence[Row | Mapping[str, Any]], stage: str) -> WriteResult | None:
    """Set status and error of this run's documents that a stage failed (fully or partly).

    ``outcomes`` rows carry ``doc_id``, ``status``, ``error_class`` and ``error_message``.
    Only rows still ``ok``/``partial`` change; rows skipped as duplicates keep their status.
    All of this run's rows of those documents are rewritten in one replace-where commit.
    """
    if not outcomes:
        return None
    doc_ids = [str(r["doc_id"]) for r in outcomes]
    updates = ctx.spark.createDataFrame(
        [
            (r["doc_id"], r["status"], r["error_class"], truncate(r["error_message"]) if r["error_message"] else None)
            for r in outcomes
        ],
        "doc_id string, new_status string, new_error_class string, new_error_message string",
    )
    predicate = f"run_id = {sql_quote(ctx.run_id)} AND {in_list('doc_id', doc_ids)}"
    current = read_table(ctx.spark, ctx.lake, DOCUMENTS.name).where(
        (F.col("run_id") == ctx.run_id) & F.col("doc_id").isin(doc_ids)
    )
    changeable = F.col("status").isin("ok", "partial") & F.col("new_status").isNotNull()
    columns = []
    for name in DOCUMENTS.schema.fieldNames():
        if name in ("status", "error_class"):
            value = F.col(f"new_{name}")
        elif name == "error_message":
            # A document a later stage fails keeps what an earlier stage said about it.
            value = F.when(F.col(name).isNull(), F.col("new_error_message")).otherwise(
                F.concat_ws(" | ", F.col(name), F.concat(F.lit(f"{stage}: "), F.col("new_error_message")))
            )
        elif name == "error_stage":
            value = F.lit(stage)
        else:
            columns.append(F.col(name))
            continue
        columns.append(F.when(changeable, value).otherwise(F.col(name)).alias(name))
    updated = current.join(updates, "doc_id", "left").select(*columns)
    return ctx.write(updated, DOCUMENTS, stage=stage, replace_where=predicate)
