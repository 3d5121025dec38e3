"""Stage versions: what a stage processed a document with, as a short digest.

A stage processes a document only when its state is missing or was made with another
version of the stage — the version is a digest of the pipeline code version, the stage's
result-relevant settings and its models / rules / libraries — so a re-run on the same input
does nothing, a changed rule file re-runs NER only, and ``--reprocess`` forces a stage.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

from jobs import code_version
from jobs.config import DocnerConfig

# Settings that change how fast a stage runs, never what it produces: changing them does
# not make a new stage version (so it does not reprocess anything).
PERFORMANCE_ONLY: dict[str, tuple[tuple[str, ...], ...]] = {
    "extract": (("pages_per_range",), ("max_pages_per_range",), ("ocr_pages_per_task",)),
    "ner": (
        ("chars_per_task",),
        ("spacy", "batch_size"),
        ("transformers", "batch_size"),
        ("transformers", "torch_threads"),
        ("transformers", "device"),
        ("resources",),
    ),
}


def _package_versions(names: Sequence[str]) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def _without(settings: dict[str, Any], paths: Sequence[tuple[str, ...]]) -> dict[str, Any]:
    pruned = json.loads(json.dumps(settings, default=str))
    for path in paths:
        node = pruned
        for key in path[:-1]:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return pruned


def digest(parts: Mapping[str, Any]) -> str:
    """A short, stable digest of ``parts`` (sorted-key JSON)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _quality(config: DocnerConfig, tables: Sequence[str], settings: Sequence[str]) -> dict[str, Any]:
    """The checks a stage's rows pass before publishing: rows they quarantine are not in the
    tables, so other checks are another version of the stage's output."""
    from jobs.config import resolve_conf_path

    suites_dir = resolve_conf_path(config, config.quality.suites)
    suites = {}
    for table in tables:
        path = suites_dir / f"{table}.json"
        suites[table] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    chosen = ("enabled", "suites", "max_failed_share", *settings)
    return {"settings": config.quality.model_dump(mode="json", include=set(chosen)), "suites": suites}


def ingest_version() -> str:
    return digest({"stage": "ingest", "code": code_version(), "libraries": _package_versions(["pypdfium2"])})


def extract_version(config: DocnerConfig, tesseract: str | None) -> str:
    """Code version, the result-relevant ``extract`` settings, and the PDF / OCR library versions
    (``tesseract``: the Tesseract version string, None when OCR is off or unavailable)."""
    settings = _without(config.extract.model_dump(mode="json"), PERFORMANCE_ONLY["extract"])
    return digest(
        {
            "stage": "extract",
            "code": code_version(),
            "settings": settings,
            "libraries": _package_versions(["pypdfium2", "pdfplumber", "pdfminer.six", "pytesseract"]),
            "tesseract": tesseract,
            "quality": _quality(config, ["pages", "tables"], ["min_mean_ocr_confidence"]),
        }
    )


def ner_version(config: DocnerConfig, models: Mapping[str, str]) -> str:
    """Code version, the result-relevant ``ner`` settings, and every backend's model / rule-set
    version (``models``: backend -> "name version", as the stage loaded them)."""
    settings = _without(config.ner.model_dump(mode="json"), PERFORMANCE_ONLY["ner"])
    return digest(
        {
            "stage": "ner",
            "code": code_version(),
            "settings": settings,
            "models": dict(sorted(models.items())),
            "libraries": _package_versions(["spacy", "transformers", "torch"]),
            "quality": _quality(
                config,
                ["entities", "entity_search"],
                ["labels", "max_entities_per_document", "min_mean_entities_per_document"],
            ),
        }
    )
