"""What the stage jobs share: run ids, stage results, and recording document outcomes."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import heapq
import math
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.catalog.stages import later_stages, stage_spec
from jobs.catalog.tables import DOCUMENTS, QUARANTINE, TableSpec, stage_tables
from jobs.config import DocnerConfig
from jobs.lake.state import STATE_COLUMNS, derive_status, is_done, is_primary
from jobs.lake.tables import WriteResult, arrow_rows, in_list, read_arrow, sql_quote, write_arrow, write_table
from jobs.ops.progress import ProgressCounters, SparkJobs, StageProgress
from jobs.quality.audit import (
    ROWS_FRAME,
    Audit,
    QualityError,
    audit,
    blocking_message,
    load_suite,
    parameters,
    results_directory,
    suite_path,
    warm_up,
    without_quarantined,
)
from udfs.errors import STATUS_OK, truncate

K = TypeVar("K")


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
    quarantined: dict[str, int] = field(default_factory=dict)  # table -> rows kept out by checks
    dq_failed: dict[str, int] = field(default_factory=dict)  # "table.check" -> failing rows
    dq_success: bool | None = None  # None: nothing was checked
    dq_seconds: float = 0.0
    stage_version: str | None = None  # jobs.lake.state: what the stage processed documents with
    figures: dict[str, Any] = field(default_factory=dict)  # measured on the published rows (Output.figures)


class StageContext:
    """What a stage runs with. ``spark`` may be a function that builds the session: it is
    then called the first time a stage needs Spark, so a run with nothing to do (every
    document up to date) never starts a JVM."""

    def __init__(
        self,
        spark: SparkSession | Callable[[], SparkSession],
        config: DocnerConfig,
        lake: Path,
        run_id: str,
        *,
        progress_stream: IO[str] | None = None,
        progress_interactive: bool | None = None,
    ) -> None:
        self._spark = spark
        self.config = config
        self.lake = lake
        self.run_id = run_id
        self.progress_stream = progress_stream
        self.progress_interactive = progress_interactive
        self._jobs: SparkJobs | None = None

    @contextlib.contextmanager
    def tracking(self, stage: str, documents_total: int, pages_total: int | None = None) -> Iterator[StageProgress]:
        """While a stage works on Spark: its job group (Spark UI), and its progress reported
        from the counters its tasks update (a terminal line, or ``progress`` log records);
        the stage passes ``.counters`` to its tasks (and may set ``.pages_total`` later)."""
        counters = ProgressCounters.create(self.spark)
        jobs = SparkJobs(self.spark, self.run_id, stage)
        self._jobs = jobs
        jobs.describe(f"{documents_total} document(s)")
        try:
            with StageProgress(
                counters,
                stage,
                documents_total,
                pages_total,
                stream=self.progress_stream,
                interactive=self.progress_interactive,
                interval_s=self.config.progress.interval_s,
            ) as progress:
                yield progress
        finally:
            jobs.clear()
            self._jobs = None

    def prepare_checks(self, *specs: TableSpec) -> None:
        """Get the quality suites of ``specs`` ready in the background (see
        :func:`jobs.quality.audit.warm_up`) while the stage does its Spark work."""
        if self.config.quality.enabled:
            warm_up([suite_path(self.config, spec.name) for spec in specs])

    def describe(self, step: str) -> None:
        """Describe the Spark jobs started from now on (no-op outside :meth:`tracking`)."""
        if self._jobs is not None:
            self._jobs.describe(step)

    @property
    def spark(self) -> SparkSession:
        if not isinstance(self._spark, SparkSession):
            self._spark = self._spark()
        return self._spark

    @property
    def spark_started(self) -> bool:
        return isinstance(self._spark, SparkSession)

    def write(self, df: DataFrame, spec: TableSpec, *, stage: str, replace_where: str | None = None) -> WriteResult:
        """Write a stage's output in one commit (see :meth:`_commit_options`)."""
        lake_settings = self.config.lake
        return write_table(
            df,
            self.lake,
            spec,
            mode="replace" if replace_where else "append",
            batch_rows=lake_settings.write_batch_rows,
            batch_bytes=lake_settings.write_batch_bytes,
            **self._commit_options(stage, spec, replace_where),
        )

    def write_rows(
        self, rows: list[dict[str, Any]], spec: TableSpec, *, stage: str, replace_where: str | None = None
    ) -> WriteResult:
        """:meth:`write` for rows on the driver (bookkeeping), without a Spark job."""
        return write_arrow(arrow_rows(spec, rows), self.lake, spec, **self._commit_options(stage, spec, replace_where))

    def _commit_options(self, stage: str, spec: TableSpec, replace_where: str | None) -> dict[str, Any]:
        """What every write of a stage commits with. The application transaction names the
        run, stage, table and what is replaced, so a retried write of the same thing lands once."""
        lake_settings = self.config.lake
        scope = hashlib.sha256((replace_where or "").encode()).hexdigest()[:16]
        return {
            "replace_where": replace_where,
            "txn": (f"docner/{self.run_id}/{stage}/{spec.name}/{scope}", 1),
            "user_metadata": f"docner run {self.run_id} stage {stage}",
            "compression": lake_settings.compression,
            "max_rows_per_file": lake_settings.max_rows_per_file,
            "commit_retries": lake_settings.commit_retries,
            "stage": stage,
        }


