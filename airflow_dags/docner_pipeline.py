"""
### docner pipeline

PDFs in the input directory → text → named entities → contract key fields → Delta tables in the lake, then checked,
published and exported for the search indexer. Each task is one `spark-submit` of docner's
`jobs/spark_entry.py`, from docner's own venv:

1. **ingest_extract** `run --stages ingest,extract`: new and changed PDFs into `documents`,
   page text into `pages` and `tables`;
2. **ner_fields** `run --stages ner,fields`: named entities into `entities` and
   `entity_search`, then contract key fields into `contract_fields` and `contracts`;
3. **validate_publish** `validate`: the lake checked against the input (exit 1 when it is
   not consistent), Data Docs and an HTML run report written under `reports_dir/<run id>/`;
4. **export_search** `export-search`: the documents changed since the last export as
   OpenSearch `_bulk` NDJSON, `search_dir/<run id>.ndjson`.

The stage tasks (1 and 2) come from docner's stage registry through `docner_stages.json`
(`make dag-stages`): a stage added to docner gets its task, or joins one, without editing
this file.

Runs are incremental and idempotent: the Airflow run id is docner's `--run-id`, so a retried
task commits each of its writes once. Setting `X` is the Variable `docner_X` if set, else the
param `X`; the Spark connection is `docner_spark_conn` (default `spark_docner`, defined by
`AIRFLOW_CONN_SPARK_DOCNER`). See `airflow_dags/README.md`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, chain, dag
from docner_common import (
    COMMON_PARAMS,
    DEFAULT_ARGS,
    DOCNER_HOME,
    RUN_ID,
    USER_DEFINED_FILTERS,
    USER_DEFINED_MACROS,
    docner_task,
    stage_task_args,
    stage_tasks,
    template,
)

LAKE, ENV, INPUT = template("lake"), template("env"), template("input")
REPORTS = template("reports_dir") + "/" + RUN_ID


@dag(
    dag_id="docner_pipeline",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["docner", "spark", "etl"],
    doc_md=__doc__,
    params={
        **COMMON_PARAMS,
        "input": Param(f"{DOCNER_HOME}/build/samples", type="string", description="directory of input PDFs"),
        "reports_dir": Param(f"{DOCNER_HOME}/build/reports", type="string"),
        "search_dir": Param(f"{DOCNER_HOME}/build/search", type="string"),
        "index": Param("docner-documents", type="string", pattern="^[a-z0-9][a-z0-9._-]{0,254}$"),
    },
    user_defined_filters=USER_DEFINED_FILTERS,
    user_defined_macros=USER_DEFINED_MACROS,
)
def docner_pipeline() -> None:
    stage_args = ["--lake", LAKE, "--env", ENV, "--run-id", RUN_ID]
    # One task per group of stages (docner_stages.json, from docner's stage registry), in order.
    stages = [docner_task(task.task_id, *stage_task_args(task, INPUT, stage_args)) for task in stage_tasks()]
    validate_publish = docner_task(
        "validate_publish",
        "validate",
        [*stage_args, "--input", INPUT, "--data-docs", f"{REPORTS}/data-docs", "--report", f"{REPORTS}/report.html"],
    )
    export_search = docner_task(
        "export_search",
        "export-search",
        ["--lake", LAKE, "--out", template("search_dir") + f"/{RUN_ID}.ndjson", "--index", template("index")],
    )
    chain(*stages, validate_publish, export_search)


docner_pipeline()
