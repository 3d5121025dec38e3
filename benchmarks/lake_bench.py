"""Lake benchmark: Delta write throughput, the cost of a run with nothing to do, validation overhead.

    .venv/bin/python benchmarks/lake_bench.py --json build/lake_bench.json

- **write**: 1,000,000 rows with the ``entities`` schema (generated with Spark built-ins and
  cached first) written through the ``deltars`` Spark data source (``jobs.lake.tables.write_table``,
  one commit) into a fresh table, ``--repeats`` times after one cold write; rows/s per write.
  For comparison, interleaved with those: the same writes with Spark's per-row byte cap on
  the batches (what tables of wide rows get, see ``jobs.lake.tables.write_batch_conf``), and with
  the UDF Arrow batch size (64 rows) the writes used before.
- **no-op re-run**: ``docner run`` on ``--docs`` CUAD PDFs into a fresh lake, then the same
  command again (a new process, so Spark start is included when it happens): wall seconds of
  the second run, which must find nothing to do.
- **validation overhead**: from the first run's ``runs`` rows, ``dq_seconds / seconds`` of
  the extract and NER stages (Great Expectations on the rows they published).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_report import emit, machine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT_CUAD = REPO.parent / "shared" / "datasets" / "cuad-dev"


def write_throughput(rows: int, repeats: int, work: Path) -> dict[str, object]:
    from pyspark.sql import functions as F

    from jobs.catalog.tables import ENTITIES, TableSpec
    from jobs.config import load_config
    from jobs.lake.tables import write_table
    from jobs.session import build_spark, prepare_environment

    prepare_environment()
    config = load_config("local", overrides=["spark.master=local[2]", "spark.ui_enabled=false"])
    spark = build_spark(config)
    columns = []
    for field in ENTITIES.schema.fields:
        kind = field.dataType.simpleString()
        if field.name == "doc_id":
            value = F.sha2((F.col("id") % 1000).cast("string"), 256)  # 1,000 documents
        elif field.name == "entity_id":
            value = F.sha2(F.col("id").cast("string"), 256)
        elif kind == "string":
            value = F.concat(F.lit(f"{field.name[:4]} "), (F.col("id") % 997).cast("string"))
        elif kind == "int":
            value = (F.col("id") % 5000).cast("int")
        elif kind == "double":
            value = (F.col("id") % 1000).cast("double") / 1000
        else:  # sources: array<string>
            value = F.array(F.lit("spacy"), F.lit("rules"))
        columns.append(value.alias(field.name))
    data = spark.range(rows, numPartitions=2).select(*columns).persist()
    data.count()

    settings = config.lake
    byte_capped = dataclasses.replace(ENTITIES, narrow_rows=False)

    def one(spec: TableSpec, batch_rows: int) -> float:
        lake = work / "write-lake"
        shutil.rmtree(lake, ignore_errors=True)
        started = time.perf_counter()
        result = write_table(data, lake, spec, batch_rows=batch_rows, batch_bytes=settings.write_batch_bytes)
        seconds = time.perf_counter() - started
        assert result.rows == rows, result
        return seconds

    cold = one(ENTITIES, settings.write_batch_rows)
    warm: list[float] = []
    capped: list[float] = []
    for _ in range(repeats):
        warm.append(one(ENTITIES, settings.write_batch_rows))
        capped.append(one(byte_capped, settings.write_batch_rows))
    small = [one(ENTITIES, 64) for _ in range(max(1, repeats // 2))]
    spark.stop()
    return {
        "rows": rows,
        "batch_rows": settings.write_batch_rows,
        "cold_seconds": round(cold, 2),
        "warm_seconds": [round(s, 2) for s in warm],
        "rows_per_s_cold": round(rows / cold),
        "rows_per_s_median": round(rows / statistics.median(warm)),
        "rows_per_s_best": round(rows / min(warm)),
        "rows_per_s_worst": round(rows / max(warm)),
        "rows_per_s_with_byte_cap": round(rows / statistics.median(capped)),
        "rows_per_s_with_64_row_batches": round(rows / statistics.median(small)),
    }


def docner(*args: str) -> tuple[float, str]:
    conf = ["--conf", "spark.master=local[2]", "--conf", "spark.ui_enabled=false"]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "jobs.cli", *args, *conf],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"docner {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def rerun(cuad: Path, docs: int, work: Path) -> dict[str, object]:
    from jobs.lake.tables import read_arrow

    inputs = work / "inputs"
    shutil.rmtree(inputs, ignore_errors=True)
    inputs.mkdir(parents=True)
    for pdf in sorted((cuad / "pdf").glob("*.pdf"))[:docs]:
        (inputs / pdf.name).symlink_to(pdf)
    lake = work / "rerun-lake"
    shutil.rmtree(lake, ignore_errors=True)
    first, _ = docner("run", "--input", str(inputs), "--lake", str(lake))
    second, output = docner("run", "--input", str(inputs), "--lake", str(lake))
    assert "nothing to do" in output, output
    runs = read_arrow(lake, "runs").to_pylist()
    first_run = min(r["run_id"] for r in runs)
    overhead = {
        r["stage"]: {
            "stage_seconds": round(r["seconds"], 1),
            "dq_seconds": round(r["dq_seconds"], 1),
            "share": round(r["dq_seconds"] / r["seconds"], 3),
            "rows": dict(r["rows_written"]),
        }
        for r in runs
        if r["run_id"] == first_run and r["dq_seconds"] is not None
    }
    return {
        "documents": docs,
        "first_run_seconds": round(first, 1),
        "noop_rerun_seconds": round(second, 2),
        "validation_overhead": overhead,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--cuad", type=Path, default=DEFAULT_CUAD)
    parser.add_argument("--work", type=Path, default=REPO / "build" / "lake-bench")
    parser.add_argument("--skip-write", action="store_true")
    parser.add_argument("--skip-rerun", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    report: dict[str, object] = {"machine": machine()}
    if not args.skip_write:
        report["write"] = write_throughput(args.rows, args.repeats, args.work)
        print(json.dumps(report["write"]), file=sys.stderr)
    if not args.skip_rerun:
        report["rerun"] = rerun(args.cuad, args.docs, args.work)
    emit(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
