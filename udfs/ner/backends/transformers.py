"""Hugging Face token-classification NER backend, built for long documents and batch throughput.

The stages follow ``transformers``' ``TokenClassificationPipeline``: preprocess (each text
tokenized once with its character offsets, then cut into overlapping token windows) →
forward (the windows of every text of a call, sorted by length and batched so padding is
small) → postprocess (each token's probabilities taken from the window where it sits
farthest from a cut, sub-words aggregated to words, BIO tags decoded to character spans).
Decoding runs on the merged token sequence, so an entity cut by a window edge comes out
whole and once, and a text that fits in one window gives exactly the unwindowed result.

On a GPU the three stages overlap: texts are tokenized in groups, the next group in a thread
while the model runs; batches are launched asynchronously (inputs through pinned memory,
probabilities copied back the same way) and a finished batch's documents are decoded on the
CPU while the GPU runs the next ones. ``InferenceStats`` says where the time went.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from udfs.errors import ModelUnavailable
from udfs.model_cache import get_model
from udfs.ner.backends import Described
from udfs.ner.entities import SOURCE_TRANSFORMERS, Candidate

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

Aggregation = Literal["first", "average", "max"]
Precision = Literal["auto", "fp32", "fp16", "bf16"]

CHECKPOINT_HINT = (
    "copy a Hugging Face token-classification checkpoint directory there (config.json, the tokenizer files "
    "with tokenizer.json, and the weights, model.safetensors or pytorch_model.bin), e.g. one saved with "
    "save_pretrained(); nothing is downloaded at run time"
)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack")
# Models whose position ids start after the padding index (RoBERTa family): two positions fewer.
_PADDED_POSITIONS = frozenset({"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "longformer", "data2vec-text"})
_TAG_PREFIXES = frozenset("BIESLU")  # BIO / IOB1 / BIOES / BILOU
CPU_BATCH_SIZE = 32  # windows per forward pass when batch_size is unset: on a CPU …
CUDA_BATCH_SIZE = 64  # … and on a GPU (the fastest of 64 to 512 on an H200: docs/benchmarks.md)
IN_FLIGHT = 2  # batches queued on the GPU ahead of the one being decoded


@dataclass(frozen=True)
class TransformersOptions:
    model_path: str  # a local checkpoint directory
    model_version: str | None = None  # None: a digest of config.json and the weights files' names and sizes
    max_length: int = 512  # window length in tokens, special tokens included; capped at the model's limit
    stride: int = 128  # tokens shared by consecutive windows: each token keeps about stride/2 of context
    aggregation: Aggregation = "first"
    batch_size: int | None = None  # windows per forward pass (not Spark's Arrow batch); None: by device
    precision: Precision = "auto"  # auto: bf16 (else fp16) on CUDA, fp32 elsewhere
    device: str | None = None  # None: the Spark task's GPU, CPU in a task without one, else cuda:0 or CPU
    label_map: tuple[tuple[str, str], ...] = ()  # model label -> docner label (PER -> PERSON); others kept
    labels: tuple[str, ...] | None = None  # keep only these docner labels
    min_score: float = 0.0
    torch_threads: int | None = None  # None: the Spark task's CPUs inside a task, else torch's default
    tokenize_chars: int = 1_000_000  # texts are tokenized in groups of about this many characters

    def __post_init__(self) -> None:
        if self.max_length < 3:
            raise ValueError(f"max_length must be at least 3 (got {self.max_length})")
        if not 0 <= self.stride < self.max_length:
            raise ValueError(f"stride must be in [0, max_length) (got {self.stride})")
        if self.aggregation not in ("first", "average", "max"):
            raise ValueError(f"aggregation must be first, average or max (got {self.aggregation!r})")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be positive (got {self.batch_size})")
        if self.tokenize_chars < 1:
            raise ValueError(f"tokenize_chars must be positive (got {self.tokenize_chars})")
        if self.precision not in ("auto", "fp32", "fp16", "bf16"):
            raise ValueError(f"precision must be auto, fp32, fp16 or bf16 (got {self.precision!r})")
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score must be in [0, 1] (got {self.min_score})")
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ValueError(f"torch_threads must be positive (got {self.torch_threads})")


# ---------------------------------------------------------------------------------------------
# Pure helpers: window planning, batching, window merge, sub-word aggregation, tag decoding.
# ---------------------------------------------------------------------------------------------


def plan_windows(n_tokens: int, window: int, stride: int) -> list[tuple[int, int]]:
    """Token windows ``[start, end)`` of ``window`` tokens covering ``n_tokens``, consecutive ones
    sharing at least ``stride`` tokens. All windows are full length (the last one is aligned
    to the end, sharing more), so a long text's windows batch without padding."""
    if window < 1 or not 0 <= stride < window:
        raise ValueError(f"need window >= 1 and 0 <= stride < window (got window={window}, stride={stride})")
    if n_tokens <= 0:
        return []
    if n_tokens <= window:
        return [(0, n_tokens)]
    starts = list(range(0, n_tokens - window, window - stride))
    starts.append(n_tokens - window)
    return [(start, start + window) for start in starts]


