"""Cross-validation of ``docner train --backend spacy`` on the lake's annotations, against the
pipeline that made the lake (issue 18: the gain, shown).

The annotated documents are dealt into ``folds`` (by document, never one in two folds). For
each fold, a model is trained on the others (early stopping on a held-out share of them, as
``docner train`` does) and scored on the fold's passages: strict precision, recall and F1
(same boundaries, same label) per label, pooled over the folds. Two comparisons on the same
held-out passages:

- **the pipeline**: the lake's own answers mapped to the trained labels
  (:func:`jobs.learn.silver.pipeline_spans`);
- **the base model's labels**: what the trained model now says for the labels nobody annotated
  (OntoNotes' for ``en_core_web_sm``), scored against the base model's own predictions where no
  gold exists (away from the annotated spans, where a base label is meant to give way): 1.0
  means nothing was forgotten.
"""

from __future__ import annotations

import random
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from jobs.learn.silver import pipeline_spans
from jobs.learn.train import (
    BLANK,
    Passage,
    SpacyTraining,
    Span,
    StrictCounts,
    TrainError,
    entity_spans,
    fit_spacy,
    split_documents,
    training_passages,
)


def document_folds(passages: Sequence[Passage], folds: int, seed: int) -> list[list[Passage]]:
    """The passages in ``folds`` groups by document, documents dealt in a seeded random order."""
    doc_ids = sorted({p.doc_id for p in passages})
    if folds < 2 or folds > len(doc_ids):
        raise TrainError(f"{folds} folds need between 2 and {len(doc_ids)} annotated documents")
    random.Random(seed).shuffle(doc_ids)
    fold_of = {doc_id: index % folds for index, doc_id in enumerate(doc_ids)}
    groups: list[list[Passage]] = [[] for _ in range(folds)]
    for passage in passages:
        groups[fold_of[passage.doc_id]].append(passage)
    return groups


def in_passage(passage: Passage, spans: Collection[Span]) -> set[Span]:
    """``spans`` (document offsets) that lie in the passage, in the passage's offsets."""
    end = passage.start + len(passage.text)
    return {(s - passage.start, e - passage.start, label) for s, e, label in spans if passage.start <= s and e <= end}


def away_from(spans: set[Span], gold: Collection[Span]) -> set[Span]:
    """``spans`` that overlap none of ``gold``."""
    return {(s, e, label) for s, e, label in spans if not any(s < ge and gs < e for gs, ge, _ in gold)}


def cross_validate(
    lake: str | Path,
    labels: Collection[str] | None = None,
    *,
    folds: int = 5,
    settings: SpacyTraining | None = None,
    baseline: Mapping[str, Collection[Span]] | None = None,
) -> dict[str, Any]:
    """Train and score one model per fold (see the module docstring). ``baseline``: the spans
    to compare with, by doc_id (default: :func:`pipeline_spans` of the lake)."""
    import spacy

    settings = settings or SpacyTraining()
    started = time.monotonic()
    passages = training_passages(lake, labels)
    annotated = sorted({label for p in passages for _, _, label in p.spans})
    groups = document_folds(passages, folds, settings.seed)
    if baseline is None:
        baseline = pipeline_spans(lake, {p.doc_id for p in passages})
    base = spacy.load(settings.base) if settings.base != BLANK else None
    base_ner: Any = base.get_pipe("ner") if base is not None else None
    kept_labels = set(base_ner.labels) - set(annotated) if base_ner is not None else set()
    kept = StrictCounts(kept_labels) if base is not None else None
    trained, piped = StrictCounts(annotated), StrictCounts(annotated)
    per_fold = []
    for index, test in enumerate(groups):
        rest = [p for k, group in enumerate(groups) if k != index for p in group]
        train, heldout = split_documents(rest, settings.heldout_share, settings.seed)
        fitted = fit_spacy(train, heldout, annotated, settings)
        fold_counts = StrictCounts(annotated)
        docs = list(fitted.nlp.pipe(p.text for p in test))
        for passage, doc in zip(test, docs, strict=True):
            gold = set(passage.spans)
            found = entity_spans(doc, annotated)
            trained.add(gold, found)
            fold_counts.add(gold, found)
            piped.add(gold, in_passage(passage, baseline.get(passage.doc_id, ())))
        if base is not None and kept is not None:
            base_docs = list(base.pipe(p.text for p in test))
            for passage, doc, base_doc in zip(test, docs, base_docs, strict=True):
                # Where gold of the trained labels lies, a base label giving way to it (ORG to
                # PARTY) is what training is for, not forgetting: only the rest is compared.
                kept.add(
                    away_from(entity_spans(base_doc, kept_labels), passage.spans),
                    away_from(entity_spans(doc, kept_labels), passage.spans),
                )
        per_fold.append(
            {
                "fold": index,
                "test_documents": len({p.doc_id for p in test}),
                "train_documents": len({p.doc_id for p in train}),
                "epochs_run": len(fitted.history),
                "best_epoch": fitted.best_epoch,
                "train_seconds": round(fitted.train_seconds, 1),
                "strict": fold_counts.figures(),
            }
        )
    return {
        "folds": folds,
        "documents": len({p.doc_id for p in passages}),
        "passages": len(passages),
        "spans": sum(len(p.spans) for p in passages),
        "labels": annotated,
        "settings": asdict(settings),
        "trained": trained.figures(),
        "pipeline": piped.figures(),
        "base_labels_kept": kept.figures() if kept is not None else None,
        "per_fold": per_fold,
        "seconds": round(time.monotonic() - started, 1),
    }
