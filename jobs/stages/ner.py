"""NER: entities of this run's documents → ``entities``; documents that fail → ``documents``.

Each document is recognized whole (its ``document_text``), by every configured backend in
one pass, merged and normalised in the UDF; boxes come from the pages' word boxes with
built-in Spark functions. On a GPU cluster the stage runs under its own resource profile.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

from pyspark.resource import ExecutorResourceRequests, ResourceProfile, ResourceProfileBuilder, TaskResourceRequests
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from jobs.catalog.rows import NER_RESULT
from jobs.catalog.stages import stage_spec
from jobs.catalog.tables import DOCUMENTS, ENTITIES, ENTITY_SEARCH, PAGES
from jobs.config import DocnerConfig, MergeSettings, ResourceSettings, options_from, resolve_conf_path
from jobs.lake.state import STATE_COLUMNS
from jobs.lake.tables import read_table
from jobs.lake.views import PAGE_BREAK, document_text
from jobs.ops.progress import ProgressCounters, counted_input
from jobs.stages.base import (
    Output,
    StageContext,
    StageResult,
    balanced_bins,
    documents_to_process,
    partition_keys,
    publish_outcomes,
    status_counts,
)
from jobs.stages.entity_search import transform_entity_search
from jobs.stages.policy import redact_options, redacted_entities, search_redaction
from jobs.stages.runs import record_run
from jobs.stages.versions import ner_version
from udfs.errors import STATUS_FAILED, STATUS_OK
from udfs.ner.backends import BACKEND_NAMES, backend_module
from udfs.ner.lexicon import load_lexicon
from udfs.ner.merge import MergePolicy, PriorityRule
from udfs.ner.places import load_places
from udfs.ner.recognize import NerOptions, recognize_batches

STAGE = "ner"
INPUT_STATE = STATE_COLUMNS[stage_spec(STAGE).after or ""]  # the state of the stage NER reads (extract)
log = logging.getLogger(__name__)


# The ner settings that do not reach the workers as they are: they size the tasks, ask for
# resources, or are each backend's own options (in NerOptions.backends).
DRIVER_SETTINGS = {
    "chars_per_task": "task sizes (run_ner)",
    "resources": "the stage's resource profile (resource_profile)",
    "merge": "a MergePolicy (merge_policy)",
    "lexicon": "the file's Lexicon, loaded on the driver (ner_options)",
    "places": "the file's Places, loaded on the driver (ner_options)",
    **{name: "its backend's Options, in NerOptions.backends" for name in BACKEND_NAMES},
}


def merge_policy(settings: MergeSettings) -> MergePolicy:
    return MergePolicy(
        tuple(
            PriorityRule(entry.source, frozenset(entry.labels) if entry.labels is not None else None)
            for entry in settings.priority
        )
    )


def ner_options(config: DocnerConfig) -> NerOptions:
    """The ``ner`` settings as the (picklable) options the tasks run with: each configured
    backend's section as its Options, prepared on the driver (rule files read here)."""
    settings = config.ner
    conf_dir = Path(config.conf_dir)
    backends = []
    for name in settings.backends:
        module = backend_module(name)
        backends.append((name, module.prepare(options_from(getattr(settings, name), module.Options), conf_dir)))
    lexicon = load_lexicon(resolve_conf_path(config, settings.lexicon)) if settings.lexicon else None
    places = load_places(resolve_conf_path(config, settings.places)) if settings.places else None
    return options_from(
        settings,
        NerOptions,
        elsewhere=DRIVER_SETTINGS,
        backends=tuple(backends),
        merge=merge_policy(settings.merge),
        lexicon=lexicon,
        places=places,
    )


def check_backends(options: NerOptions, local: bool) -> tuple[list[str], dict[str, str]]:
    """Load what can be loaded on the driver so a missing model fails the stage at once,
    with the message that says how to provide it. Returns notes for the stage summary and
    the model (name and version) of each backend."""
    notes: list[str] = []
    models: dict[str, str] = {}
    for name, backend_options in options.backends:
        described = backend_module(name).describe(backend_options, local)
        models[name] = described.model
        if described.note:
            notes.append(described.note)
    if options.lexicon is not None:  # its content is part of what the entities were made with
        models["lexicon"] = f"{options.lexicon.documents} documents {options.lexicon.digest}"
    if options.places is not None:
        models["places"] = f"{len(options.places.cities)} cities {options.places.digest}"
    return notes, models


