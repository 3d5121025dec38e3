"""The transformers NER worker on a GPU: tokens/s, where the time goes, against a plain loop.

    # here: put the texts and the UDF's Arrow schema where the GPU machine's copy of the repo has them
    .venv/bin/python benchmarks/gpu_ner.py --prepare .bench
    # on the GPU machine (no Spark there: the worker code in udfs/ runs directly)
    python3 benchmarks/gpu_ner.py --texts .bench/txt --arrow-schema .bench/ner_result.arrows --json out.json
    # on a CPU, small: what the tests run
    .venv/bin/python benchmarks/gpu_ner.py --size tiny --max-docs 4 --device cpu

A BERT-base-sized token classifier (12 layers, 768 hidden, 30,522-token vocabulary) with
random weights is built and saved with its tokenizer at run time; speed does not depend on
the weights, but decoding does (a random model tags nearly every word), so the bias of the
``O`` label is set so that about ``--entity-rate`` of the tokens carry an entity tag, as a
trained model's would on contracts. On the same texts (CUAD dev's renderings), it times:

- **raw**: a plain loop: the tokenizer's own windows of 512 with stride 128 (offsets too),
  batches, ``torch.inference_mode``, the run's precision, probabilities back on the host;
- **forward only**: the model alone on the raw loop's windows, already on the GPU, one
  synchronisation at the end: what the GPU needs for the windows, the ceiling;
- **backend** at each ``--batch-sizes``: docner's NER UDF body exactly as a Spark task runs it
  (``udfs.ner.recognize.recognize_batches``: Arrow batches of documents in, the transformers
  backend's windows, batches, merge, aggregation and offsets, then merge, normalisation and
  entity rows, Arrow batches out), with the backend's own time split (``InferenceStats``).

Tokens are the texts' tokens without the windows' overlap or special tokens; "model tokens"
count what the model ran (overlap and special tokens included, padding not).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_report import emit, machine  # noqa: E402

DEFAULT_TEXTS = REPO.parent / "shared" / "datasets" / "cuad-dev" / "txt"
SCHEMA_FILE = "ner_result.arrows"
LABEL_MAP = (("PER", "PERSON"), ("LOC", "GPE"))  # conf/base.yaml's ner.transformers.label_map


# --- inputs --------------------------------------------------------------------------------------


def prepare(directory: Path, texts: Path) -> None:
    """Copy the texts and write the NER UDF's output schema (from the Spark schema, which
    needs pyspark) for a machine without Spark."""
    from pyspark.sql.pandas.types import to_arrow_schema

    from jobs.catalog.rows import NER_RESULT

    target = directory / "txt"
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(texts.glob("*.txt")):
        shutil.copyfile(path, target / path.name)
    (directory / SCHEMA_FILE).write_bytes(to_arrow_schema(NER_RESULT).serialize().to_pybytes())
    print(f"{len(list(target.glob('*.txt')))} texts and {SCHEMA_FILE} in {directory}")


def output_schema(path: Path | None):
    import pyarrow as pa

    if path is not None:
        return pa.ipc.read_schema(pa.py_buffer(path.read_bytes()))
    from pyspark.sql.pandas.types import to_arrow_schema

    from jobs.catalog.rows import NER_RESULT

    return to_arrow_schema(NER_RESULT)


def load_texts(directory: Path, max_docs: int | None, copies: int) -> list[tuple[str, str]]:
    files = sorted(directory.glob("*.txt"))[:max_docs]
    if not files:
        raise SystemExit(f"no *.txt files in {directory}")
    texts = [(path.stem, path.read_text(encoding="utf-8", errors="replace")) for path in files]
    return [(f"{doc_id}#{copy}" if copies > 1 else doc_id, text) for copy in range(copies) for doc_id, text in texts]


# --- the model -----------------------------------------------------------------------------------


def build_checkpoint(directory: Path, size: str, device: str, texts: list[str], entity_rate: float) -> dict:
    """A random-weight BERT token classifier and its tokenizer, saved; the ``O`` bias raised so
    that about ``entity_rate`` of the tokens of a sample of the texts are tagged."""
    import torch

    from tests.tiny_models import token_classifier

    model, tokenizer, vocab = token_classifier("base" if size == "base" else "tiny")
    model = model.to(device)
    sample = tokenizer(texts[:8], truncation=True, max_length=512, padding="longest", return_tensors="pt")
    with torch.inference_mode():
        logits = model(
            input_ids=sample["input_ids"].to(device), attention_mask=sample["attention_mask"].to(device)
        ).logits.float()
    real = sample["attention_mask"].bool().to(device)
    margin = (logits[..., 1:].max(dim=-1).values - logits[..., 0])[real]
    shift = float(torch.quantile(margin, 1.0 - entity_rate)) if 0 < entity_rate < 1 else 0.0
    with torch.no_grad():
        model.classifier.bias[0] += shift
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    parameters = sum(p.numel() for p in model.parameters())
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return {"size": size, "parameters": parameters, "vocab": len(vocab), "o_bias_shift": round(shift, 4)}


def count_tokens(model_dir: Path, texts: list[str]) -> int:
    """The texts' tokens as the backend reads them: whole, special-token strings as text."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    encoded = tokenizer(texts, add_special_tokens=False, split_special_tokens=True, verbose=False)
    return sum(len(ids) for ids in encoded["input_ids"])


