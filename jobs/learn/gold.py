"""Gold entity spans from a file, in one of three formats, with every problem named.

- ``jsonl`` (docner's span JSONL): one document per line,
  ``{"file": …, "text"?: …, "spans": [{"start", "end", "label"}, …]}``. ``file`` is the PDF's
  file name (or its path, or a doc_id). With ``text``, the offsets point into it and it is
  aligned to the stored ``document_text``; without, they point into ``document_text`` itself.
- ``labelstudio``: Label Studio's JSON export (a list of tasks, each with ``data`` holding the
  text and the file, and ``annotations`` whose ``result`` holds ``labels`` regions).
- ``conll``: CoNLL-2003 style, one token per line with its BIO tag last, a blank line between
  sentences, ``-DOCSTART-`` before each document and a ``# file = <name>`` line naming it; the
  text is the tokens joined by spaces (sentences by line breaks), aligned like any other.

A record that cannot be used (no file, a span outside its text, an unknown label, a
malformed line) is reported as a :class:`GoldProblem` and left out; the rest is read.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

GoldFormat = Literal["jsonl", "labelstudio", "conll"]
FORMATS: tuple[GoldFormat, ...] = ("jsonl", "labelstudio", "conll")


@dataclass(frozen=True)
class GoldSpan:
    start: int
    end: int
    label: str


@dataclass
class GoldDocument:
    file: str  # the PDF's file name, a path ending in it, or a doc_id
    text: str | None  # the annotated text; None: the offsets point into document_text
    spans: list[GoldSpan] = field(default_factory=list)
    where: str = ""  # the record's place in the gold file, for messages
    # Where ``text`` starts in document_text, when the record says so (docner annotations
    # export writes it): the text is checked there instead of looked for.
    offset: int | None = None
    annotator: str | None = None  # who made the annotation, when the record says (Label Studio's completed_by)


@dataclass(frozen=True)
class GoldProblem:
    where: str  # "gold.jsonl:12", "gold.json task 3"
    message: str


@dataclass
class GoldSet:
    documents: list[GoldDocument]
    problems: list[GoldProblem]


def format_of(path: str | Path) -> GoldFormat:
    """The format a file's name suggests: ``labelstudio`` for .json, ``conll`` for .conll, else ``jsonl``."""
    name = str(path).lower()
    return "labelstudio" if name.endswith(".json") else "conll" if name.endswith(".conll") else "jsonl"


def read_gold(path: Path, fmt: GoldFormat, labels: Collection[str]) -> GoldSet:
    """The gold documents of ``path`` whose spans are usable; ``labels``: the labels docner
    knows (others are problems)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown gold format {fmt!r} (formats: {', '.join(FORMATS)})")
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"gold file {path} not found") from None
    problems: list[GoldProblem] = []
    reader = {"jsonl": _jsonl, "labelstudio": _labelstudio, "conll": _conll}[fmt]
    documents = _with_file(reader(raw, path.name, problems), problems)
    for document in documents:
        document.spans = _usable_spans(document, labels, problems)
    return GoldSet(documents, problems)


def _usable_spans(document: GoldDocument, labels: Collection[str], problems: list[GoldProblem]) -> list[GoldSpan]:
    kept = []
    for span in document.spans:
        if span.label not in labels:
            problems.append(GoldProblem(document.where, f"unknown label {span.label!r} (span {span.start}-{span.end})"))
        elif span.start < 0 or span.end <= span.start:
            problems.append(GoldProblem(document.where, f"empty or negative span {span.start}-{span.end}"))
        elif document.text is not None and span.end > len(document.text):
            problems.append(
                GoldProblem(document.where, f"span {span.start}-{span.end} ends past the text ({len(document.text)})")
            )
        else:
            kept.append(span)
    return sorted(kept, key=lambda s: (s.start, s.end, s.label))


def _spans(raw: Any, where: str, problems: list[GoldProblem]) -> list[GoldSpan]:
    spans = []
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        try:
            spans.append(GoldSpan(int(item["start"]), int(item["end"]), str(item["label"])))
        except (KeyError, TypeError, ValueError):
            problems.append(GoldProblem(where, f"span {index} is not {{start, end, label}}: {item!r}"))
    if not isinstance(raw, list):
        problems.append(GoldProblem(where, "'spans' is not a list"))
    return spans


def jsonl_records(raw: str, name: str, problems: list[GoldProblem]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) of each JSON line that names its ``file``; the others are problems."""
    for number, line in enumerate(raw.splitlines(), 1):
        where = f"{name}:{number}"
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(GoldProblem(where, f"not JSON ({error.msg})"))
            continue
        if not isinstance(record, dict) or not isinstance(record.get("file"), str) or not record["file"]:
            problems.append(GoldProblem(where, "a record needs a 'file' (the PDF's file name)"))
            continue
        yield where, record


def _jsonl(raw: str, name: str, problems: list[GoldProblem]) -> Iterator[GoldDocument]:
    for where, record in jsonl_records(raw, name, problems):
        text = record.get("text")
        if text is not None and not isinstance(text, str):
            problems.append(GoldProblem(where, "'text' is not a string"))
            continue
        spans = _spans(record.get("spans", []), where, problems)
        annotator = record.get("annotator")
        yield GoldDocument(
            record["file"],
            text,
            spans,
            where,
            offset=_offset(record.get("doc_start"), where, problems),
            annotator=str(annotator) if annotator not in (None, "") else None,
        )


