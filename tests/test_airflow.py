"""The Airflow DAGs in airflow_dags/: they parse cleanly, follow the scheduling rules, do no
work at parse time, and ``airflow dags test`` runs the whole pipeline DAG on the samples
against local Spark. Airflow runs only in its own venv (`make airflow`, which `make test`
builds), through subprocesses with a throw-away AIRFLOW_HOME and SQLite database."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable

REPO = Path(__file__).resolve().parent.parent
DAG_FOLDER = REPO / "airflow_dags"
AIRFLOW_BIN = REPO / ".venv-airflow" / "bin"
PROBE = REPO / "tests" / "airflow" / "dagbag_probe.py"
PIPELINE_TASKS = ["ingest_extract", "ner_fields", "validate_publish", "export_search"]
CONN_TEMPLATE = "{{ var.value.get('docner_spark_conn', 'spark_docner') }}"
LOCAL_SPARK_CONN = json.dumps({"conn_type": "spark", "host": "local[2]"})
DAG_TEST_TIMEOUT_S = 540


@pytest.fixture(scope="module")
def airflow_bin() -> Path:
    assert (AIRFLOW_BIN / "airflow").exists(), "the Airflow venv is missing: run `make airflow` (make test does)"
    return AIRFLOW_BIN


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of an Airflow command: a private AIRFLOW_HOME, nothing of the caller's
    Airflow or Spark settings, and docner's venv off PATH (the DAG must find it by itself)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "PYSPARK_", "SPARK_")) and key not in ("OMP_THREAD_LIMIT", "VIRTUAL_ENV")
    }
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "").split(os.pathsep) if part and not part.startswith(str(REPO / ".venv"))
    )
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAG_FOLDER),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
    )
    env.update(extra)
    return env


def probe(airflow_bin: Path, dag_folder: Path, tmp_path: Path) -> dict[str, Any]:
    """Parse ``dag_folder`` in the Airflow venv; the database points at a directory that does
    not exist, so a DAG file that touched it would fail."""
    out = tmp_path / f"probe-{dag_folder.name}.json"
    env = airflow_env(tmp_path / "home", AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:////nonexistent/airflow.db")
    done = subprocess.run(
        [str(airflow_bin / "python"), str(PROBE), str(dag_folder), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def parsed(airflow_bin, tmp_path_factory) -> dict[str, Any]:
    return probe(airflow_bin, DAG_FOLDER, tmp_path_factory.mktemp("dagbag"))


def test_the_dag_files_import_without_errors_or_warnings(parsed):
    assert parsed["import_errors"] == {}
    assert parsed["first_import_errors"] == {}
    assert parsed["warnings"] == {}
    assert sorted(parsed["dags"]) == ["docner_maintenance", "docner_pipeline"]
    # the shared module is not parsed as a DAG file of its own (.airflowignore)
    assert parsed["files_parsed"] == ["docner_maintenance.py", "docner_pipeline.py"]
    assert {Path(dag["fileloc"]).name for dag in parsed["dags"].values()} == set(parsed["files_parsed"])


@pytest.mark.parametrize("dag_id", ["docner_pipeline", "docner_maintenance"])
def test_dags_follow_the_scheduling_rules(parsed, dag_id):
    dag = parsed["dags"][dag_id]
    assert dag["catchup"] is False
    assert dag["max_active_runs"] == 1
    assert "docner" in dag["tags"] and len(dag["tags"]) >= 2
    assert dag["doc_md"].lstrip().startswith("### docner ")  # rendered on the DAG's page
    assert dag["schedule"] == {"docner_pipeline": "@daily", "docner_maintenance": "@weekly"}[dag_id]
    assert {"lake", "env", "venv", "home"} <= set(dag["params"])
    assert dag["params"]["env"] == "cluster"  # the master comes from the Spark connection
    for task_id, task in dag["tasks"].items():
        assert task["is_spark_submit"], task_id
        assert task["conn_id"] == CONN_TEMPLATE and "conn_id" in task["template_fields"], task_id
        assert task["retries"] > 0, task_id
        assert task["retry_exponential_backoff"] > 1, task_id  # Airflow 3: a multiplier; 1 = constant delay
        assert 0 < task["retry_delay"] < task["max_retry_delay"], task_id
        assert task["application"] == "{{ var.value.get('docner_home', params.home) }}/jobs/spark_entry.py"
        env = task["env_vars"]
        assert "params.venv" in env["PATH"] and "path_with" in env["PATH"], task_id
        assert env["PYSPARK_PYTHON"].endswith("/bin/python") and env["OMP_THREAD_LIMIT"] == "1", task_id
        assert "--lake" in task["application_args"], task_id


def test_the_pipeline_runs_its_stages_in_order_with_the_airflow_run_id(parsed):
    dag = parsed["dags"]["docner_pipeline"]
    assert dag["topological_order"] == PIPELINE_TASKS
    tasks = dag["tasks"]
    assert [tasks[task_id]["upstream"] for task_id in PIPELINE_TASKS] == [
        [],
        ["ingest_extract"],
        ["ner_fields"],
        ["validate_publish"],
    ]
    commands = {task_id: task["application_args"] for task_id, task in tasks.items()}
    assert commands["ingest_extract"][:3] == ["run", "--stages", "ingest,extract"]
    # redact (off unless redact.enabled) shares the task: docner run decides by the configuration
    assert commands["ner_fields"][:4] == ["run", "--stages", "ner,fields,redact", "--if-switched-on"]
    assert [commands[task_id][0] for task_id in PIPELINE_TASKS[2:]] == ["validate", "export-search"]
    for task_id in ["ingest_extract", "ner_fields", "validate_publish"]:
        args = commands[task_id]
        assert args[args.index("--run-id") + 1] == "{{ run_id | docner_run_id }}", task_id
        assert args[args.index("--lake") + 1] == "{{ var.value.get('docner_lake', params.lake) }}", task_id
    # Airflow run ids carry ':' and '+', which docner puts in paths: the filter keeps them out
    assert dag["run_id_sample"] == "scheduled__2026-11-23T00_00_00_00_00"
    assert parsed["dags"]["docner_maintenance"]["tasks"]["maintain"]["application_args"][0] == "maintain"


def test_parsing_the_dags_does_no_work(parsed):
    """Parsing again (module code included) opens no file outside the DAG folder, starts no
    process, opens no socket, and reads no Variable or Connection."""
    assert parsed["parse_opens_in_dag_folder"] > 0  # the audit hook saw the DAG files being read
    assert parsed["parse_work"] == []
    assert parsed["parse_lookups"] == []


def test_the_parse_probe_catches_work_at_parse_time(airflow_bin, tmp_path):
    busy = tmp_path / "busy_dags"
    busy.mkdir()
    (busy / "busy_dag.py").write_text(
        "import subprocess\n"
        "from airflow.sdk import DAG, Variable\n"
        "from airflow.providers.standard.operators.empty import EmptyOperator\n"
        f"open({str(REPO / 'setup.cfg')!r}).read()\n"
        "subprocess.run(['true'])\n"
        "with DAG(dag_id='busy', schedule=None, tags=[Variable.get('docner_lake', 'x')]):\n"
        "    EmptyOperator(task_id='t')\n"
    )
    found = probe(airflow_bin, busy, tmp_path)
    assert ["open", str(REPO / "setup.cfg"), "r"] in found["parse_work"]
    assert any(event[0] == "subprocess.Popen" for event in found["parse_work"])
    assert found["parse_lookups"] == ["Variable.get('x',)"]


# --- airflow dags test: the whole pipeline on the samples -----------------------------------


@pytest.fixture(scope="module")
def airflow_home(airflow_bin, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("airflow_home")
    done = subprocess.run(
        [str(airflow_bin / "airflow"), "db", "migrate"],
        env=airflow_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return home


def _run_until_done_or_failed(command: list[str], env: dict[str, str], log_path: Path) -> int:
    """Run ``command`` with its output in ``log_path``; stop it as soon as a task fails (a
    failed try would otherwise wait minutes for its retry) or at the time limit."""
    with log_path.open("w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + DAG_TEST_TIMEOUT_S
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if re.search(r"new_state=(up_for_retry|failed)", log_path.read_text(errors="replace")):
                break
            time.sleep(2)
    finally:
        stopped = process.poll() is None
        if stopped:
            os.killpg(process.pid, signal.SIGKILL)  # the task's spark-submit and its JVM too
            process.wait()
    return -1 if stopped else process.returncode


@pytest.fixture(scope="module")
def dag_run(airflow_bin, airflow_home, sample_dir, tmp_path_factory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("airflow_run")
    lake, reports, search = out / "lake", out / "reports", out / "search"
    conf = {"lake": str(lake), "reports_dir": str(reports), "search_dir": str(search), "index": "contracts"}
    env = airflow_env(
        airflow_home,
        AIRFLOW_CONN_SPARK_DOCNER=LOCAL_SPARK_CONN,
        AIRFLOW_VAR_DOCNER_INPUT=str(sample_dir),  # a Variable wins over the param's default
    )
    done = _dags_test(airflow_bin, env, "docner_pipeline", conf, out / "dags-test.log")
    return {"lake": lake, "reports": reports, "search": search, "env": env, **done}


def _dags_test(
    airflow_bin: Path, env: dict[str, str], dag_id: str, conf: dict[str, str], log_path: Path
) -> dict[str, Any]:
    """``airflow dags test DAG_ID`` with ``conf`` as the run's params: its one run must
    succeed; returns its output, run id and task states."""
    command = [str(airflow_bin / "airflow"), "dags", "test", dag_id, "2026-11-20", "-c", json.dumps(conf)]
    returncode = _run_until_done_or_failed(command, env, log_path)
    log = log_path.read_text(errors="replace")
    assert returncode == 0, f"airflow dags test {dag_id} failed (exit {returncode}); last output:\n{log[-6000:]}"
    runs = json.loads(_airflow(airflow_bin, env, "dags", "list-runs", dag_id, "-o", "json"))
    assert len(runs) == 1 and runs[0]["state"] == "success", runs
    run_id = runs[0]["run_id"]
    states = json.loads(_airflow(airflow_bin, env, "tasks", "states-for-dag-run", dag_id, run_id, "-o", "json"))
    return {
        "log": log,
        "airflow_run_id": run_id,
        "task_states": {state["task_id"]: state["state"] for state in states},
    }


def _airflow(airflow_bin: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(airflow_bin / "airflow"), *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # Airflow may log lines before the JSON document on stdout
    start = re.search(r"^[\[{]", done.stdout, re.MULTILINE)
    assert start, done.stdout[-3000:]
    return done.stdout[start.start() :]


def _table(lake: Path, name: str) -> list[dict[str, Any]]:
    return DeltaTable(str(lake / name)).to_pyarrow_table().to_pylist()


def _docner_run_id(dag_run) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", dag_run["airflow_run_id"])


@pytest.mark.slow
def test_dags_test_runs_every_task_through_the_spark_connection(dag_run):
    assert dag_run["task_states"] == dict.fromkeys(PIPELINE_TASKS, "success")
    submits = re.findall(r"Spark-Submit cmd: (spark-submit .*?) \[airflow", dag_run["log"])
    assert len(submits) == len(PIPELINE_TASKS)
    run_id = _docner_run_id(dag_run)
    assert ":" in dag_run["airflow_run_id"] and ":" not in run_id
    for command, task_id in zip(submits, PIPELINE_TASKS, strict=True):
        assert command.startswith("spark-submit --master local[2] "), command  # AIRFLOW_CONN_SPARK_DOCNER
        assert f"--name docner-{task_id} {REPO}/jobs/spark_entry.py " in command
        if task_id != "export_search":
            assert f"--run-id {run_id}" in command and "--env cluster" in command


@pytest.mark.slow
def test_dags_test_leaves_the_tables_right(dag_run, sample_dir, gold):
    lake, run_id = dag_run["lake"], _docner_run_id(dag_run)
    documents = {str(Path(row["source_path"]).relative_to(sample_dir)): row for row in _table(lake, "documents")}
    inputs = {str(path.relative_to(sample_dir)) for path in sample_dir.rglob("*") if path.suffix.lower() == ".pdf"}
    assert set(documents) == inputs == set(gold)
    for name, row in documents.items():
        assert (row["status"], row["error_class"]) == (gold[name].status, gold[name].error_class), name
        assert row["run_id"] == run_id
    ok_ids = {row["doc_id"] for row in documents.values() if row["status"] == "ok"}
    assert ok_ids
    entities = _table(lake, "entities")
    assert {row["doc_id"] for row in entities} == ok_ids
    assert {row["run_id"] for row in entities} == {run_id}
    search_rows = _table(lake, "entity_search")
    assert {row["doc_id"] for row in search_rows} == ok_ids
    stages = {row["stage"] for row in _table(lake, "runs") if row["run_id"] == run_id}
    assert {"ingest", "extract", "ner", "fields"} <= stages


@pytest.mark.slow
def test_dags_test_validates_and_exports_for_the_search_index(dag_run):
    lake, run_id = dag_run["lake"], _docner_run_id(dag_run)
    reports = dag_run["reports"] / run_id
    assert (reports / "report.html").stat().st_size > 0
    assert (reports / "data-docs" / "index.html").exists()
    bulk = dag_run["search"] / f"{run_id}.ndjson"
    lines = bulk.read_text().splitlines()
    assert lines and len(lines) % 2 == 0
    actions, sources = [json.loads(line) for line in lines[::2]], [json.loads(line) for line in lines[1::2]]
    assert all(list(action) == ["index"] and action["index"]["_index"] == "contracts" for action in actions)
    assert [action["index"]["_id"] for action in actions] == [source["doc_id"] for source in sources]
    search_rows = {row["doc_id"]: row for row in _table(lake, "entity_search")}
    assert sorted(source["doc_id"] for source in sources) == sorted(search_rows)
    for source in sources:
        assert source["search_hash"] == search_rows[source["doc_id"]]["search_hash"]
        assert source["entity_count"] > 0 and source["entities"]


@pytest.mark.slow
def test_the_weekly_maintenance_dag_compacts_the_lake_and_keeps_its_rows(airflow_bin, dag_run, tmp_path):
    """Runs last: it compacts the lake the tests above read (the rows stay the same)."""
    lake = dag_run["lake"]
    rows_before = {name: len(_table(lake, name)) for name in ("documents", "entities", "runs")}
    done = _dags_test(airflow_bin, dag_run["env"], "docner_maintenance", {"lake": str(lake)}, tmp_path / "log")
    assert done["task_states"] == {"maintain": "success"}
    assert "--name docner-maintain " in done["log"] and f"maintain --lake {lake} --env cluster" in done["log"]
    for name, rows in rows_before.items():
        assert len(_table(lake, name)) == rows, name
        assert list((lake / name / "_delta_log").glob("*.checkpoint.parquet")), name


def test_the_dag_stage_listing_is_the_stage_registry():
    """airflow_dags/docner_stages.json is `docner stages --format json` (`make dag-stages`)."""
    from jobs.cli import stage_listing

    columns, rows = stage_listing()
    listed = json.loads((REPO / "airflow_dags" / "docner_stages.json").read_text(encoding="utf-8"))
    assert listed == [
        dict(zip(columns, [list(v) if isinstance(v, tuple) else v for v in row], strict=True)) for row in rows
    ]
