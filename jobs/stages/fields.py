"""Fields: contract key fields of this run's documents → ``contract_fields`` and ``contracts``.

Each document is read whole: its ``document_text`` and its ``entities`` rows go to the worker
(udfs.fields.run), which finds the clauses that state each field, takes the values from the
entities, scores them and returns the rows with their evidence. Every document the stage
reads gets an outcome and, unless it failed, one ``contracts`` row, even with no text or no
entities: a field the document does not state is listed as missing, never made up.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from jobs.catalog.rows import FIELDS_RESULT
from jobs.catalog.stages import stage_spec
from jobs.catalog.tables import CONTRACT_FIELDS, CONTRACTS, ENTITIES, PAGES
from jobs.config import DocnerConfig, options_from, resolve_conf_path
from jobs.lake.state import STATE_COLUMNS
from jobs.lake.tables import read_table
from jobs.lake.views import document_text
from jobs.ops.progress import ProgressCounters, counted_input
from jobs.stages.base import (
    Output,
    StageContext,
    StageResult,
    documents_to_process,
    publish_outcomes,
    status_counts,
)
from jobs.stages.ner import document_sizes, spread_by_size, transform_statuses, with_text_slice, with_word_boxes
from jobs.stages.runs import record_run
from jobs.stages.versions import fields_version
from udfs.errors import STATUS_OK
from udfs.fields.calibrate import NO_CALIBRATION, load_calibration
from udfs.fields.rules import load_field_rules
from udfs.fields.run import ENTITY_COLUMNS, FieldsOptions, fields_batches
from udfs.ner.places import load_places

STAGE = "fields"
INPUT_STATE = STATE_COLUMNS[stage_spec(STAGE).after or ""]  # the state of the stage it reads (ner)

# The fields settings that do not reach the workers as they are.
DRIVER_SETTINGS = {
    "chars_per_task": "task sizes (run_fields)",
    "calibration": "the file's Calibration, loaded on the driver (fields_options)",
    "places": "the file's Places, loaded on the driver (fields_options)",
    "rules": "the file's FieldRules, loaded on the driver (fields_options)",
}


def fields_options(config: DocnerConfig) -> FieldsOptions:
    """The ``fields`` settings as the (picklable) options the tasks run with, files read here
    so that a missing one stops the stage at once with its path."""
    settings = config.fields
    calibration = (
        load_calibration(resolve_conf_path(config, settings.calibration)) if settings.calibration else NO_CALIBRATION
    )
    places = load_places(resolve_conf_path(config, settings.places)) if settings.places else None
    return options_from(
        settings,
        FieldsOptions,
        elsewhere=DRIVER_SETTINGS,
        rules=load_field_rules(resolve_conf_path(config, settings.rules)),
        calibration=calibration,
        places=places,
    )


def option_files(options: FieldsOptions) -> dict[str, str]:
    """What the stage's files were, for its version and its ``runs`` row."""
    files = {"rules": options.rules.digest, "calibration": options.calibration.digest}
    if options.places is not None:
        files["places"] = options.places.digest
    return files


def transform_documents(
    spark_doc_ids: DataFrame, pages_df: DataFrame, entities_df: DataFrame, columns: Sequence[str] = ENTITY_COLUMNS
) -> DataFrame:
    """(doc_id, text, pages, entities) of every document in ``spark_doc_ids``, each entity the
    struct of ``columns``: a document without ok pages has no text, one without entities an
    empty list, so each gets an outcome (the fields and redact stages read them so)."""
    texts = document_text(pages_df.select("doc_id", "page_no", "status", "char_count", "text"))
    entities = entities_df.groupBy("doc_id").agg(
        F.collect_list(F.struct(*[F.col(name) for name in columns])).alias("entities")
    )
    return spark_doc_ids.join(texts, "doc_id", "left").join(entities, "doc_id", "left")


def transform_fields(
    documents_df: DataFrame, options: FieldsOptions, counters: ProgressCounters | None = None
) -> DataFrame:
    """(doc_id, text, pages, entities) → one FIELDS_RESULT row per document."""
    out_schema = to_arrow_schema(FIELDS_RESULT)

    def extract(batches):
        return fields_batches(counted_input(batches, counters, "pages"), options, out_schema)

    return documents_df.select("doc_id", "text", "pages", "entities").mapInArrow(extract, FIELDS_RESULT)


def explode_fields(outcomes_df: DataFrame, pages_df: DataFrame, run_id: str) -> DataFrame:
    """The ``contract_fields`` rows of the outcomes, with their boxes on the page."""
    values = outcomes_df.select("doc_id", F.explode("values").alias("value")).select(
        "doc_id", "value.*", F.lit(run_id).alias("run_id")
    )
    return with_word_boxes(values, pages_df, CONTRACT_FIELDS.schema)


