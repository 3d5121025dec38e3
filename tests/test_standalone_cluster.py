"""The NER stage under a stage-level resource profile, on a real (standalone) cluster manager."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.standalone_cluster import standalone_cluster

pytestmark = pytest.mark.slow


def test_ner_runs_under_its_resource_profile_on_a_standalone_cluster(sample_dir, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("services_agreement.pdf", "license_two_column.pdf"):
        shutil.copy(sample_dir / name, inputs / name)
    with standalone_cluster(cores=2) as master:
        spec = {"master": master, "input": str(inputs), "lake": str(tmp_path / "lake")}
        completed = subprocess.run(
            [sys.executable, "-m", "tests.standalone_cluster", json.dumps(spec)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["entities"] > 10
    assert not any("ignored" in note for note in report["notes"])
    # the default profile (0) for ingest and extract, another one for NER's mapInArrow
    assert report["stage_profiles"][0] == 0 and len(report["stage_profiles"]) == 2
