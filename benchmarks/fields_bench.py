"""Fields benchmark: what the fields stage adds to a run, and what its worker costs per document.

    .venv/bin/python benchmarks/fields_bench.py --json build/fields_bench.json

- **stage**: ``docner run`` on the CUAD dev PDFs into a fresh lake (``--lake`` to measure an
  existing one instead), then, from its ``runs`` rows, the fields stage's seconds against the
  NER stage's on the same documents (target: at most 15 %), with its Great Expectations share.
- **worker**: the finders alone (``udfs.fields.run.field_rows``, the code a task runs per
  document) over every document of that lake, read back with delta-rs: milliseconds per
  document (mean, 95th percentile, max) and per 100,000 characters.
- **long document**: the same on one synthetic document of ``--long-chars`` characters made
  of the lake's contracts one after the other (a 500-page exhibit is about 1.5 M characters).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_report import emit, machine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT_CUAD = REPO.parent / "shared" / "datasets" / "cuad-dev"


def run_pipeline(pdfs: Path, lake: Path) -> float:
    shutil.rmtree(lake, ignore_errors=True)
    started = time.monotonic()
    subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "docner"),
            "--log-format",
            "text",
            "run",
            "--input",
            str(pdfs),
            "--lake",
            str(lake),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def stage_figures(lake: Path) -> dict[str, Any]:
    from jobs.lake.tables import read_arrow

    runs = [r for r in read_arrow(lake, "runs").to_pylist() if r["documents_in"]]
    latest = max(r["run_id"] for r in runs if r["stage"] == "fields")
    by_stage = {r["stage"]: r for r in runs if r["run_id"] == latest}
    ner, fields = by_stage.get("ner"), by_stage["fields"]
    figures: dict[str, Any] = {
        "run_id": latest,
        "documents": fields["documents_in"],
        "fields_seconds": round(fields["seconds"], 2),
        "fields_dq_seconds": round(fields["dq_seconds"] or 0.0, 2),
        "field_values": fields["field_values"],
    }
    if ner is not None and ner["documents_in"] == fields["documents_in"]:
        figures["ner_seconds"] = round(ner["seconds"], 2)
        figures["fields_share_of_ner"] = round(fields["seconds"] / ner["seconds"], 4)
    return figures


def documents(lake: Path) -> list[dict[str, Any]]:
    from jobs.lake.tables import read_arrow
    from jobs.lake.views import join_pages
    from udfs.fields.run import ENTITY_COLUMNS

    pages: dict[str, list[dict[str, Any]]] = {}
    for row in read_arrow(lake, "pages", ["doc_id", "page_no", "status", "text"]).to_pylist():
        pages.setdefault(row["doc_id"], []).append(row)
    entities: dict[str, list[dict[str, Any]]] = {}
    for row in read_arrow(lake, "entities", ["doc_id", *ENTITY_COLUMNS]).to_pylist():
        entities.setdefault(row["doc_id"], []).append(row)
    items = []
    for doc_id, rows in sorted(pages.items()):
        text = join_pages(rows)
        placed = [{"page_no": p[0], "start": p[1], "end": p[2]} for p in text.pages]
        items.append({"doc_id": doc_id, "text": text.text, "pages": placed, "entities": entities.get(doc_id, [])})
    return items


def worker_timing(items: list[dict[str, Any]]) -> dict[str, Any]:
    from jobs.config import load_config
    from jobs.stages.fields import fields_options
    from udfs.fields.run import field_rows

    options = fields_options(load_config("local"))
    times = []
    for item in items:
        started = time.perf_counter()
        field_rows(item["text"], item["pages"], item["entities"], options)
        times.append(time.perf_counter() - started)
    chars = sum(len(item["text"]) for item in items)
    ordered = sorted(times)
    return {
        "documents": len(items),
        "chars": chars,
        "ms_per_document_mean": round(1000 * statistics.mean(times), 2),
        "ms_per_document_p95": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 2),
        "ms_per_document_max": round(1000 * ordered[-1], 2),
        "ms_per_100k_chars": round(1000 * sum(times) / chars * 100_000, 2),
    }


def long_document(items: list[dict[str, Any]], chars: int) -> dict[str, Any]:
    """One document of ``chars`` characters: the contracts one after the other, their entities
    moved along with them."""
    from jobs.config import load_config
    from jobs.stages.fields import fields_options
    from udfs.fields.run import field_rows

    parts, entities, offset = [], [], 0
    while offset < chars:
        for item in items:
            parts.append(item["text"])
            entities.extend(
                {**e, "doc_start": e["doc_start"] + offset, "doc_end": e["doc_end"] + offset} for e in item["entities"]
            )
            offset += len(item["text"]) + 2
            if offset >= chars:
                break
    text = "\n\n".join(parts)
    options = fields_options(load_config("local"))
    started = time.perf_counter()
    rows, _ = field_rows(text, [{"page_no": 1, "start": 0, "end": len(text)}], entities, options)
    return {
        "chars": len(text),
        "entities": len(entities),
        "seconds": round(time.perf_counter() - started, 2),
        "values": len(rows),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cuad", type=Path, default=DEFAULT_CUAD)
    parser.add_argument("--lake", type=Path, help="measure this lake instead of running the pipeline")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "fields-bench")
    parser.add_argument("--long-chars", type=int, default=1_500_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report: dict[str, Any] = {"machine": machine()}
    lake = args.lake
    if lake is None:
        lake = args.work / "lake"
        report["run_seconds"] = round(run_pipeline(args.cuad / "pdf", lake), 1)
    report["stage"] = stage_figures(lake)
    items = documents(lake)
    report["worker"] = worker_timing(items)
    report["long_document"] = long_document(items, args.long_chars)
    emit(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
