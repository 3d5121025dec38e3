"""docner train --backend transformers: a local checkpoint fine-tuned with the Hugging Face Trainer
on the lake's annotations, in the inference windows, saved as a versioned model the NER backend
loads; and through Spark's TorchDistributor in two processes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.catalog.tables import MODELS
from jobs.cli import main
from jobs.lake.tables import read_arrow
from jobs.learn.train import TrainError, training_passages
from jobs.learn.train_transformers import (
    IGNORED,
    TransformersTraining,
    build_model,
    heldout_figures,
    label_space,
    token_tags,
    train_transformers,
    window_examples,
    window_f1,
)
from tests.test_train import NOW, parties_lake
from tests.tiny_models import LABELS as CONLL_TAGS
from tests.tiny_models import save_token_classifier
from udfs.ner.backends.transformers import (
    TransformersOptions,
    decode_bio,
    derive_model_version,
    load_transformers,
    plan_windows,
)

CONLL_MAP = (("PER", "PERSON"), ("LOC", "GPE"))


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A tiny random BERT token classifier with CoNLL's tags (PER, ORG, LOC, MISC)."""
    return save_token_classifier(tmp_path_factory.mktemp("base") / "conll")


def _settings(base: Path, **changes) -> TransformersTraining:
    values = {"base": str(base), "max_epochs": 2, "patience": 1, "learning_rate": 1e-3, "heldout_share": 0.34,
              "max_length": 32, "stride": 8, "batch_size": 4, "seed": 1, "label_map": CONLL_MAP}  # fmt: skip
    values.update(changes)
    return TransformersTraining(**values)


# ---- tags, windows, label space ---------------------------------------------------------------


@st.composite
def tokenized(draw):
    """Words split into 1-3 sub-tokens, and labelled spans over whole runs of words."""
    n_words = draw(st.integers(1, 30))
    pieces = [draw(st.integers(1, 3)) for _ in range(n_words)]
    offsets, word_ids, starts, ends, at = [], [], [], [], 0
    for word, count in enumerate(pieces):
        starts.append(at)
        for _ in range(count):
            offsets.append((at, at + 2))
            word_ids.append(word)
            at += 2
        ends.append(at)
        at += 1  # a space
    spans: list[tuple[int, int, str]] = []
    open_span = False
    for word, move in enumerate(draw(st.lists(st.integers(0, 3), min_size=n_words, max_size=n_words))):
        if move == 3 and open_span:  # the open span goes on over this word
            spans[-1] = (spans[-1][0], word + 1, spans[-1][2])
        elif move in (1, 2):
            spans.append((word, word + 1, "PARTY" if move == 1 else "ORG"))
        open_span = move in (1, 2) or (move == 3 and open_span)
    return offsets, word_ids, starts, ends, spans


@given(tokenized())
def test_tags_on_first_sub_tokens_decode_back_to_the_spans(case):
    offsets, word_ids, starts, ends, spans = case
    chars = [(starts[first], ends[last - 1], label) for first, last, label in spans]
    tagged = token_tags(offsets, word_ids, chars)
    assert (tagged.widened, tagged.dropped) == (0, 0)
    first_of_word = [index for index, word in enumerate(word_ids) if index == 0 or word_ids[index - 1] != word]
    assert [i for i, tag in enumerate(tagged.tags) if tag is not None] == first_of_word
    assert decode_bio([tagged.tags[i] for i in first_of_word]) == spans


def test_a_span_inside_words_is_widened_and_an_overlapping_one_dropped():
    offsets = [(0, 4), (4, 7), (8, 12)]  # "Acme" "Co." is one word of two tokens; "Beta" another
    word_ids = [0, 0, 1]
    tagged = token_tags(offsets, word_ids, [(0, 3, "ORG"), (2, 12, "PARTY")])
    assert tagged.tags == ["B-ORG", None, "O"] and (tagged.widened, tagged.dropped) == (1, 1)


@given(st.integers(1, 200), st.integers(5, 40), st.data())
def test_windows_are_the_inference_windows_with_specials_left_out_of_the_loss(n_tokens, max_length, data):
    stride = data.draw(st.integers(0, max_length - 3))
    ids = list(range(1000, 1000 + n_tokens))
    labels = [index % 3 for index in range(n_tokens)]
    examples = window_examples(ids, labels, [101], [102], max_length, stride)
    windows = plan_windows(n_tokens, max_length - 2, stride)
    assert len(examples) == len(windows)
    seen = set()
    for example, (start, end) in zip(examples, windows, strict=True):
        assert example["input_ids"] == [101, *ids[start:end], 102] and len(example["input_ids"]) <= max_length
        assert example["labels"] == [IGNORED, *labels[start:end], IGNORED]
        seen.update(example["input_ids"][1:-1])
    assert seen == set(ids)


def test_the_label_space_renames_the_base_tags_and_adds_the_new_labels():
    tags, kept = label_space(CONLL_TAGS, dict(CONLL_MAP), ["PARTY", "PERSON"])
    assert tags == ["O", "B-PERSON", "I-PERSON", "B-ORG", "I-ORG", "B-GPE", "I-GPE", "B-MISC", "I-MISC",
                    "B-PARTY", "I-PARTY"]  # fmt: skip
    assert kept == {index: index for index in range(len(CONLL_TAGS))}
    assert label_space(None, {}, ["PARTY"]) == (["O", "B-PARTY", "I-PARTY"], {})
    with pytest.raises(TrainError, match="'B-PER' and 'B-PERSON' both become 'B-PERSON'"):
        label_space(["O", "B-PER", "B-PERSON"], {"PER": "PERSON"}, [])


