"""``docner annotations``: passages out to annotators, their spans back into the lake.

**Export** (``export_annotations``) writes the pages of the lake's documents as annotation tasks,
the current ``entities`` as pre-annotations, the most uncertain pages first (active learning):

- ``tasks.json``: Label Studio tasks (``data`` holds the page text, the file, ``doc_id``,
  ``page_no`` and ``doc_start``, where the page starts in ``document_text``; ``predictions``
  the entities as ``labels`` regions, with the page's uncertainty as the prediction score);
- ``spans.jsonl``: the same passages as docner's span JSONL (``file``, ``text``, ``doc_start``,
  ``spans``), for Prodigy or spaCy users;
- ``labels.xml``: a Label Studio labeling config with every label docner knows.

A page's uncertainty is the mean, over its entities, of ``1 - score`` (0.5 for an entity
without a score), plus the share of its entities only the rules found where a model ran too
(a rule firing where the model does not). Pages without entities come last.

**Import** (``import_annotations``) reads a Label Studio export or span JSONL
(``jobs.learn.gold``), finds each record's document, checks every span against the stored
``document_text`` (placed at the record's ``doc_start`` when it has one, else aligned as gold
is, ``jobs.learn.align``) and appends the spans to ``annotations`` as one new version: who made
them, when and from which file are kept with every row, and no import replaces an earlier one.
A record that cannot be used (an unknown label, a span outside its text, a document the lake
does not hold) stops the import with every problem named, nothing written, unless
``skip_invalid`` is given, which imports the rest and lists what was left out.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from jobs.atomic import write_atomically
from jobs.catalog.tables import ANNOTATIONS, DOCUMENTS, ENTITIES, PAGES
from jobs.lake.tables import arrow_rows, ensure_table, read_arrow, write_arrow
from jobs.lake.views import DocumentText, join_pages, stored_texts
from jobs.learn.align import align
from jobs.learn.evaluate import MIN_COVERAGE, resolve_documents
from jobs.learn.gold import GoldDocument, GoldFormat, GoldProblem, read_gold

RULES_SOURCE = "rules"
NO_SCORE_UNCERTAINTY = 0.5  # an entity without a score counts as a coin toss


class AnnotationsError(ValueError):
    """An import that cannot be written: the file and every record that cannot be used."""

    def __init__(self, path: Path, problems: Sequence[GoldProblem]) -> None:
        shown = "\n".join(f"  {p.where}: {p.message}" for p in problems[:50])
        more = f"\n  … {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{path}: {len(problems)} problem(s), nothing imported:\n{shown}{more}")
        self.problems = list(problems)


# ---- import ---------------------------------------------------------------------------------


@dataclass
class ImportResult:
    version: int
    source: str
    documents: int
    spans: int
    problems: list[GoldProblem] = field(default_factory=list)  # what was left out (skip_invalid)


def import_annotations(
    lake: str | Path,
    path: str | Path,
    *,
    fmt: GoldFormat,
    known_labels: Collection[str],
    skip_invalid: bool = False,
    imported_by: str | None = None,
    now: dt.datetime | None = None,
) -> ImportResult:
    """Append the spans of ``path`` to ``annotations`` as a new version (see the module docstring)."""
    path = Path(path)
    content = path.read_bytes() if path.is_file() else b""
    gold = read_gold(path, fmt, known_labels)
    problems = list(gold.problems)
    documents = read_arrow(lake, DOCUMENTS.name).to_pylist()
    ensure_table(lake, ANNOTATIONS)  # a lake made before annotations existed
    resolved = resolve_documents(gold.documents, documents, problems)
    doc_ids = sorted({row["doc_id"] for row in resolved.values()})
    texts = stored_texts(lake, doc_ids)
    now = now or dt.datetime.now(dt.UTC)
    version = _next_version(lake)
    provenance: dict[str, Any] = {
        "source": path.name,
        "source_sha256": hashlib.sha256(content).hexdigest(),
        "source_format": fmt,
        "imported_by": imported_by or _who(),
        "imported_at": now,
    }
    rows: list[dict[str, Any]] = []
    imported_docs = set()
    for index, document in enumerate(gold.documents):
        row = resolved.get(index)
        if row is None:
            continue
        doc = texts.get(row["doc_id"], DocumentText("", ()))
        placed = _placed_spans(document, doc, problems)
        if placed is None:
            continue
        region, found = placed
        if not document.spans:  # reviewed, and nothing in it: its words are no entity
            found = [(region[0], region[0], None)]
        for start, end, label in found:
            rows.append(_annotation_row(version, row["doc_id"], doc, start, end, label, region, document, provenance))
        imported_docs.add(row["doc_id"])
    if problems and not skip_invalid:
        raise AnnotationsError(path, problems)
    if not rows:
        raise AnnotationsError(path, [*problems, GoldProblem(path.name, "no record to import")])
    write_arrow(
        arrow_rows(ANNOTATIONS, rows),
        lake,
        ANNOTATIONS,
        txn=(f"docner/annotations/{str(provenance['source_sha256'])[:16]}", version),
        user_metadata=f"docner annotations import {path.name} version {version}",
    )
    spans = sum(1 for r in rows if r["label"] is not None)
    return ImportResult(version, path.name, len(imported_docs), spans, problems)


def _next_version(lake: str | Path) -> int:
    versions = read_arrow(lake, ANNOTATIONS.name, ["version"]).column("version").to_pylist()
    return max(versions, default=0) + 1


def _placed_spans(
    document: GoldDocument, doc: DocumentText, problems: list[GoldProblem]
) -> tuple[tuple[int, int], list[tuple[int, int, str | None]]] | None:
    """The passage the record covers and its spans as (start, end, label), in ``document_text``
    offsets; None when its text is not the document's. What cannot be placed is a problem."""
    if not doc.text:
        problems.append(GoldProblem(document.where, f"{document.file!r} has no stored text to annotate"))
        return None
    mapped = None
    if document.text is None:
        base, region = 0, (0, len(doc.text))
    elif document.offset is not None:
        if doc.text[document.offset : document.offset + len(document.text)] != document.text:
            problems.append(
                GoldProblem(
                    document.where,
                    f"its text is not the stored text at doc_start {document.offset}: the document changed since "
                    "the export",
                )
            )
            return None
        base, region = document.offset, (document.offset, document.offset + len(document.text))
    else:
        mapped = align(document.text, doc.text)
        if mapped.coverage < MIN_COVERAGE:
            problems.append(
                GoldProblem(
                    document.where, f"its text matches the stored text only in {mapped.coverage:.0%} of its characters"
                )
            )
            return None
        base, region = 0, mapped.region()
    placed: list[tuple[int, int, str | None]] = []
    for span in document.spans:
        if mapped is not None and document.text is not None:
            where = mapped.span(span.start, span.end, document.text)
            if where is None:
                problems.append(
                    GoldProblem(document.where, f"span {span.start}-{span.end} {span.label}: not in the stored text")
                )
                continue
            start, end = where
        else:
            start, end = base + span.start, base + span.end
            if end > region[1]:
                problems.append(
                    GoldProblem(
                        document.where,
                        f"span {span.start}-{span.end} {span.label}: ends past the text "
                        f"({region[1] - base} characters)",
                    )
                )
                continue
        if not doc.text[start:end].strip():
            problems.append(GoldProblem(document.where, f"span {span.start}-{span.end} {span.label}: blank"))
            continue
        placed.append((start, end, span.label))
    return region, placed