def bucket_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices of ``lengths`` in batches of at most ``batch_size``, sorted by length (longest
    first, so an out-of-memory shows on the first batch) to keep padding small."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive (got {batch_size})")
    order = sorted(range(len(lengths)), key=lambda index: (-lengths[index], index))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def text_groups(lengths: Sequence[int], max_chars: int) -> list[list[int]]:
    """Indices of the texts with ``lengths`` > 0, in order, in consecutive groups of at most
    ``max_chars`` characters (a longer text makes a group of its own)."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive (got {max_chars})")
    groups: list[list[int]] = []
    size = 0
    for index, length in enumerate(lengths):
        if length <= 0:
            continue
        if not groups or size + length > max_chars:
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += length
    return groups


def merge_windows(windows: Sequence[tuple[int, int]], window_probs: Sequence[np.ndarray], n_tokens: int) -> np.ndarray:
    """Per-token probabilities ``(n_tokens, n_labels)`` from overlapping windows: each token's
    row comes from the window where it is farthest from an edge (the centre-most occurrence,
    with the most context on both sides). Ties go to the earlier window."""
    if len(windows) != len(window_probs):
        raise ValueError(f"{len(windows)} windows but {len(window_probs)} probability arrays")
    if not windows:
        if n_tokens:
            raise ValueError(f"no windows for {n_tokens} tokens")
        return np.zeros((0, 0), dtype=np.float32)
    n_labels = window_probs[0].shape[1]
    merged = np.zeros((n_tokens, n_labels), dtype=np.float32)
    best = np.full(n_tokens, -1, dtype=np.int64)
    for (start, end), probs in zip(windows, window_probs, strict=True):
        if not 0 <= start < end <= n_tokens or probs.shape != (end - start, n_labels):
            raise ValueError(f"window [{start}, {end}) does not fit probabilities {probs.shape} or {n_tokens} tokens")
        position = np.arange(start, end)
        distance = np.minimum(position - start, end - 1 - position)
        better = distance > best[start:end]
        merged[start:end][better] = probs[better]
        best[start:end][better] = distance[better]
    if (best < 0).any():
        raise ValueError(f"windows leave tokens uncovered, first at {int(np.argmax(best < 0))}")
    return merged


class Words(NamedTuple):
    probs: np.ndarray  # (n_words, n_labels): the word's label probabilities
    first_token: np.ndarray  # (n_words,): index of the word's first token
    last_token: np.ndarray  # (n_words,): index of the word's last token


def aggregate_words(token_probs: np.ndarray, word_ids: np.ndarray, method: Aggregation) -> Words:
    """Sub-token probabilities to word probabilities. A word is a run of tokens with the same
    word id (negative: no word, e.g. a special token). ``first``: the first sub-token's
    probabilities; ``average``: the mean over the sub-tokens; ``max``: those of the sub-token
    with the highest single probability (the first such one on ties)."""
    valid = np.flatnonzero(word_ids >= 0)
    if valid.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Words(np.zeros((0, token_probs.shape[1]), dtype=token_probs.dtype), empty, empty)
    ids = word_ids[valid]
    starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
    ends = np.append(starts[1:], valid.size)
    probs = token_probs[valid]
    if method == "first":
        word_probs = probs[starts]
    elif method == "average":
        word_probs = np.add.reduceat(probs, starts, axis=0) / (ends - starts)[:, None]
    elif method == "max":
        token_max = probs.max(axis=1)
        group = np.repeat(np.arange(starts.size), ends - starts)
        best = np.flatnonzero(token_max == np.maximum.reduceat(token_max, starts)[group])
        _, first_best = np.unique(group[best], return_index=True)
        word_probs = probs[best[first_best]]
    else:
        raise ValueError(f"unknown aggregation {method!r}")
    return Words(word_probs, valid[starts], valid[ends - 1])


def split_tag(tag: str) -> tuple[str, str]:
    """``B-PER`` -> ``("B", "PER")``; ``O`` -> ``("O", "")``; a label without a scheme prefix
    (``PER``) -> ``("", "PER")``."""
    if tag == "O" or not tag:
        return "O", ""
    if len(tag) > 2 and tag[0] in _TAG_PREFIXES and tag[1] in "-_":
        return tag[0], tag[2:]
    return "", tag


def decode_bio(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Entity spans ``(first word, end word exclusive, type)`` from per-word tags, repairing
    invalid sequences: an ``I-X`` that does not continue an ``X`` starts a new entity; labels
    without a prefix (IOB1 without B, plain) continue while the type stays the same. ``B-``,
    ``S-``/``U-`` always start an entity; ``E-``/``L-`` and ``S-``/``U-`` end one."""
    parts = {tag: split_tag(tag) for tag in set(tags)}
    spans: list[tuple[int, int, str]] = []
    open_type: str | None = None
    open_start = 0
    for index, tag in enumerate(tags):
        prefix, entity_type = parts[tag]
        if prefix == "O":
            if open_type is not None:
                spans.append((open_start, index, open_type))
                open_type = None
            continue
        if prefix in ("B", "S", "U") or entity_type != open_type:
            if open_type is not None:
                spans.append((open_start, index, open_type))
            open_type, open_start = entity_type, index
        if prefix in ("E", "L", "S", "U"):
            spans.append((open_start, index + 1, entity_type))
            open_type = None
    if open_type is not None:
        spans.append((open_start, len(tags), open_type))
    return spans


