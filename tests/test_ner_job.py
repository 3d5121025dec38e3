"""The NER job's pieces that need no Spark job: options from config, resource profile, task bins."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jobs.config import load_config
from jobs.stages.ner import balanced_bins, ner_options, resource_profile


def test_options_come_from_the_config_and_the_shipped_rules():
    options = ner_options(load_config("local"))
    assert [name for name, _ in options.backends] == ["spacy", "rules"]
    rules = dict(options.backends)["rules"].rule_set
    assert rules is not None and rules.name == "contracts"
    assert {rule.label for rule in rules.rules} >= {"MONEY", "DATE", "PERCENT", "DURATION", "ORG", "ALIAS"}
    pii, first = options.merge.priority[:2]
    assert pii.source == "pii" and not pii.labels  # PII first, when its backend runs
    assert first.source == "rules"
    assert first.labels == frozenset({"MONEY", "DATE", "PERCENT", "DURATION", "SECTION_REF", "ALIAS", "LAW"})
    assert options.profile == "contracts" and options.lexicon is not None and options.lexicon.documents > 0
    assert options.places is not None and options.places.kind("Zug") == "city"
    assert "transformers" not in dict(options.backends)


def test_transformers_options_carry_the_label_map(tmp_path):
    config = load_config("local", overrides=["ner.backends=[transformers]", f"ner.transformers.model_path={tmp_path}"])
    options = ner_options(config)
    assert [name for name, _ in options.backends] == ["transformers"]
    transformers = dict(options.backends)["transformers"]
    assert transformers.model_path == str(tmp_path)
    assert dict(transformers.label_map) == {"PER": "PERSON", "LOC": "GPE"}


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

    from jobs.stages.base import partition_keys
    from jobs.stages.ner import transform_spread

    sizes = {f"d{i}": (i * 7919) % 1000 + 1 for i in range(30)}
    bins = balanced_bins(sizes, 5)
    documents_df = spark.createDataFrame([(doc_id, "text") for doc_id in sizes], "doc_id string, text string")
    spread = transform_spread(documents_df, bins, partition_keys(spark, 5))
    placed = {r["doc_id"]: r["task"] for r in spread.select("doc_id", F.spark_partition_id().alias("task")).collect()}
    assert placed == bins
    assert spread.rdd.getNumPartitions() == 5


WORDS = [
    {"start": 0, "end": 4, "x0": 10.0, "top": 10.0, "x1": 40.0, "bottom": 20.0},
    {"start": 5, "end": 13, "x0": 45.0, "top": 10.0, "x1": 100.0, "bottom": 20.0},
    {"start": 14, "end": 18, "x0": 10.0, "top": 25.0, "x1": 40.0, "bottom": 35.0},
]


def _boxes_of(spark, spans):
    """with_entity_boxes over one page with WORDS, for entities at ``spans``; (start, end) → box."""
    from jobs.catalog.tables import ENTITIES, PAGES
    from jobs.stages.ner import with_entity_boxes

    page = {f.name: None for f in PAGES.schema.fields} | {
        "doc_id": "d",
        "page_no": 1,
        "status": "ok",
        "method": "text",
        "text": "",
        "char_count": 0,
        "word_boxes": WORDS,
        "run_id": "r",
    }
    pages_df = spark.createDataFrame([tuple(page[f.name] for f in PAGES.schema.fields)], PAGES.schema)
    fields = [f for f in ENTITIES.schema.fields if f.name not in ("x0", "top", "x1", "bottom")]
    rows = []
    for start, end in spans:
        entity = {f.name: None for f in fields} | {
            "doc_id": "d",
            "entity_id": f"{start}-{end}",
            "page_no": 1,
            "start": start,
            "end": end,
            "end_page_no": 1,
            "doc_start": start,
            "doc_end": end,
            "text": "x",
            "label": "ORG",
            "source": "rules",
            "sources": ["rules"],
            "model": "m",
            "model_version": "1",
            "entity_key": "x",
            "run_id": "r",
        }
        rows.append(tuple(entity[f.name] for f in fields))
    from pyspark.sql import types as T

    entities_df = spark.createDataFrame(rows, T.StructType(fields))
    boxed = with_entity_boxes(entities_df, pages_df).collect()
    assert [f for f in boxed[0].asDict()] == ENTITIES.schema.fieldNames()
    return {
        (r["start"], r["end"]): None if r["x0"] is None else {k: r[k] for k in ("x0", "top", "x1", "bottom")}
        for r in boxed
    }


def test_entity_box_is_the_union_of_its_words(spark):
    boxes = _boxes_of(spark, [(0, 13), (7, 16), (4, 5)])
    assert boxes[(0, 13)] == {"x0": 10.0, "top": 10.0, "x1": 100.0, "bottom": 20.0}
    assert boxes[(7, 16)] == {"x0": 10.0, "top": 10.0, "x1": 100.0, "bottom": 35.0}
    assert boxes[(4, 5)] is None  # only the space between words


def test_entity_box_covers_every_word_it_overlaps(spark):
    spans = [(start, end) for start in range(0, 20) for end in range(start + 1, 21)]
    boxes = _boxes_of(spark, spans)
    for start, end in spans:
        box = boxes[(start, end)]
        overlapping = [w for w in WORDS if w["start"] < end and w["end"] > start]
        if not overlapping:
            assert box is None
            continue
        for word in overlapping:
            assert box["x0"] <= word["x0"] and box["x1"] >= word["x1"]
            assert box["top"] <= word["top"] and box["bottom"] >= word["bottom"]
