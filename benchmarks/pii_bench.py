"""PII detection measured on generated contracts with planted PII of every kind (issue 19).

    .venv/bin/python benchmarks/pii_bench.py --digital 20 --scanned 5 --json build/pii_bench.json

``jobs.dev.pii_samples`` writes the contracts (digital, and scans that OCR reads) with the
planted values; ``docner run --stages ingest,extract,ner`` runs twice on them: with
``ner.backends=[spacy, rules, pii]`` and without ``pii`` (the time the backend adds per page,
from the NER rows of ``runs``). Each planted value is looked for in the stored document text
(whitespace as the text has it; every occurrence of a person's name); a value OCR damaged
beyond finding stays a gold item the pipeline missed. Scores per label, digital and scanned
apart, with ``jobs.learn.scoring``: strict (same boundaries and label) and overlap (same label,
spans overlapping) precision and recall, F1 and Presidio's F2 (recall weighted: beta 2). A
prediction is a PII-label or PERSON entity; one that overlaps no planted value of its label
is a false positive (the contracts hold no other personal data).

Then ``docner redact`` and ``docner redact-pdf`` on the lake with PII (the default policy): the
seconds they take per page, and every planted value looked for in what they wrote — the
redacted page text, and the text that pdfplumber and pypdfium2 extract from the redacted
PDFs: ``left`` counts whole values found, ``pieces_left`` values with a word of 4 or more
characters of theirs found where the original text held it (a boundary that fell short).

``--cuad-pdfs N`` runs the whole pipeline with the pii backend and the redact stage on the first
N CUAD dev PDFs, then ``docner redact-pdf`` and ``docner validate``: pages, the redact stage's and
redact-pdf's time per page, the copies' size against the sources', redactions per label, the
validate checks that failed, and every redacted value (3 characters or more) still found, as
whole words, in the text pdfplumber and pypdfium2 extract from the copies.

``--cuad N`` also runs the backend alone (``udfs.ner.backends.pii``, in this process) on the
first N of CUAD dev's text renderings: its speed in characters per second, what it finds per
label, and a seeded sample of its matches with their context, for reading by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_report import emit, machine  # noqa: E402


def f_beta(precision: float | None, recall: float | None, beta: float) -> float | None:
    if precision is None or recall is None:
        return None
    b2 = beta * beta
    return (1 + b2) * precision * recall / (b2 * precision + recall) if precision + recall else 0.0


def occurrences(text: str, value: str) -> list[tuple[int, int]]:
    """Where ``value`` stands in ``text``, any run of whitespace matching any other."""
    pattern = r"\s+".join(re.escape(part) for part in value.split())
    return [(m.start(), m.end()) for m in re.finditer(rf"(?<![\w@.-]){pattern}(?![\w@-]|\.\w)", text)]


def run(inputs: Path, lake: Path, backends: str) -> float:
    """``docner run`` into a fresh lake; the NER stage's seconds from ``runs``."""
    from jobs.lake.tables import read_arrow

    shutil.rmtree(lake, ignore_errors=True)
    command = [str(REPO / ".venv" / "bin" / "docner"), "run", "--input", str(inputs), "--lake", str(lake),
               "--stages", "ingest,extract,ner", "--conf", f"ner.backends={backends}"]  # fmt: skip
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = [r for r in read_arrow(lake, "runs").to_pylist() if r["stage"] == "ner"]
    return float(runs[-1]["seconds"])


