"""The transformers NER backend on a tiny random BERT (offline): offsets, windows, merge,
aggregation, tag repair, label mapping, loading errors and the per-worker cache.

Random weights say nothing about accuracy, so model-level tests assert structure; exact
expectations use a stand-in model whose logits depend only on each token's id, for which
any windowing must give exactly the unwindowed result."""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tiny_models import LABELS, WORDS, make_slow_tokenizer, sample_text, save_token_classifier
from udfs import model_cache
from udfs.errors import ModelUnavailable
from udfs.ner.backends import transformers as nt
from udfs.ner.backends.transformers import (
    TransformersBackend,
    TransformersOptions,
    aggregate_words,
    bucket_batches,
    cached_transformers,
    decode_bio,
    decode_label_ids,
    derive_model_version,
    load_transformers,
    merge_windows,
    plan_windows,
    resolve_device,
    resolve_precision,
    split_tag,
    strip_span,
    tag_table,
    text_groups,
)

LABEL_ID = {label: index for index, label in enumerate(LABELS)}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return save_token_classifier(tmp_path_factory.mktemp("models") / "tiny-ner")


@pytest.fixture(scope="module")
def backend(checkpoint) -> TransformersBackend:
    return load_transformers(TransformersOptions(str(checkpoint)))


def with_options(backend: TransformersBackend, **changes) -> TransformersBackend:
    """The same loaded model under other inference options."""
    return TransformersBackend(backend.loaded, dataclasses.replace(backend.options, **changes))