def partitions_for(count: int, per_task: int, minimum: int = 1) -> int:
    return max(minimum, math.ceil(count / per_task))


def balanced_bins(sizes: Mapping[K, int], bins: int) -> dict[K, int]:
    """Units of work to ``bins`` tasks, largest first onto the least loaded task (LPT: the
    most loaded task gets at most 4/3 of the optimum)."""
    heap = [(0, index) for index in range(bins)]
    assignment: dict[K, int] = {}
    for key, size in sorted(sizes.items(), key=lambda item: (-item[1], repr(item[0]))):
        load, index = heapq.heappop(heap)
        assignment[key] = index
        heapq.heappush(heap, (load + size, index))
    return assignment


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


def documents_to_process(ctx: StageContext, stage: str, version: str, reprocess: bool) -> list[dict[str, Any]]:
    """The primary documents rows ``stage`` must process: ready for it (the stage it comes
    ``after`` left them ok or partial), and not processed with ``version`` already (all that
    are ready, when ``reprocess``)."""
    after = stage_spec(stage).after
    rows = read_arrow(ctx.lake, DOCUMENTS.name).to_pylist()
    todo = []
    for row in rows:
        if not is_primary(row) or (after is not None and not is_done(row, after)):
            continue
        state = row[STATE_COLUMNS[stage]]
        if reprocess or state is None or state["version"] != version:
            todo.append(row)
    return sorted(todo, key=lambda r: r["doc_id"])


def status_counts(ctx: StageContext) -> dict[str, int]:
    """Every documents row of the lake by status."""
    counts = read_arrow(ctx.lake, DOCUMENTS.name, ["status"]).group_by("status").aggregate([("status", "count")])
    return dict(sorted(zip(counts["status"].to_pylist(), counts["status_count"].to_pylist(), strict=True)))


@dataclass(frozen=True)
class Output:
    """One table a stage writes from its UDF outcomes: how to get its rows from them (and from
    the tables published before it in the same stage), the frames its quality suite checks
    (default: the rows alone), and the figures the ``runs`` row reports of the rows that are
    published (measured while they are cached, instead of read back from the table)."""

    spec: TableSpec
    rows: Callable[[DataFrame, Mapping[str, DataFrame]], DataFrame]
    frames: Callable[[DataFrame], dict[str, DataFrame]] | None = None
    figures: Callable[[DataFrame], dict[str, Any]] | None = None