def resource_profile(settings: ResourceSettings) -> ResourceProfile | None:
    """The stage-level resource profile the NER stage asks for (None: the default one)."""
    if not settings.enabled:
        return None
    executor = ExecutorResourceRequests()
    if settings.executor_cores is not None:
        executor = executor.cores(settings.executor_cores)
    if settings.executor_memory is not None:
        executor = executor.memory(settings.executor_memory)
    task = TaskResourceRequests().cpus(settings.task_cpus)
    if settings.executor_gpus > 0:
        executor = executor.resource(
            "gpu", settings.executor_gpus, settings.gpu_discovery_script or "", settings.gpu_vendor
        )
    if settings.task_gpus > 0:
        task = task.resource("gpu", settings.task_gpus)
    return ResourceProfileBuilder().require(executor).require(task).build


def document_sizes(pages_df: DataFrame) -> tuple[dict[str, int], int]:
    """Each document's ``document_text`` length (its pages and the breaks between them), and the
    pages in all (one Spark job)."""
    measured = (
        pages_df.groupBy("doc_id")
        .agg((F.sum("char_count") + F.count("*") * len(PAGE_BREAK)).alias("chars"), F.count("*").alias("pages"))
        .collect()
    )
    return {r["doc_id"]: int(r["chars"]) for r in measured}, sum(int(r["pages"]) for r in measured)


def spread_by_size(ctx: StageContext, documents_df: DataFrame, sizes: dict[str, int], chars_per_task: int) -> DataFrame:
    """Whole documents onto about ``chars_per_task`` characters a task (at least one task a slot
    while there are documents for it), the largest first onto the least loaded task."""
    tasks = min(len(sizes), max(1, math.ceil(sum(sizes.values()) / chars_per_task), _slots(ctx)))
    return transform_spread(documents_df, balanced_bins(sizes, tasks), partition_keys(ctx.spark, tasks))


def transform_spread(documents_df: DataFrame, bins: dict[str, int], keys: list[int]) -> DataFrame:
    """Each document into the task its bin names (``keys``: from ``partition_keys``)."""
    spark = documents_df.sparkSession
    bins_df = spark.createDataFrame([(doc_id, keys[b]) for doc_id, b in bins.items()], "doc_id string, task_key bigint")
    return documents_df.join(F.broadcast(bins_df), "doc_id").repartition(len(keys), "task_key").drop("task_key")


def transform_recognize(
    documents_df: DataFrame,
    options: NerOptions,
    profile: ResourceProfile | None = None,
    counters: ProgressCounters | None = None,
) -> DataFrame:
    """(doc_id, text, pages) → one NER_RESULT row per document: its entities, or its error."""
    out_schema = to_arrow_schema(NER_RESULT)

    def recognize(batches):
        return recognize_batches(counted_input(batches, counters, "pages"), options, out_schema)

    return documents_df.select("doc_id", "text", "pages").mapInArrow(recognize, NER_RESULT, profile=profile)


def explode_entities(outcomes_df: DataFrame, run_id: str) -> DataFrame:
    return outcomes_df.select("doc_id", F.explode("entities").alias("entity")).select(
        "doc_id", "entity.*", F.lit(run_id).alias("run_id")
    )


