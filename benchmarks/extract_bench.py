"""Extraction benchmark: throughput through Spark against a plain loop, and text quality.

    .venv/bin/python benchmarks/extract_bench.py --json build/extract_bench.json

Speed: the digital path (OCR off) over the CUAD dev PDFs and the OCR path over rasterised,
noised copies of some of their pages, each run (a) as a plain single-process loop calling
the same per-document function the UDFs call (``udfs.extract.passes.extract_document``) and (b)
through Spark with ``local[1]`` and ``local[2]``, side by side in one invocation — once as
the whole extract stage (with its Great Expectations audit and Delta writes), once as the
extraction path alone (scan, OCR and assembly, page and table rows into Spark's ``noop``
sink). Reported: pages/s, pages/s per core, the ratio of Spark per core to the plain loop,
and the 1 → 2 core scaling. Spark timings cover extraction only (the session, its Python
workers and the ingest stage are started before the clock).

Quality: similarity of the extracted text to CUAD's own text renderings (1 − whitespace-
folded normalised Levenshtein distance; median and worst 5), and the character error rate
of OCR on the rasterised pages against the digital extraction of the same pages.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_report import emit, machine

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CUAD = REPO.parent / "shared" / "datasets" / "cuad-dev"


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _documents(pdf_dir: Path, limit: int | None) -> list[Path]:
    files = sorted(p for p in pdf_dir.iterdir() if p.suffix.lower() == ".pdf")
    return files[:limit] if limit else files


def _page_count(path: Path) -> int:
    from udfs.pdf import page_count

    return page_count(path.read_bytes())


# --- inputs for the OCR path -------------------------------------------------------------------


def _noisy_scan(image, seed: int):
    from PIL import Image, ImageFilter

    rng = random.Random(seed)
    image = image.convert("L").filter(ImageFilter.GaussianBlur(0.5))
    pixels = image.load()
    width, height = image.size
    for _ in range(width * height // 5000):
        pixels[rng.randrange(width), rng.randrange(height)] = rng.choice((60, 140, 200))
    return image.rotate(rng.uniform(-0.8, 0.8), resample=Image.Resampling.BICUBIC, fillcolor=255)


def build_ocr_set(sources: list[Path], pages_per_doc: int, out_dir: Path) -> dict[str, list[str]]:
    """Image-only PDFs of the first pages of ``sources`` (200 dpi, blurred, speckled, skewed);
    returns file name -> the digital extraction of each of its pages (the OCR reference)."""
    import pypdfium2 as pdfium
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    from udfs.extract.ocr import OcrOptions
    from udfs.extract.passes import ExtractOptions, extract_document

    out_dir.mkdir(parents=True, exist_ok=True)
    references: dict[str, list[str]] = {}
    for number, source in enumerate(sources):
        data = source.read_bytes()
        count = min(pages_per_doc, _page_count(source))
        digital = extract_document(
            hashlib.sha256(data).hexdigest(),
            str(source),
            count,
            ExtractOptions(ocr=OcrOptions(enabled=False), max_pages=count),
        )
        document = pdfium.PdfDocument(data)
        buffer = io.BytesIO()
        pdf = canvas.Canvas(buffer, invariant=1)
        for index in range(count):
            page = document[index]
            width, height = page.get_size()
            image = _noisy_scan(page.render(scale=200 / 72, grayscale=True).to_pil(), seed=number * 100 + index)
            png = io.BytesIO()
            image.save(png, format="PNG")
            png.seek(0)
            pdf.setPageSize((width, height))
            pdf.drawImage(ImageReader(png), 0, 0, width=width, height=height)
            pdf.showPage()
        pdf.save()
        document.close()
        name = f"scan_{number:02d}.pdf"
        (out_dir / name).write_bytes(buffer.getvalue())
        references[name] = [p["text"] for p in digital["pages"][:count]]
    return references


# --- plain loop --------------------------------------------------------------------------------


def plain_loop(files: list[Path], ocr: bool) -> tuple[float, int, dict[str, list[str]]]:
    from udfs.extract.ocr import OcrOptions
    from udfs.extract.passes import ExtractOptions, extract_document

    options = ExtractOptions(ocr=OcrOptions(enabled=ocr))
    texts: dict[str, list[str]] = {}
    pages = 0
    started = time.perf_counter()
    for path in files:
        data = path.read_bytes()
        outcome = extract_document(hashlib.sha256(data).hexdigest(), str(path), _page_count(path), options)
        texts[path.name] = [p["text"] for p in outcome["pages"]]
        pages += len(outcome["pages"])
    return time.perf_counter() - started, pages, texts


def _extract_one(args: tuple[str, bool]) -> int:
    from udfs.extract.ocr import OcrOptions
    from udfs.extract.passes import ExtractOptions, extract_document

    path = Path(args[0])
    data = path.read_bytes()
    outcome = extract_document(
        hashlib.sha256(data).hexdigest(), str(path), _page_count(path), ExtractOptions(ocr=OcrOptions(enabled=args[1]))
    )
    return len(outcome["pages"])


def plain_processes(files: list[Path], ocr: bool, processes: int) -> tuple[float, int]:
    """The same per-document calls in ``processes`` plain worker processes (no Spark): how
    far this machine itself scales, JVM-free."""
    import multiprocessing

    # longest documents first, one at a time: the pool balances them
    ordered = sorted(files, key=lambda p: -p.stat().st_size)
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        pool.map(_extract_one, [(str(ordered[0]), ocr)])  # warm the imports
        started = time.perf_counter()
        pages = sum(pool.imap_unordered(_extract_one, [(str(p), ocr) for p in ordered], chunksize=1))
    return time.perf_counter() - started, pages


def raw_pdfium_loop(files: list[Path]) -> tuple[float, int]:
    """For scale: pdfium's bulk text alone, no boxes, no signals, no cleaning."""
    import pypdfium2 as pdfium

    pages = 0
    started = time.perf_counter()
    for path in files:
        document = pdfium.PdfDocument(path.read_bytes())
        for page in document:
            textpage = page.get_textpage()
            textpage.get_text_range()
            textpage.close()
            page.close()
            pages += 1
        document.close()
    return time.perf_counter() - started, pages


