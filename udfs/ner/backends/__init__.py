"""The NER backends, declared once: spaCy pipelines, Hugging Face token-classification
checkpoints, rules, PII recognizers (Presidio).

A backend is one entry of :data:`BACKENDS` and one module. The entry names it (the name is
also its settings section, ``ner.<name>``, and the ``source`` of its candidates), the module
that implements it, and what it adds to the NER stage's version: the libraries whose versions
count and the settings that change only how fast it runs. The module provides:

- ``Options``: a frozen dataclass of its settings (fields named as in its settings section,
  so the settings reach the workers without being copied by hand: ``jobs.config.options_from``);
- ``prepare(options, conf_dir) -> Options``: on the driver, what must happen once before the
  options are shipped (rule files read and compiled into the options, paths resolved);
- ``describe(options, local) -> Described``: on the driver, load or check the model so that a
  missing one fails the stage at once, and say which model and version it is;
- ``load(options) -> NerBackend``: in a worker, the backend over its cached model.

Nothing here imports a backend's libraries: a module is imported when its backend is used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from udfs.ner.entities import NerBackend


@dataclass(frozen=True)
class BackendSpec:
    name: str  # its settings section (ner.<name>) and the source of its candidates
    module: str  # the module implementing it (see the module docstring)
    libraries: tuple[str, ...] = ()  # distributions whose versions are part of the NER stage version
    performance_only: tuple[tuple[str, ...], ...] = ()  # its settings that change speed, never results


BACKENDS: tuple[BackendSpec, ...] = (
    BackendSpec("spacy", "udfs.ner.backends.spacy", ("spacy",), (("batch_size",),)),
    BackendSpec(
        "transformers",
        "udfs.ner.backends.transformers",
        ("transformers", "torch"),
        (("batch_size",), ("torch_threads",), ("device",), ("tokenize_chars",)),
    ),
    BackendSpec("rules", "udfs.ner.backends.rules"),
    BackendSpec("pii", "udfs.ner.backends.pii", ("presidio-analyzer", "phonenumbers", "tldextract")),
)
BACKEND_NAMES: tuple[str, ...] = tuple(spec.name for spec in BACKENDS)


@dataclass(frozen=True)
class Described:
    """What the driver learned of a backend before the stage runs."""

    model: str  # "name version", as recorded in runs.models and the stage version
    note: str | None = None  # a line for the stage summary


class BackendModule(Protocol):
    """What a backend's module provides (see the module docstring)."""

    Options: type

    def prepare(self, options: Any, conf_dir: Path) -> Any: ...

    def describe(self, options: Any, local: bool) -> Described: ...

    def load(self, options: Any) -> NerBackend: ...


def backend_spec(name: str) -> BackendSpec:
    for spec in BACKENDS:
        if spec.name == name:
            return spec
    raise ValueError(f"unknown NER backend {name!r} (backends: {', '.join(BACKEND_NAMES)})")


def backend_module(name: str) -> BackendModule:
    """The module of backend ``name``, imported now (its libraries with it)."""
    module: ModuleType = importlib.import_module(backend_spec(name).module)
    return module