def with_word_boxes(rows_df: DataFrame, pages_df: DataFrame, schema: T.StructType) -> DataFrame:
    """The box of each row's words on its page: the union of the page's word boxes that overlap
    ``[start, end)`` of ``page_no`` (null when none does), in the column order of ``schema``
    (whose x0, top, x1, bottom are the box)."""
    joined = rows_df.join(pages_df.select("doc_id", "page_no", "word_boxes"), ["doc_id", "page_no"], "left")
    words = F.filter(
        F.coalesce(F.col("word_boxes"), F.array()),
        lambda w: (w["end"] > F.col("start")) & (w["start"] < F.col("end")),
    )
    boxes = {
        "x0": F.array_min(F.transform(words, lambda w: w["x0"])),
        "top": F.array_min(F.transform(words, lambda w: w["top"])),
        "x1": F.array_max(F.transform(words, lambda w: w["x1"])),
        "bottom": F.array_max(F.transform(words, lambda w: w["bottom"])),
    }
    return joined.select(
        *[
            boxes[field.name].cast("double").alias(field.name) if field.name in boxes else F.col(field.name)
            for field in schema.fields
        ]
    )


def with_entity_boxes(entities_df: DataFrame, pages_df: DataFrame) -> DataFrame:
    """The entities with their boxes, in the entities table's column order."""
    return with_word_boxes(entities_df, pages_df, ENTITIES.schema)


def run_ner(ctx: StageContext, *, reprocess: bool = False) -> StageResult:
    """Recognize the documents extracted but not yet recognized with this stage version
    (model, rules, settings, code); all extracted ones with ``reprocess``."""
    started = time.monotonic()
    options = ner_options(ctx.config)
    result = StageResult(STAGE, ctx.run_id)
    local = _local_mode(ctx)
    notes, result.models = check_backends(options, local=local)
    result.notes.extend(notes)
    # With redaction on, entity_search (the search feed) carries the policy's values for its labels.
    search_policy = redact_options(ctx.config) if ctx.config.redact.enabled else None
    version = ner_version(ctx.config, result.models, search_redaction(ctx.config, search_policy))
    result.stage_version = version
    doc_ids = [r["doc_id"] for r in documents_to_process(ctx, STAGE, version, reprocess)]
    result.documents_in = len(doc_ids)
    if doc_ids:
        with ctx.tracking(STAGE, len(doc_ids)) as progress:
            ctx.prepare_checks(ENTITIES, ENTITY_SEARCH)
            pages_df = read_table(ctx.spark, ctx.lake, PAGES.name).where(
                F.col("doc_id").isin(doc_ids) & (F.col("status") == STATUS_OK)
            )
            ctx.describe("size the documents")
            sizes, progress.pages_total = document_sizes(pages_df)
            documents_df = spread_by_size(
                ctx,
                document_text(pages_df.select("doc_id", "page_no", "status", "char_count", "text")),
                sizes,
                ctx.config.ner.chars_per_task,
            )
            profile = resource_profile(ctx.config.ner.resources)
            if profile is not None and local:
                # Spark supports stage-level profiles on YARN, Kubernetes and standalone only.
                result.notes.append("ner.resources ignored: local mode has no stage-level resource profiles")
                profile = None
            outcomes_df = transform_recognize(documents_df, options, profile, progress.counters)
            ctx.describe(f"recognize entities in {len(doc_ids)} document(s), check and write entities")
            processed_df = read_table(ctx.spark, ctx.lake, DOCUMENTS.name).where(F.col("doc_id").isin(doc_ids))
            publish_outcomes(
                ctx,
                result,
                stage=STAGE,
                version=version,
                doc_ids=doc_ids,
                outcomes_df=outcomes_df,
                outputs=[
                    Output(
                        ENTITIES,
                        lambda df, _: with_entity_boxes(explode_entities(df, ctx.run_id), pages_df),
                        lambda rows: entity_frames(rows, documents_df),
                        entity_figures,
                    ),
                    Output(
                        ENTITY_SEARCH,
                        lambda df, published: transform_entity_search(
                            redacted_entities(published[ENTITIES.name], search_policy)
                            if search_policy is not None
                            else published[ENTITIES.name],
                            search_documents(processed_df, df),
                            ctx.run_id,
                        ),
                    ),
                ],
                statuses=transform_statuses,
                summarize=summarize_outcomes,
            )
    result.statuses = status_counts(ctx)
    result.seconds = time.monotonic() - started
    record_run(ctx, result, run_figures(result))
    return result