def contract_rows(outcomes_df: DataFrame, run_id: str) -> DataFrame:
    """One ``contracts`` row per document that did not fail."""
    return outcomes_df.where(F.col("contract").isNotNull()).select(
        *[
            F.col("doc_id") if f.name == "doc_id" else F.lit(run_id).alias("run_id") if f.name == "run_id" else
            F.col(f"contract.{f.name}").alias(f.name)
            for f in CONTRACTS.schema.fields
        ]
    )  # fmt: skip


def field_frames(rows: DataFrame, documents_df: DataFrame) -> dict[str, DataFrame]:
    """What the ``contract_fields`` suite checks: the rows with their document's text length and
    the slice of it at [doc_start, doc_end)."""
    return {"rows": with_text_slice(rows, documents_df)}


def field_figures(rows: DataFrame) -> dict[str, Any]:
    """Values written, and documents with a value, by field (one Spark job)."""
    by_field = rows.groupBy("field").agg(F.count("*").alias("n"), F.countDistinct("doc_id").alias("docs")).collect()
    return {
        "values": sum(int(r["n"]) for r in by_field),
        "documents_by_field": {r["field"]: int(r["docs"]) for r in by_field},
    }


def contract_figures(rows: DataFrame) -> dict[str, Any]:
    return {"contracts": rows.count()}


def run_figures(result: StageResult, fields: int) -> dict[str, Any]:
    """The stage's figures in its ``runs`` row: values, the share of (document, field) pairs
    with a value, and documents with a value by field."""
    if not result.documents_in or "values" not in result.figures:
        return {}
    by_field = dict(sorted(result.figures["documents_by_field"].items()))
    contracts = result.figures.get("contracts", 0)
    return {
        "field_values": result.figures["values"],
        "fields_found_share": sum(by_field.values()) / (contracts * fields) if contracts else None,
        "field_mix": by_field,
    }


def summarize_outcomes(outcomes_df: DataFrame) -> list[str]:
    """Values whose evidence lay in no page are dropped, and said so."""
    row = outcomes_df.agg(F.sum("unplaced").alias("n")).first()
    unplaced = row["n"] if row is not None and row["n"] else 0
    return [f"{unplaced} field value(s) dropped: evidence not on a page"] if unplaced else []


def run_fields(ctx: StageContext, *, reprocess: bool = False) -> StageResult:
    """Find the key fields of the documents recognized but not yet read with this stage
    version (finders, calibration, gazetteer, settings, code); all recognized ones with
    ``reprocess``."""
    started = time.monotonic()
    options = fields_options(ctx.config)
    result = StageResult(STAGE, ctx.run_id)
    result.models = option_files(options)
    version = fields_version(ctx.config, result.models)
    result.stage_version = version
    doc_ids = [r["doc_id"] for r in documents_to_process(ctx, STAGE, version, reprocess)]
    result.documents_in = len(doc_ids)
    if doc_ids:
        with ctx.tracking(STAGE, len(doc_ids)) as progress:
            ctx.prepare_checks(CONTRACT_FIELDS, CONTRACTS)
            spark = ctx.spark
            pages_df = read_table(spark, ctx.lake, PAGES.name).where(
                F.col("doc_id").isin(doc_ids) & (F.col("status") == STATUS_OK)
            )
            entities_df = read_table(spark, ctx.lake, ENTITIES.name).where(F.col("doc_id").isin(doc_ids))
            ctx.describe("size the documents")
            measured, progress.pages_total = document_sizes(pages_df)
            sizes = dict.fromkeys(doc_ids, 0) | measured  # a document without an ok page gets an outcome too
            doc_ids_df = spark.createDataFrame(
                [(d,) for d in doc_ids], T.StructType([T.StructField("doc_id", T.StringType(), False)])
            )
            documents_df = spread_by_size(
                ctx, transform_documents(doc_ids_df, pages_df, entities_df), sizes, ctx.config.fields.chars_per_task
            )
            outcomes_df = transform_fields(documents_df, options, progress.counters)
            ctx.describe(f"find the key fields of {len(doc_ids)} document(s), check and write them")
            publish_outcomes(
                ctx,
                result,
                stage=STAGE,
                version=version,
                doc_ids=doc_ids,
                outcomes_df=outcomes_df,
                outputs=[
                    Output(
                        CONTRACT_FIELDS,
                        lambda df, _: explode_fields(df, pages_df, ctx.run_id),
                        lambda rows: field_frames(rows, documents_df),
                        field_figures,
                    ),
                    Output(CONTRACTS, lambda df, _: contract_rows(df, ctx.run_id), None, contract_figures),
                ],
                statuses=transform_statuses,
                summarize=summarize_outcomes,
            )
    result.statuses = status_counts(ctx)
    result.seconds = time.monotonic() - started
    record_run(ctx, result, run_figures(result, len(options.written)))
    return result