def _offset(raw: Any, where: str, problems: list[GoldProblem]) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    problems.append(GoldProblem(where, f"'doc_start' is not an offset into the document text: {raw!r}"))
    return None


_LS_FILE_KEYS = ("file", "file_name", "document", "source_path", "doc_id")


def _labelstudio(raw: str, name: str, problems: list[GoldProblem]) -> Iterator[GoldDocument]:
    try:
        tasks = json.loads(raw)
    except json.JSONDecodeError as error:
        problems.append(GoldProblem(name, f"not JSON ({error.msg})"))
        return
    if not isinstance(tasks, list):
        problems.append(GoldProblem(name, "a Label Studio export is a list of tasks"))
        return
    for index, task in enumerate(tasks):
        where = f"{name} task {task.get('id', index) if isinstance(task, dict) else index}"
        data = task.get("data", {}) if isinstance(task, dict) else {}
        file = next((str(data[key]) for key in _LS_FILE_KEYS if data.get(key)), None)
        if file is None:
            problems.append(GoldProblem(where, f"no file in the task's data (one of {', '.join(_LS_FILE_KEYS)})"))
            continue
        annotations = [a for a in task.get("annotations", []) if not a.get("was_cancelled")]
        if not annotations:
            problems.append(GoldProblem(where, "no (uncancelled) annotation"))
            continue
        if len(annotations) > 1:
            problems.append(GoldProblem(where, f"{len(annotations)} annotations: the first is used"))
        spans, text_key = [], None
        for result in annotations[0].get("result", []):
            if result.get("type") != "labels":
                continue
            value = result.get("value", {})
            text_key = text_key or result.get("to_name")
            for label in value.get("labels", [])[:1]:
                try:
                    spans.append(GoldSpan(int(value["start"]), int(value["end"]), str(label)))
                except (KeyError, TypeError, ValueError):
                    problems.append(GoldProblem(where, f"region without start/end: {value!r}"))
        text = data.get("text") if isinstance(data.get("text"), str) else data.get(text_key or "")
        author = annotations[0].get("completed_by")
        if isinstance(author, dict):  # an export with the user expanded
            author = author.get("email") or author.get("id")
        yield GoldDocument(
            file,
            text if isinstance(text, str) else None,
            spans,
            where,
            offset=_offset(data.get("doc_start"), where, problems),
            annotator=None if author in (None, "") else str(author),
        )


def _conll(raw: str, name: str, problems: list[GoldProblem]) -> Iterator[GoldDocument]:
    document: GoldDocument | None = None
    parts: list[str] = []  # the text so far
    offset = 0
    open_span: tuple[int, int, str] | None = None  # start, end, label
    sentence_started = False

    def close() -> None:
        nonlocal open_span
        if document is not None and open_span is not None:
            document.spans.append(GoldSpan(*open_span))
        open_span = None

    def finish() -> GoldDocument | None:
        close()
        if document is None:
            return None
        document.text = "".join(parts)
        return document

    for number, line in enumerate(raw.splitlines(), 1):
        where = f"{name}:{number}"
        stripped = line.strip()
        if stripped.startswith("-DOCSTART-"):
            done = finish()
            if done is not None:
                yield done
            document, parts, offset, sentence_started = GoldDocument("", "", [], where), [], 0, False
            continue
        if stripped.startswith("#"):
            key, _, value = stripped[1:].partition("=")
            if key.strip() == "file" and document is not None:
                document.file = value.strip()
            continue
        if document is None:
            if stripped:
                problems.append(GoldProblem(where, "a token before the first -DOCSTART- line"))
            continue
        if not stripped:  # end of a sentence
            close()
            if sentence_started:
                parts.append("\n")
                offset += 1
                sentence_started = False
            continue
        columns = stripped.split()
        token, tag = columns[0], columns[-1] if len(columns) > 1 else "O"
        if sentence_started:
            parts.append(" ")
            offset += 1
        start, end = offset, offset + len(token)
        parts.append(token)
        offset = end
        sentence_started = True
        prefix, _, label = tag.partition("-")
        if tag == "O" or not label:
            close()
        elif prefix in ("B", "S") or open_span is None or open_span[2] != label:
            if prefix not in ("B", "S"):
                problems.append(GoldProblem(where, f"{tag} does not continue an entity: read as its start"))
            close()
            open_span = (start, end, label)
        else:
            open_span = (open_span[0], end, label)
        if prefix in ("E", "S"):
            close()
    done = finish()
    if done is not None:
        yield done


def _with_file(documents: Iterable[GoldDocument], problems: list[GoldProblem]) -> list[GoldDocument]:
    """The documents that name their file (a CoNLL document without ``# file =`` is a problem)."""
    kept = []
    for document in documents:
        if document.file:
            kept.append(document)
        else:
            problems.append(GoldProblem(document.where, "no '# file = <name>' line names the document"))
    return kept
