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

from pydantic import BaseModel

from jobs import code_version
from jobs.catalog.stages import stage_spec
from jobs.catalog.tables import stage_tables
from jobs.config import DocnerConfig, resolve_conf_path


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
    suites_dir = resolve_conf_path(config, config.quality.suites)
    suites = {}
    for table in tables:
        path = suites_dir / f"{table}.json"
        suites[table] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    chosen = ("enabled", "suites", "max_failed_share", *settings)
    return {"settings": config.quality.model_dump(mode="json", include=set(chosen)), "suites": suites}


def stage_version(stage: str, config: DocnerConfig, **found: Any) -> str:
    """The version of ``stage`` (``jobs.catalog.stages``: its settings section without the
    performance-only settings, its libraries, its checks) with what the stage found at run time
    (``found``: the Tesseract version, the models each backend loaded)."""
    spec = stage_spec(stage)
    parts: dict[str, Any] = {"stage": spec.name, "code": code_version(), **found}
    if spec.settings is not None:
        section: BaseModel = getattr(config, spec.settings)
        parts["settings"] = _without(section.model_dump(mode="json"), spec.performance_only)
    parts["libraries"] = _package_versions(spec.libraries)
    if spec.audited:
        tables = [table.name for table in stage_tables(spec.name)]
        parts["quality"] = _quality(config, tables, spec.quality_settings)
    return digest(parts)


def ingest_version(config: DocnerConfig) -> str:
    return stage_version("ingest", config)


def extract_version(config: DocnerConfig, tesseract: str | None) -> str:
    """``tesseract``: the Tesseract version string, None when OCR is off or unavailable."""
    return stage_version("extract", config, tesseract=tesseract)


def ner_version(config: DocnerConfig, models: Mapping[str, str], redaction: Mapping[str, Any] | None = None) -> str:
    """``models``: backend -> "name version", as the stage loaded them; ``redaction``: the policy
    entity_search is written with when the redact stage is on (``jobs.stages.policy``)."""
    found: dict[str, Any] = {"models": dict(sorted(models.items()))}
    if redaction is not None:
        found["redaction"] = dict(redaction)
    return stage_version("ner", config, **found)


def fields_version(config: DocnerConfig, files: Mapping[str, str]) -> str:
    """``files``: the digests of the calibration table and the gazetteer the stage read."""
    return stage_version("fields", config, files=dict(sorted(files.items())))


def redact_version(config: DocnerConfig, key_id: str | None) -> str:
    """``key_id``: the fingerprint of the hash action's key (None without one), never the key."""
    return stage_version("redact", config, key=key_id)