def score(lake: Path, gold: Sequence[dict[str, Any]], labels: Sequence[str]) -> dict[str, Any]:
    from jobs.catalog.tables import DOCUMENTS, ENTITIES
    from jobs.lake.tables import read_arrow
    from jobs.lake.views import stored_texts
    from jobs.learn.scoring import ALL, Scores, Span

    documents = {r["file_name"]: r["doc_id"] for r in read_arrow(lake, DOCUMENTS.name).to_pylist()}
    texts = stored_texts(lake, list(documents.values()))
    entities: dict[str, list[Span]] = {}
    for row in read_arrow(lake, ENTITIES.name, ["doc_id", "doc_start", "doc_end", "label"]).to_pylist():
        if row["label"] in labels:
            entities.setdefault(row["doc_id"], []).append(Span(row["doc_start"], row["doc_end"], row["label"]))
    report: dict[str, Any] = {}
    for kind in ("digital", "scanned"):
        scores = Scores.empty(labels, schemes=("strict", "type"))
        not_in_text: dict[str, int] = {}
        for record in (g for g in gold if g["scanned"] == (kind == "scanned")):
            doc_id = documents[record["file"]]
            text = texts[doc_id].text
            spans: set[Span] = set()
            for planted in {(p["label"], p["value"]) for p in record["planted"]}:
                found = occurrences(text, planted[1])
                if not found:
                    not_in_text[planted[0]] = not_in_text.get(planted[0], 0) + 1
                    spans.add(Span(-1, -1, planted[0]))  # a gold item nothing can match
                spans |= {Span(s, e, planted[0]) for s, e in found}
            scores.add(sorted(spans), sorted(set(entities.get(doc_id, []))))
        per_label = {}
        for label in (*labels, ALL):
            strict, overlap = scores.counts["strict"][label], scores.counts["type"][label]
            if not (overlap.gold or overlap.predicted):
                continue
            per_label[label] = {
                "gold": overlap.gold,
                "predicted": overlap.predicted,
                "strict_precision": strict.precision,
                "strict_recall": strict.recall,
                "overlap_precision": overlap.precision,
                "overlap_recall": overlap.recall,
                "overlap_f1": overlap.f1,
                "overlap_f2": f_beta(overlap.precision, overlap.recall, 2.0),
                "not_in_text": not_in_text.get(label, 0),
            }
        report[kind] = per_label
    return report


def cuad_pass(cuad: Path, limit: int, sample: int, seed: int) -> dict[str, Any]:
    """The backend alone on CUAD's texts: speed, matches per label, a sample to read."""
    import random

    from udfs.ner.backends.pii import PiiOptions, load

    backend = load(PiiOptions())
    files = sorted((cuad / "txt").glob("*.txt"))[:limit]
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in files]
    started = time.perf_counter()
    found = backend.recognize(texts)
    seconds = time.perf_counter() - started
    by_label: dict[str, int] = {}
    matches = []
    for path, text, candidates in zip(files, texts, found, strict=True):
        for c in candidates:
            by_label[c.label] = by_label.get(c.label, 0) + 1
            context = text[max(0, c.start - 50) : c.end + 30].replace("\n", " ")
            matches.append({"file": path.name, "label": c.label, "text": c.text, "rule": c.rule, "context": context})
    chars = sum(len(t) for t in texts)
    return {
        "documents": len(texts),
        "characters": chars,
        "seconds": round(seconds, 2),
        "characters_per_second": round(chars / seconds) if seconds else None,
        "documents_with_a_match": sum(1 for c in found if c),
        "matches_by_label": dict(sorted(by_label.items())),
        "sample": random.Random(seed).sample(matches, min(sample, len(matches))),
    }


def _docner(*args: str) -> float:
    started = time.monotonic()
    command = [str(REPO / ".venv" / "bin" / "docner"), *args]
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def _pdf_texts(path: Path) -> tuple[str, str]:
    """The text pdfplumber and pypdfium2 extract from a PDF, whitespace folded."""
    import pdfplumber
    import pypdfium2 as pdfium

    with pdfplumber.open(path) as pdf:
        plumbed = " ".join(" ".join((page.extract_text() or "").split()) for page in pdf.pages)
    document = pdfium.PdfDocument(str(path))
    try:
        rendered = " ".join(
            " ".join(document[i].get_textpage().get_text_bounded().split()) for i in range(len(document))
        )
    finally:
        document.close()
    return plumbed, rendered


