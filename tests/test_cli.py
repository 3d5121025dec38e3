"""The command line as users run it: separate processes, stdout for results, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCNER = str(Path(sys.executable).parent / "docner")


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)


def test_bad_config_value_exits_2_naming_the_key(tmp_path):
    result = _run(
        DOCNER,
        "run",
        "--input",
        str(tmp_path),
        "--lake",
        str(tmp_path / "lake"),
        "--conf",
        "spark.shuffle_partitions=lots",
    )
    assert result.returncode == 2
    assert "spark.shuffle_partitions = 'lots'" in result.stderr
    assert result.stdout == ""


def test_unknown_env_exits_2(tmp_path):
    result = _run(DOCNER, "sql", "--lake", str(tmp_path), "--env", "staging", "SELECT 1")
    assert result.returncode == 2
    assert "unknown environment 'staging'" in result.stderr


def test_samples_command_writes_gold(tmp_path):
    result = _run(DOCNER, "samples", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    gold = json.loads((tmp_path / "gold.json").read_text())
    assert {g["file"] for g in gold} <= {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}


@pytest.mark.slow
def _log_records(stderr: str) -> list[dict]:
    """The JSON log lines of a run (Spark's own stderr chatter is not JSON)."""
    records = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def test_stage_commands_run_by_themselves_then_sql_json(sample_dir, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("services_agreement.pdf", "scanned_nda.pdf", "corrupt.pdf"):
        shutil.copy(sample_dir / name, inputs / name)
    lake = tmp_path / "lake"
    run_id = "manual__2026-11-23T10:00:00+00:00"  # an Airflow-style run id
    for stage, extra in (("ingest", ["--input", str(inputs)]), ("extract", []), ("ner", [])):
        result = _run(sys.executable, "-m", "jobs.cli", stage, "--lake", str(lake), "--run-id", run_id, *extra)
        assert result.returncode == 0, result.stderr[-3000:]
        assert stage in result.stdout  # the stage's summary line
        # Off a terminal, logs are JSON lines tagged with the run and stage, progress included.
        records = _log_records(result.stderr)
        assert records and all(r["run_id"] == run_id for r in records)
        progress = [r for r in records if r.get("event") == "progress"]
        assert progress and all(r["stage"] == stage for r in progress)
        final = progress[-1]
        assert final["final"] is True
        assert final["documents_done"] == final["documents_total"] > 0
        if stage != "ingest":
            assert final["pages_done"] == final["pages_total"] > 0

    # Metrics: one textfile describing every stage of the run so far.
    (prom,) = (lake / "_metrics").glob("docner-*.prom")
    text = prom.read_text()
    for stage in ("ingest", "extract", "ner"):
        assert f'docner_stage_duration_seconds{{lake="{lake}",stage="{stage}"}}' in text
    assert f'run_id="{run_id}"' in text

    result = _run(DOCNER, "validate", "--lake", str(lake), "--run-id", run_id, "--input", str(inputs))
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "run_recorded" in result.stdout and "FAILED" not in result.stdout
    # A file the lake never heard of is caught.
    shutil.copy(sample_dir / "services_agreement.pdf", inputs / "late_arrival.pdf")
    result = _run(DOCNER, "validate", "--lake", str(lake), "--run-id", run_id, "--input", str(inputs))
    assert result.returncode == 1
    assert "input_recorded: 1" in result.stderr and "late_arrival.pdf" in result.stderr

    result = _run(
        DOCNER,
        "sql",
        "--lake",
        str(lake),
        "--format",
        "json",
        "SELECT label, count(*) AS n FROM entities GROUP BY label ORDER BY label",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    counts = json.loads(result.stdout)
    assert isinstance(counts, list) and counts
    assert {"DATE", "PERSON", "ORG"} <= {row["label"] for row in counts}
    assert all(isinstance(row["n"], int) and row["n"] > 0 for row in counts)

    result = _run(
        DOCNER,
        "sql",
        "--lake",
        str(lake),
        "--format",
        "csv",
        "SELECT file_name, status, error_class FROM documents ORDER BY file_name",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [
        "file_name,status,error_class",
        "corrupt.pdf,failed,CorruptPdf",
        "scanned_nda.pdf,ok,",
        "services_agreement.pdf,ok,",
    ]

    result = _run(DOCNER, "sql", "--lake", str(lake), "SELECT * FROM no_such_table")
    assert result.returncode == 1
    assert "SQL error" in result.stderr
