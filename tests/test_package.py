"""``make package``'s artifacts under spark-submit, the way the README runs them on a cluster.

A throwaway standalone cluster (client mode, as Python applications run on standalone) gets
``build/dist/docner-env.tar.gz`` with ``--archives …#environment``; its executor unpacks it into
its working directory, where ``./environment/bin/python`` runs the Python workers. The driver
side has the archive unpacked as ``environment/`` in the directory spark-submit runs in: the
driver's Python is ``./environment/bin/python`` too, and so are the Python workers the driver
JVM itself starts (the ``deltars`` data source commits there). Local mode cannot test the
archive: it unpacks ``--archives`` under the driver's SparkFiles directory but starts the
Python workers in the driver's working directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyspark
import pytest
from deltalake import DeltaTable

from tests.conftest import REPO
from tests.standalone_cluster import standalone_cluster

pytestmark = pytest.mark.slow

DIST = REPO / "build" / "dist"
VENV_BIN = Path(sys.prefix) / "bin"

# The application spark-submit runs in this test: docner_submit.py as __main__ with the docner
# arguments, then, on the SparkSession docner left running, one task per core that reports which
# Python the executors' Python workers are (the same daemon that ran docner's UDFs).
PROBE_APP = """
import json, os, runpy, sys


def where(_):
    import jobs, pyspark

    yield json.dumps({"executable": sys.executable, "prefix": sys.prefix, "cwd": os.getcwd(),
                      "jobs": jobs.__file__, "pyspark": pyspark.__file__})


submit_file, *args = sys.argv[1:]
sys.argv = [submit_file, *args]
try:
    runpy.run_path(submit_file, run_name="__main__")
    code = 0
except SystemExit as exc:
    code = exc.code
import jobs
from jobs.config import default_conf_dir
from pyspark.sql import SparkSession

sc = SparkSession.builder.getOrCreate().sparkContext
workers = set(sc.parallelize(range(sc.defaultParallelism), sc.defaultParallelism).mapPartitions(where).collect())
driver = {"executable": sys.executable, "prefix": sys.prefix, "jobs": jobs.__file__,
          "conf_dir": str(default_conf_dir())}
print("PROBE " + json.dumps({"exit": code, "driver": driver, "workers": [json.loads(w) for w in sorted(workers)]}))
sys.exit(code)
"""


@pytest.fixture(scope="module")
def dist() -> Path:
    """build/dist from ``make package`` (a no-op when it is up to date). ``-o`` keeps make from
    reinstalling .venv, which this test runs in; a stale .venv stops the build with a message."""
    completed = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.docner-installed", "package"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    for name in ("docner-env.tar.gz", "docner_submit.py", "conf/base.yaml", "conf/cluster.yaml"):
        assert (DIST / name).is_file(), name
    return DIST


@pytest.fixture(scope="module")
def inputs(sample_dir, gold, tmp_path_factory) -> tuple[Path, dict]:
    """One sample of each kind (text layer, layout and table, a scan for Tesseract, broken files,
    a duplicate): the whole set is the end-to-end test's; this one is about the packaging."""
    names = [
        "services_agreement.pdf",
        "services_agreement_copy.pdf",
        "license_two_column.pdf",
        "supply_table.pdf",
        "scanned_nda.pdf",
        "corrupt.pdf",
        "empty.pdf",
    ]
    directory = tmp_path_factory.mktemp("input")
    for name in names:
        shutil.copy(sample_dir / name, directory / name)
    return directory, {name: gold[name] for name in names}


