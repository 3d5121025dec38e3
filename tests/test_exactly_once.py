"""Exactly-once: a run killed (SIGKILL) at a commit — with data files written and the commit
not done, or between the commits of one stage — and then run again leaves every table equal
in content to one clean run; ``docner maintain`` then removes the files never committed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.lake.tables import read_arrow
from tests.pdf_factory import text_pdf

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
TABLES = ("documents", "pages", "tables", "entities", "entity_search", "contract_fields", "contracts")
CONF = [
    "spark.master=local[2]",
    "spark.ui_enabled=false",
    "ner.backends=[rules]",
    "extract.ocr.enabled=false",
    "maintain.retention_hours=0",
]
# Columns that name the run or the time: equal content means equal everything else.
VOLATILE = {"run_id", "ingested_at", "finished_at"}


def _docner(*args: str, fault: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCNER_FAULT")}
    env["PYSPARK_PYTHON"] = sys.executable
    if fault:
        env["DOCNER_FAULT"] = fault
    conf = [item for pair in (("--conf", c) for c in CONF) for item in pair]
    process = subprocess.Popen(
        [sys.executable, "-m", "jobs.cli", *args, *conf],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the killed driver's JVM and workers go with it
            os.killpg(process.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _content(lake: Path) -> dict[str, list[str]]:
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in VOLATILE}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return {
        table: sorted(
            json.dumps(clean(row), sort_keys=True, default=str) for row in read_arrow(lake, table).to_pylist()
        )
        for table in TABLES
    }


def _uncommitted(lake: Path) -> list[Path]:
    from deltalake import DeltaTable

    stray = []
    for table in TABLES:
        committed = {Path(uri).name for uri in DeltaTable(str(lake / table)).file_uris()}
        data_files = [p for p in (lake / table).rglob("*.parquet") if "_delta_log" not in p.parts]
        stray += [p for p in data_files if p.name not in committed]
    return stray


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("inputs")
    for index, party in enumerate(["Globex LLC", "Initech Corp.", "Umbrella GmbH"]):
        (directory / f"contract_{index}.pdf").write_bytes(
            text_pdf(
                f"This Agreement dated March {index + 1}, 2024 is between Acme Robotics, Inc. and {party}.\n"
                f"The Customer pays ${(index + 1) * 1000:,} within thirty (30) days.",
                "Page two of the agreement.",
            )
        )
    return directory


@pytest.fixture(scope="module")
def clean_lake(inputs, tmp_path_factory) -> Path:
    lake = tmp_path_factory.mktemp("clean")
    done = _docner("run", "--input", str(inputs), "--lake", str(lake))
    assert done.returncode == 0, done.stderr[-3000:]
    return lake


@pytest.mark.parametrize(
    "fault",
    [
        "before-commit:pages:extract",  # extract's page files written, not committed
        "after-commit:entities:ner",  # entities committed, the documents' NER states not
        "before-commit:documents:ner",  # NER's last commit, not done
        "after-commit:contract_fields:fields",  # the fields committed, the contracts and states not
    ],
)
def test_a_run_killed_at_a_commit_and_run_again_equals_one_clean_run(fault, inputs, clean_lake, tmp_path):
    lake = tmp_path / "lake"
    killed = _docner("run", "--input", str(inputs), "--lake", str(lake), fault=fault)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-3000:])
    if fault.startswith("before-commit"):
        assert _uncommitted(lake), "the killed run left no data files behind: the fault point was not reached"

    again = _docner("run", "--input", str(inputs), "--lake", str(lake))
    assert again.returncode == 0, again.stderr[-3000:]
    assert _content(lake) == _content(clean_lake)

    maintained = _docner("maintain", "--lake", str(lake))
    assert maintained.returncode == 0, maintained.stderr[-3000:]
    assert _uncommitted(lake) == []
    assert _content(lake) == _content(clean_lake)
