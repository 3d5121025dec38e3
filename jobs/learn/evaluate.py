"""``docner eval ner``: the lake's entities measured against gold spans (docs/evaluation.md).

Read on the driver with delta-rs, no Spark: the gold file (``jobs.learn.gold``), each gold
document's primary ``documents`` row, its ``document_text`` (from ``pages``), its
``entities`` rows, and the ``runs`` row of the NER run that made them. Gold made on another
rendering of the text is aligned to the stored one (``jobs.learn.align``); only the part of a
document the gold covers is evaluated, and only the labels the gold uses (or those asked for).
Scores (``jobs.learn.scoring``) go to the ``evaluations`` table, one commit per evaluation,
and, with the error classes and their examples, to a JSON file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow.compute as pc

from jobs.atomic import write_atomically
from jobs.catalog.stages import stage_spec
from jobs.catalog.tables import DOCUMENTS, ENTITIES, EVALUATIONS, PAGES, RUNS
from jobs.lake.state import STATE_COLUMNS, is_primary
from jobs.lake.tables import arrow_rows, read_arrow, write_arrow
from jobs.lake.views import DocumentText, join_pages
from jobs.learn.align import align
from jobs.learn.gold import GoldDocument, GoldFormat, GoldProblem, read_gold
from jobs.learn.scoring import ALL, ERROR_KINDS, MACRO, SCHEMES, Error, Scores, Span, errors

log = logging.getLogger(__name__)

NER = stage_spec("ner")
MIN_COVERAGE = 0.5  # gold whose text aligns less than this to the document's is not evaluated
CONTEXT_CHARS = 40


@dataclass
class DocumentResult:
    file: str
    doc_id: str
    region: tuple[int, int]  # the part of document_text the gold covers
    gold_spans: int
    predicted: int
    unaligned: int  # gold spans that could not be carried over to the stored text


@dataclass
class Evaluation:
    eval_id: str
    evaluated_at: dt.datetime
    gold: str
    gold_sha256: str
    labels: tuple[str, ...]
    scores: Scores
    documents: list[DocumentResult] = field(default_factory=list)
    problems: list[GoldProblem] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (gold label, predicted label)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    ignored_predictions: Counter[str] = field(default_factory=Counter)  # labels not evaluated
    run_id: str | None = None
    model: str | None = None
    model_version: str | None = None

    def rows(self) -> list[dict[str, Any]]:
        """The ``evaluations`` rows: per scheme, each label, ``ALL`` and ``MACRO``."""
        rows = []
        for scheme in SCHEMES:
            by_label = self.scores.counts[scheme]
            total = by_label[ALL]
            figures = {label: (c, c.precision, c.recall, c.f1) for label, c in by_label.items()}
            figures[MACRO] = (total, *self.scores.macro(scheme))
            for label, (counts, precision, recall, f1) in figures.items():
                if label not in (ALL, MACRO) and not (counts.gold or counts.predicted):
                    continue
                rows.append(
                    {
                        "eval_id": self.eval_id,
                        "evaluated_at": self.evaluated_at,
                        "task": "ner",
                        "gold": self.gold,
                        "gold_sha256": self.gold_sha256,
                        "documents": len(self.documents),
                        "run_id": self.run_id,
                        "model": self.model,
                        "model_version": self.model_version,
                        "scheme": scheme,
                        "label": label,
                        "gold_spans": counts.gold,
                        "predicted": counts.predicted,
                        "tp": counts.matched,
                        "fp": counts.predicted - counts.matched,
                        "fn": counts.gold - counts.matched,
                        "precision": precision,
                        "recall": recall,
                        "f1": f1,
                    }
                )
        return rows

    def summary(self) -> dict[str, Any]:
        """The whole result as JSON-ready data."""
        metrics: dict[str, dict[str, Any]] = {}
        for row in self.rows():
            metrics.setdefault(row["scheme"], {})[row["label"]] = {
                key: row[key] for key in ("gold_spans", "predicted", "tp", "fp", "fn", "precision", "recall", "f1")
            }
        return {
            "eval_id": self.eval_id,
            "evaluated_at": self.evaluated_at.isoformat(),
            "task": "ner",
            "gold": self.gold,
            "gold_sha256": self.gold_sha256,
            "run_id": self.run_id,
            "model": self.model,
            "model_version": self.model_version,
            "labels": list(self.labels),
            "documents": [asdict(d) for d in self.documents],
            "problems": [asdict(p) for p in self.problems],
            "metrics": metrics,
            "errors": {kind: self.errors.get(kind, 0) for kind in ERROR_KINDS},
            "confusions": [{"gold": g, "predicted": p, "count": n} for (g, p), n in self.confusions.most_common()],
            "ignored_predictions": dict(self.ignored_predictions.most_common()),
            "examples": self.examples,
        }


def new_eval_id(now: dt.datetime) -> str:
    return f"eval-{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"


def resolve_documents(
    gold: Sequence[GoldDocument], documents: Sequence[Mapping[str, Any]], problems: list[GoldProblem]
) -> dict[int, Mapping[str, Any]]:
    """Gold document index -> its primary documents row (by doc_id, file name or path end)."""
    primary = [row for row in documents if is_primary(row)]
    by_id = {row["doc_id"]: row for row in primary}
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for row in primary:
        by_name.setdefault(row["file_name"], []).append(row)
    found = {}
    for index, document in enumerate(gold):
        name = document.file.replace("\\", "/")
        if name in by_id:
            found[index] = by_id[name]
            continue
        candidates = [r for r in primary if r["source_path"].endswith("/" + name.lstrip("/"))] if "/" in name else []
        candidates = candidates or by_name.get(name.rsplit("/", 1)[-1], [])
        if len(candidates) == 1:
            found[index] = candidates[0]
        elif candidates:
            paths = ", ".join(sorted(r["source_path"] for r in candidates))
            problems.append(GoldProblem(document.where, f"{document.file!r} names several documents ({paths})"))
        else:
            problems.append(GoldProblem(document.where, f"the lake holds no document {document.file!r}"))
    return found


def _context(text: str, start: int, end: int) -> str:
    return text[max(0, start - CONTEXT_CHARS) : min(len(text), end + CONTEXT_CHARS)].replace("\n", " ")


def _example(kind: str, error: Error, file: str, doc: DocumentText) -> dict[str, Any]:
    anchor = error.gold or error.predicted
    assert anchor is not None
    return {
        "kind": kind,
        "file": file,
        "page": doc.page_at(anchor.start),
        "gold": None
        if error.gold is None
        else {"text": doc.text[error.gold.start : error.gold.end], "label": error.gold.label},
        "predicted": None
        if error.predicted is None
        else {"text": doc.text[error.predicted.start : error.predicted.end], "label": error.predicted.label},
        "context": _context(doc.text, anchor.start, anchor.end),
    }


def _gold_in_document(
    document: GoldDocument, doc: DocumentText, problems: list[GoldProblem]
) -> tuple[list[Span], tuple[int, int], int] | None:
    """The gold spans in stored-text offsets, the region they cover, and how many could not be
    carried over; None when the gold text does not match the document."""
    if document.text is None:
        outside = [s for s in document.spans if s.end > len(doc.text)]
        for span in outside:
            problems.append(
                GoldProblem(
                    document.where, f"span {span.start}-{span.end} ends past the document text ({len(doc.text)})"
                )
            )
        kept = [Span(s.start, s.end, s.label) for s in document.spans if s.end <= len(doc.text)]
        return kept, (0, len(doc.text)), 0
    alignment = align(document.text, doc.text)
    if alignment.coverage < MIN_COVERAGE:
        problems.append(
            GoldProblem(
                document.where,
                f"its text matches the document's only in {alignment.coverage:.0%} of its characters: not evaluated",
            )
        )
        return None
    spans, unaligned = [], 0
    for span in document.spans:
        placed = alignment.span(span.start, span.end, document.text)
        if placed is None:
            unaligned += 1
        else:
            spans.append(Span(placed[0], placed[1], span.label))
    if unaligned:
        problems.append(
            GoldProblem(document.where, f"{unaligned} span(s) not found in the stored text (not evaluated)")
        )
    return spans, alignment.region(), unaligned


def evaluate_ner(
    lake: str | Path,
    gold_path: str | Path,
    *,
    fmt: GoldFormat = "jsonl",
    known_labels: Collection[str],
    labels: Collection[str] | None = None,
    examples_per_kind: int = 20,
    now: dt.datetime | None = None,
) -> Evaluation:
    """Measure the entities of ``lake`` against the gold file (nothing is written)."""
    path = Path(gold_path)
    gold = read_gold(path, fmt, known_labels)
    problems = list(gold.problems)
    evaluated = tuple(sorted(set(labels) if labels else {s.label for d in gold.documents for s in d.spans}))
    now = now or dt.datetime.now(dt.UTC)
    result = Evaluation(
        eval_id=new_eval_id(now),
        evaluated_at=now,
        gold=path.name,
        gold_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        labels=evaluated,
        scores=Scores.empty(evaluated),
        problems=problems,
    )
    ner_state = STATE_COLUMNS[NER.name]
    documents = read_arrow(lake, DOCUMENTS.name).to_pylist()
    resolved = resolve_documents(gold.documents, documents, problems)
    doc_ids = sorted({row["doc_id"] for row in resolved.values()})
    in_gold = pc.field("doc_id").isin(doc_ids)
    pages: dict[str, list[dict[str, Any]]] = {}
    for row in read_arrow(lake, PAGES.name, ["doc_id", "page_no", "status", "text"], in_gold).to_pylist():
        pages.setdefault(row["doc_id"], []).append(row)
    entities: dict[str, list[Span]] = {}
    for row in read_arrow(lake, ENTITIES.name, ["doc_id", "doc_start", "doc_end", "label"], in_gold).to_pylist():
        entities.setdefault(row["doc_id"], []).append(Span(row["doc_start"], row["doc_end"], row["label"]))
    states = []
    for index, document in enumerate(gold.documents):
        row = resolved.get(index)
        if row is None:
            continue
        if row[ner_state] is None:
            problems.append(GoldProblem(document.where, f"{document.file!r} has not been through NER: not evaluated"))
            continue
        doc = join_pages(pages.get(row["doc_id"], []))
        placed = _gold_in_document(document, doc, problems)
        if placed is None:
            continue
        spans, (start, end), unaligned = placed
        in_region = [p for p in entities.get(row["doc_id"], []) if start <= p.start < end]
        predicted = [p for p in in_region if p.label in evaluated]
        result.ignored_predictions.update(p.label for p in in_region if p.label not in evaluated)
        result.scores.add(spans, predicted)
        for error in errors(spans, predicted):
            result.errors[error.kind] += 1
            if error.kind in ("type", "boundary_type") and error.gold and error.predicted:
                result.confusions[(error.gold.label, error.predicted.label)] += 1
            shown = result.examples.setdefault(error.kind, [])
            if len(shown) < examples_per_kind:
                shown.append(_example(error.kind, error, row["file_name"], doc))
        result.documents.append(
            DocumentResult(document.file, row["doc_id"], (start, end), len(spans), len(predicted), unaligned)
        )
        states.append(row[ner_state])
    describe_run(result, lake, states, NER.name)
    return result


class EvaluationResult(Protocol):
    """What describe_run and save_evaluation read of an evaluation (eval ner, eval fields)."""

    eval_id: str
    run_id: str | None
    model: str | None
    model_version: str | None

    def rows(self) -> list[dict[str, Any]]: ...

    def summary(self) -> dict[str, Any]: ...


def describe_run(result: EvaluationResult, lake: str | Path, states: Sequence[Mapping[str, Any]], stage: str) -> None:
    """The run of ``stage``, its models and the stage version the evaluated rows come from
    (``states``: the evaluated documents' states of that stage)."""
    if not states:
        return
    versions = {state["version"] for state in states}
    result.model_version = versions.pop() if len(versions) == 1 else "mixed"
    run_ids = sorted({state["run_id"] for state in states})
    runs = read_arrow(lake, RUNS.name, ["run_id", "stage", "finished_at", "models"], pc.field("stage") == stage)
    stage_runs = sorted((r for r in runs.to_pylist() if r["run_id"] in run_ids), key=lambda r: r["finished_at"])
    if stage_runs:
        latest = stage_runs[-1]
        result.run_id = latest["run_id"]
        models = dict(latest["models"]) if latest["models"] else {}
        result.model = "; ".join(f"{name}={model}" for name, model in sorted(models.items())) or None
    else:
        result.run_id = run_ids[-1]


def save_evaluation(
    lake: str | Path, result: EvaluationResult, out: str | Path | None = None, task: str = "ner"
) -> Path | None:
    """Append the rows to ``evaluations`` (one commit) and write the JSON result to ``out``."""
    write_arrow(
        arrow_rows(EVALUATIONS, result.rows()),
        lake,
        EVALUATIONS,
        txn=(f"docner/eval/{result.eval_id}", 1),
        user_metadata=f"docner eval {task} {result.eval_id}",
    )
    if out is None:
        return None
    target = Path(out)
    write_atomically(target, json.dumps(result.summary(), indent=1, ensure_ascii=False, default=str) + "\n")
    return target