def test_the_new_head_keeps_the_base_rows(base):
    import torch
    from transformers import AutoModelForTokenClassification

    tags, kept = label_space(CONLL_TAGS, dict(CONLL_MAP), ["PARTY"])
    model = build_model(str(base), tags, kept)
    original = AutoModelForTokenClassification.from_pretrained(str(base)).classifier
    assert model.classifier.out_features == len(tags) == 11 and model.config.id2label[9] == "B-PARTY"
    assert torch.equal(model.classifier.weight[:9], original.weight) and torch.equal(
        model.classifier.bias[:9], original.bias
    )


def test_the_window_metric_is_strict():
    id2label = ["O", "B-PARTY", "I-PARTY"]
    gold = np.array([[IGNORED, 1, 2, 0, 1, IGNORED]])
    assert window_f1(np.array([[0, 1, 2, 0, 1, 0]]), gold, id2label, ["PARTY"])["f1"] == 1.0
    half = window_f1(np.array([[0, 1, 0, 0, 1, 0]]), gold, id2label, ["PARTY"])  # the first one cut short
    assert (half["precision"], half["recall"]) == (0.5, 0.5)
    id2label += ["B-PERSON"]  # a label kept by rehearsal, not scored
    assert window_f1(np.array([[0, 1, 2, 3, 1, 0]]), gold, id2label, ["PARTY"])["f1"] == 1.0


# ---- training ---------------------------------------------------------------------------------


def test_a_checkpoint_is_fine_tuned_saved_versioned_and_loaded_by_the_ner_backend(tmp_path, base):
    lake = parties_lake(tmp_path)
    result = train_transformers(lake, "parties-bert", settings=_settings(base), now=NOW)
    assert (result.version, result.path) == (1, lake / "_models" / "parties-bert" / "1")
    card = json.loads((result.path / "model_card.json").read_text())
    assert card["backend"] == "transformers" and card["trained_labels"] == ["PARTY"]
    assert card["labels"] == ["GPE", "MISC", "ORG", "PARTY", "PERSON"] and card["tags"][-2:] == ["B-PARTY", "I-PARTY"]
    assert card["training"]["rehearsal"].startswith("pseudo-rehearsal") and card["training"]["world_size"] == 1
    assert card["split"]["heldout_documents"] == 2 and card["split"]["train_windows"] >= 4
    assert set(card["heldout"]["per_label"]) == {"PARTY"} and card["libraries"]["transformers"]
    backend = load_transformers(TransformersOptions(model_path=str(result.path), max_length=32, stride=8))
    assert backend.model == "docner_parties-bert" and backend.model_version == derive_model_version(str(result.path))
    assert {c.label for texts in backend.recognize(["Acme Inc. and Beta LLC agree."]) for c in texts} <= set(
        card["labels"]
    )
    rows = read_arrow(lake, MODELS.name).to_pylist()
    assert [(r["name"], r["version"], r["backend"]) for r in rows] == [("parties-bert", 1, "transformers")]
    again = train_transformers(lake, "parties-bert", settings=_settings(base), now=NOW)
    # the same data and weights' shapes, yet another version for the NER stage
    assert again.version == 2 and derive_model_version(str(again.path)) != derive_model_version(str(result.path))


def test_training_learns_the_annotated_spans(tmp_path, base):
    lake = parties_lake(tmp_path)
    settings = _settings(base, max_epochs=30, patience=30, learning_rate=5e-3, heldout_share=0.0, warmup_ratio=0.0)
    result = train_transformers(lake, "fit", labels=["PARTY"], settings=settings, now=NOW)
    losses = [entry["loss"] for entry in result.card["training"]["history"] if "loss" in entry]
    assert losses[-1] < losses[0] / 5
    figures = heldout_figures(result.path, settings, training_passages(lake, ["PARTY"]), ["PARTY"])
    assert figures["gold"] == 12 and figures["f1"] >= 0.9  # every party, read back through the NER backend


def test_bad_bases_and_settings_are_refused(tmp_path, base):
    lake = parties_lake(tmp_path)
    not_a_model = tmp_path / "not-a-model"
    not_a_model.mkdir()
    with pytest.raises(TrainError, match="not a checkpoint directory"):
        train_transformers(lake, "x", settings=_settings(not_a_model))
    with pytest.raises(TrainError, match="stride"):
        _settings(base, stride=30)
    with pytest.raises(TrainError, match="no annotated span with the labels"):
        train_transformers(lake, "x", labels=["GPE"], settings=_settings(base))
    assert read_arrow(lake, MODELS.name).num_rows == 0 and not (lake / "_models" / "x").exists()


def test_the_cli_trains_a_transformers_model(tmp_path, base, capsys):
    lake = parties_lake(tmp_path)
    common = ["train", "--lake", str(lake), "--name", "cli", "--epochs", "1", "--patience", "1"]
    assert main([*common, "--backend", "transformers"]) == 2  # no --base, no ner.transformers.model_path
    assert "needs --base or ner.transformers.model_path" in capsys.readouterr().err
    assert main([*common, "--backend", "spacy", "--processes", "2"]) == 2
    code = main([*common, "--backend", "transformers", "--base", str(base), "--conf", "ner.transformers.max_length=32",
                 "--conf", "ner.transformers.stride=8"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert f"use it: --conf ner.transformers.model_path={lake / '_models' / 'cli' / '1'}" in out


@pytest.mark.slow
def test_torch_distributor_trains_in_two_processes(tmp_path, base, spark):
    lake = parties_lake(tmp_path)
    result = train_transformers(lake, "ddp", settings=_settings(base, processes=2), now=NOW)
    assert result.card["training"]["world_size"] == 2
    backend = load_transformers(TransformersOptions(model_path=str(result.path), max_length=32, stride=8))
    assert backend.model == "docner_ddp" and [p.name for p in (lake / "_models").iterdir()] == ["ddp"]