def _annotation_row(
    version: int,
    doc_id: str,
    doc: DocumentText,
    start: int,
    end: int,
    label: str | None,
    region: tuple[int, int],
    document: GoldDocument,
    provenance: Mapping[str, Any],
) -> dict[str, Any]:
    key = f"{version}\x1f{doc_id}\x1f{start}\x1f{end}\x1f{label or ''}\x1f{region[0]}"
    return {
        "annotation_id": hashlib.sha256(key.encode()).hexdigest()[:32],
        "version": version,
        "doc_id": doc_id,
        "start": start,
        "end": end,
        "region_start": region[0],
        "region_end": region[1],
        "page_no": doc.page_at(start),
        "label": label,
        "text": doc.text[start:end],
        "annotator": document.annotator,
        "record": document.where,
        **provenance,
    }


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def current_annotations(lake: str | Path) -> list[dict[str, Any]]:
    """Each document's rows from the latest version that annotated it (an earlier version's
    rows of a document stand until a later import annotates that document again): its spans,
    and its reviewed passages without entities (label null)."""
    rows = read_arrow(lake, ANNOTATIONS.name).to_pylist()
    latest: dict[str, int] = {}
    for row in rows:
        latest[row["doc_id"]] = max(latest.get(row["doc_id"], 0), row["version"])
    return sorted(
        (row for row in rows if row["version"] == latest[row["doc_id"]]),
        key=lambda r: (r["doc_id"], r["start"], r["end"], r["label"] or ""),
    )


# ---- export ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Passage:
    doc_id: str
    file: str
    page_no: int
    doc_start: int  # where the page starts in document_text
    text: str
    entities: tuple[Mapping[str, Any], ...]  # on this page alone, offsets into text
    uncertainty: float


@dataclass
class ExportResult:
    out: Path
    passages: int
    entities: int
    files: list[Path]