# --- Spark -------------------------------------------------------------------------------------


def spark_worker(input_dir: Path, cores: int, ocr: bool, lake: Path, path_only: bool) -> dict[str, float]:
    """Runs in its own process (one master per JVM): ingest untimed, then the timed extract —
    the whole stage, or (``path_only``) the extraction path alone: scan, OCR and assembly,
    page and table rows into Spark's ``noop`` sink, without the checks and Delta writes."""
    from jobs.config import load_config
    from jobs.lake.tables import ensure_tables
    from jobs.session import build_spark
    from jobs.stages.base import StageContext, documents_to_process, new_run_id
    from jobs.stages.extract import explode_pages, explode_tables, extract_options, extracted, run_extract
    from jobs.stages.ingest import run_ingest

    config = load_config(
        "local",
        overrides=[
            f"spark.master=local[{cores}]",
            f"spark.shuffle_partitions={max(2, cores * 2)}",
            f"extract.ocr.enabled={'true' if ocr else 'false'}",
        ],
    )
    spark = build_spark(config)
    ensure_tables(lake)
    ctx = StageContext(spark=spark, config=config, lake=lake, run_id=new_run_id())
    run_ingest(ctx, str(input_dir))
    if path_only:
        documents = [
            (r["doc_id"], r["source_path"], r["page_count"])
            for r in documents_to_process(ctx, "extract", "", reprocess=True)
        ]
        started = time.perf_counter()
        with extracted(ctx, extract_options(config), documents) as extraction:
            outcomes = extraction.outcomes_df
            for rows in (explode_pages(outcomes, ctx.run_id), explode_tables(outcomes, ctx.run_id)):
                rows.write.format("noop").mode("overwrite").save()
            seconds = time.perf_counter() - started
            pages = explode_pages(extraction.outcomes_df, ctx.run_id).where("status = 'ok'").count()
        spark.stop()
        return {"seconds": seconds, "pages": pages, "documents": len(documents)}
    started = time.perf_counter()
    result = run_extract(ctx)
    seconds = time.perf_counter() - started
    from jobs.lake.tables import read_table

    page_rows = read_table(spark, lake, "pages").where(f"run_id = '{ctx.run_id}' AND status = 'ok'").count()
    spark.stop()
    return {"seconds": seconds, "pages": page_rows, "documents": result.documents_in}


def run_spark(input_dir: Path, cores: int, ocr: bool, work: Path, path_only: bool = False) -> dict[str, float]:
    lake = work / f"lake-{'ocr' if ocr else 'digital'}-{cores}{'-path' if path_only else ''}"
    if lake.exists():
        import shutil

        shutil.rmtree(lake)
    command = [sys.executable, __file__, "--spark-worker", str(input_dir), "--cores", str(cores), "--lake", str(lake)]
    if ocr:
        command.append("--ocr")
    if path_only:
        command.append("--path-only")
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"Spark run failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- quality -----------------------------------------------------------------------------------


def similarity(ours: str, reference: str) -> float:
    from rapidfuzz.distance import Levenshtein

    return 1.0 - Levenshtein.normalized_distance(_fold(ours), _fold(reference))


