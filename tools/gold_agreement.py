"""Agreement of two independent annotation passes over the same texts, and their differences.

    .venv/bin/python -m tools.gold_agreement PASS_A.jsonl PASS_B.jsonl [--differences OUT.jsonl]

Both files are span JSONL (docs/annotation.md) over the same texts. Prints, per label and
over all spans, the F1 of one pass against the other (symmetric: either can be taken as the
reference) in the strict scheme (same boundaries and label) and the overlap scheme (``type``:
overlapping, same label), with the span counts of each pass. ``--differences`` writes every
span the passes do not share (strictly), with the other pass's overlapping span and context,
for adjudication.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jobs.config import DEFAULT_LABELS
from jobs.learn.gold import GoldDocument, read_gold
from jobs.learn.scoring import ALL, Scores, Span, overlap

CONTEXT = 60


def spans_of(document: GoldDocument) -> list[Span]:
    return [Span(s.start, s.end, s.label) for s in document.spans]


def differences(a: GoldDocument, b: GoldDocument) -> list[dict[str, Any]]:
    """The spans the passes do not share, grouped where they overlap: one group per place to
    adjudicate, with each pass's spans there and the text around it."""
    text = a.text or ""
    first, second = spans_of(a), spans_of(b)
    shared = set(first) & set(second)
    pending = sorted(
        [(span, "a") for span in first if span not in shared] + [(span, "b") for span in second if span not in shared]
    )
    groups: list[list[tuple[Span, str]]] = []
    for span, who in pending:
        if groups and any(overlap(span, other) > 0 for other, _ in groups[-1]):
            groups[-1].append((span, who))
        else:
            groups.append([(span, who)])
    found: list[dict[str, Any]] = []
    for group in groups:
        start, end = min(s.start for s, _ in group), max(s.end for s, _ in group)
        found.append(
            {
                "file": a.file,
                "start": start,
                "a": [_shown(text, s) for s, who in group if who == "a"],
                "b": [_shown(text, s) for s, who in group if who == "b"],
                "context": text[max(0, start - CONTEXT) : end + CONTEXT],
            }
        )
    return found


def _shown(text: str, span: Span) -> dict[str, object]:
    return {"start": span.start, "end": span.end, "label": span.label, "text": text[span.start : span.end]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--differences", type=Path)
    args = parser.parse_args(argv)
    first, second = read_gold(args.a, "jsonl", DEFAULT_LABELS), read_gold(args.b, "jsonl", DEFAULT_LABELS)
    for problem in (*first.problems, *second.problems):
        print(f"{problem.where}: {problem.message}", file=sys.stderr)
    by_file = {d.file: d for d in second.documents}
    labels = {s.label for d in (*first.documents, *second.documents) for s in d.spans}
    scores = Scores.empty(labels)
    found: list[dict[str, object]] = []
    for document in first.documents:
        other = by_file.get(document.file)
        if other is None or other.text != document.text:
            print(f"{document.file}: not in {args.b} with the same text", file=sys.stderr)
            continue
        scores.add(spans_of(document), spans_of(other))
        found += differences(document, other)
    print(f"{'label':<12} {'a':>6} {'b':>6} {'strict F1':>10} {'overlap F1':>11}")
    for label in (*scores.labels, ALL):
        strict, loose = scores.counts["strict"][label], scores.counts["type"][label]
        f1s = [c.f1 for c in (strict, loose)]
        shown = [f"{f:.3f}" if f is not None else "-" for f in f1s]
        print(f"{label:<12} {strict.gold:>6} {strict.predicted:>6} {shown[0]:>10} {shown[1]:>11}")
    if args.differences:
        args.differences.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in found))
        print(f"{len(found)} difference(s) written to {args.differences}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
