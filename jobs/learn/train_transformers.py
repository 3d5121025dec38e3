"""``docner train --backend transformers``: a local token-classification checkpoint fine-tuned
on the lake's annotations with the Hugging Face ``Trainer``, here or through Spark's
``TorchDistributor`` on a cluster's GPU executors.

The data are :mod:`jobs.learn.train`'s: the reviewed passages, split by document with a seed.
Each passage is tokenized as inference tokenizes a document (the checkpoint's fast tokenizer
on the whole text, :func:`udfs.ner.backends.transformers.encode_text`) and cut into the same
windows (``ner.transformers.max_length`` and ``stride``, :func:`plan_windows`), so the model
learns on the inputs it will see. Labels are BIO tags on each word's first sub-token, the one
inference reads (``aggregation: first``); a word's other sub-tokens and the special tokens are
left out of the loss (-100). A span that does not start and end on word boundaries is widened
to whole words and counted (``spans_widened`` in the card).

The new model's labels are the base checkpoint's tags, renamed to docner labels by
``ner.transformers.label_map`` (``B-PER`` becomes ``B-PERSON``), then ``B-``/``I-`` of the
annotated labels it lacks; the classifier rows of the tags it had are kept. When the base is a
token classifier, its predictions of the labels nobody annotated join the targets where they
overlap no annotated span (pseudo-rehearsal, as for spaCy), so those labels do not collapse.
A base without a classification head (a plain encoder) gets a new head.

Training runs for at most ``max_epochs``, evaluating a strict entity F1 on the held-out
windows after each epoch; ``EarlyStoppingCallback`` stops after ``patience`` epochs without a
better one and the best epoch's weights are kept. The held-out figures in the model card are
then measured as the NER stage would: the saved checkpoint loaded by the backend, recognizing
the held-out passages, strict matches of character spans. The directory, its card and the
``models`` row are written as for spaCy (:func:`jobs.learn.train.save_model`).

``processes`` > 0 runs the same training function in that many processes through
``pyspark.ml.torch.distributor.TorchDistributor`` (``use_gpu``: one GPU each; ``local_mode``:
on the driver, else in a barrier stage on the executors), which launches them with ``torchrun``;
the ``Trainer`` then runs distributed data parallel and rank 0 writes the model. Without
``local_mode`` the output directory, under the lake, must be on storage the executors share.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jobs.learn.train import (
    MODELS_DIR,
    Passage,
    StrictCounts,
    TrainError,
    TrainResult,
    check_name,
    data_digest,
    save_model,
    split_documents,
    training_passages,
)

IGNORED = -100  # the label of a token the loss skips (torch's CrossEntropyLoss ignore_index)
_DEFAULT_LABEL = re.compile(r"LABEL_\d+")  # a config that never named its labels: no head trained


@dataclass(frozen=True)
class TransformersTraining:
    base: str  # a local checkpoint directory (default: ner.transformers.model_path)
    max_epochs: int = 10
    patience: int = 2
    learning_rate: float = 5e-5
    batch_size: int = 8
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    heldout_share: float = 0.2
    seed: int = 0
    max_length: int = 512  # window length with the special tokens: ner.transformers.max_length
    stride: int = 128  # ner.transformers.stride
    label_map: tuple[tuple[str, str], ...] = ()  # base model label -> docner label
    processes: int = 0  # 0: train in this process; N: TorchDistributor with N processes
    use_gpu: bool = False  # TorchDistributor: one GPU per process
    local_mode: bool = True  # TorchDistributor: processes on the driver (else on the executors)

    def __post_init__(self) -> None:
        if self.max_epochs < 1 or self.patience < 1 or self.batch_size < 1:
            raise TrainError("max_epochs, patience and batch_size must be 1 or more")
        if not 0 <= self.heldout_share < 1 or self.learning_rate <= 0 or self.processes < 0:
            raise TrainError("heldout_share must be in [0, 1), learning_rate positive, processes 0 or more")
        if not 0 <= self.stride < self.max_length - 2:
            raise TrainError(f"stride ({self.stride}) must be in [0, max_length - 2 = {self.max_length - 2})")


# ---- pure helpers: tags, windows, the label space, the metric ---------------------------------


@dataclass(frozen=True)
class Tagged:
    tags: list[str | None]  # per token: the BIO tag of a word's first sub-token, None for the others
    widened: int  # spans widened to whole words
    dropped: int  # spans that, widened, overlapped an earlier one or covered no word


def token_tags(
    offsets: Sequence[tuple[int, int]], word_ids: Sequence[int], spans: Sequence[tuple[int, int, str]]
) -> Tagged:
    """BIO tags of the tokens for character ``spans``: each word (a run of tokens with the same
    word id, negative for none) takes ``B-X``/``I-X`` when a span covers it, else ``O``, on its
    first token; its other tokens get None. A span is widened to the words it touches."""
    words: list[tuple[int, int, int]] = []  # (start char, end char, first token)
    for index, word in enumerate(word_ids):
        if word < 0:
            continue
        start, end = offsets[index]
        if words and word_ids[words[-1][2]] == word:
            words[-1] = (words[-1][0], max(words[-1][1], end), words[-1][2])
        else:
            words.append((start, end, index))
    word_tags = ["O"] * len(words)
    widened = dropped = 0
    for start, end, label in sorted(spans):
        covered = [k for k, (ws, we, _) in enumerate(words) if ws < end and start < we]
        if not covered or any(word_tags[k] != "O" for k in covered):
            dropped += 1
            continue
        widened += words[covered[0]][0] != start or words[covered[-1]][1] != end
        for position, k in enumerate(covered):
            word_tags[k] = f"{'B' if position == 0 else 'I'}-{label}"
    tags: list[str | None] = [None] * len(word_ids)
    for (_, _, first), tag in zip(words, word_tags, strict=True):
        tags[first] = tag
    return Tagged(tags, widened, dropped)


def window_examples(
    ids: Sequence[int],
    label_ids: Sequence[int],
    prefix: Sequence[int],
    suffix: Sequence[int],
    max_length: int,
    stride: int,
) -> list[dict[str, list[int]]]:
    """One training example per inference window (:func:`plan_windows`): the window's tokens
    framed by the special ones, whose labels are ``IGNORED``."""
    from udfs.ner.backends.transformers import plan_windows

    window = max_length - len(prefix) - len(suffix)
    examples = []
    for start, end in plan_windows(len(ids), window, stride):
        examples.append(
            {
                "input_ids": [*prefix, *ids[start:end], *suffix],
                "labels": [IGNORED] * len(prefix) + list(label_ids[start:end]) + [IGNORED] * len(suffix),
            }
        )
    return examples


def label_space(
    base_labels: Sequence[str] | None, label_map: Mapping[str, str], trained: Collection[str]
) -> tuple[list[str], dict[int, int]]:
    """The new model's tags, and for each one the base model had, its base index: the base's
    tags with their entity types renamed by ``label_map``, then ``B-``/``I-`` of the trained
    labels none of them carries. ``base_labels`` None: a base with no trained head."""
    from udfs.ner.backends.transformers import split_tag

    tags: list[str] = []
    kept: dict[int, int] = {}
    for index, tag in enumerate(base_labels or ["O"]):
        prefix, entity_type = split_tag(tag)
        label = label_map.get(entity_type, entity_type)
        renamed = "O" if prefix == "O" else f"{prefix}-{label}" if prefix else label
        if renamed in tags:
            first = (base_labels or [])[kept[tags.index(renamed)]]
            raise TrainError(f"the base model's tags {first!r} and {tag!r} both become {renamed!r}")
        if base_labels is not None:
            kept[len(tags)] = index
        tags.append(renamed)
    have = {split_tag(tag)[1] for tag in tags}
    for label in sorted(set(trained) - have):
        tags.extend((f"B-{label}", f"I-{label}"))
    return tags, kept


def window_f1(predictions: Any, labels: Any, id2label: Sequence[str], scored: Collection[str]) -> dict[str, float]:
    """Strict entity precision, recall and F1 of the ``scored`` labels over windows: in each, the
    tags of the labelled tokens (not ``IGNORED``) decoded to spans, predicted against gold."""
    import numpy as np

    from udfs.ner.backends.transformers import decode_label_ids, tag_table

    table = tag_table(id2label)
    found = gold = matched = 0
    for predicted_row, gold_row in zip(np.asarray(predictions), np.asarray(labels), strict=True):
        keep = gold_row != IGNORED
        g = {span for span in decode_label_ids(gold_row[keep], table) if span[2] in scored}
        p = {span for span in decode_label_ids(predicted_row[keep], table) if span[2] in scored}
        found, gold, matched = found + len(p), gold + len(g), matched + len(g & p)
    precision = matched / found if found else 0.0
    recall = matched / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


# ---- data -------------------------------------------------------------------------------------


@dataclass
class Prepared:
    examples: list[dict[str, list[int]]]
    widened: int = 0
    dropped: int = 0
    tokens: int = 0


def prepare_examples(
    passages: Sequence[Passage], encoder: Any, tags: Sequence[str], prefix: Sequence[int], suffix: Sequence[int],
    settings: TransformersTraining, extra: Sequence[Sequence[tuple[int, int, str]]] | None = None,
) -> Prepared:  # fmt: skip
    """The passages' windows with labels; ``extra``: per passage, rehearsal spans (kept where
    they overlap no annotated span)."""
    label2id = {tag: index for index, tag in enumerate(tags)}
    out = Prepared([])
    encodings = encoder.encode_batch([p.text for p in passages], add_special_tokens=False)
    for number, (passage, encoding) in enumerate(zip(passages, encodings, strict=True)):
        spans = list(passage.spans)
        if extra is not None:
            spans += [s for s in extra[number] if not any(s[0] < e and b < s[1] for b, e, _ in passage.spans)]
        word_ids = [-1 if w is None else w for w in encoding.word_ids]
        tagged = token_tags(encoding.offsets, word_ids, spans)
        out.widened += tagged.widened
        out.dropped += tagged.dropped
        out.tokens += len(encoding.ids)
        label_ids = [IGNORED if tag is None else label2id[tag] for tag in tagged.tags]
        out.examples += window_examples(encoding.ids, label_ids, prefix, suffix, settings.max_length, settings.stride)
    return out


# ---- the training function (this process, or each of TorchDistributor's) ----------------------


@dataclass
class FitJob:
    """Everything the training function needs, picklable for TorchDistributor."""

    base: str
    tags: list[str]
    kept_rows: dict[int, int]
    train: list[dict[str, list[int]]]
    heldout: list[dict[str, list[int]]]
    settings: TransformersTraining
    output_dir: str
    scored: list[str]  # the labels the held-out metric counts (the trained ones)
    use_cpu: bool = True


def build_model(base: str, tags: Sequence[str], kept_rows: Mapping[int, int]) -> Any:
    """The base checkpoint with a classification head over ``tags``: the rows of the tags it
    had copied from its head, the others new."""
    import torch
    from transformers import AutoModelForTokenClassification

    id2label = dict(enumerate(tags))
    label2id = {tag: index for index, tag in id2label.items()}
    if not kept_rows:
        return AutoModelForTokenClassification.from_pretrained(
            base, local_files_only=True, num_labels=len(tags), id2label=id2label, label2id=label2id,
            ignore_mismatched_sizes=True,
        )  # fmt: skip
    model = AutoModelForTokenClassification.from_pretrained(base, local_files_only=True)
    head = getattr(model, "classifier", None)
    if not isinstance(head, torch.nn.Linear):
        raise TrainError(f"{base}: its head is not a linear 'classifier' layer, which this training extends")
    new = torch.nn.Linear(head.in_features, len(tags), bias=head.bias is not None)
    with torch.no_grad():
        for row, base_row in kept_rows.items():
            new.weight[row] = head.weight[base_row]
            if head.bias is not None:
                new.bias[row] = head.bias[base_row]
    model.classifier = new
    model.num_labels = len(tags)
    model.config.num_labels = len(tags)
    model.config.id2label = id2label
    model.config.label2id = label2id
    return model


def warmup_steps(examples: int, settings: TransformersTraining) -> int:
    """``warmup_ratio`` of the optimizer steps of ``max_epochs`` epochs (an integer, as every
    supported transformers takes it)."""
    per_step = settings.batch_size * max(1, settings.processes)
    return round(settings.warmup_ratio * math.ceil(examples / per_step) * settings.max_epochs)


def fit(job: FitJob) -> dict[str, Any]:
    """Train with the ``Trainer`` and save the best epoch's model to ``job.output_dir/best``
    (on rank 0); returns the log history and the best epoch's held-out metric."""
    import numpy as np
    from transformers import (
        AutoTokenizer,
        DataCollatorForTokenClassification,
        EarlyStoppingCallback,
        PrinterCallback,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    settings = job.settings
    set_seed(settings.seed)
    tokenizer = AutoTokenizer.from_pretrained(job.base, local_files_only=True)
    model = build_model(job.base, job.tags, job.kept_rows)
    evaluate = bool(job.heldout)
    checkpoints = Path(job.output_dir) / "checkpoints"
    arguments = TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=settings.max_epochs,
        learning_rate=settings.learning_rate,
        weight_decay=settings.weight_decay,
        warmup_steps=warmup_steps(len(job.train), settings),
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size,
        eval_strategy="epoch" if evaluate else "no",
        save_strategy="epoch" if evaluate else "no",
        save_total_limit=settings.patience + 1 if evaluate else None,
        load_best_model_at_end=evaluate,
        metric_for_best_model="f1" if evaluate else None,
        greater_is_better=True,
        logging_strategy="epoch",
        report_to=[],
        seed=settings.seed,
        data_seed=settings.seed,
        use_cpu=job.use_cpu,
        disable_tqdm=True,
        save_only_model=True,
        ddp_find_unused_parameters=False,
    )

    def metrics(prediction: Any) -> dict[str, float]:
        return window_f1(np.argmax(prediction.predictions, axis=-1), prediction.label_ids, job.tags, job.scored)

    trainer = Trainer(
        model=model,
        args=arguments,
        train_dataset=job.train,
        eval_dataset=job.heldout or None,
        data_collator=DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORED),
        compute_metrics=metrics if evaluate else None,
        callbacks=[EarlyStoppingCallback(early_stopping_patience=settings.patience)] if evaluate else [],
    )
    trainer.remove_callback(PrinterCallback)  # no log line per epoch on stdout
    started = time.monotonic()
    trainer.train()
    seconds = time.monotonic() - started
    best = Path(job.output_dir) / "best"
    trainer.save_model(str(best))
    trainer.accelerator.wait_for_everyone()  # every rank has loaded the best epoch before it goes
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(best))
        shutil.rmtree(checkpoints, ignore_errors=True)
    history = trainer.state.log_history
    evaluations = [h for h in history if "eval_f1" in h]
    best_epoch = max(evaluations, key=lambda h: h["eval_f1"])["epoch"] if evaluations else settings.max_epochs
    return {
        "history": [{k: round(v, 5) if isinstance(v, float) else v for k, v in h.items()} for h in history],
        "epochs_run": math.ceil(max((h.get("epoch", 0) for h in history), default=0)),
        "best_epoch": round(best_epoch),
        "train_seconds": round(seconds, 2),
        "world_size": trainer.args.world_size,
    }


