"""benchmarks/gpu_ner.py on a CPU, small: the command the GPU machine runs, end to end (texts and
the Arrow schema prepared here, a random model built, the plain loop, the forward pass alone,
the NER UDF body in one process and in two sharing the device)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tiny_models import sample_text

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "gpu_ner.py"


@pytest.mark.slow
def test_gpu_benchmark_runs_on_cpu(tmp_path):
    texts = tmp_path / "texts"
    texts.mkdir()
    for index, words in enumerate((2500, 1800, 40)):
        (texts / f"doc{index}.txt").write_text(sample_text(words, seed=index), encoding="utf-8")
    prepared = tmp_path / "bench"
    subprocess.run([sys.executable, str(SCRIPT), "--prepare", str(prepared), "--texts", str(texts)], check=True)
    assert sorted(p.name for p in (prepared / "txt").iterdir()) == ["doc0.txt", "doc1.txt", "doc2.txt"]

    out = tmp_path / "report.json"
    command = [
        sys.executable, str(SCRIPT),
        "--texts", str(prepared / "txt"), "--arrow-schema", str(prepared / "ner_result.arrows"),
        "--size", "tiny", "--device", "cpu", "--repeat", "1", "--runs", "8,8/p2", "--raw-batch", "4",
        "--json", str(out),
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.startswith("command: ")
    report = json.loads(out.read_text())
    assert report["documents"] == 3 and report["device"] == "cpu" and report["precision"] == "fp32"
    assert report["tokens"] > 4000
    assert report["raw"]["windows"] > report["documents"] and report["raw"]["tokens_per_s"] > 0
    assert set(report["forward_only"]["model_tokens_per_s_by_batch"]) == {"4", "8"}
    one, two = report["backend"]["8"], report["backend"]["8/p2"]
    for row in (one, two):
        assert row["errors"] == 0 and row["entities"] > 0 and row["backend_tokens_per_s"] > 0
        assert row["gpu_busy"] is None and row["peak_gpu_mb"] is None  # no CUDA here
    # The same documents, the same model, fp32 on a CPU: the same entities however they are split.
    assert one["entities"] == two["entities"]
    assert "backend 8/p2" in completed.stdout  # the closing table


def test_the_plain_loops_windows_are_the_tokenizers_own(tmp_path):
    """gpu_ner.raw_windows cuts windows from whole encodings (the tokenizers versions hand
    overflow back differently); here they must be the windows the tokenizer itself makes."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import gpu_ner
    from transformers import AutoTokenizer

    from tests.tiny_models import save_token_classifier

    model_dir = save_token_classifier(tmp_path / "tiny")
    texts = [sample_text(1500, seed=1), sample_text(30, seed=2), sample_text(700, seed=3)]
    ids, mask = gpu_ner.raw_windows(model_dir, texts)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    expected = []
    for text in texts:
        expected += tokenizer(text, truncation=True, max_length=512, stride=128, return_overflowing_tokens=True)[
            "input_ids"
        ]
    assert [list(row[: int(m.sum())]) for row, m in zip(ids, mask, strict=True)] == expected
    assert len(expected) > len(texts)
