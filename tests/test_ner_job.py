"""The NER job's pieces that need no Spark job: options from config, resource profile, task bins."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jobs.config import load_config
from jobs.ner import balanced_bins, ner_options, resource_profile


def test_options_come_from_the_config_and_the_shipped_rules():
    options = ner_options(load_config("local"))
    assert options.backends == ("spacy", "rules")
    assert options.rules is not None and options.rules.name == "contracts"
    assert {rule.label for rule in options.rules.rules} >= {"MONEY", "DATE", "PERCENT", "DURATION", "ORG", "ALIAS"}
    first = options.merge.priority[0]
    assert first.source == "rules" and first.labels == frozenset({"MONEY", "DATE", "PERCENT", "DURATION"})
    assert options.transformers is None


def test_transformers_options_carry_the_label_map(tmp_path):
    config = load_config("local", overrides=["ner.backends=[transformers]", f"ner.transformers.model_path={tmp_path}"])
    options = ner_options(config)
    assert options.transformers is not None
    assert options.transformers.model_path == str(tmp_path)
    assert dict(options.transformers.label_map) == {"PER": "PERSON", "LOC": "GPE"}
    assert options.rules is None


def test_gpu_resource_profile_of_the_cluster_gpu_overlay():
    settings = load_config("cluster-gpu").ner.resources
    profile = resource_profile(settings)
    assert profile is not None
    executor, task = profile.executorResources, profile.taskResources
    assert executor["gpu"].amount == 1
    assert executor["gpu"].discoveryScript.endswith("getGpusResources.sh")
    assert executor["gpu"].vendor == "nvidia.com"
    assert executor["cores"].amount == 8 and executor["memory"].amount == 32 * 1024
    assert task["gpu"].amount == 0.25 and task["cpus"].amount == 2


def test_no_profile_unless_enabled():
    assert resource_profile(load_config("local").ner.resources) is None


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers(0, 10_000), max_size=60), st.integers(1, 8))
def test_bins_hold_every_document_and_stay_balanced(sizes, bins):
    assignment = balanced_bins(sizes, bins)
    assert set(assignment) == set(sizes)
    assert all(0 <= b < bins for b in assignment.values())
    loads = [0] * bins
    for doc_id, b in assignment.items():
        loads[b] += sizes[doc_id]
    if sizes:
        # largest-first greedy: no task exceeds the average by more than one document
        assert max(loads) <= sum(sizes.values()) / bins + max(sizes.values())


def test_documents_land_in_the_task_their_bin_names(spark):
    from pyspark.sql import functions as F

    from jobs.ner import transform_spread
    from jobs.stage import partition_keys

    sizes = {f"d{i}": (i * 7919) % 1000 + 1 for i in range(30)}
    bins = balanced_bins(sizes, 5)
    documents_df = spark.createDataFrame([(doc_id, "text") for doc_id in sizes], "doc_id string, text string")
    spread = transform_spread(documents_df, bins, partition_keys(spark, 5))
    placed = {r["doc_id"]: r["task"] for r in spread.select("doc_id", F.spark_partition_id().alias("task")).collect()}
    assert placed == bins
    assert spread.rdd.getNumPartitions() == 5