def redaction_pass(lake: Path, out: Path, gold: Sequence[dict[str, Any]], pages: int) -> dict[str, Any]:
    """``docner redact`` and ``docner redact-pdf`` on ``lake``; planted values left in their output."""
    from jobs.lake.tables import read_arrow

    shutil.rmtree(out, ignore_errors=True)
    _docner("redact", "--lake", str(lake))
    stage_seconds = float([r for r in read_arrow(lake, "runs").to_pylist() if r["stage"] == "redact"][-1]["seconds"])
    pdf_seconds = _docner("redact-pdf", "--lake", str(lake), "--out", str(out))
    documents = {r["file_name"]: r["doc_id"] for r in read_arrow(lake, "documents").to_pylist()}
    redacted: dict[str, list[str]] = {}
    original: dict[str, list[str]] = {}
    for row in read_arrow(lake, "redacted_pages").to_pylist():
        redacted.setdefault(row["doc_id"], []).append(" ".join(row["text"].split()))
    for row in read_arrow(lake, "pages").to_pylist():
        original.setdefault(row["doc_id"], []).append(" ".join(row["text"].split()))
    where = {"redacted_pages": {}, "pdf_pdfplumber": {}, "pdf_pypdfium2": {}}  # type: dict[str, dict[str, Any]]
    for item in gold:
        doc_id = documents[item["file"]]
        # the text with every planted value taken out: a word of a value found only inside values
        elsewhere = " ".join(original.get(doc_id, []))
        for planted in item["planted"]:
            elsewhere = elsewhere.replace(planted["value"], " ")
        plumbed, rendered = _pdf_texts(out / item["file"])
        outputs = {"redacted_pages": " ".join(redacted.get(doc_id, [])), "pdf_pdfplumber": plumbed,
                   "pdf_pypdfium2": rendered}  # fmt: skip
        kind = "scanned" if item["scanned"] else "digital"
        for name, text in outputs.items():
            for planted in item["planted"]:
                counts = (
                    where[name]
                    .setdefault(kind, {})
                    .setdefault(planted["label"], {"planted": 0, "left": 0, "pieces_left": 0})
                )
                counts["planted"] += 1
                value = planted["value"]
                pieces = [
                    w.strip(",.")
                    for w in value.split()
                    if len(w.strip(",.")) >= 4 and not re.search(rf"(?<!\w){re.escape(w.strip(',.'))}(?!\w)", elsewhere)
                ]
                counts["left"] += value in text
                counts["pieces_left"] += value not in text and any(
                    re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text) for p in pieces
                )
    return {
        "redact_stage_seconds": round(stage_seconds, 2),
        "redact_ms_per_page": round(1000 * stage_seconds / max(1, pages), 1),
        "redact_pdf_seconds": round(pdf_seconds, 2),
        "redact_pdf_ms_per_page": round(1000 * pdf_seconds / max(1, pages), 1),
        "left": where,
    }


