"""Run by the Airflow venv's interpreter (.venv-airflow), never imported by docner or pytest:
parses the DAG folder the way Airflow's DAG processor does and prints, as JSON on stdout,
what the tests check: import errors, each DAG's settings and tasks, and everything the
parse itself did (files opened outside the DAG folder, processes, sockets, Variable and
Connection lookups). Airflow logs to stdout, so the JSON goes to a file.

    .venv-airflow/bin/python tests/airflow/dagbag_probe.py DAG_FOLDER OUT_JSON
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

# Audit events that mean "work": reading files, starting processes, talking to the network or a DB.
WORK_EVENTS = ("open", "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.fork")
WORK_EVENTS += ("socket.connect", "socket.getaddrinfo", "sqlite3.connect", "urllib.Request")


def main(dag_folder: Path) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.models.connection import Connection
    from airflow.models.variable import Variable as ModelVariable
    from airflow.sdk import BaseHook
    from airflow.sdk import Variable as SdkVariable

    # Warm up: the first parse imports Airflow, the provider and their caches.
    first = BundleDagBag(dag_folder=dag_folder, bundle_path=dag_folder, safe_mode=False)

    # Parse again with the DAG folder's own modules forgotten (so their module code runs
    # again), every lookup a DAG could make at parse time poisoned, and an audit hook on.
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(dag_folder)):
            del sys.modules[name]
    lookups: list[str] = []

    def poisoned(what: str):
        def lookup(*args: Any, **kwargs: Any) -> Any:
            lookups.append(f"{what}{args[-1:] if args else ''}")
            raise RuntimeError(f"{what} called while parsing the DAG files")

        return lookup

    for owner, attribute in ((SdkVariable, "get"), (ModelVariable, "get"), (BaseHook, "get_connection")):
        setattr(owner, attribute, classmethod(poisoned(f"{owner.__name__}.{attribute}")))
    Connection.get_connection_from_secrets = classmethod(poisoned("Connection.get_connection_from_secrets"))

    events: list[list[str]] = []
    recording = True

    def audit(event: str, args: tuple[Any, ...]) -> None:
        if recording and event.startswith(WORK_EVENTS):
            events.append([event, *(str(arg) for arg in args[:2])])

    sys.addaudithook(audit)
    bag = BundleDagBag(dag_folder=dag_folder, bundle_path=dag_folder, safe_mode=False)
    recording = False

    in_folder = [event for event in events if event[0] == "open" and event[1].startswith(str(dag_folder))]
    return {
        "first_import_errors": first.import_errors,
        "import_errors": bag.import_errors,
        "files_parsed": sorted(Path(path).name for path in bag.file_last_changed),
        "warnings": {path: list(lines) for path, lines in bag.captured_warnings.items()},
        "parse_work": [event for event in events if event not in in_folder],
        "parse_opens_in_dag_folder": len(in_folder),  # the DAG files themselves: the hook works
        "parse_lookups": lookups,
        "dags": {dag_id: describe(dag) for dag_id, dag in bag.dags.items()},
    }


def seconds(value: Any) -> float | None:
    return value.total_seconds() if isinstance(value, timedelta) else value


def describe(dag: Any) -> dict[str, Any]:
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    return {
        "fileloc": dag.fileloc,
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "tags": sorted(dag.tags),
        "doc_md": dag.doc_md,
        "schedule": str(dag.schedule),
        "params": {key: dag.params[key] for key in dag.params},
        "filters": sorted(dag.user_defined_filters or {}),
        "run_id_sample": (dag.user_defined_filters or {}).get("docner_run_id", str)(
            "scheduled__2026-11-23T00:00:00+00:00"
        ),
        "topological_order": [task.task_id for task in dag.topological_sort()],
        "tasks": {
            task.task_id: {
                "is_spark_submit": isinstance(task, SparkSubmitOperator),
                "class": type(task).__name__,
                "conn_id": getattr(task, "conn_id", None),
                "template_fields": list(task.template_fields),
                "retries": task.retries,
                "retry_exponential_backoff": task.retry_exponential_backoff,
                "retry_delay": seconds(task.retry_delay),
                "max_retry_delay": seconds(task.max_retry_delay),
                "upstream": sorted(task.upstream_task_ids),
                "application": task.application,
                "application_args": task.application_args,
                "env_vars": task.env_vars,
            }
            for task in dag.tasks
        },
    }


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(json.dumps(main(Path(sys.argv[1]).resolve()), default=str))