def publish_outcomes(
    ctx: StageContext,
    result: StageResult,
    *,
    stage: str,
    version: str,
    doc_ids: list[str],
    outcomes_df: DataFrame,
    outputs: Sequence[Output],
    statuses: Callable[[DataFrame], DataFrame],
    summarize: Callable[[DataFrame], list[str]] | None = None,
    cache: bool = True,
) -> None:
    """Write-audit-publish a stage's rows for ``doc_ids``.

    Every output's rows are first checked against its table's suite (``jobs.quality.audit``); if a
    check fails beyond its threshold the stage stops before anything is published. Then each
    table gets ONE commit replacing those documents' earlier rows (quarantined rows left out
    and written to ``quarantine``), and last the stage's state of every document is recorded
    in ``documents`` — so a run killed before that commit leaves the documents to be processed
    again, and the re-run's replace-where commits put the tables back as one clean run would.

    ``statuses`` gives (doc_id, status, error_class, error_message) of every document from
    the UDF outcomes, which are computed once; ``summarize`` adds notes on them to the
    stage result. ``cache=False``: the caller has cached what is expensive already."""
    cached = outcomes_df.persist() if cache else outcomes_df
    held: list[DataFrame] = []
    try:
        # Compute the outcomes once with the UDF stages' own parallelism (and Arrow batch
        # size), then write each table from the cache in as many tasks (and files) as there
        # are task slots.
        cached.count()
        files = ctx.spark.sparkContext.defaultParallelism
        published: dict[str, DataFrame] = {}
        audits: list[Audit] = []
        for output in outputs:
            rows = output.rows(cached, published).coalesce(files)
            suite_file = suite_path(ctx.config, output.spec.name)
            if ctx.config.quality.enabled and suite_file.is_file():
                # The rows are computed (and cached) before the audit, so its time
                # (``dq_seconds``) is the checks' own and not the making of the rows.
                ctx.describe(f"compute {output.spec.name} rows")
                rows = rows.persist()
                held.append(rows)
                rows.count()
                ctx.describe(f"check {output.spec.name} rows (Great Expectations)")
                report = audit(
                    suite=load_suite(suite_file),
                    frames=output.frames(rows) if output.frames else {ROWS_FRAME: rows},
                    params=parameters(ctx.config),
                    max_failed_share=ctx.config.quality.max_failed_share,
                    stage=stage,
                    run_id=ctx.run_id,
                    results_dir=results_directory(ctx.lake, ctx.run_id),
                )
                audits.append(report)
                rows = without_quarantined(rows, report)
            published[output.spec.name] = rows
        _record_audits(result, audits)
        if any(report.blocking for report in audits):
            raise QualityError(blocking_message(audits))
        for output in outputs:
            if output.figures is not None:
                ctx.describe(f"measure {output.spec.name} rows")
                result.figures.update(output.figures(published[output.spec.name]))
        for output in outputs:
            name = output.spec.name
            ctx.describe(f"write {name}")
            written = ctx.write(published[name], output.spec, stage=stage, replace_where=in_list("doc_id", doc_ids))
            result.versions[name] = written.version
            result.rows_written[name] = written.rows
        # The documents rows are read once: nothing else writes them during the stage.
        documents = read_arrow(ctx.lake, DOCUMENTS.name, where=pc.field("doc_id").isin(doc_ids)).to_pylist()
        # When a stage processes a document again, the rows of the stages after it are removed
        # with it: they were made from what the stage is replacing (entities pointing into
        # replaced pages), and the later stages' states are cleared so they run on it again.
        later = later_stages(stage)
        stale = processed_by(documents, later)
        for spec in (spec for name in later for spec in stage_tables(name)) if stale else ():
            ctx.describe(f"remove the {spec.name} rows made from the replaced output")
            written = ctx.write_rows([], spec, stage=stage, replace_where=in_list("doc_id", stale))
            if written.version is not None:
                result.versions[spec.name] = written.version
        quarantine = [row for report in audits for row in report.quarantine]
        stages = ", ".join(sql_quote(name) for name in (stage, *later))
        replaced = f"stage IN ({stages}) AND {in_list('doc_id', doc_ids)}"
        written = ctx.write_rows(quarantine, QUARANTINE, stage=stage, replace_where=replaced)
        if written.version is not None:
            result.versions[QUARANTINE.name] = written.version
        outcomes = [row.asDict() for row in statuses(cached).collect()]
        if summarize is not None:
            result.notes.extend(summarize(cached))
    finally:
        for frame in held:
            frame.unpersist()
        if cache:
            cached.unpersist()
    written = record_states(ctx, stage, version, doc_ids, outcomes, documents)
    result.versions[DOCUMENTS.name] = written.version


def processed_by(documents: Sequence[Mapping[str, Any]], stages: Sequence[str]) -> list[str]:
    """The documents (rows) that one of ``stages`` has processed: their rows may exist."""
    return sorted({row["doc_id"] for row in documents if any(row[STATE_COLUMNS[name]] is not None for name in stages)})


def _record_audits(result: StageResult, audits: Sequence[Audit]) -> None:
    for report in audits:
        result.dq_seconds += report.seconds
        result.quarantined[report.table] = len({row["row_key"] for row in report.quarantine})
        for check, count in report.failed.items():
            result.dq_failed[f"{report.table}.{check}"] = count
        result.notes.extend(report.warnings)
        if report.quarantine:
            result.notes.append(
                f"{result.quarantined[report.table]} {report.table} row(s) quarantined by "
                + ", ".join(sorted({row["check"] for row in report.quarantine}))
            )
    if audits:
        result.dq_success = not any(report.failed for report in audits)


def record_states(
    ctx: StageContext,
    stage: str,
    version: str,
    doc_ids: Sequence[str],
    outcomes: Sequence[Mapping[str, Any]],
    rows: list[dict[str, Any]],
) -> WriteResult:
    """Set ``<stage>_state`` of the primary rows of ``doc_ids`` (``rows``: every documents row
    of them, changed in place) from ``outcomes`` (doc_id, status, error_class, error_message;
    a document without one: ok), clear the states of the stages after it (their input
    changed), and derive the overall status again. All rows of those documents are rewritten
    in one replace-where commit."""
    by_doc = {str(r["doc_id"]): r for r in outcomes}
    now = dt.datetime.now(dt.UTC)
    later = later_stages(stage)
    for row in rows:
        if not is_primary(row):
            continue
        outcome = by_doc.get(row["doc_id"])
        message = outcome["error_message"] if outcome else None
        row[STATE_COLUMNS[stage]] = {
            "status": outcome["status"] if outcome else STATUS_OK,
            "error_class": outcome["error_class"] if outcome else None,
            "error_message": truncate(message) if message else None,
            "version": version,
            "run_id": ctx.run_id,
            "finished_at": now,
        }
        for name in later:
            row[STATE_COLUMNS[name]] = None
        derive_status(row)
    return ctx.write_rows(rows, DOCUMENTS, stage=stage, replace_where=in_list("doc_id", list(doc_ids)))
