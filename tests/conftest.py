"""Shared fixtures: one local SparkSession for the whole session, generated sample PDFs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CUAD_DIR = REPO.parent / "shared" / "datasets" / "cuad-dev"


@pytest.fixture(scope="session")
def test_config():
    from jobs.config import load_config

    return load_config(
        "local",
        overrides=["spark.master=local[2]", "spark.shuffle_partitions=2", "spark.ui_enabled=false"],
    )


@pytest.fixture(scope="session")
def spark(test_config):
    from jobs.session import build_spark

    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = build_spark(test_config)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    from jobs.dev.samples import generate_samples

    directory = tmp_path_factory.mktemp("samples")
    generate_samples(directory)
    return directory


@pytest.fixture(scope="session")
def gold(sample_dir):
    from jobs.dev.samples import load_gold

    return {g.file: g for g in load_gold(sample_dir)}


@pytest.fixture(scope="session")
def pipeline_run(spark, test_config, sample_dir, tmp_path_factory):
    """The samples through the whole pipeline once, in a lake shared by the modules that only
    read it or work on copies (the end-to-end tests, the report): (lake, context, results)."""
    from jobs.pipeline import run_pipeline
    from jobs.stages.base import StageContext, new_run_id

    lake = tmp_path_factory.mktemp("lake")
    ctx = StageContext(spark=spark, config=test_config, lake=lake, run_id=new_run_id())
    results = run_pipeline(ctx, str(sample_dir))
    return lake, ctx, results