@pytest.fixture(scope="module")
def submitted(dist, inputs, tmp_path_factory):
    """``docner run --env cluster`` through spark-submit on a standalone cluster: the probe's
    report, the lake, the worker's directory and the driver side's unpacked environment (both
    removed afterwards)."""
    work = tmp_path_factory.mktemp("submit")
    driver_env = work / "environment"
    driver_env.mkdir()
    unpack = subprocess.Popen(["tar", "-xzf", str(dist / "docner-env.tar.gz"), "-C", str(driver_env)])
    (work / "probe_app.py").write_text(PROBE_APP)
    lake = work / "lake"
    leave_out = ("PYTHONPATH", "DOCNER_ENV", "DOCNER_CONF_DIR")
    env = {key: value for key, value in os.environ.items() if key not in leave_out}
    env.update(
        {
            # spark-submit from .venv, the way a Spark distribution's would run: its pyspark.zip
            # goes on the Python path of the driver and of the workers (the archive has no pyspark).
            "SPARK_HOME": str(Path(pyspark.__file__).parent),
            "PYSPARK_DRIVER_PYTHON": "./environment/bin/python",
            "PYSPARK_PYTHON": "./environment/bin/python",
            "OMP_THREAD_LIMIT": "1",
        }
    )
    command = [
        str(VENV_BIN / "spark-submit"),
        "--archives",
        f"{dist / 'docner-env.tar.gz'}#environment",
        "--conf",
        "spark.pyspark.python=./environment/bin/python",
        "--conf",
        "spark.executor.memory=1g",
        str(work / "probe_app.py"),
        str(dist / "docner_submit.py"),
        "run",
        "--input",
        str(inputs[0]),
        "--lake",
        str(lake),
        "--env",
        "cluster",
        "--run-id",
        "packaged",
        # cluster.yaml's 200 shuffle partitions are for real data; the UI is not needed here
        "--conf",
        "spark.shuffle_partitions=4",
        "--conf",
        "spark.ui_enabled=false",
    ]
    # the standalone worker's application directories (each holds an unpacked archive)
    old_worker_dir = os.environ.get("SPARK_WORKER_DIR")
    os.environ["SPARK_WORKER_DIR"] = str(work / "worker")
    try:
        with standalone_cluster(cores=2) as master:
            assert unpack.wait(timeout=300) == 0
            completed = subprocess.run(
                [command[0], "--master", master, *command[1:]],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
    finally:
        unpack.kill()
        if old_worker_dir is None:
            os.environ.pop("SPARK_WORKER_DIR", None)
        else:
            os.environ["SPARK_WORKER_DIR"] = old_worker_dir
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-5000:]
    report = next(line for line in completed.stdout.splitlines() if line.startswith("PROBE "))
    yield json.loads(report.removeprefix("PROBE ")), lake, work / "worker", driver_env
    # two unpacked environments, over 1 GB each: not worth keeping in pytest's temporary directories
    shutil.rmtree(driver_env, ignore_errors=True)
    shutil.rmtree(work / "worker", ignore_errors=True)


def _rows(lake: Path, table: str) -> list[dict]:
    return DeltaTable(str(lake / table)).to_pyarrow_table().to_pylist()


def test_the_driver_runs_the_unpacked_environment_with_its_installed_conf(submitted):
    report, _, _, driver_env = submitted
    assert report["exit"] == 0
    driver = report["driver"]
    assert Path(driver["prefix"]) == driver_env
    assert Path(driver["executable"]) == driver_env / "bin" / "python"
    assert Path(driver["jobs"]).is_relative_to(driver_env / "lib" / "python3.11" / "site-packages")
    # --env cluster found the conf installed in the environment, not the checkout's conf/
    assert Path(driver["conf_dir"]) == driver_env / "share" / "docner" / "conf"


def test_python_workers_run_the_environment_spark_submit_shipped_with_archives(submitted):
    report, _, worker_dir, _ = submitted
    assert report["workers"]
    for worker in report["workers"]:
        # the executor's working directory: <SPARK_WORKER_DIR>/<app id>/<executor id>
        cwd = Path(worker["cwd"])
        assert cwd.parent.parent == worker_dir, worker
        environment = cwd / "environment"
        assert Path(worker["executable"]) == environment / "bin" / "python", worker
        assert Path(worker["prefix"]) == environment, worker
        assert Path(worker["jobs"]).is_relative_to(environment / "lib" / "python3.11" / "site-packages"), worker
        # pyspark is the Spark installation's (SPARK_HOME/python/lib/pyspark.zip), not packed
        assert "pyspark.zip" in worker["pyspark"], worker
        assert not (environment / "lib" / "python3.11" / "site-packages" / "pyspark").exists()


def test_every_input_has_its_documents_row_and_ok_documents_have_pages_and_entities(submitted, inputs):
    _, lake, _, _ = submitted
    directory, gold = inputs
    documents = {str(Path(r["source_path"]).relative_to(directory)): r for r in _rows(lake, "documents")}
    assert set(documents) == set(gold)
    for name, record in gold.items():
        assert documents[name]["status"] == record.status, name
    pages: dict[str, set[int]] = {}
    for row in _rows(lake, "pages"):
        pages.setdefault(row["doc_id"], set()).add(row["page_no"])
    entity_docs = {row["doc_id"] for row in _rows(lake, "entities")}
    for name, record in gold.items():
        doc_id = documents[name]["doc_id"]
        if record.status == "ok":
            assert pages.get(doc_id) == set(range(1, record.pages + 1)), name
            assert doc_id in entity_docs, name
        elif record.status == "failed":
            assert doc_id not in pages, name


def test_runs_has_a_row_per_stage_with_the_cluster_env_and_quality_checked(submitted):
    _, lake, _, _ = submitted
    runs = {row["stage"]: row for row in _rows(lake, "runs") if row["run_id"] == "packaged"}
    assert set(runs) == {"ingest", "extract", "ner", "fields"}
    assert {row["env"] for row in runs.values()} == {"cluster"}
    assert runs["extract"]["pages"] > 0 and runs["ner"]["entities"] > 0
    # the suites in conf/expectations were found in the packed environment and run
    assert runs["extract"]["dq_success"] is not None and runs["fields"]["dq_success"] is not None
    assert runs["ner"]["dq_success"] is not None