# --- timings -------------------------------------------------------------------------------------


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)


def _reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mb(device: str) -> float | None:
    if not device.startswith("cuda"):
        return None
    import torch

    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)


def raw_windows(model_dir: Path, texts: list[str]) -> Any:
    """Windows of 512 tokens, [CLS] and [SEP] included, consecutive ones sharing 128, padded:
    what the tokenizer's truncation with ``stride=128`` and overflow gives, cut here from whole
    encodings (the tokenizers versions differ in how they hand overflow back)."""
    import numpy as np
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    core = tokenizer.backend_tokenizer
    core.no_truncation()  # a saved tokenizer can carry the truncation of its last call
    core.no_padding()
    content, stride = 510, 128
    windows = []
    for encoding in core.encode_batch(texts, add_special_tokens=False):
        ids = encoding.ids
        for start in range(0, max(1, len(ids) - stride), content - stride):
            windows.append([tokenizer.cls_token_id, *ids[start : start + content], tokenizer.sep_token_id])
    ids = np.zeros((len(windows), max(len(window) for window in windows)), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, window in enumerate(windows):
        ids[row, : len(window)] = window
        mask[row, : len(window)] = 1
    return ids, mask


def _model(model_dir: Path, device: str, dtype: Any) -> Any:
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(model_dir, local_files_only=True, dtype=dtype)
    return model.eval().to(device)


def forward_rate(run: Any, full_ids: Any, size: int, device: str, repeat: int) -> float:
    """Model tokens/s of ``run`` alone over full batches of ``size`` full windows already on the
    device (one shape), one synchronisation at the end; best of ``repeat`` after a warm-up."""
    import torch

    ids = full_ids[: len(full_ids) - len(full_ids) % size]
    if not ids.numel():
        raise SystemExit(f"fewer than {size} full windows: use more texts (--copies) or smaller batches")

    def once() -> float:
        _sync(device)
        started = time.perf_counter()
        with torch.inference_mode():
            for first in range(0, ids.shape[0], size):
                run(input_ids=ids[first : first + size]).logits.float().softmax(-1)
        _sync(device)
        return time.perf_counter() - started

    once()
    return ids.numel() / min(once() for _ in range(repeat))


def _full_windows(model_dir: Path, texts: list[str], device: str) -> tuple[Any, int, int]:
    """The windows without padding, on the device; how many windows; how many model tokens."""
    import torch

    ids, mask = raw_windows(model_dir, texts)
    return torch.from_numpy(ids[mask.all(axis=1)]).to(device), len(ids), int(mask.sum())


def raw_loop(
    texts: list[str], model_dir: Path, device: str, dtype: Any, batch: int, repeat: int, forward_batches: list[int]
) -> dict:
    """The plain loop at ``batch``, and the model alone on its full windows at each of
    ``forward_batches`` (the GPU's ceiling)."""
    import torch

    model = _model(model_dir, device, dtype)

    def once() -> dict[str, float]:
        _sync(device)
        started = time.perf_counter()
        ids, mask = (torch.from_numpy(array) for array in raw_windows(model_dir, texts))
        tokenized = time.perf_counter()
        with torch.inference_mode():
            for first in range(0, ids.shape[0], batch):
                logits = model(
                    input_ids=ids[first : first + batch].to(device),
                    attention_mask=mask[first : first + batch].to(device),
                ).logits
                logits.float().softmax(-1).cpu().numpy()
        _sync(device)
        done = time.perf_counter()
        return {"seconds": done - started, "tokenize_s": tokenized - started, "forward_s": done - tokenized}

    once()  # warm: kernels chosen, allocator grown
    _reset_peak(device)
    raw: dict[str, Any] = min((once() for _ in range(repeat)), key=lambda run: run["seconds"])
    raw["peak_gpu_mb"] = _peak_mb(device)

    full_ids, windows, model_tokens = _full_windows(model_dir, texts, device)
    rates = {size: forward_rate(model, full_ids, size, device, repeat) for size in sorted({batch, *forward_batches})}
    best = max(rates.values())
    return {
        "raw": raw,
        "windows": windows,
        "model_tokens": model_tokens,
        "forward_only": {
            "full_windows": len(full_ids),
            "model_tokens_per_s": best,
            "by_batch": {str(size): round(rate) for size, rate in rates.items()},
            "seconds_for_all_windows": model_tokens / best,
            "attention": str(getattr(model.config, "_attn_implementation", None)),
        },
    }


def compiled_forward(texts: list[str], model_dir: Path, device: str, dtype: Any, batch: int, repeat: int) -> dict:
    """The model alone at ``batch`` under ``torch.compile(dynamic=False)``, and the compile time."""
    import torch

    full_ids, _, _ = _full_windows(model_dir, texts, device)
    fast = torch.compile(_model(model_dir, device, dtype), dynamic=False)
    compiling = time.perf_counter()
    with torch.inference_mode():
        fast(input_ids=full_ids[:batch])  # the first call compiles
    _sync(device)
    compile_s = time.perf_counter() - compiling
    return {"model_tokens_per_s": forward_rate(fast, full_ids, batch, device, repeat), "compile_s": compile_s}


def backend_run(
    rows: list[dict],
    model_dir: Path,
    device: str,
    precision: str,
    batch_size: int,
    arrow_batch: int,
    profile: str,
    schema: Any,
    repeat: int,
    barrier: Any = None,
) -> dict:
    """docner's NER UDF body over Arrow batches, as a Spark task calls it. With a barrier (one
    of several processes sharing the GPU), every pass starts together with the others'."""
    import pyarrow as pa

    from udfs.ner.backends.transformers import TransformersOptions, cached_transformers
    from udfs.ner.recognize import NerOptions, recognize_batches

    options = TransformersOptions(
        str(model_dir),
        device=device,
        precision=precision,
        batch_size=batch_size,
        label_map=LABEL_MAP,
    )
    ner_options = NerOptions(backends=(("transformers", options),), profile=profile)
    loaded = cached_transformers(options).loaded
    input_schema = pa.schema(
        [
            ("doc_id", pa.string()),
            ("text", pa.string()),
            ("pages", pa.list_(pa.struct([("page_no", pa.int32()), ("start", pa.int32()), ("end", pa.int32())]))),
        ]
    )
    batches = [
        pa.RecordBatch.from_pylist(rows[first : first + arrow_batch], schema=input_schema)
        for first in range(0, len(rows), arrow_batch)
    ]

    def once() -> dict:
        loaded.stats.reset()
        _sync(device)
        if barrier is not None:
            barrier.wait()
        started = time.monotonic()
        out = list(recognize_batches(iter(batches), ner_options, schema))
        _sync(device)
        ended = time.monotonic()
        entities = sum(len(entities) for batch in out for entities in batch.column("entities").to_pylist())
        errors = sum(error is not None for batch in out for error in batch.column("error_class").to_pylist())
        return {
            "seconds": ended - started,
            "started": started,
            "ended": ended,
            "entities": entities,
            "errors": errors,
            "stats": dict(vars(loaded.stats)),
        }

    once()  # warm
    _reset_peak(device)
    runs = [once() for _ in range(repeat)]
    best = dict(min(runs, key=lambda run: run["seconds"]))
    best["runs"] = runs
    best["peak_gpu_mb"] = _peak_mb(device)
    best["seconds_spread"] = [round(run["seconds"], 4) for run in runs]
    best["attention"] = loaded.attention
    best["precision"] = loaded.precision
    return best


def _process_main(rank: int, spec: dict, rows: list[dict], schema_bytes: bytes, barrier: Any, results: Any) -> None:
    import pyarrow as pa

    try:
        schema = pa.ipc.read_schema(pa.py_buffer(schema_bytes))
        results.put((rank, backend_run(rows, schema=schema, barrier=barrier, **spec)))
    except Exception as exc:  # noqa: BLE001 - the parent reports it
        barrier.abort()
        results.put((rank, {"error": f"{type(exc).__name__}: {exc}"}))


def shared_gpu_run(rows: list[dict], processes: int, schema: Any, **spec: Any) -> dict:
    """``processes`` Python processes, each with its own copy of the model on the same GPU and
    its share of the documents (balanced by length), as Spark runs several NER tasks per GPU
    (``ner.resources.task_gpus``: 0.25 → four): every pass starts together; its wall time runs
    from the first start to the last end."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    shares: list[list[dict]] = [[] for _ in range(processes)]
    sizes = [0] * processes
    for row in sorted(rows, key=lambda row: -len(row["text"])):
        smallest = sizes.index(min(sizes))
        shares[smallest].append(row)
        sizes[smallest] += len(row["text"])
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(
            target=_process_main, args=(rank, spec, share, schema.serialize().to_pybytes(), barrier, results)
        )
        for rank, share in enumerate(shares)
    ]
    for worker in workers:
        worker.start()
    outcomes = dict(results.get(timeout=600) for _ in workers)
    for worker in workers:
        worker.join()
    failed = [f"process {rank}: {outcome['error']}" for rank, outcome in outcomes.items() if "error" in outcome]
    if failed:
        raise RuntimeError("; ".join(failed))
    passes = []
    for index in range(spec["repeat"]):
        runs = [outcome["runs"][index] for outcome in outcomes.values()]
        stats = {key: sum(run["stats"][key] for run in runs) for key in runs[0]["stats"]}
        passes.append(
            {
                "seconds": max(run["ended"] for run in runs) - min(run["started"] for run in runs),
                "entities": sum(run["entities"] for run in runs),
                "errors": sum(run["errors"] for run in runs),
                "stats": stats,
            }
        )
    best = dict(min(passes, key=lambda run: run["seconds"]))
    best["seconds_spread"] = [round(run["seconds"], 4) for run in passes]
    best["peak_gpu_mb"] = max((outcome["peak_gpu_mb"] or 0) for outcome in outcomes.values()) or None
    best["attention"] = next(iter(outcomes.values()))["attention"]
    return best


def parse_run(text: str) -> dict:
    """``64`` or ``64/p4`` → batch size and processes."""
    batch, _, processes = text.strip().partition("/")
    if processes and not (processes.startswith("p") and processes[1:].isdigit()):
        raise SystemExit(f"unknown run {text!r}: BATCH or BATCH/pN")
    return {"name": text.strip(), "batch_size": int(batch), "processes": int(processes[1:] or 1)}


def summarize(result: dict, tokens: int, raw_seconds: float, processes: int = 1) -> dict:
    stats = result["stats"]
    # One process: the backend's own time (recognize()). Several: the pass's wall time, the UDF
    # body included, and each process's time shares are averages.
    wall = stats["wall_s"] if processes == 1 else result["seconds"]
    busy = stats["wall_s"]  # summed over the processes
    row = {
        "udf_tokens_per_s": round(tokens / result["seconds"]),
        "backend_tokens_per_s": round(tokens / wall),
        "backend_model_tokens_per_s": round(stats["window_tokens"] / wall),
        "of_raw": round(raw_seconds / wall, 3),
        "udf_s": round(result["seconds"], 4),
        "backend_s": round(wall, 4),  # several processes: the pass's wall time
        "share": {
            "tokenize_waited": round(stats["tokenize_wait_s"] / busy, 3),
            "launch": round(stats["launch_s"] / busy, 3),
            "wait_gpu": round(stats["wait_s"] / busy, 3),
            "decode": round(stats["decode_s"] / busy, 3),
        },
        "tokenize_thread_s": round(stats["tokenize_s"], 4),
        # Several processes' batches run interleaved: their event spans overlap, so the sum can pass 1.
        "gpu_busy": round(stats["device_s"] / wall, 3) if stats["device_s"] else None,
        "padding": round(1 - stats["window_tokens"] / max(1, stats["padded_tokens"]), 4),
        "batches": stats["batches"],
        "entities": result["entities"],
        "errors": result["errors"],
        "peak_gpu_mb": result["peak_gpu_mb"],
    }
    return row


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", type=Path, help="copy the texts and the Arrow schema here, then stop")
    parser.add_argument("--texts", type=Path, default=DEFAULT_TEXTS)
    parser.add_argument("--max-docs", type=int)
    parser.add_argument("--copies", type=int, default=1, help="repeat the texts (as other documents)")
    parser.add_argument("--size", choices=("tiny", "base"), default="base")
    parser.add_argument("--device", help="default: cuda:0 when there is one, else cpu")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "bf16"))
    parser.add_argument(
        "--runs",
        help="backend runs, comma-separated: windows per forward pass, /pN for N processes sharing the GPU "
        "(Spark tasks per GPU); e.g. 64,256,64/p4 (default: the backend's batch)",
    )
    parser.add_argument("--raw-batch", type=int, default=None, help="the raw loop's batch (default: the largest)")
    parser.add_argument("--arrow-batch", type=int, default=128, help="documents per Arrow batch (cluster-gpu.yaml)")
    parser.add_argument("--profile", default="ontonotes", help="NER profile (contracts adds resolution, CPU work)")
    parser.add_argument("--entity-rate", type=float, default=0.06)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--arrow-schema", type=Path, help=f"the {SCHEMA_FILE} written by --prepare (no pyspark)")
    parser.add_argument("--compile", action="store_true", help="also time the forward pass under torch.compile")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    command = shlex.join([Path(sys.executable).name, *sys.argv]) if argv is None else shlex.join(argv)
    print(f"command: {command}", flush=True)
    if args.prepare:
        prepare(args.prepare, args.texts)
        return {}

    import torch
    import transformers

    from udfs.ner.backends.transformers import CPU_BATCH_SIZE, CUDA_BATCH_SIZE, resolve_precision

    device = args.device or ("cuda:0" if torch.cuda.is_available() else "cpu")
    precision = resolve_precision(args.precision, device)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    default_batch = CUDA_BATCH_SIZE if device.startswith("cuda") else CPU_BATCH_SIZE
    runs = [parse_run(run) for run in (args.runs or str(default_batch)).split(",")]
    raw_batch = args.raw_batch or max(run["batch_size"] for run in runs)
    schema = output_schema(args.arrow_schema)
    docs = load_texts(args.texts, args.max_docs, args.copies)
    started = time.perf_counter()
    report: dict[str, Any] = {
        "command": command,
        "machine": machine(),
        "device": torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "precision": precision,
        "documents": len(docs),
        "characters": sum(len(text) for _, text in docs),
    }
    with tempfile.TemporaryDirectory(prefix="docner-gpu-bench-") as tmp:
        model_dir = Path(tmp) / f"bert-{args.size}-random"
        report["model"] = build_checkpoint(model_dir, args.size, device, [t for _, t in docs], args.entity_rate)
        tokens = count_tokens(model_dir, [t for _, t in docs])
        report["tokens"] = tokens
        print(
            f"{len(docs)} documents, {tokens:,} tokens; model built in {time.perf_counter() - started:.1f} s",
            flush=True,
        )

        forward_batches = [run["batch_size"] for run in runs]
        raw = raw_loop([t for _, t in docs], model_dir, device, dtype, raw_batch, args.repeat, forward_batches)
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
        raw_seconds = raw["raw"]["seconds"]
        report["raw"] = {
            "batch": raw_batch,
            "tokens_per_s": round(tokens / raw_seconds),
            "model_tokens_per_s": round(raw["model_tokens"] / raw_seconds),
            "seconds": round(raw_seconds, 4),
            "share_tokenize": round(raw["raw"]["tokenize_s"] / raw_seconds, 3),
            "share_forward": round(raw["raw"]["forward_s"] / raw_seconds, 3),
            "peak_gpu_mb": raw["raw"]["peak_gpu_mb"],
            "windows": raw["windows"],
        }
        forward = raw["forward_only"]
        report["forward_only"] = {
            "model_tokens_per_s_by_batch": forward["by_batch"],
            "model_tokens_per_s": round(forward["model_tokens_per_s"]),
            "tokens_per_s": round(tokens / forward["seconds_for_all_windows"]),
            "attention": forward["attention"],
        }
        save(report, args.json)
        print(f"raw: {report['raw']}\nforward only: {report['forward_only']}", flush=True)

        rows = [{"doc_id": d, "text": t, "pages": [{"page_no": 1, "start": 0, "end": len(t)}]} for d, t in docs]
        report["backend"] = {}
        for run in runs:
            spec = {
                "model_dir": model_dir,
                "device": device,
                "precision": precision,
                "batch_size": run["batch_size"],
                "arrow_batch": args.arrow_batch,
                "profile": args.profile,
                "repeat": args.repeat,
            }
            if run["processes"] == 1:
                result = backend_run(rows, schema=schema, **spec)
            else:
                result = shared_gpu_run(rows, run["processes"], schema, **spec)
            row = summarize(result, tokens, raw_seconds, run["processes"])
            row["gpu_needed"] = round(forward["seconds_for_all_windows"] / row["backend_s"], 3)
            row["attention"] = result["attention"]
            report["backend"][run["name"]] = row
            print(f"backend {run['name']}: {row}", flush=True)
            save(report, args.json)
        if args.compile:  # last: compiling takes a while
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
            compiled = compiled_forward([t for _, t in docs], model_dir, device, dtype, raw_batch, args.repeat)
            report["forward_only"]["compiled_model_tokens_per_s"] = round(compiled["model_tokens_per_s"])
            report["forward_only"]["compile_s"] = round(compiled["compile_s"], 1)
            report["forward_only"]["compiled_batch"] = raw_batch
    report["seconds"] = round(time.perf_counter() - started, 1)
    emit(report, args.json)
    print_table(report)
    return report


def save(report: dict, path: Path | None) -> None:
    """The report so far (a run cut short keeps what it measured)."""
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")


def print_table(report: dict) -> None:
    print(f"\n{report['device']}, {report['precision']}, {report['documents']} documents, {report['tokens']:,} tokens")
    print(f"{'run':<18}{'tokens/s':>12}{'model tok/s':>13}{'of raw':>8}{'GPU busy':>10}{'peak MB':>10}")
    raw = report["raw"]
    peak = raw["peak_gpu_mb"] or ""
    print(f"{'raw':<18}{raw['tokens_per_s']:>12,}{raw['model_tokens_per_s']:>13,}{1:>8}{'':>10}{peak:>10}")
    forward = report["forward_only"]
    print(f"{'forward only':<18}{forward['tokens_per_s']:>12,}{forward['model_tokens_per_s']:>13,}")
    if "compiled_model_tokens_per_s" in forward:
        print(f"{'  compiled':<18}{'':>12}{forward['compiled_model_tokens_per_s']:>13,}")
    for batch, row in report["backend"].items():
        busy = "" if row["gpu_busy"] is None else row["gpu_busy"]
        print(
            f"{'backend ' + batch:<18}{row['backend_tokens_per_s']:>12,}{row['backend_model_tokens_per_s']:>13,}"
            f"{row['of_raw']:>8}{busy:>10}{row['peak_gpu_mb'] or '':>10}   share {row['share']}"
        )


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    main()
