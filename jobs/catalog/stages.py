"""The pipeline's per-document stages, declared once, in pipeline order: :data:`STAGES`.

A stage's entry says what everything else derives from it: its name (its ``<name>_state``
column of ``documents``, its CLI subcommand, its rows in ``runs``), what it processes, the
inputs of its version (settings section, libraries, checks), the figures it adds to its
``runs`` row (and how the report and the metrics show them), its runner and the Airflow task
that runs it. The tables a stage writes say so themselves (``TableSpec.stage``). Runners are
named by import path, so this module stays a declaration that every layer can read; the
pipeline resolves them (:func:`jobs.pipeline.runner`).

See docs/architecture.md, "Add a stage".
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import types as T

from udfs.ner.backends import BACKENDS


@dataclass(frozen=True)
class Trend:
    """A trend chart of a figure across runs in the HTML report."""

    title: str
    unit: str
    scale: float = 1.0  # shown multiplied by this (a share as a percentage: 100)


@dataclass(frozen=True)
class Figure:
    """A column a stage fills in its ``runs`` rows (null in the rows of other stages)."""

    name: str
    type: T.DataType
    description: str  # of the column (docs/tables.md) and of its metric
    metric: str  # Prometheus gauge name, after the ``docner_`` prefix
    key_label: str | None = None  # a map figure: one gauge per key, with this label
    trend: Trend | None = None  # charted across runs in the report
    column: str | None = None  # its heading in the report's table of runs (None: not shown)
    digits: int = 2  # decimals shown in that table


@dataclass(frozen=True)
class StageSpec:
    name: str
    summary: str  # CLI help of its subcommand
    runner: str  # "module:function" called as function(ctx, [input_location,] reprocess=bool) -> StageResult
    dag_task: str  # the Airflow task that runs it; consecutive stages may share one
    needs_input: bool = False  # reads the input location (--input)
    # Documents it processes: every primary document (None), or those this earlier stage left ok/partial.
    after: str | None = None
    # --- its version: what a document processed again would change with ---
    settings: str | None = None  # the config section whose settings count (performance-only ones aside)
    performance_only: tuple[tuple[str, ...], ...] = ()  # settings (paths in the section) that change speed only
    libraries: tuple[str, ...] = ()  # distributions whose versions count
    audited: bool = False  # its rows pass the quality suites of its tables before publishing
    quality_settings: tuple[str, ...] = ()  # quality settings its suites read, beyond enabled/suites/threshold
    # --- what it reports ---
    figures: tuple[Figure, ...] = ()
    # A boolean setting ("<section>.<name>") that turns the stage on: off, ``docner run`` leaves it
    # out unless ``--stages`` names it, and its own command runs it anyway. None: always on.
    switch: str | None = None

    @property
    def state_column(self) -> str:
        return f"{self.name}_state"


_SHARE = T.DoubleType()

STAGES: tuple[StageSpec, ...] = (
    StageSpec(
        name="ingest",
        summary="record the input PDFs in `documents`",
        runner="jobs.stages.ingest:run_ingest",
        dag_task="ingest_extract",
        needs_input=True,
        libraries=("pypdfium2",),
    ),
    StageSpec(
        name="extract",
        summary="page text into `pages`",
        runner="jobs.stages.extract:run_extract",
        dag_task="ingest_extract",
        settings="extract",
        performance_only=(("pages_per_range",), ("max_pages_per_range",), ("ocr_pages_per_task",)),
        libraries=("pypdfium2", "pdfplumber", "pdfminer.six", "pytesseract"),
        audited=True,
        quality_settings=("min_mean_ocr_confidence",),
        figures=(
            Figure("pages", T.LongType(), "Pages the stage wrote", "stage_pages", column="pages"),
            Figure(
                "pages_per_s",
                _SHARE,
                "Pages written per second of stage time",
                "stage_pages_per_second",
                trend=Trend("Extraction throughput", "pages / s"),
            ),
            Figure(
                "ocr_page_share",
                _SHARE,
                "Share of ok pages read by OCR",
                "stage_ocr_page_share",
                trend=Trend("OCR share of the pages read", "% of ok pages", scale=100.0),
            ),
        ),
    ),
    StageSpec(
        name="ner",
        summary="named entities into `entities`",
        runner="jobs.stages.ner:run_ner",
        dag_task="ner_fields",
        after="extract",
        settings="ner",
        performance_only=(
            ("chars_per_task",),
            ("resources",),
            *((backend.name, *path) for backend in BACKENDS for path in backend.performance_only),
        ),
        libraries=tuple(library for backend in BACKENDS for library in backend.libraries),
        audited=True,
        quality_settings=("labels", "max_entities_per_document", "min_mean_entities_per_document"),
        figures=(
            Figure("entities", T.LongType(), "Entities the stage wrote", "stage_entities", column="entities"),
            Figure(
                "entities_per_document",
                _SHARE,
                "Entities per processed document",
                "stage_entities_per_document",
                trend=Trend("Entities per document", "entities"),
            ),
            Figure(
                "mean_score",
                _SHARE,
                "Mean entity score",
                "stage_entity_mean_score",
                trend=Trend("Mean entity score", "score"),
                column="mean score",
                digits=3,
            ),
            Figure(
                "label_mix",
                T.MapType(T.StringType(), T.LongType(), False),
                "Entities written, by label",
                "stage_entities_by_label",
                key_label="label",
            ),
        ),
    ),
    StageSpec(
        name="fields",
        summary="contract key fields into `contract_fields` and `contracts`",
        runner="jobs.stages.fields:run_fields",
        dag_task="ner_fields",
        after="ner",
        settings="fields",
        performance_only=(("chars_per_task",),),
        audited=True,
        figures=(
            Figure("field_values", T.LongType(), "Field values the stage wrote", "stage_field_values"),
            Figure(
                "fields_found_share",
                _SHARE,
                "Share of (document, field) pairs with a value",
                "stage_fields_found_share",
                trend=Trend("Contract fields found", "% of fields", scale=100.0),
            ),
            Figure(
                "field_mix",
                T.MapType(T.StringType(), T.LongType(), False),
                "Documents with a value, by field",
                "stage_documents_by_field",
                key_label="field",
            ),
        ),
    ),
    StageSpec(
        name="redact",
        summary="personal data replaced in `redacted_pages`, audited in `redactions` (off by default)",
        runner="jobs.stages.redact:run_redact",
        dag_task="ner_fields",
        after="ner",
        settings="redact",
        performance_only=(("chars_per_task",), ("pdf_dpi",)),
        audited=True,
        switch="redact.enabled",
        figures=(
            Figure("redactions", T.LongType(), "Pieces of text the stage redacted", "stage_redactions"),
            Figure(
                "redactions_per_document",
                _SHARE,
                "Redacted pieces per processed document",
                "stage_redactions_per_document",
                trend=Trend("Redactions per document", "pieces"),
            ),
            Figure(
                "redaction_mix",
                T.MapType(T.StringType(), T.LongType(), False),
                "Pieces redacted, by label",
                "stage_redactions_by_label",
                key_label="label",
            ),
        ),
    ),
)

STAGE_NAMES: tuple[str, ...] = tuple(stage.name for stage in STAGES)
FIGURES: tuple[Figure, ...] = tuple(figure for stage in STAGES for figure in stage.figures)


def stage_spec(name: str) -> StageSpec:
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise KeyError(f"unknown stage {name!r} (stages: {', '.join(STAGE_NAMES)})")


def _reads(stage: StageSpec) -> str | None:
    """The stage whose output ``stage`` is made from (every stage but the first reads what it
    recorded, at least)."""
    return stage.after or (STAGE_NAMES[0] if stage.name != STAGE_NAMES[0] else None)


def later_stages(name: str) -> tuple[str, ...]:
    """The stages whose work is made from what ``name`` produces, directly or through another
    (``after``), in pipeline order: ner's are fields and redact, fields' none."""
    stage_spec(name)
    later = []
    for stage in STAGES:
        read = _reads(stage)
        while read is not None and read != name:
            read = _reads(stage_spec(read))
        if read == name:
            later.append(stage.name)
    return tuple(later)


def stage_rank(name: str) -> tuple[int, str]:
    """Sort key: pipeline order, unknown names (a stage of a newer version) last."""
    return (STAGE_NAMES.index(name), "") if name in STAGE_NAMES else (len(STAGE_NAMES), name)