def character_error_rate(ours: str, reference: str) -> float:
    from rapidfuzz.distance import Levenshtein

    folded = _fold(reference)
    return Levenshtein.distance(_fold(ours), folded) / max(1, len(folded))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cuad", type=Path, default=DEFAULT_CUAD)
    parser.add_argument("--docs", type=int, default=None, help="use only the first N CUAD PDFs")
    parser.add_argument("--ocr-docs", type=int, default=4)
    parser.add_argument("--ocr-pages-per-doc", type=int, default=6)
    parser.add_argument("--skip-ocr", action="store_true", help="measure the digital path only")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "extract-bench")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--spark-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cores", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--lake", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ocr", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--path-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")

    if args.spark_worker:
        print(json.dumps(spark_worker(args.spark_worker, args.cores, args.ocr, args.lake, args.path_only)))
        return 0

    pdf_dir, txt_dir = args.cuad / "pdf", args.cuad / "txt"
    digital_files = _documents(pdf_dir, args.docs)
    digital_dir = args.work / "digital"
    digital_dir.mkdir(parents=True, exist_ok=True)
    for path in digital_files:  # a folder holding exactly the measured set
        target = digital_dir / path.name
        if not target.exists():
            target.symlink_to(path)
    ocr_dir = args.work / "ocr"
    references: dict[str, list[str]] = {}
    if not args.skip_ocr:
        print(
            f"building the OCR set from {args.ocr_docs} documents x {args.ocr_pages_per_doc} pages …", file=sys.stderr
        )
        references = build_ocr_set(digital_files[: args.ocr_docs], args.ocr_pages_per_doc, ocr_dir)
    ocr_files = sorted(ocr_dir.glob("*.pdf"))

    report: dict = {
        "machine": machine(),
    }
    paths = [("digital", digital_files, False)] + ([] if args.skip_ocr else [("ocr", ocr_files, True)])
    for path_name, files, ocr in paths:
        print(f"{path_name}: plain loop …", file=sys.stderr)
        seconds, pages, texts = plain_loop(files, ocr)
        entry = {"pages": pages, "plain_seconds": round(seconds, 2), "plain_pages_per_s": round(pages / seconds, 2)}
        print(f"{path_name}: 2 plain processes …", file=sys.stderr)
        two_seconds, two_pages = plain_processes(files, ocr, 2)
        entry["plain2proc_pages_per_s"] = round(two_pages / two_seconds, 2)
        entry["plain2proc_scaling"] = round(entry["plain2proc_pages_per_s"] / entry["plain_pages_per_s"], 3)
        for prefix, path_only in (("spark", False), ("path", True)):
            for cores in (1, 2):
                what = "extraction path (noop sink)" if path_only else "extract stage"
                print(f"{path_name}: Spark local[{cores}], {what} …", file=sys.stderr)
                run = run_spark(digital_dir if not ocr else ocr_dir, cores, ocr, args.work, path_only)
                rate = run["pages"] / run["seconds"]
                entry[f"{prefix}{cores}_seconds"] = round(run["seconds"], 2)
                entry[f"{prefix}{cores}_pages"] = run["pages"]
                entry[f"{prefix}{cores}_pages_per_s"] = round(rate, 2)
                entry[f"{prefix}{cores}_per_core_vs_plain"] = round(rate / cores / (pages / seconds), 3)
            entry[f"{prefix}_scaling_1_to_2"] = round(
                entry[f"{prefix}2_pages_per_s"] / entry[f"{prefix}1_pages_per_s"], 3
            )
        report[path_name] = entry
        if not ocr:
            raw_seconds, raw_pages = raw_pdfium_loop(files)
            entry["raw_pdfium_bulk_text_pages_per_s"] = round(raw_pages / raw_seconds, 1)
            scores = []
            for path in files:
                reference = txt_dir / (path.stem + ".txt")
                if reference.exists():
                    ours = "\n".join(texts[path.name])
                    scores.append(
                        (similarity(ours, reference.read_text(encoding="utf-8", errors="replace")), path.name)
                    )
            scores.sort()
            report["cuad_similarity"] = {
                "documents": len(scores),
                "median": round(statistics.median(s for s, _ in scores), 4),
                "worst_5": [{"document": name, "similarity": round(score, 4)} for score, name in scores[:5]],
            }
        else:
            rates = []
            for name, pages_text in texts.items():
                for ours, reference in zip(pages_text, references[name], strict=False):
                    if _fold(reference):
                        rates.append(character_error_rate(ours, reference))
            report["ocr_cer"] = {
                "pages": len(rates),
                "median": round(statistics.median(rates), 4),
                "mean": round(statistics.fmean(rates), 4),
                "worst": round(max(rates), 4),
            }
    emit(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