def run_fit(job: FitJob) -> dict[str, Any]:
    """:func:`fit` here, or in ``processes`` processes through TorchDistributor."""
    settings = job.settings
    if settings.processes == 0:
        return fit(job)
    from pyspark.ml.torch.distributor import TorchDistributor
    from pyspark.sql import SparkSession

    if SparkSession.getActiveSession() is None:
        raise TrainError("training with processes > 0 runs through Spark's TorchDistributor: start a Spark session")
    distributor = TorchDistributor(
        num_processes=settings.processes, local_mode=settings.local_mode, use_gpu=settings.use_gpu
    )
    result = distributor.run(fit, job)
    if not isinstance(result, dict):
        raise TrainError(f"TorchDistributor's training returned {type(result).__name__}, not its report")
    return result


# ---- the command ------------------------------------------------------------------------------


def base_tags(base: str) -> list[str] | None:
    """The base checkpoint's tags, or None when it has no named ones (no trained head)."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(base, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever the cause, the base cannot be used
        raise TrainError(f"base checkpoint {base!r} cannot be loaded ({exc})") from None
    labels = [str(config.id2label[index]) for index in range(config.num_labels)] if config.id2label else []
    if not labels or all(_DEFAULT_LABEL.fullmatch(label) for label in labels):
        return None
    return labels


def rehearsal_spans(
    base: str, settings: TransformersTraining, passages: Sequence[Passage], annotated: Collection[str]
) -> list[list[tuple[int, int, str]]]:
    """The base model's entities of the labels nobody annotated, per passage, as the NER
    backend finds them (its windows, merge and decoding)."""
    from udfs.ner.backends.transformers import TransformersOptions, load_transformers

    backend = load_transformers(
        TransformersOptions(model_path=base, max_length=settings.max_length, stride=settings.stride,
                            label_map=settings.label_map, device="cpu" if not settings.use_gpu else None)
    )  # fmt: skip
    found = backend.recognize([p.text for p in passages])
    return [[(c.start, c.end, c.label) for c in candidates if c.label not in annotated] for candidates in found]


def heldout_figures(
    model_dir: Path, settings: TransformersTraining, passages: Sequence[Passage], labels: Collection[str]
) -> dict[str, Any]:
    """Strict figures of the saved model on the held-out passages, as the NER backend reads them."""
    from udfs.ner.backends.transformers import TransformersOptions, load_transformers

    counts = StrictCounts(labels)
    if passages:
        options = TransformersOptions(
            model_path=str(model_dir), max_length=settings.max_length, stride=settings.stride, device="cpu"
        )
        backend = load_transformers(options)
        for passage, candidates in zip(passages, backend.recognize([p.text for p in passages]), strict=True):
            counts.add(passage.spans, {(c.start, c.end, c.label) for c in candidates})
    return counts.figures()


def train_transformers(
    lake: str | Path,
    name: str,
    *,
    labels: Collection[str] | None = None,
    settings: TransformersTraining,
    silver: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> TrainResult:
    """Fine-tune, save under ``<lake>/_models/<name>/<version>/`` and record the ``models`` row."""
    import torch
    import transformers
    from transformers import AutoTokenizer

    from jobs.learn.silver import silver_passages
    from udfs.ner.backends.transformers import special_framing, split_tag, whole_text_encoder

    check_name(name)
    started = time.monotonic()
    if not (Path(settings.base) / "config.json").is_file():
        raise TrainError(f"base checkpoint {settings.base!r} is not a checkpoint directory (no config.json)")
    passages = training_passages(lake, labels)
    train, heldout = split_documents(passages, settings.heldout_share, settings.seed)
    declared = {label: source for label, source in (silver or {}).items() if labels is None or label in labels}
    silvered = silver_passages(lake, declared, exclude={p.doc_id for p in passages})
    annotated = sorted({label for p in [*passages, *silvered] for _, _, label in p.spans})
    tokenizer = AutoTokenizer.from_pretrained(settings.base, local_files_only=True)
    if not getattr(tokenizer, "is_fast", False):
        raise TrainError(f"base checkpoint {settings.base!r} has a slow tokenizer: training reads a fast one's offsets")
    encoder = whole_text_encoder(tokenizer)
    prefix, suffix = special_framing(tokenizer)
    had = base_tags(settings.base)
    tags, kept_rows = label_space(had, dict(settings.label_map), annotated)
    fitted_on = [*train, *silvered]
    rehearsal = None
    if had is not None and {split_tag(t)[1] for t in tags} - set(annotated) - {""}:
        rehearsal = rehearsal_spans(settings.base, settings, fitted_on, annotated)
    prepared = prepare_examples(fitted_on, encoder, tags, prefix, suffix, settings, rehearsal)
    held = prepare_examples(heldout, encoder, tags, prefix, suffix, settings)
    if not prepared.examples:
        raise TrainError("no training passage: every annotated document went to the held-out split")
    (Path(lake) / MODELS_DIR).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".training-", dir=Path(lake) / MODELS_DIR) as work:
        job = FitJob(settings.base, tags, kept_rows, prepared.examples, held.examples, settings, work, annotated,
                     use_cpu=not settings.use_gpu)  # fmt: skip
        report = run_fit(job)
        best = Path(work) / "best"
        figures = heldout_figures(best, settings, heldout, annotated)
        digest = data_digest(passages)
        card = {
            "name": name,
            "backend": "transformers",
            "base_model": str(Path(settings.base).resolve()),
            "labels": sorted({split_tag(t)[1] for t in tags} - {""}),
            "tags": tags,
            "trained_labels": annotated,
            "data_sha256": digest,
            "split": {
                "train_documents": len({p.doc_id for p in train}),
                "heldout_documents": len({p.doc_id for p in heldout}),
                "train_passages": len(train),
                "heldout_passages": len(heldout),
                "train_spans": sum(len(p.spans) for p in train),
                "heldout_spans": sum(len(p.spans) for p in heldout),
                "train_windows": len(prepared.examples),
                "heldout_windows": len(held.examples),
                "spans_widened_to_words": prepared.widened + held.widened,
                "spans_dropped": prepared.dropped + held.dropped,
            },
            "silver": {
                "labels": declared,
                "documents": len({p.doc_id for p in silvered}),
                "passages": len(silvered),
                "spans": sum(len(p.spans) for p in silvered),
            },
            "heldout": figures,
            "training": {
                **{k: v for k, v in asdict(settings).items() if k != "label_map"},
                "label_map": dict(settings.label_map),
                "rehearsal": "pseudo-rehearsal: the base model's predictions of the labels not annotated"
                if rehearsal is not None
                else None,
                **report,
                "train_tokens": prepared.tokens,
                "tokens_per_second": round(prepared.tokens * report["epochs_run"] / report["train_seconds"], 1)
                if report["train_seconds"]
                else None,
                "wall_seconds": round(time.monotonic() - started, 2),
            },
            "libraries": {
                "transformers": transformers.__version__,
                "torch": torch.__version__,
                "python": sys.version.split()[0],
            },
        }

        def write(staging: Path, version: int) -> None:
            import json

            shutil.copytree(best, staging, dirs_exist_ok=True)
            config = json.loads((staging / "config.json").read_text(encoding="utf-8"))
            # the name and version the NER stage reports (and whose bytes enter its version)
            config["docner_model"] = {"name": f"docner_{name}", "version": f"{version}+{digest[:12]}"}
            (staging / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

        return save_model(lake, name, write, card, now or dt.datetime.now(dt.UTC))
