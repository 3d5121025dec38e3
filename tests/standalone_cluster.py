"""A throwaway Spark standalone cluster (master + one worker) for tests that need a real
cluster manager, e.g. stage-level resource profiles, which local mode refuses.

    python -m tests.standalone_cluster DRIVER_SPEC_JSON   (runs the driver side, see ``drive``)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spark_class() -> str:
    import pyspark

    return str(Path(pyspark.__file__).parent / "bin" / "spark-class")


@contextmanager
def standalone_cluster(cores: int = 2, memory: str = "2g", timeout_s: float = 90) -> Iterator[str]:
    """Start a master and a worker on 127.0.0.1; yield the master URL; stop both."""
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1"}
    port, ui_port = _free_port(), _free_port()
    master = subprocess.Popen(
        [
            _spark_class(),
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--webui-port",
            str(ui_port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"spark://127.0.0.1:{port}"
    worker = subprocess.Popen(
        [
            _spark_class(),
            "org.apache.spark.deploy.worker.Worker",
            url,
            "--cores",
            str(cores),
            "--memory",
            memory,
            "--webui-port",
            str(_free_port()),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as response:
                    if json.load(response).get("aliveworkers", 0) >= 1:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the standalone master or worker did not come up")
            time.sleep(0.5)
        yield url
    finally:
        for process in (worker, master):
            process.terminate()
        for process in (worker, master):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def drive(spec: dict) -> dict:
    """Driver side, in its own process (one SparkContext per process): the pipeline on
    ``spec["input"]`` against ``spec["master"]`` with the NER resource profile on; returns
    the NER stage's notes, the entity count and the resource profile id of every stage."""
    from jobs.config import load_config
    from jobs.lake.tables import ensure_tables, read_table
    from jobs.pipeline import run_pipeline
    from jobs.session import build_spark
    from jobs.stages.base import StageContext, new_run_id

    config = load_config(
        "local",
        overrides=[
            f"spark.master={spec['master']}",
            "spark.ui_enabled=true",
            "spark.conf[spark.ui.port]=0",
            "spark.conf[spark.executor.memory]=1g",
            "ner.resources.enabled=true",
            "ner.resources.task_cpus=2",  # a task profile: NER tasks take both cores of the executor
        ],
    )
    spark = build_spark(config)
    lake = Path(spec["lake"])
    ensure_tables(lake)
    ctx = StageContext(spark=spark, config=config, lake=lake, run_id=new_run_id())
    results = run_pipeline(ctx, spec["input"])
    entities = read_table(spark, lake, "entities").where(f"run_id = '{ctx.run_id}'").count()
    url = f"{spark.sparkContext.uiWebUrl}/api/v1/applications/{spark.sparkContext.applicationId}/stages"
    with urllib.request.urlopen(url, timeout=10) as response:
        stages = json.load(response)
    spark.stop()
    return {
        "notes": next(r for r in results if r.stage == "ner").notes,
        "entities": entities,
        "stage_profiles": sorted({int(stage.get("resourceProfileId", 0)) for stage in stages}),
    }


if __name__ == "__main__":
    print(json.dumps(drive(json.loads(sys.argv[1]))))