def cuad_redaction(cuad: Path, limit: int, work: Path) -> dict[str, Any]:
    """The pipeline with pii and redaction on real contracts, then redact-pdf and validate."""
    from jobs.lake.tables import read_arrow
    from jobs.lake.views import redacted_values
    from udfs.redact.text import MIN_PROPAGATED_CHARS, whole_word

    inputs, lake, out = work / "cuad-input", work / "cuad-lake", work / "cuad-redacted"
    for path in (inputs, lake, out):
        shutil.rmtree(path, ignore_errors=True)
    inputs.mkdir(parents=True)
    for pdf in sorted((cuad / "pdf").glob("*.pdf"))[:limit]:
        shutil.copy(pdf, inputs / pdf.name)
    _docner("run", "--input", str(inputs), "--lake", str(lake), "--conf", "ner.backends=[spacy, rules, pii]",
            "--conf", "redact.enabled=true")  # fmt: skip
    runs = {r["stage"]: r for r in read_arrow(lake, "runs").to_pylist()}
    pdf_seconds = _docner("redact-pdf", "--lake", str(lake), "--out", str(out), "--format", "json")
    checks = subprocess.run([str(REPO / ".venv" / "bin" / "docner"), "validate", "--lake", str(lake)], cwd=REPO,
                            capture_output=True, text=True)  # fmt: skip
    documents = [r for r in read_arrow(lake, "documents").to_pylist() if r["redact_state"] is not None]
    pages = sum(r["page_count"] or 0 for r in documents)
    values = redacted_values(lake, [r["doc_id"] for r in documents])
    leaks: list[dict[str, str]] = []
    size_in = size_out = 0
    for row in documents:
        copy = out / row["file_name"]
        if not copy.exists():
            continue
        size_in += Path(row["source_path"]).stat().st_size
        size_out += copy.stat().st_size
        for library, text in zip(("pdfplumber", "pypdfium2"), _pdf_texts(copy), strict=True):
            for value in values.get(row["doc_id"], {}):
                if len(value) >= MIN_PROPAGATED_CHARS and whole_word(value).search(text):
                    leaks.append({"file": row["file_name"], "library": library, "value_chars": str(len(value))})
    labels: dict[str, int] = {}
    for r in read_arrow(lake, "redactions", ["label"]).to_pylist():
        labels[r["label"]] = labels.get(r["label"], 0) + 1
    return {
        "documents": len(documents),
        "pages": pages,
        "redact_stage_seconds": round(float(runs["redact"]["seconds"]), 2),
        "redact_ms_per_page": round(1000 * float(runs["redact"]["seconds"]) / max(1, pages), 1),
        "ner_seconds": round(float(runs["ner"]["seconds"]), 2),
        "redact_pdf_seconds": round(pdf_seconds, 2),
        "redact_pdf_ms_per_page": round(1000 * pdf_seconds / max(1, pages), 1),
        "bytes": {"sources": size_in, "copies": size_out},
        "redactions_by_label": dict(sorted(labels.items())),
        "validate_exit": checks.returncode,
        "validate_failed": [line.split("|")[0].strip() for line in checks.stdout.splitlines() if "| FAILED" in line],
        "values_found_in_copies": leaks,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digital", type=int, default=20)
    parser.add_argument("--scanned", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=REPO / "build" / "pii-bench")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--cuad", type=int, default=102, help="CUAD dev texts for the backend alone (0: none)")
    parser.add_argument("--cuad-dir", type=Path, default=REPO.parent / "shared" / "datasets" / "cuad-dev")
    parser.add_argument("--cuad-pdfs", type=int, default=0, help="CUAD dev PDFs through pii and redaction (0: none)")
    parser.add_argument("--sample", type=int, default=40, help="CUAD matches drawn for reading by hand")
    args = parser.parse_args(argv)
    command = shlex.join(["python", *(sys.argv if argv is None else [__file__, *argv])])

    from jobs.dev.pii_samples import GOLD_FILE, write_pii_samples
    from jobs.lake.tables import read_arrow
    from udfs.ner.backends.pii import PII_LABELS

    started = time.monotonic()
    inputs = args.work / "input"
    shutil.rmtree(inputs, ignore_errors=True)
    write_pii_samples(inputs, args.digital, args.scanned, args.seed)
    gold = json.loads((inputs / GOLD_FILE).read_text(encoding="utf-8"))
    (inputs / GOLD_FILE).unlink()  # only PDFs go in
    with_pii = run(inputs, args.work / "lake", "[spacy, rules, pii]")
    without = run(inputs, args.work / "lake-without-pii", "[spacy, rules]")
    pages = sum(r["page_count"] or 0 for r in read_arrow(args.work / "lake", "documents").to_pylist())
    report = {
        "command": command,
        "machine": machine(),
        "documents": {"digital": args.digital, "scanned": args.scanned},
        "pages": pages,
        "ner_seconds": {"with_pii": round(with_pii, 2), "without_pii": round(without, 2)},
        "pii_ms_per_page": round(1000 * (with_pii - without) / max(1, pages), 1),
        "scores": score(args.work / "lake", gold, [*PII_LABELS, "PERSON"]),
        "redaction": redaction_pass(args.work / "lake", args.work / "redacted", gold, pages),
        "cuad_redaction": cuad_redaction(args.cuad_dir, args.cuad_pdfs, args.work) if args.cuad_pdfs else None,
        "cuad": cuad_pass(args.cuad_dir, args.cuad, args.sample, args.seed) if args.cuad else None,
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    emit(report, args.json)
    return report


if __name__ == "__main__":
    main()