def page_uncertainty(entities: Sequence[Mapping[str, Any]], models_ran: bool) -> float:
    """Mean ``1 - score`` (NO_SCORE_UNCERTAINTY without one), plus the share of entities only
    the rules found when a model ran too; 0 without entities."""
    if not entities:
        return 0.0
    doubt = sum(NO_SCORE_UNCERTAINTY if e["score"] is None else 1.0 - float(e["score"]) for e in entities)
    rules_alone = sum(1 for e in entities if list(e["sources"] or []) == [RULES_SOURCE]) if models_ran else 0
    return round((doubt + rules_alone) / len(entities), 6)


def export_annotations(
    lake: str | Path, out: str | Path, *, labels: Sequence[str], limit: int | None = None
) -> ExportResult:
    """Write tasks.json, spans.jsonl and labels.xml for the lake's pages (module docstring)."""
    passages = _passages(lake)
    passages.sort(key=lambda p: (-p.uncertainty, p.file, p.page_no))
    if limit is not None:
        passages = passages[:limit]
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    tasks = [_task(p) for p in passages]
    lines = [json.dumps(_span_record(p), ensure_ascii=False) for p in passages]
    files = [target / "tasks.json", target / "spans.jsonl", target / "labels.xml"]
    write_atomically(files[0], json.dumps(tasks, indent=1, ensure_ascii=False) + "\n")
    write_atomically(files[1], "".join(line + "\n" for line in lines))
    write_atomically(files[2], label_config(labels))
    return ExportResult(target, len(passages), sum(len(p.entities) for p in passages), files)


def _passages(lake: str | Path) -> list[Passage]:
    documents = [
        row
        for row in read_arrow(lake, DOCUMENTS.name, ["doc_id", "file_name", "status"]).to_pylist()
        if row["status"] != "removed"
    ]
    names = {row["doc_id"]: row["file_name"] for row in documents}
    pages = [
        row
        for row in read_arrow(lake, PAGES.name, ["doc_id", "page_no", "status", "text"]).to_pylist()
        if row["doc_id"] in names
    ]
    columns = ["doc_id", "page_no", "end_page_no", "start", "end", "label", "score", "source", "sources"]
    entities: dict[tuple[str, int], list[dict[str, Any]]] = {}
    models_ran = False
    for row in read_arrow(lake, ENTITIES.name, columns).to_pylist():
        models_ran = models_ran or row["source"] != RULES_SOURCE
        if row["page_no"] == row["end_page_no"]:  # one over a page break is no span of one passage
            entities.setdefault((row["doc_id"], row["page_no"]), []).append(row)
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for row in pages:
        by_doc.setdefault(row["doc_id"], []).append(row)
    passages = []
    for doc_id, rows in by_doc.items():
        doc = join_pages(rows)
        for page_no, start, end in doc.pages:
            text = doc.text[start:end]
            if not text.strip():
                continue
            on_page = tuple(sorted(entities.get((doc_id, page_no), []), key=lambda e: (e["start"], e["end"])))
            passages.append(
                Passage(doc_id, names[doc_id], page_no, start, text, on_page, page_uncertainty(on_page, models_ran))
            )
    return passages


def _task(passage: Passage) -> dict[str, Any]:
    regions = [
        {
            "id": f"e{index}",
            "from_name": "label",
            "to_name": "text",
            "type": "labels",
            "value": {
                "start": e["start"],
                "end": e["end"],
                "text": passage.text[e["start"] : e["end"]],
                "labels": [e["label"]],
            },
            **({"score": e["score"]} if e["score"] is not None else {}),
        }
        for index, e in enumerate(passage.entities)
    ]
    return {
        "data": {
            "text": passage.text,
            "file": passage.file,
            "doc_id": passage.doc_id,
            "page_no": passage.page_no,
            "doc_start": passage.doc_start,
        },
        "predictions": [{"model_version": "docner", "score": passage.uncertainty, "result": regions}],
    }


def _span_record(passage: Passage) -> dict[str, Any]:
    return {
        "file": passage.file,
        "doc_id": passage.doc_id,
        "page_no": passage.page_no,
        "doc_start": passage.doc_start,
        "uncertainty": passage.uncertainty,
        "text": passage.text,
        "spans": [{"start": e["start"], "end": e["end"], "label": e["label"]} for e in passage.entities],
    }


def label_config(labels: Sequence[str]) -> str:
    """A Label Studio labeling config for named-entity spans with ``labels``."""
    lines = ["<View>", '  <Labels name="label" toName="text">']
    lines += [f"    <Label value={quoteattr(label)}/>" for label in labels]
    lines += ["  </Labels>", '  <Text name="text" value="$text"/>', "</View>"]
    return "\n".join(lines) + "\n"
