"""The stored validation results of a run, read back: ``<lake>/_quality/<run_id>/*.json``.

:func:`jobs.quality.audit.audit` keeps each Great Expectations validation result there as
``<stage>.<table>.<frame>.json``, and ``docner validate`` keeps its lake checks beside them
(``validate.lake.json``, :mod:`jobs.quality.validate`). This module reduces either kind to its
gist (:class:`QualityResult`: passed or not, how many checks, the failing ones and why) for
the report, without Spark or GX.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.catalog.stages import stage_rank
from jobs.quality.audit import results_directory


@dataclass(frozen=True)
class FailedCheck:
    check: str
    expectation: str
    unexpected: int | None  # failing rows; None for a table-level check
    elements: int | None
    observed: str | None
    raised: str | None


@dataclass(frozen=True)
class QualityResult:
    """One stored GX validation result: ``<lake>/_quality/<run_id>/<stage>.<table>.<frame>.json``."""

    file_name: str
    stage: str
    table: str
    frame: str
    success: bool
    evaluated: int
    failed: tuple[FailedCheck, ...] = ()
    error: str | None = None  # the file could not be read as a validation result


def _name_parts(stem: str) -> tuple[str, str, str]:
    """``<stage>.<table>.<frame>`` of a result file's stem (the frame may be empty)."""
    stage, _, rest = stem.partition(".")
    table, _, frame = rest.partition(".")
    return stage, table, frame


def parse_quality_result(file_name: str, document: Mapping[str, Any]) -> QualityResult:
    """The gist of one GX validation result JSON (as :func:`jobs.quality.audit.audit` stores it)."""
    stage, table, frame = _name_parts(file_name.removesuffix(".json"))
    if "checks" in document:  # docner validate's lake checks (jobs.quality.validate), not a GX result
        checks = document.get("checks") or []
        return QualityResult(
            file_name=file_name,
            stage=stage,
            table=table,
            frame=frame or "checks",
            success=bool(document.get("success")),
            evaluated=len(checks),
            failed=tuple(
                FailedCheck(
                    check=str(c.get("name")),
                    expectation="lake check",
                    unexpected=int(c.get("failures") or 0),
                    elements=None,
                    observed=", ".join(str(e) for e in c.get("examples") or [])[:200] or None,
                    raised=None,
                )
                for c in checks
                if c.get("failures")
            ),
        )
    failed = []
    results = document.get("results") or []
    for result in results:
        if result.get("success"):
            continue
        config = result.get("expectation_config") or {}
        details = result.get("result") or {}
        info = result.get("exception_info") or {}
        candidates = [info, *(v for v in info.values() if isinstance(v, dict))]
        raised = next((str(c.get("exception_message")) for c in candidates if c.get("raised_exception")), None)
        observed = details.get("observed_value")
        unexpected = details.get("unexpected_count")
        elements = details.get("element_count")
        failed.append(
            FailedCheck(
                check=str((config.get("meta") or {}).get("id") or config.get("type") or "?"),
                expectation=str(config.get("type") or "?"),
                unexpected=int(unexpected) if unexpected is not None else None,
                elements=int(elements) if elements is not None else None,
                observed=None if observed is None else json.dumps(observed, default=str)[:200],
                raised=raised[:300] if raised else None,
            )
        )
    statistics = document.get("statistics") or {}
    return QualityResult(
        file_name=file_name,
        stage=stage,
        table=table,
        frame=frame or "rows",
        success=bool(document.get("success")),
        evaluated=int(statistics.get("evaluated_expectations", len(results))),
        failed=tuple(failed),
    )


def load_quality_results(lake: str | Path, run_id: str) -> list[QualityResult]:
    """Every stored validation result of ``run_id``, in pipeline order; an unreadable file is
    listed with its error rather than stopping the report."""
    directory = results_directory(Path(lake), run_id)
    found = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            found.append(parse_quality_result(path.name, json.loads(path.read_text())))
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            stage, table, frame = _name_parts(path.stem)
            found.append(QualityResult(path.name, stage, table, frame, False, 0, (), f"{type(exc).__name__}: {exc}"))
    return sorted(found, key=lambda r: (stage_rank(r.stage), r.table, r.frame))