def _local_mode(ctx: StageContext) -> bool:
    """Whether Spark runs in local mode, without starting it when the configuration says."""
    master = ctx.config.spark.master
    if master is not None and not ctx.spark_started:
        return master.startswith("local")
    return str(ctx.spark.sparkContext.master).startswith("local")


def _slots(ctx: StageContext) -> int:
    return int(ctx.spark.sparkContext.defaultParallelism)


def summarize_outcomes(outcomes_df: DataFrame) -> list[str]:
    """Spans a backend returned whose offsets did not match the text are dropped, and said so."""
    row = outcomes_df.agg(F.sum("unmapped").alias("n")).first()
    unmapped = row["n"] if row is not None and row["n"] else 0
    return [f"{unmapped} span(s) dropped: offsets not matching the text"] if unmapped else []


def entity_figures(rows: DataFrame) -> dict[str, Any]:
    """What the stage measures of the ``entities`` rows it publishes (one Spark job)."""
    by_label = (
        rows.groupBy("label")
        .agg(F.count("*").alias("n"), F.count("score").alias("scored"), F.sum("score").alias("score_sum"))
        .collect()
    )
    return {
        "label_counts": {r["label"]: int(r["n"]) for r in by_label},
        "scored": sum(int(r["scored"]) for r in by_label),  # entities with a score (spaCy gives none)
        "score_sum": sum(float(r["score_sum"] or 0.0) for r in by_label),
    }


def run_figures(result: StageResult) -> dict[str, Any]:
    """The stage's figures in its ``runs`` row (``jobs.catalog.stages``: entities, per document,
    mean score, label mix)."""
    if not result.documents_in or "label_counts" not in result.figures:
        return {}
    labels = dict(sorted(result.figures["label_counts"].items()))
    count = sum(labels.values())
    scored = result.figures["scored"]
    return {
        "entities": count,
        "entities_per_document": count / result.documents_in,
        "mean_score": result.figures["score_sum"] / scored if scored else None,
        "label_mix": labels,
    }


def entity_frames(rows: DataFrame, documents_df: DataFrame) -> dict[str, DataFrame]:
    """What the ``entities`` suite checks: the rows with their document's text length and the
    slice of it at [doc_start, doc_end), and the entity count of each document."""
    per_document = rows.groupBy("doc_id").agg(F.count("*").cast("int").alias("entities"))
    return {"rows": with_text_slice(rows, documents_df), "_per_document": per_document}


def with_text_slice(rows: DataFrame, documents_df: DataFrame) -> DataFrame:
    """Rows with [doc_start, doc_end) into ``document_text``, with that text's length and the
    slice at their offsets (``_doc_text_len``, ``_doc_text_slice``), for a suite to compare."""
    texts = documents_df.select("doc_id", F.length("text").alias("_doc_text_len"), F.col("text").alias("_doc_text"))
    return (
        rows.join(texts, "doc_id", "left")
        .withColumn("_doc_text_slice", F.expr("substring(_doc_text, doc_start + 1, doc_end - doc_start)"))
        .drop("_doc_text")
    )


def search_documents(documents_df: DataFrame, outcomes_df: DataFrame) -> DataFrame:
    """The documents rows with the status they will have once this NER outcome is recorded
    (the states are recorded after the tables are written): failed where NER failed, else
    what extraction left (ok or partial)."""
    errors = outcomes_df.select("doc_id", F.col("error_class").alias("ner_error"))
    return (
        documents_df.join(errors, "doc_id", "left")
        .withColumn(
            "status",
            F.when(F.col("ner_error").isNotNull(), F.lit(STATUS_FAILED)).otherwise(F.col(f"{INPUT_STATE}.status")),
        )
        .drop("ner_error")
    )


def transform_statuses(outcomes_df: DataFrame) -> DataFrame:
    """Each document's outcome from its UDF row (NER, fields): ok, or failed with the error."""
    return outcomes_df.select(
        "doc_id",
        F.when(F.col("error_class").isNotNull(), F.lit(STATUS_FAILED)).otherwise(F.lit(STATUS_OK)).alias("status"),
        "error_class",
        "error_message",
    )