class LookupModel(torch.nn.Module):
    """Stand-in model: each token's logits depend only on its id (no context)."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = table

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(logits=torch.nn.functional.one_hot(self.table[input_ids], len(LABELS)).float() * 4)


def lookup_backend(backend: TransformersBackend, tags: dict[str, str], *, seed: int | None = None, **changes):
    """``backend`` with a LookupModel: tokens named in ``tags`` get that tag, others O (or, with
    a seed, a random tag, to make many entities)."""
    vocab_size = backend.loaded.model.config.vocab_size
    if seed is None:
        table = torch.zeros(vocab_size, dtype=torch.long)
    else:
        table = torch.randint(0, len(LABELS), (vocab_size,), generator=torch.Generator().manual_seed(seed))
    vocab = backend.loaded.tokenizer.get_vocab()
    for token, tag in tags.items():
        table[vocab[token]] = LABEL_ID[tag]
    loaded = dataclasses.replace(backend.loaded, model=LookupModel(table))
    return TransformersBackend(loaded, dataclasses.replace(backend.options, **changes))


def n_tokens(backend: TransformersBackend, text: str) -> int:
    encoded = backend.loaded.tokenizer(text, add_special_tokens=False, split_special_tokens=True)
    return len(encoded["input_ids"])


def assert_well_formed(text: str, candidates) -> None:
    """Offsets inside the text and matching it, no surrounding blanks, sorted, no overlaps."""
    previous_end = 0
    for candidate in candidates:
        assert 0 <= candidate.start < candidate.end <= len(text)
        assert text[candidate.start : candidate.end] == candidate.text
        assert candidate.text == candidate.text.strip()
        assert 0.0 <= candidate.score <= 1.0
        assert candidate.start >= previous_end  # sorted, and no two candidates overlap
        previous_end = candidate.end


# --- the model end to end -------------------------------------------------------------------


def test_identity_and_offsets(backend, checkpoint):
    text = sample_text(300, seed=1)
    (candidates,) = backend.recognize([text])
    assert backend.source == "transformers"
    assert backend.model == "tiny-ner"
    assert backend.model_version == derive_model_version(str(checkpoint))
    assert len(backend.model_version) == 12
    assert candidates, "a random model still tags something"
    assert {c.label for c in candidates} <= {"PER", "ORG", "LOC", "MISC"}
    assert {(c.source, c.model, c.model_version) for c in candidates} == {
        ("transformers", "tiny-ner", backend.model_version)
    }
    assert_well_formed(text, candidates)


def test_model_version_follows_config(checkpoint, tmp_path):
    copy = Path(shutil.copytree(checkpoint, tmp_path / "copy"))
    assert derive_model_version(str(copy)) == derive_model_version(str(checkpoint))
    config = json.loads((copy / "config.json").read_text())
    config["id2label"]["0"] = "OUTSIDE"
    (copy / "config.json").write_text(json.dumps(config))
    assert derive_model_version(str(copy)) != derive_model_version(str(checkpoint))
    assert load_transformers(TransformersOptions(str(copy), model_version="v7")).model_version == "v7"


def test_long_text_in_many_windows(backend):
    text = sample_text(3200, seed=2)
    assert len(text) > 20_000
    small = with_options(backend, max_length=32, stride=8)
    assert len(plan_windows(n_tokens(backend, text), small.window, 8)) > 100
    long_result, blank, empty, short_result = small.recognize([text, " \n\t ", "", "Acme Holdings"])
    assert long_result and blank == [] and empty == []
    assert_well_formed(text, long_result)
    assert_well_formed("Acme Holdings", short_result)


def test_blank_texts_run_no_forward_pass(backend, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the model ran")

    monkeypatch.setattr(backend.loaded.model, "forward", boom)
    assert backend.recognize(["", "   ", "\n\n", "\x00"]) == [[], [], [], []]
    assert backend.recognize([]) == []


def test_special_token_strings_in_text_are_plain_text(backend):
    text = "Acme [SEP] pays [CLS] London [PAD] [MASK] fees"
    # Were "[SEP]" read as the special token, it would be tagged; split as text, its word
    # "SEP" starts with the sub-token "s".
    (candidates,) = lookup_backend(backend, {"[SEP]": "B-ORG", "s": "B-ORG"}).recognize([text])
    assert [(c.text, c.label) for c in candidates] == [("SEP", "ORG")]


def test_windowed_equals_unwindowed_with_context_free_model(backend):
    text = sample_text(3000, seed=3)
    fine = lookup_backend(backend, {}, seed=5, max_length=32, stride=8, batch_size=7)
    coarse = lookup_backend(backend, {}, seed=5, max_length=512, stride=128)
    (fine_result,) = fine.recognize([text])
    (coarse_result,) = coarse.recognize([text])
    assert len(fine_result) > 500
    assert fine_result == coarse_result
    assert_well_formed(text, fine_result)


def test_texts_batched_together_give_their_own_results(backend):
    texts = [sample_text(n, seed=n) for n in (5, 400, 40, 1, 120)]
    windowed = with_options(backend, max_length=64, stride=16, batch_size=3)
    together = windowed.recognize(texts)
    alone = [windowed.recognize([text])[0] for text in texts]
    # The same spans and labels; scores equal up to float rounding, which depends on the shape
    # of the padded batch and on the CPU's kernels (1.5e-8 apart seen on an Intel Xeon).
    assert [[c._replace(score=None) for c in found] for found in together] == [
        [c._replace(score=None) for c in found] for found in alone
    ]
    assert [[c.score for c in found] for found in together] == [
        pytest.approx([c.score for c in found], abs=1e-6) for found in alone
    ]


WORD_OR_MARK = st.sampled_from([*WORDS[:120], "Acme,", "(a)", "§", "naïve", "Résumé", "[SEP]", "U.S.", "2023", "$5"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(WORD_OR_MARK, min_size=1, max_size=60), gaps=st.sampled_from([" ", "\n", "  ", " \n "]))
def test_window_property(backend, words, gaps):
    text = gaps.join(words)
    (whole,) = backend.recognize([text])
    count = n_tokens(backend, text)
    # A window that just fits the text gives exactly the unwindowed result.
    fitted = with_options(backend, max_length=count + 2, stride=count // 2)
    assert fitted.recognize([text]) == [whole]
    # Windows shorter than the text: spans stay inside the text and do not overlap.
    (windowed,) = with_options(backend, max_length=12, stride=3).recognize([text])
    assert_well_formed(text, whole)
    assert_well_formed(text, windowed)


def test_label_map_labels_and_min_score(backend):
    text = "John Smith of Acme Holdings in London signed Exhibit A."
    tags = {
        "john": "B-PER",
        "smith": "I-PER",
        "acme": "B-ORG",
        "holdings": "I-ORG",
        "london": "B-LOC",
        "exhibit": "B-MISC",
    }
    (plain,) = lookup_backend(backend, tags).recognize([text])
    assert [(c.text, c.label) for c in plain] == [
        ("John Smith", "PER"),
        ("Acme Holdings", "ORG"),
        ("London", "LOC"),
        ("Exhibit", "MISC"),
    ]
    assert plain[0].score == pytest.approx(np.exp(4) / (np.exp(4) + len(LABELS) - 1))
    mapped = lookup_backend(backend, tags, label_map=(("PER", "PERSON"), ("LOC", "GPE")))
    assert [c.label for c in mapped.recognize([text])[0]] == ["PERSON", "ORG", "GPE", "MISC"]
    kept = lookup_backend(backend, tags, label_map=(("PER", "PERSON"),), labels=("PERSON", "MISC"))
    assert [(c.text, c.label) for c in kept.recognize([text])[0]] == [("John Smith", "PERSON"), ("Exhibit", "MISC")]
    assert lookup_backend(backend, tags, min_score=0.9).recognize([text]) == [[]]


def test_subwords_aggregate_to_whole_words(backend):
    # "Londonderry" is london + ##de + ##rry…: the word is tagged by its first sub-token.
    tags = {"london": "B-LOC"}
    text = "in Londonderry today"
    assert len(backend.loaded.tokenizer.tokenize("Londonderry")) > 1
    (first,) = lookup_backend(backend, tags, aggregation="first").recognize([text])
    assert [(c.text, c.label) for c in first] == [("Londonderry", "LOC")]
    (average,) = lookup_backend(backend, tags, aggregation="average").recognize([text])
    assert average == []  # the other sub-tokens say O, so O wins on average


def test_options_are_checked_against_the_model(backend):
    assert with_options(backend, max_length=4096).max_length == 512  # the model's position limit
    with pytest.raises(ValueError, match="stride"):
        with_options(backend, max_length=16, stride=14)
    with pytest.raises(ValueError, match="aggregation"):
        TransformersOptions("x", aggregation="mean")  # type: ignore[arg-type]


def test_torch_threads_option(backend):
    before = torch.get_num_threads()
    try:
        with_options(backend, torch_threads=1).recognize(["Acme pays"])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


# --- loading, cache, device ------------------------------------------------------------------


def test_missing_directory_is_unavailable(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelUnavailable, match=r"no-such-model.*does not exist.*config\.json.*nothing is downloaded"):
        load_transformers(TransformersOptions(str(missing)))
    with pytest.raises(ModelUnavailable, match=r"no config\.json"):
        load_transformers(TransformersOptions(str(tmp_path)))


def test_slow_tokenizer_is_unavailable(checkpoint, tmp_path):
    slow = make_slow_tokenizer(shutil.copytree(checkpoint, tmp_path / "slow"))
    with pytest.raises(ModelUnavailable, match=r"slow \(Python\) tokenizer.*tokenizer\.json"):
        load_transformers(TransformersOptions(str(slow)))


def test_checkpoint_without_classifier_head_is_unavailable(checkpoint, tmp_path):
    from transformers import AutoConfig, BertModel

    headless = tmp_path / "headless"
    BertModel(AutoConfig.from_pretrained(checkpoint)).save_pretrained(headless)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copy(checkpoint / name, headless / name)
    with pytest.raises(ModelUnavailable, match=r"not a trained token-classification checkpoint.*classifier"):
        load_transformers(TransformersOptions(str(headless)))


def test_model_is_loaded_once_per_process(checkpoint):
    model_cache.clear()
    before = model_cache.load_count()
    first = cached_transformers(TransformersOptions(str(checkpoint)))
    second = cached_transformers(TransformersOptions(str(checkpoint), batch_size=7, stride=16, aggregation="max"))
    assert first.loaded is second.loaded
    assert second.options.batch_size == 7
    assert model_cache.load_count() == before + 1
    model_cache.clear()


def test_device_selection(monkeypatch):
    def in_task(resources):
        context = SimpleNamespace(resources=lambda: resources, cpus=lambda: 1)
        monkeypatch.setattr(nt, "_task_context", lambda: context)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:3") == "cuda:3"
    in_task({"gpu": SimpleNamespace(addresses=["1"])})
    assert resolve_device(None) == "cuda:1"
    in_task({"gpu": SimpleNamespace(addresses=["5"])})
    with pytest.raises(ModelUnavailable, match="'5'"):
        resolve_device(None)
    in_task({})  # a Spark task without a GPU stays off the GPU
    assert resolve_device(None) == "cpu"
    monkeypatch.setattr(nt, "_task_context", lambda: None)
    assert resolve_device(None) == "cuda:0"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device(None) == "cpu"
    in_task({"gpu": SimpleNamespace(addresses=["0"])})
    with pytest.raises(ModelUnavailable, match="no CUDA"):
        resolve_device(None)


def test_precision_selection(monkeypatch):
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    monkeypatch.setattr(nt, "_cuda_supports_bf16", lambda device: True)
    assert resolve_precision("auto", "cuda:0") == "bf16"
    monkeypatch.setattr(nt, "_cuda_supports_bf16", lambda device: False)
    assert resolve_precision("auto", "cuda:0") == "fp16"
    assert resolve_precision("fp32", "cuda:0") == "fp32"


# --- pure helpers ----------------------------------------------------------------------------


def test_plan_windows_examples():
    assert plan_windows(0, 8, 2) == []
    assert plan_windows(5, 8, 2) == [(0, 5)]
    assert plan_windows(8, 8, 2) == [(0, 8)]
    assert plan_windows(20, 8, 2) == [(0, 8), (6, 14), (12, 20)]
    assert plan_windows(21, 8, 2) == [(0, 8), (6, 14), (12, 20), (13, 21)]  # the last one aligned to the end
    with pytest.raises(ValueError):
        plan_windows(10, 8, 8)


@given(n=st.integers(1, 3000), window=st.integers(1, 300), data=st.data())
def test_plan_windows_cover_with_overlap(n, window, data):
    stride = data.draw(st.integers(0, window - 1))
    windows = plan_windows(n, window, stride)
    assert windows[0][0] == 0 and windows[-1][1] == n
    assert all(end - start == min(window, n) for start, end in windows)
    for (start, end), (next_start, _next_end) in itertools.pairwise(windows):
        assert start < next_start and end - next_start >= stride


def test_bucket_batches_examples():
    assert bucket_batches([5, 9, 3, 9, 7], 2) == [[1, 3], [4, 0], [2]]
    assert bucket_batches([], 4) == []
    with pytest.raises(ValueError):
        bucket_batches([1], 0)


@given(lengths=st.lists(st.integers(1, 512), max_size=200), batch_size=st.integers(1, 64))
def test_bucket_batches_properties(lengths, batch_size):
    batches = bucket_batches(lengths, batch_size)
    assert sorted(index for batch in batches for index in batch) == list(range(len(lengths)))
    assert all(1 <= len(batch) <= batch_size for batch in batches)
    ordered = [lengths[index] for batch in batches for index in batch]
    assert ordered == sorted(lengths, reverse=True)  # similar lengths share a batch: little padding


def test_text_groups_examples():
    assert text_groups([5, 0, 3, 4, 9, 1], 8) == [[0, 2], [3], [4], [5]]  # 9 > 8: a group of its own
    assert text_groups([0, 0], 8) == []
    with pytest.raises(ValueError):
        text_groups([1], 0)


@given(lengths=st.lists(st.integers(0, 50), max_size=60), limit=st.integers(1, 80))
def test_text_groups_properties(lengths, limit):
    groups = text_groups(lengths, limit)
    assert [index for group in groups for index in group] == [i for i, n in enumerate(lengths) if n > 0]
    for group in groups:
        assert group and (len(group) == 1 or sum(lengths[i] for i in group) <= limit)
    for group, following in itertools.pairwise(groups):  # a group closes only when the next text would not fit
        assert sum(lengths[i] for i in group) + lengths[following[0]] > limit


def one_hot(tags: list[str], confidence: float = 0.9) -> np.ndarray:
    probs = np.full((len(tags), len(LABELS)), (1 - confidence) / (len(LABELS) - 1), dtype=np.float32)
    probs[np.arange(len(tags)), [LABEL_ID[tag] for tag in tags]] = confidence
    return probs


def test_entity_across_a_window_edge_comes_out_once_and_whole():
    truth = ["O", "O", "O", "O", "O", "B-PER", "I-PER", "I-PER", "O", "O", "O", "O"]
    windows = plan_windows(len(truth), 8, 4)
    assert windows == [(0, 8), (4, 12)]
    # Each window misreads the tokens at its cut edge: window 0 loses the entity's last
    # token, window 1 sees the entity start as a continuation.
    first = one_hot([*truth[0:7], "O"])
    second = one_hot(["O", "I-PER", "I-PER", "I-PER", *truth[8:12]])
    per_window = [decode_bio([LABELS[i] for i in p.argmax(1)]) for p in (first, second)]
    assert per_window == [[(5, 7, "PER")], [(1, 4, "PER")]]  # decoded apart: a fragment and a duplicate
    merged = merge_windows(windows, [first, second], len(truth))
    tags = [LABELS[i] for i in merged.argmax(1)]
    assert tags == truth  # token 5 from window 0 (2 from its cut), tokens 6-7 from window 1
    assert decode_bio(tags) == [(5, 8, "PER")]


def test_merge_takes_the_centre_most_window():
    windows = [(0, 10), (6, 16), (12, 22)]
    probs = [np.full((10, 2), index, dtype=np.float32) for index in range(3)]
    owner = merge_windows(windows, probs, 22)[:, 0].astype(int).tolist()
    # 6..7 are nearer the middle of window 0, 8..9 of window 1, and so on.
    assert owner == [0] * 8 + [1] * 6 + [2] * 8
    assert merge_windows([(0, 5)], [np.eye(5, 2, dtype=np.float32)], 5).tolist() == np.eye(5, 2).tolist()
    with pytest.raises(ValueError, match="uncovered"):
        merge_windows([(0, 4), (6, 10)], [np.zeros((4, 2)), np.zeros((4, 2))], 10)


@pytest.mark.parametrize(
    ("tags", "spans"),
    [
        (["O", "B-PER", "I-PER", "O"], [(1, 3, "PER")]),
        (["I-PER", "I-PER", "O", "I-ORG"], [(0, 2, "PER"), (3, 4, "ORG")]),  # I- without B- starts one
        (["B-PER", "I-ORG", "I-ORG"], [(0, 1, "PER"), (1, 3, "ORG")]),  # I- of another type starts one
        (["B-PER", "B-PER", "I-PER"], [(0, 1, "PER"), (1, 3, "PER")]),  # B- always starts one
        (["B-LOC", "O", "I-LOC"], [(0, 1, "LOC"), (2, 3, "LOC")]),
        (["PER", "PER", "ORG", "O", "PER"], [(0, 2, "PER"), (2, 3, "ORG"), (4, 5, "PER")]),  # no prefixes
        (["S-PER", "B-ORG", "E-ORG", "I-ORG"], [(0, 1, "PER"), (1, 3, "ORG"), (3, 4, "ORG")]),  # BIOES
        (["U-LOC", "L-LOC"], [(0, 1, "LOC"), (1, 2, "LOC")]),  # BILOU
        (["B_MISC", "I_MISC"], [(0, 2, "MISC")]),
        (["O", "O"], []),
        ([], []),
    ],
)
def test_decode_bio_repairs_sequences(tags, spans):
    assert decode_bio(tags) == spans


TAG_SET = (*LABELS, "PER", "ORG", "S-ORG", "E-LOC", "U-PER", "L-PER", "B_MISC", "I_MISC")


@given(st.lists(st.sampled_from(TAG_SET), max_size=60))
def test_decode_label_ids_equals_decode_bio(tags):
    table = tag_table(TAG_SET)
    label_ids = np.array([TAG_SET.index(tag) for tag in tags], dtype=np.int64)
    assert decode_label_ids(label_ids, table) == decode_bio(tags)


@given(st.lists(st.sampled_from([*LABELS, "PER", "S-ORG", "E-LOC"]), max_size=40))
def test_decode_bio_spans_are_disjoint_and_cover_every_tag(tags):
    spans = decode_bio(tags)
    covered = [index for start, end, _type in spans for index in range(start, end)]
    assert covered == sorted(set(covered))
    assert covered == [index for index, tag in enumerate(tags) if tag != "O"]


def test_aggregation_first_average_max():
    probs = np.array(
        [
            [0.1, 0.6, 0.3],  # word 0
            [0.0, 0.1, 0.9],  # word 0
            [0.2, 0.2, 0.6],  # word 0
            [0.5, 0.5, 0.0],  # special token: no word
            [0.7, 0.2, 0.1],  # word 1
            [0.3, 0.4, 0.3],  # word 2
            [0.4, 0.5, 0.1],  # word 2
        ],
        dtype=np.float32,
    )
    word_ids = np.array([0, 0, 0, -1, 1, 2, 2])
    first = aggregate_words(probs, word_ids, "first")
    assert first.first_token.tolist() == [0, 4, 5] and first.last_token.tolist() == [2, 4, 6]
    np.testing.assert_allclose(first.probs, probs[[0, 4, 5]])
    average = aggregate_words(probs, word_ids, "average")
    np.testing.assert_allclose(average.probs, [[0.1, 0.3, 0.6], [0.7, 0.2, 0.1], [0.35, 0.45, 0.2]], rtol=1e-6)
    assert average.probs.argmax(1).tolist() == [2, 0, 1]
    maximum = aggregate_words(probs, word_ids, "max")
    np.testing.assert_allclose(maximum.probs, probs[[1, 4, 6]])  # 0.9 decides word 0, 0.5 word 2
    none = aggregate_words(probs[:1], np.array([-1]), "first")
    assert none.probs.shape == (0, 3) and none.first_token.size == 0


def test_aggregation_keeps_consecutive_same_word_ids_together_only():
    probs = one_hot(["B-PER", "I-PER", "O", "B-ORG"])
    words = aggregate_words(probs, np.array([0, 0, 1, 2]), "first")
    assert [LABELS[i] for i in words.probs.argmax(1)] == ["B-PER", "O", "B-ORG"]


# --- the pipelined worker against the plain algorithm ------------------------------------------


def reference_recognize(backend: TransformersBackend, texts: list[str], batch_size: int) -> list[list]:
    """The backend's algorithm written plainly, as it ran before the worker was pipelined: all
    texts tokenized through the transformers tokenizer, every window of the call sorted by
    length and batched with an attention mask, windows merged, sub-words aggregated, tags
    decoded from their strings."""
    loaded, options = backend.loaded, backend.options
    results: list[list] = [[] for _ in texts]
    todo = [index for index, text in enumerate(texts) if text and not text.isspace()]
    if not todo:
        return results
    batch = loaded.tokenizer(
        [texts[index] for index in todo],
        add_special_tokens=False,
        return_offsets_mapping=True,
        truncation=False,
        split_special_tokens=True,
        verbose=False,
    )
    encoded = [
        (
            index,
            np.asarray(e.ids),
            np.asarray(e.offsets).reshape(-1, 2),
            np.array([-1 if w is None else w for w in e.word_ids]),
        )
        for index, e in zip(todo, batch.encodings, strict=True)
        if e.ids
    ]
    windows = [
        (doc, start, end)
        for doc, item in enumerate(encoded)
        for start, end in plan_windows(len(item[1]), backend.window, options.stride)
    ]
    prefix, suffix = list(loaded.prefix_ids), list(loaded.suffix_ids)
    sequences = [prefix + list(encoded[doc][1][start:end]) + suffix for doc, start, end in windows]
    probs: list = [None] * len(windows)
    with torch.inference_mode():
        for group in bucket_batches([len(sequence) for sequence in sequences], batch_size):
            width = max(len(sequences[index]) for index in group)
            ids = torch.full((len(group), width), loaded.pad_id, dtype=torch.long)
            mask = torch.zeros((len(group), width), dtype=torch.long)
            for row, index in enumerate(group):
                ids[row, : len(sequences[index])] = torch.tensor(sequences[index])
                mask[row, : len(sequences[index])] = 1
            out = torch.softmax(loaded.model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1).numpy()
            for row, index in enumerate(group):
                _doc, start, end = windows[index]
                probs[index] = out[row, len(prefix) : len(prefix) + end - start]
    for doc, (index, ids, offsets, word_ids) in enumerate(encoded):
        mine = [position for position, window in enumerate(windows) if window[0] == doc]
        token_probs = merge_windows([windows[p][1:] for p in mine], [probs[p] for p in mine], len(ids))
        words = aggregate_words(token_probs, word_ids, options.aggregation)
        label_ids = words.probs.argmax(axis=1)
        scores = words.probs[np.arange(label_ids.size), label_ids]
        found = []
        for first, stop, entity_type in decode_bio([loaded.id2label[label] for label in label_ids]):
            label = dict(options.label_map).get(entity_type, entity_type)
            start, end = strip_span(
                texts[index], int(offsets[words.first_token[first], 0]), int(offsets[words.last_token[stop - 1], 1])
            )
            if start < end:
                text = texts[index]
                score = float(scores[first:stop].mean())
                found.append(
                    nt.Candidate(
                        start, end, text[start:end], label, score, "transformers", backend.model, backend.model_version
                    )
                )
        results[index] = sorted(found, key=lambda c: (c.start, c.end, c.label))
    return results


def without_scores(results):
    return [[candidate._replace(score=None) for candidate in found] for found in results]


@pytest.mark.parametrize("aggregation", ["first", "average", "max"])
def test_pipelined_worker_gives_the_plain_algorithms_entities(backend, aggregation):
    texts = [sample_text(n, seed=n) for n in (900, 3, 0, 2500, 40, 1200)]
    texts[2] = "  \n"
    options = {"max_length": 64, "stride": 16, "batch_size": 7, "aggregation": aggregation}
    reference = reference_recognize(with_options(backend, **options), texts, 7)
    assert sum(map(len, reference)) > 300
    # One tokenizer group: the same batches as the plain algorithm, so the very same floats.
    assert with_options(backend, **options).recognize(texts) == reference
    # Many groups (tokenized while the model runs; windows carried between groups): other
    # batches, so scores equal up to float rounding.
    grouped = with_options(backend, **options, tokenize_chars=2000).recognize(texts)
    assert without_scores(grouped) == without_scores(reference)
    assert [[c.score for c in found] for found in grouped] == [
        pytest.approx([c.score for c in found], abs=1e-6) for found in reference
    ]


def test_inference_stats_count_the_work(backend):
    worker = with_options(backend, max_length=64, stride=16, batch_size=5, tokenize_chars=1500)
    worker.stats.reset()
    texts = [sample_text(n, seed=n) for n in (400, 30, 900)] + ["", "   "]
    worker.recognize(texts)
    stats = worker.stats
    tokens = [n_tokens(backend, text) for text in texts[:3]]
    windows = [plan_windows(n, worker.window, 16) for n in tokens]
    assert stats.texts == 3 and stats.tokens == sum(tokens)
    assert stats.windows == sum(map(len, windows))
    assert stats.window_tokens == sum(end - start + 2 for spans in windows for start, end in spans)
    assert stats.batches == -(-stats.windows // 5)
    assert stats.padded_tokens >= stats.window_tokens
    assert stats.wall_s >= stats.launch_s + stats.decode_s and stats.device_s == 0.0  # CPU: no CUDA events
    stats.reset()
    assert stats == nt.InferenceStats()


def test_batch_size_follows_the_device(backend):
    assert with_options(backend, batch_size=None).batch_size == nt.CPU_BATCH_SIZE
    gpu = dataclasses.replace(backend.loaded, device="cuda:0")
    assert TransformersBackend(gpu, backend.options).batch_size == nt.CUDA_BATCH_SIZE
    assert TransformersBackend(gpu, dataclasses.replace(backend.options, batch_size=9)).batch_size == 9
    with pytest.raises(ValueError, match="tokenize_chars"):
        TransformersOptions("x", tokenize_chars=0)


def test_split_tag_codes_cover_every_scheme():
    table = tag_table(["O", "B-A", "I-A", "E-A", "S-A", "L-A", "U-A", "A"])
    assert table.codes == (
        nt.TAG_OUTSIDE,
        nt.TAG_BEGIN,
        nt.TAG_INSIDE,
        nt.TAG_END,
        nt.TAG_SINGLE,
        nt.TAG_END,
        nt.TAG_SINGLE,
        nt.TAG_INSIDE,
    )
    assert table.tagged.tolist() == [False] + [True] * 7
    assert split_tag("B-A") == ("B", "A")
