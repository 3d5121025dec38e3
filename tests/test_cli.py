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
def test_stage_modules_run_by_themselves_then_sql_json(sample_dir, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("services_agreement.pdf", "scanned_nda.pdf", "corrupt.pdf"):
        shutil.copy(sample_dir / name, inputs / name)
    lake = tmp_path / "lake"
    for module, extra in (("jobs.ingest", ["--input", str(inputs)]), ("jobs.extract", []), ("jobs.ner", [])):
        result = _run(sys.executable, "-m", module, "--lake", str(lake), *extra)
        assert result.returncode == 0, result.stderr[-3000:]
        assert module.split(".")[1] in result.stdout  # the stage's summary line

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
