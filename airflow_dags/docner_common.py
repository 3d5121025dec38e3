"""What the docner DAGs share: one spark-submit task factory, its settings and the defaults.

Not a DAG file (``.airflowignore`` keeps the DAG processor from parsing it as one); the DAG
files import it from the DAG folder, which Airflow puts on ``sys.path``.

Every setting of a task is a Jinja template, so nothing is looked up while the DAG file is
parsed: a setting ``X`` is the Airflow Variable ``docner_X`` when it is set, else the DAG
param ``X`` (whose default is below, and which a manual trigger can change). Templates are
rendered on the worker just before the task runs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

# The docner checkout the DAG files live in (string work only, no filesystem access). A
# deployment that copies the DAG files elsewhere sets the Variables docner_home and
# docner_venv instead.
DOCNER_HOME = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SPARK_CONN_VARIABLE = "docner_spark_conn"
DEFAULT_SPARK_CONN_ID = "spark_docner"  # the connection AIRFLOW_CONN_SPARK_DOCNER defines

# Shared by both DAGs: retried with exponential back-off (5, 10, 20 … minutes, at most an
# hour). A retry is safe: the stages commit each write once per Airflow run id.
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "docner",
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
    # Airflow 3 reads this as the multiplier of the delay; True would mean 1.0, no back-off.
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(hours=1),
    "execution_timeout": timedelta(hours=6),
}

COMMON_PARAMS: dict[str, Any] = {
    "home": DOCNER_HOME,  # the docner checkout: jobs/spark_entry.py is the application
    "venv": f"{DOCNER_HOME}/.venv",  # docner's venv: its spark-submit, Python and pyspark
    "lake": f"{DOCNER_HOME}/lake",
    "env": "cluster",  # conf/<env>.yaml; cluster takes the master from spark-submit
}


def setting(name: str) -> str:
    """The Jinja expression of setting ``name``: Variable ``docner_<name>``, else param ``name``."""
    return f"var.value.get('docner_{name}', params.{name})"


def template(name: str) -> str:
    return "{{ " + setting(name) + " }}"


# Airflow run ids look like ``scheduled__2026-11-23T00:00:00+00:00``. docner keeps the run id
# in its Delta transaction ids and in paths (<lake>/_quality/<run_id>/, the export file), where
# ':' and '+' are a nuisance (Hadoop paths, URLs, other file systems): keep [A-Za-z0-9._-].
RUN_ID = "{{ run_id | docner_run_id }}"


def docner_run_id(run_id: str) -> str:
    """The Airflow run id as a docner run id: the same for every try of a run."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", run_id)


def path_with(bin_dir: str) -> str:
    """``PATH`` with ``bin_dir`` first (called when the task's templates are rendered)."""
    return f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}"


# Jinja filters and macros the DAGs register (user_defined_filters / user_defined_macros).
USER_DEFINED_FILTERS = {"docner_run_id": docner_run_id}
USER_DEFINED_MACROS = {"path_with": path_with}


def _spark_env() -> dict[str, str]:
    """The environment of spark-submit. The provider runs ``spark-submit`` from PATH (it
    accepts no path to the binary), and the Airflow venv has pyspark files of its own; so
    docner's venv goes first on PATH, and SPARK_HOME and the Python of the driver and the
    executors are docner's."""
    venv = setting("venv")
    python = "{{ " + venv + " }}/bin/python"
    return {
        "PATH": "{{ path_with(" + venv + " ~ '/bin') }}",
        "SPARK_HOME": "{{ var.value.get('docner_spark_home', "
        + venv
        + " ~ '/lib/python3.11/site-packages/pyspark') }}",
        "PYSPARK_PYTHON": python,
        "PYSPARK_DRIVER_PYTHON": python,
        # Tesseract's OpenMP threads fight Spark's task slots; nothing is downloaded at run time.
        "OMP_THREAD_LIMIT": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


class DocnerSparkSubmitOperator(SparkSubmitOperator):
    """SparkSubmitOperator whose connection id is a template too (the provider's is not), so
    the Variable ``docner_spark_conn`` can choose it without a lookup at parse time."""

    template_fields: Sequence[str] = (*SparkSubmitOperator.template_fields, "conn_id")

    @property
    def conn_id(self) -> str:
        return self._conn_id

    @conn_id.setter
    def conn_id(self, value: str) -> None:
        self._conn_id = value


# The pipeline's stages as docner declares them (jobs.catalog.stages, written by
# `make dag-stages`: `docner stages --format json`): a JSON file beside the DAG files, because
# the Airflow venv does not have docner installed, and a DAG copied elsewhere takes it along.
STAGES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "docner_stages.json")


@dataclass(frozen=True)
class StageTask:
    """One Airflow task running consecutive stages of the pipeline (``dag_task`` of each)."""

    task_id: str
    stages: tuple[str, ...]
    needs_input: bool
    switched: bool = False  # one of its stages is off unless a setting turns it on (redact.enabled)


def stage_tasks(path: str = STAGES_FILE) -> list[StageTask]:
    """The stage tasks in pipeline order: consecutive stages with the same ``dag_task`` share one."""
    with open(path, encoding="utf-8") as listing:
        stages: list[dict[str, Any]] = json.load(listing)
    tasks: list[StageTask] = []
    for stage in stages:
        if tasks and tasks[-1].task_id == stage["dag_task"]:
            last = tasks[-1]
            tasks[-1] = StageTask(
                last.task_id,
                (*last.stages, stage["stage"]),
                last.needs_input or stage["needs_input"],
                last.switched or bool(stage.get("switch")),
            )
        elif any(task.task_id == stage["dag_task"] for task in tasks):
            raise ValueError(f"{path}: the stages of task {stage['dag_task']!r} are not consecutive")
        else:
            tasks.append(
                StageTask(stage["dag_task"], (stage["stage"],), bool(stage["needs_input"]), bool(stage.get("switch")))
            )
    return tasks


def stage_task_args(task: StageTask, input_location: str, stage_args: Sequence[str]) -> tuple[str, list[str]]:
    """The docner command and arguments of a stage task: the stage's own command for one stage,
    ``run --stages`` for several, and for a stage that a setting turns on (``--if-switched-on``:
    the configuration decides, as for ``docner run``); ``--input`` when one of them reads the input."""
    inputs = ["--input", input_location] if task.needs_input else []
    if task.switched:
        return "run", ["--stages", ",".join(task.stages), "--if-switched-on", *inputs, *stage_args]
    if len(task.stages) == 1:
        return task.stages[0], [*inputs, *stage_args]
    return "run", ["--stages", ",".join(task.stages), *inputs, *stage_args]


def docner_task(task_id: str, command: str, args: Sequence[str]) -> DocnerSparkSubmitOperator:
    """One ``spark-submit jobs/spark_entry.py <command> <args>`` task."""
    return DocnerSparkSubmitOperator(
        task_id=task_id,
        conn_id="{{ var.value.get('" + SPARK_CONN_VARIABLE + "', '" + DEFAULT_SPARK_CONN_ID + "') }}",
        application=template("home") + "/jobs/spark_entry.py",
        application_args=[command, *args],
        name=f"docner-{task_id}",
        env_vars=_spark_env(),
        conf={"spark.executorEnv.OMP_THREAD_LIMIT": "1"},
    )
