"""The gold file from two annotation passes and the adjudicator's decisions on their differences.

    .venv/bin/python -m tools.gold_adjudicate PASS_A.jsonl PASS_B.jsonl DECISIONS.jsonl OUT.jsonl

The spans both passes share are kept. Every place where they differ (``tools.gold_agreement``
groups them) needs a decision, one JSON object per line of ``DECISIONS.jsonl``:

- ``{"file": F, "start": N, "take": "a" | "b" | "neither", "reason": …}`` settles the
  difference that starts at character ``N`` of ``F``'s text;
- ``{"file": F, "label": L, "take": …, "reason": …}`` settles every other difference of ``F``
  whose spans all carry label ``L`` (a rule, for a kind of difference that recurs);
- ``"spans": [{"start", "end", "label"}, …]`` instead of ``take`` puts the adjudicator's own
  spans there.

Every decision must name a reason, every difference must be settled and every decision must
settle something: the tool stops with the list of what is wrong otherwise, so the gold file
always reflects a decision that was written down.
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
from jobs.learn.scoring import Span
from tools.gold_agreement import differences, spans_of

TAKES = ("a", "b", "neither")


class AdjudicationError(ValueError):
    pass


def read_decisions(path: Path) -> list[dict[str, Any]]:
    decisions: list[dict[str, Any]] = []
    problems: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"{path.name}:{number}: not JSON ({error.msg})")
            continue
        where = f"{path.name}:{number}"
        if not isinstance(record, dict) or not isinstance(record.get("file"), str):
            problems.append(f"{where}: a decision needs a file")
        elif ("start" in record) == ("label" in record):
            problems.append(f"{where}: a decision needs either a start or a label")
        elif ("take" in record) == ("spans" in record):
            problems.append(f"{where}: a decision needs either take or spans")
        elif "take" in record and record["take"] not in TAKES:
            problems.append(f"{where}: take must be one of {', '.join(TAKES)}")
        elif not str(record.get("reason", "")).strip():
            problems.append(f"{where}: a decision needs a reason")
        else:
            decisions.append({**record, "where": where})
    if problems:
        raise AdjudicationError("\n".join(problems))
    return decisions


def _chosen(group: dict[str, Any], decision: dict[str, Any]) -> list[Span]:
    if "spans" in decision:
        return [Span(int(s["start"]), int(s["end"]), str(s["label"])) for s in decision["spans"]]
    take = decision["take"]
    chosen = [] if take == "neither" else group[take]
    return [Span(s["start"], s["end"], s["label"]) for s in chosen]


def adjudicate(a: GoldDocument, b: GoldDocument, decisions: list[dict[str, Any]], used: set[str]) -> list[Span]:
    """The gold spans of one document: those shared, and those the decisions choose."""
    shared = set(spans_of(a)) & set(spans_of(b))
    by_start = {d["start"]: d for d in decisions if "start" in d}
    rules = [d for d in decisions if "label" in d]
    spans = set(shared)
    unsettled = []
    for group in differences(a, b):
        decision = by_start.get(group["start"])
        if decision is None:
            labels = {s["label"] for s in (*group["a"], *group["b"])}
            decision = next((r for r in rules if labels == {r["label"]}), None)
        if decision is None:
            shown = [f"{who}: {s['label']} {s['text']!r}" for who in ("a", "b") for s in group[who]]
            unsettled.append(f"{a.file} @{group['start']}: {'; '.join(shown)}")
            continue
        used.add(decision["where"])
        spans.update(_chosen(group, decision))
    if unsettled:
        raise AdjudicationError("differences without a decision:\n" + "\n".join(unsettled))
    return sorted(spans)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("decisions", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    first, second = read_gold(args.a, "jsonl", DEFAULT_LABELS), read_gold(args.b, "jsonl", DEFAULT_LABELS)
    problems = [f"{p.where}: {p.message}" for p in (*first.problems, *second.problems)]
    by_file = {d.file: d for d in second.documents}
    if {d.file for d in first.documents} != set(by_file):
        problems.append("the two passes do not cover the same documents")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    try:
        decisions = read_decisions(args.decisions)
        used: set[str] = set()
        lines = []
        for document in first.documents:
            other = by_file[document.file]
            if other.text != document.text:
                raise AdjudicationError(f"{document.file}: the passes annotated different texts")
            mine = [d for d in decisions if d["file"] == document.file]
            spans = adjudicate(document, other, mine, used)
            record = {
                "file": document.file,
                "text": document.text,
                "spans": [{"start": s.start, "end": s.end, "label": s.label} for s in spans],
            }
            lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        idle = [d["where"] for d in decisions if d["where"] not in used]
        if idle:
            raise AdjudicationError("decisions that settle nothing: " + ", ".join(idle))
    except AdjudicationError as error:
        print(error, file=sys.stderr)
        return 1
    args.out.write_text("".join(lines), encoding="utf-8")
    total = sum(len(json.loads(line)["spans"]) for line in lines)
    print(f"{len(lines)} document(s), {total} gold span(s), {len(used)} decision(s) applied: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