# Tag schemes as codes: what a tag does to the entity being read (decode_bio's rules).
TAG_OUTSIDE, TAG_BEGIN, TAG_INSIDE, TAG_END, TAG_SINGLE = range(5)
_TAG_CODES = {"O": TAG_OUTSIDE, "B": TAG_BEGIN, "I": TAG_INSIDE, "": TAG_INSIDE, "E": TAG_END, "L": TAG_END}
_TAG_CODES.update(S=TAG_SINGLE, U=TAG_SINGLE)


class TagTable(NamedTuple):
    codes: tuple[int, ...]  # per label id: TAG_OUTSIDE … TAG_SINGLE
    types: tuple[str, ...]  # per label id: its entity type ("" for O)
    tagged: np.ndarray  # (n_labels,) bool: the label is part of an entity


def tag_table(id2label: Sequence[str]) -> TagTable:
    parts = [split_tag(tag) for tag in id2label]
    codes = tuple(_TAG_CODES[prefix] for prefix, _ in parts)
    return TagTable(codes, tuple(entity_type for _, entity_type in parts), np.array(codes) != TAG_OUTSIDE)


def decode_label_ids(label_ids: np.ndarray, table: TagTable) -> list[tuple[int, int, str]]:
    """:func:`decode_bio` over label ids, looking only at the words that carry an entity tag
    (with a trained model, a few in a hundred): the same spans, without a Python step per word."""
    spans: list[tuple[int, int, str]] = []
    open_type: str | None = None
    open_start = previous = 0
    positions = np.flatnonzero(table.tagged[label_ids])
    for index, label in zip(positions.tolist(), label_ids[positions].tolist(), strict=True):
        if open_type is not None and index != previous + 1:  # an O between: it closed the entity
            spans.append((open_start, previous + 1, open_type))
            open_type = None
        previous = index
        code, entity_type = table.codes[label], table.types[label]
        if code in (TAG_BEGIN, TAG_SINGLE) or entity_type != open_type:
            if open_type is not None:
                spans.append((open_start, index, open_type))
            open_type, open_start = entity_type, index
        if code in (TAG_END, TAG_SINGLE):
            spans.append((open_start, index + 1, entity_type))
            open_type = None
    if open_type is not None:
        spans.append((open_start, previous + 1, open_type))
    return spans


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` without surrounding whitespace (BPE offsets can include a leading space)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# ---------------------------------------------------------------------------------------------
# Device, precision, identity and loading.
# ---------------------------------------------------------------------------------------------


def _task_context() -> Any | None:
    try:
        from pyspark import TaskContext
    except ImportError:
        return None
    return TaskContext.get()


def resolve_device(requested: str | None) -> str:
    """The torch device to run on. Explicit: as given. Inside a Spark task: ``cuda:<address>``
    of the task's first ``gpu`` resource, else CPU (a GPU Spark did not give the task may be
    another task's). Outside Spark (driver, tests): ``cuda:0`` when CUDA is available, else CPU."""
    if requested:
        return requested
    import torch

    context = _task_context()
    if context is None:
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    gpu = context.resources().get("gpu")
    if gpu is None or not gpu.addresses:
        return "cpu"
    address = gpu.addresses[0]
    if not torch.cuda.is_available():
        raise ModelUnavailable(
            f"the Spark task was given GPU {address} but torch has no CUDA (torch {torch.__version__}); "
            "install a CUDA build of torch on the executors or set the transformers device to 'cpu'"
        )
    if not address.isdigit() or int(address) >= torch.cuda.device_count():
        raise ModelUnavailable(
            f"the Spark task's GPU address {address!r} is not one of the {torch.cuda.device_count()} CUDA devices "
            "torch sees (CUDA_VISIBLE_DEVICES?); set the transformers device explicitly"
        )
    return f"cuda:{address}"


def resolve_precision(precision: Precision, device: str) -> str:
    """``auto``: bf16 on a CUDA device that supports it, else fp16 on CUDA, fp32 elsewhere."""
    if precision != "auto":
        return precision
    if not device.startswith("cuda"):
        return "fp32"
    return "bf16" if _cuda_supports_bf16(device) else "fp16"


def _cuda_supports_bf16(device: str) -> bool:
    import torch

    with torch.cuda.device(torch.device(device)):
        return bool(torch.cuda.is_bf16_supported())


def _torch_dtype(precision: str) -> torch.dtype:
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def _checkpoint_dir(model_path: str) -> Path:
    directory = Path(model_path).expanduser()
    if not directory.is_dir():
        raise ModelUnavailable(
            f"transformers checkpoint directory {str(directory)!r} does not exist; {CHECKPOINT_HINT}"
        )
    if not (directory / "config.json").is_file():
        raise ModelUnavailable(f"{str(directory)!r} has no config.json, so it is not a checkpoint; {CHECKPOINT_HINT}")
    return directory.resolve()


def derive_model_version(model_path: str) -> str:
    """A short digest of ``config.json`` and the weights files' names and sizes (not their
    bytes: a multi-gigabyte checkpoint is not read just to name it)."""
    directory = _checkpoint_dir(model_path)
    digest = hashlib.sha256((directory / "config.json").read_bytes())
    for weights in sorted(p for p in directory.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES)):
        digest.update(f"\0{weights.name}\0{weights.stat().st_size}".encode())
    return digest.hexdigest()[:12]


@dataclass
class InferenceStats:
    """Where a worker's inference time went, summed over its calls (``reset()`` starts over).
    On a GPU the work is asynchronous: ``launch_s`` is host time spent building and issuing
    batches, ``wait_s`` host time blocked on their results, and ``device_s`` the GPU's time
    per batch, input copy to output copy (CUDA events; gaps while the GPU waited for the host
    to issue kernels count as busy)."""

    texts: int = 0  # non-blank texts
    tokens: int = 0  # their tokens, without special tokens
    windows: int = 0
    window_tokens: int = 0  # tokens fed to the model: windows with their special tokens, no padding
    padded_tokens: int = 0  # rows × widths of the batches
    batches: int = 0
    wall_s: float = 0.0  # in recognize(), everything included
    tokenize_s: float = 0.0  # tokenizing (in the tokenizer thread when there are several groups)
    tokenize_wait_s: float = 0.0  # the model side waiting for the tokenizer
    launch_s: float = 0.0
    wait_s: float = 0.0
    decode_s: float = 0.0  # window merge, sub-word aggregation, tag decoding, candidates
    device_s: float = 0.0

    def reset(self) -> None:
        for item in dataclasses.fields(self):
            setattr(self, item.name, item.default)


@dataclass(frozen=True, eq=False)
class LoadedTransformers:
    """A tokenizer and model on their device, with what inference needs to know about them."""

    tokenizer: Any
    encoder: Any  # the tokenizer's Rust core, set to encode whole texts (no truncation, no padding)
    model: Any
    name: str
    version: str
    device: str
    precision: str
    id2label: tuple[str, ...]
    prefix_ids: tuple[int, ...]  # special tokens before a window's content ([CLS])
    suffix_ids: tuple[int, ...]  # and after it ([SEP])
    pad_id: int
    max_length: int  # the longest input the model takes, special tokens included
    attention: str = "eager"  # the attention implementation the model runs (sdpa where it has one)
    stats: InferenceStats = field(default_factory=InferenceStats)  # this worker's, over all calls


def special_framing(tokenizer: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The special tokens the tokenizer puts around a single sequence, found by encoding a
    probe with and without them (works for [CLS] … [SEP], <s> … </s>, or none)."""
    probe = "hello world"
    bare = list(tokenizer(probe, add_special_tokens=False)["input_ids"])
    full = list(tokenizer(probe, add_special_tokens=True)["input_ids"])
    for offset in range(len(full) - len(bare) + 1):
        if full[offset : offset + len(bare)] == bare:
            return tuple(full[:offset]), tuple(full[offset + len(bare) :])
    raise ModelUnavailable(f"cannot tell where {type(tokenizer).__name__} puts its special tokens")


def whole_text_encoder(tokenizer: Any) -> Any:
    """A copy of a fast tokenizer's Rust core that encodes whole texts, special-token strings
    as plain text: what ``tokenizer(texts, truncation=False, padding=False,
    split_special_tokens=True)`` does, without building Python lists of every token."""
    from tokenizers import Tokenizer

    encoder = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    encoder.no_truncation()
    encoder.no_padding()
    encoder.encode_special_tokens = True
    return encoder


def _model_limit(config: Any, tokenizer: Any) -> int:
    limits = [1 << 30]
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(positions - 2 if getattr(config, "model_type", "") in _PADDED_POSITIONS else positions)
    tokenizer_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tokenizer_limit, int) and 0 < tokenizer_limit < 1_000_000:  # unset: a huge sentinel
        limits.append(tokenizer_limit)
    return min(limits)


def _load(directory: Path, device: str, precision: str, version: str) -> LoadedTransformers:
    from transformers.utils import logging as hf_logging

    # No "Loading weights" progress bars in every executor's log.
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return _load_quietly(directory, device, precision, version)
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _load_quietly(directory: Path, device: str, precision: str, version: str) -> LoadedTransformers:
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    except Exception as exc:  # whatever the cause, the checkpoint cannot be used
        raise ModelUnavailable(f"cannot load the tokenizer of {str(directory)!r} ({exc}); {CHECKPOINT_HINT}") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelUnavailable(
            f"the tokenizer of {str(directory)!r} is a slow (Python) tokenizer ({type(tokenizer).__name__}); "
            "character offsets need a fast (Rust `tokenizers`) one: save a fast tokenizer there (tokenizer.json, "
            "e.g. with AutoTokenizer.from_pretrained(<source>).save_pretrained(<dir>) where the source is at hand) "
            "and drop a tokenizer_class naming a slow tokenizer from tokenizer_config.json"
        )
    try:
        model, info = AutoModelForTokenClassification.from_pretrained(
            str(directory), local_files_only=True, dtype=_torch_dtype(precision), output_loading_info=True
        )
    except Exception as exc:  # whatever the cause, the checkpoint cannot be used
        raise ModelUnavailable(f"cannot load the model of {str(directory)!r} ({exc}); {CHECKPOINT_HINT}") from exc
    missing = sorted(info.get("missing_keys") or ())
    if missing:
        raise ModelUnavailable(
            f"{str(directory)!r} is not a trained token-classification checkpoint: weights missing for "
            f"{', '.join(missing[:4])}{' …' if len(missing) > 4 else ''}; {CHECKPOINT_HINT}"
        )
    model.eval()
    model.to(device)
    config = model.config
    id2label = tuple(str(config.id2label[index]) for index in range(config.num_labels))
    prefix_ids, suffix_ids = special_framing(tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return LoadedTransformers(
        tokenizer=tokenizer,
        encoder=whole_text_encoder(tokenizer),
        model=model,
        name=_model_name(config, directory),
        version=version,
        device=device,
        precision=precision,
        id2label=id2label,
        prefix_ids=prefix_ids,
        suffix_ids=suffix_ids,
        pad_id=int(pad_id),
        max_length=_model_limit(config, tokenizer),
        attention=str(getattr(config, "_attn_implementation", None) or "eager"),
    )


def _model_name(config: Any, directory: Path) -> str:
    """The name a model trained by ``docner train`` carries in its config, else its directory's."""
    trained = getattr(config, "docner_model", None)
    if isinstance(trained, dict) and isinstance(trained.get("name"), str):
        return trained["name"]
    return directory.name


def _identity(options: TransformersOptions) -> tuple[Path, str, str, str]:
    directory = _checkpoint_dir(options.model_path)
    device = resolve_device(options.device)
    precision = resolve_precision(options.precision, device)
    version = options.model_version or derive_model_version(str(directory))
    return directory, device, precision, version


def load_transformers(options: TransformersOptions) -> TransformersBackend:
    """Load the checkpoint (uncached); :func:`cached_transformers` is what workers use."""
    return TransformersBackend(_load(*_identity(options)), options)


def cached_transformers(options: TransformersOptions) -> TransformersBackend:
    """The backend over this worker's cached model (loaded once per model identity:
    path, version, device, precision); inference options may differ between calls."""
    directory, device, precision, version = _identity(options)
    key = (SOURCE_TRANSFORMERS, str(directory), version, device, precision)
    loaded = get_model(key, lambda: _load(directory, device, precision, version))
    return TransformersBackend(loaded, options)


# ---------------------------------------------------------------------------------------------
# The backend.
# ---------------------------------------------------------------------------------------------


class _Encoded(NamedTuple):
    text_index: int  # position of the text in the recognize() call
    ids: np.ndarray  # (n_tokens,) token ids, no special tokens
    word_ids: np.ndarray  # (n_tokens,) word index, -1 for none
    encoding: Any  # the tokenizers Encoding: character offsets, read for entity tokens only


@dataclass
class _Document:
    """A text whose windows are on their way through the model."""

    item: _Encoded
    windows: list[tuple[int, int]]  # token windows [start, end)
    probs: list[np.ndarray]  # each window's probabilities, filled in as its batch completes
    remaining: int


class _Window(NamedTuple):
    document: int  # index into the call's documents
    window: int  # index into that document's windows
    length: int  # tokens with the special ones


class _Batch(NamedTuple):
    windows: list[_Window]
    probs: Any  # torch tensor (batch, width, n_labels) on the host: pinned, filled once `done` is reached
    started: Any  # CUDA events around the batch's work, None on a CPU
    done: Any


class TransformersBackend:
    """A :class:`udfs.ner.entities.NerBackend` over a loaded token-classification model."""

    source = SOURCE_TRANSFORMERS

    def __init__(self, loaded: LoadedTransformers, options: TransformersOptions) -> None:
        self.loaded = loaded
        self.options = options
        self.model = loaded.name
        self.model_version = loaded.version
        self.max_length = min(options.max_length, loaded.max_length)
        n_special = len(loaded.prefix_ids) + len(loaded.suffix_ids)
        self.window = self.max_length - n_special  # content tokens per window
        if not 0 <= options.stride < self.window:
            raise ValueError(
                f"stride ({options.stride}) must be smaller than the {self.window} content tokens of a window "
                f"(max_length {self.max_length} less {n_special} special tokens)"
            )
        self.cuda = loaded.device.startswith("cuda")
        default_batch = CUDA_BATCH_SIZE if self.cuda else CPU_BATCH_SIZE
        self.batch_size = options.batch_size or default_batch
        self._label_map = dict(options.label_map)
        self._keep = frozenset(options.labels) if options.labels is not None else None
        self._tags = tag_table(loaded.id2label)
        self.stats = loaded.stats
        self.unmapped_spans = 0  # entity spans that came out empty after stripping whitespace

    def recognize(self, texts: Sequence[str]) -> list[list[Candidate]]:
        """Candidates of each text, offsets into that text, sorted by (start, end, label)."""
        started = time.perf_counter()
        results: list[list[Candidate]] = [[] for _ in texts]
        for item, token_probs in self._token_probabilities(texts):
            decoding = time.perf_counter()
            results[item.text_index] = self._candidates(texts[item.text_index], item, token_probs)
            self.stats.decode_s += time.perf_counter() - decoding
        self.stats.wall_s += time.perf_counter() - started
        return results

    def _token_probabilities(self, texts: Sequence[str]) -> Iterator[tuple[_Encoded, np.ndarray]]:
        """Each non-blank text with its merged per-token probabilities, as its last window
        completes. Texts are tokenized group by group (the next group in a thread while the
        model runs); windows wait in a pool and go to the model in batches of the longest
        ones (all but a text's only window are full length), the pool's rest with the last group."""
        groups = text_groups(
            [len(text) if text and not text.isspace() else 0 for text in texts], self.options.tokenize_chars
        )
        if not groups:
            return
        self._set_threads()
        documents: list[_Document] = []
        pool: list[_Window] = []
        in_flight: deque[_Batch] = deque()
        with ThreadPoolExecutor(1, thread_name_prefix="docner-tokenize") as tokenizer:
            upcoming = tokenizer.submit(self._encode, texts, groups[0])
            for number in range(len(groups)):
                waiting = time.perf_counter()
                encoded = upcoming.result()
                self.stats.tokenize_wait_s += time.perf_counter() - waiting
                if number + 1 < len(groups):
                    upcoming = tokenizer.submit(self._encode, texts, groups[number + 1])
                self._add_windows(encoded, documents, pool)
                last = number + 1 == len(groups)
                if len(pool) < self.batch_size and not last:
                    continue
                batches = bucket_batches([window.length for window in pool], self.batch_size)
                rest = batches.pop() if batches and len(batches[-1]) < self.batch_size and not last else []
                for batch in batches:
                    in_flight.append(self._launch([pool[index] for index in batch], documents))
                    while len(in_flight) > (IN_FLIGHT if self.cuda else 0):
                        yield from self._complete(in_flight.popleft(), documents)
                pool[:] = [pool[index] for index in rest]
        while in_flight:
            yield from self._complete(in_flight.popleft(), documents)

    def _add_windows(self, encoded: list[_Encoded], documents: list[_Document], pool: list[_Window]) -> None:
        n_special = len(self.loaded.prefix_ids) + len(self.loaded.suffix_ids)
        for item in encoded:
            windows = plan_windows(len(item.ids), self.window, self.options.stride)
            number = len(documents)
            documents.append(_Document(item, windows, [np.empty((0, 0), np.float32)] * len(windows), len(windows)))
            pool.extend(_Window(number, k, end - start + n_special) for k, (start, end) in enumerate(windows))
            self.stats.texts += 1
            self.stats.tokens += len(item.ids)
            self.stats.windows += len(windows)
            self.stats.window_tokens += sum(end - start + n_special for start, end in windows)

    def _encode(self, texts: Sequence[str], indices: Sequence[int]) -> list[_Encoded]:
        """The texts at ``indices`` tokenized, each whole (no truncation), with offsets and word
        ids. Special-token strings inside the text ("[SEP]") are split as ordinary text."""
        started = time.perf_counter()
        encodings = self.loaded.encoder.encode_batch([texts[index] for index in indices], add_special_tokens=False)
        encoded = [
            _Encoded(
                index,
                np.asarray(encoding.ids, dtype=np.int64),
                np.fromiter((-1 if w is None else w for w in encoding.word_ids), dtype=np.int64),
                encoding,
            )
            for index, encoding in zip(indices, encodings, strict=True)
            if encoding.ids
        ]
        self.stats.tokenize_s += time.perf_counter() - started
        return encoded

    def _set_threads(self) -> None:
        if self.cuda:
            return
        wanted = self.options.torch_threads
        if wanted is None:
            # In a Spark task, use the CPUs Spark gave it: torch's default (all cores) in every
            # concurrent Python worker would oversubscribe the executor.
            context = _task_context()
            wanted = context.cpus() if context is not None and hasattr(context, "cpus") else None
        if wanted:
            import torch

            if torch.get_num_threads() != wanted:
                torch.set_num_threads(wanted)

    def _launch(self, windows: list[_Window], documents: list[_Document]) -> _Batch:
        """Run one batch (longest window first): on a GPU asynchronously, the probabilities on
        their way to pinned host memory when this returns."""
        import torch

        launching = time.perf_counter()
        loaded = self.loaded
        n_prefix = len(loaded.prefix_ids)
        width = windows[0].length
        input_ids = np.full((len(windows), width), loaded.pad_id, dtype=np.int64)
        input_ids[:, :n_prefix] = loaded.prefix_ids
        for row, window in enumerate(windows):
            document = documents[window.document]
            start, end = document.windows[window.window]
            input_ids[row, n_prefix : n_prefix + end - start] = document.item.ids[start:end]
            input_ids[row, n_prefix + end - start : window.length] = loaded.suffix_ids
        ids = torch.from_numpy(input_ids)
        # No mask for a batch without padding (most are: windows are full length). Then SDPA may
        # take its flash kernel, and transformers need not read a GPU mask back to find that it
        # masks nothing, which would stall the host until the GPU caught up.
        mask = None
        if windows[-1].length < width:
            lengths = np.array([window.length for window in windows])
            mask = torch.from_numpy((np.arange(width) < lengths[:, None]).astype(np.int64))
        with torch.inference_mode():
            if self.cuda:
                probs, started, done = self._run_on_gpu(ids, mask)
            else:
                probs, started, done = self._probabilities(ids, mask), None, None
        self.stats.batches += 1
        self.stats.padded_tokens += len(windows) * width
        self.stats.launch_s += time.perf_counter() - launching
        return _Batch(windows, probs, started, done)

    def _probabilities(self, ids: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        import torch

        logits = self.loaded.model(input_ids=ids, attention_mask=mask).logits
        return torch.softmax(logits.float(), dim=-1)

    def _run_on_gpu(self, ids: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, Any, Any]:
        """Queue a batch on the GPU: inputs in through pinned memory, the forward pass,
        probabilities out to pinned memory; CUDA events around it all."""
        import torch

        device = torch.device(self.loaded.device)
        stream = torch.cuda.current_stream(device)
        started = torch.cuda.Event(enable_timing=True)
        done = torch.cuda.Event(enable_timing=True)
        started.record(stream)
        ids = ids.pin_memory().to(device, non_blocking=True)
        if mask is not None:
            mask = mask.pin_memory().to(device, non_blocking=True)
        probs = self._probabilities(ids, mask)
        host = torch.empty(probs.shape, dtype=probs.dtype, pin_memory=True)
        host.copy_(probs, non_blocking=True)
        done.record(stream)
        return host, started, done

    def _complete(self, batch: _Batch, documents: list[_Document]) -> Iterator[tuple[_Encoded, np.ndarray]]:
        """Wait for a batch; yield the documents whose last window it held, windows merged."""
        if batch.done is not None:
            waiting = time.perf_counter()
            batch.done.synchronize()
            self.stats.wait_s += time.perf_counter() - waiting
            self.stats.device_s += batch.started.elapsed_time(batch.done) / 1000
        probs = batch.probs.numpy()
        n_prefix = len(self.loaded.prefix_ids)
        for row, window in enumerate(batch.windows):
            document = documents[window.document]
            start, end = document.windows[window.window]
            document.probs[window.window] = probs[row, n_prefix : n_prefix + end - start].copy()
            document.remaining -= 1
            if document.remaining == 0:
                merged = merge_windows(document.windows, document.probs, len(document.item.ids))
                document.probs = []
                yield document.item, merged

    def _candidates(self, text: str, item: _Encoded, token_probs: np.ndarray) -> list[Candidate]:
        words = aggregate_words(token_probs, item.word_ids, self.options.aggregation)
        if not len(words.probs):
            return []
        label_ids = words.probs.argmax(axis=1)
        scores = words.probs[np.arange(label_ids.size), label_ids]
        found = []
        unmapped = 0
        for first, stop, entity_type in decode_label_ids(label_ids, self._tags):
            label = self._label_map.get(entity_type, entity_type)
            if self._keep is not None and label not in self._keep:
                continue
            score = float(scores[first] if stop - first == 1 else scores[first:stop].mean())
            if score < self.options.min_score:
                continue
            start = item.encoding.token_to_chars(int(words.first_token[first]))[0]
            end = item.encoding.token_to_chars(int(words.last_token[stop - 1]))[1]
            start, end = strip_span(text, start, end)
            if start >= end:
                unmapped += 1
                continue
            found.append(
                Candidate(
                    start, end, text[start:end], label, score, SOURCE_TRANSFORMERS, self.model, self.model_version
                )
            )
        if unmapped:
            self.unmapped_spans += unmapped
            log.warning("%d entity span(s) of %s mapped to no text and were dropped", unmapped, self.model)
        found.sort(key=lambda candidate: (candidate.start, candidate.end, candidate.label))
        return found


# ---------------------------------------------------------------------------------------------
# The backend contract (udfs.ner.backends).
# ---------------------------------------------------------------------------------------------

Options = TransformersOptions


def prepare(options: TransformersOptions, conf_dir: Path) -> TransformersOptions:
    """``~`` in the checkpoint path expanded (a relative path is taken from the working directory)."""
    return dataclasses.replace(options, model_path=str(Path(options.model_path).expanduser()))


def describe(options: TransformersOptions, local: bool) -> Described:
    """Load the checkpoint on the driver where it can be seen (always in local mode: a missing one
    fails the stage there). On a cluster the checkpoint may be shipped to the executors only
    (``--archives``): then it is checked there, when the tasks load it."""
    if Path(options.model_path).is_dir() or local:
        backend = load_transformers(options)
        model = f"{backend.model} {backend.model_version}"
        return Described(model, f"transformers model {model}")
    return Described(options.model_path, f"transformers model {options.model_path} is checked on the executors")


def load(options: TransformersOptions) -> TransformersBackend:
    return cached_transformers(options)
