"""``docner validate``: checks across the tables, after the stages of a run have published.

Each stage already validates its own rows before publishing them (``jobs.quality.audit``). What a
single stage cannot see is the lake as a whole: whether every input file has its
``documents`` row (nothing lost), whether each table's key is unique, whether data rows
belong to a live document, whether each document's rows come from the run that last
processed it (no leftovers of an earlier run), whether the overall status agrees with the
stage states, and whether the run's stages recorded themselves in ``runs`` with their
data-quality checks passed. The checks read only key columns, driver-side through delta-rs
(no Spark). Results are kept as ``<lake>/_quality/<run_id>/validate.lake.json``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from jobs.atomic import write_atomically
from jobs.catalog.tables import DATA_TABLES, DOCUMENTS, RUNS
from jobs.lake.state import FIRST_STATE, STATE_COLUMNS, STATUS_REMOVED, is_done, is_primary, overall, stage_states
from jobs.lake.tables import read_arrow
from jobs.lake.views import redacted_values
from jobs.quality.audit import LAKE_CHECKS_FILE, results_directory
from udfs.files import list_pdfs
from udfs.redact.text import MIN_PROPAGATED_CHARS, whole_word

EXAMPLES = 5  # offending keys shown per check


@dataclass(frozen=True)
class CheckResult:
    name: str
    description: str
    failures: int
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failures == 0


@dataclass(frozen=True)
class LakeValidation:
    run_id: str | None
    checks: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def failed(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.ok]

    def message(self) -> str:
        bad = self.failed()
        if not bad:
            return f"all {len(self.checks)} lake checks passed"
        return "lake checks failed: " + "; ".join(f"{c.name}: {c.failures} ({', '.join(c.examples)})" for c in bad)


def _check(name: str, description: str, offenders: Iterable[str]) -> CheckResult:
    found = sorted(set(offenders))
    return CheckResult(name, description, len(found), found[:EXAMPLES])


def duplicate_keys(rows: Iterable[Sequence[Any]]) -> list[str]:
    """Keys seen more than once, as strings."""
    counts = Counter(tuple(row) for row in rows)
    return ["/".join(str(part) for part in key) for key, n in counts.items() if n > 1]


def _live_primary(documents: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """doc_id → its primary row: the row whose states count."""
    return {row["doc_id"]: row for row in documents if is_primary(row)}


def check_documents(documents: Sequence[Mapping[str, Any]], listed: Sequence[str] | None) -> list[CheckResult]:
    checks = [
        _check(
            "documents_key_unique",
            "(doc_id, source_path) is the documents key",
            duplicate_keys((r["doc_id"], r["source_path"]) for r in documents),
        ),
        _check(
            "documents_status_derived",
            "status and error_* agree with the stage states",
            (
                r["doc_id"]
                for r in documents
                if r["status"] != STATUS_REMOVED
                and r[FIRST_STATE] is not None
                and overall(stage_states(r)).status != r["status"]
            ),
        ),
    ]
    if listed is not None:
        recorded = {r["source_path"] for r in documents if r["status"] != STATUS_REMOVED}
        checks.append(
            _check(
                "input_recorded",
                "every PDF of the input has a live documents row",
                (path for path in listed if path not in recorded),
            )
        )
    return checks


def check_rows(
    name: str,
    rows: Sequence[Mapping[str, Any]],
    key: Sequence[str],
    primary: Mapping[str, Mapping[str, Any]],
    stage: str,
) -> list[CheckResult]:
    """Key uniqueness, rows of live documents only, rows from the run that last processed them."""

    def orphan(row: Mapping[str, Any]) -> bool:
        doc = primary.get(row["doc_id"])
        return doc is None or doc[STATE_COLUMNS[stage]] is None

    def stale(row: Mapping[str, Any]) -> bool:
        doc = primary.get(row["doc_id"])
        state = doc[STATE_COLUMNS[stage]] if doc is not None else None
        return state is not None and row["run_id"] != state["run_id"]

    return [
        _check(
            f"{name}_key_unique",
            f"({', '.join(key)}) is the {name} key",
            duplicate_keys(tuple(r[c] for c in key) for r in rows),
        ),
        _check(
            f"{name}_of_live_documents",
            f"every {name} row belongs to a live document processed by the {stage} stage",
            (
                r["doc_id"]
                for r in rows
                if r["doc_id"] not in primary or primary[r["doc_id"]][STATE_COLUMNS[stage]] is None
            ),
        ),
        _check(
            f"{name}_from_latest_run",
            f"a document's {name} rows all come from the run that last ran {stage} on it",
            (r["doc_id"] for r in rows if stale(r)),
        ),
    ]


def check_coverage(primary: Mapping[str, Mapping[str, Any]], doc_ids: Mapping[str, Sequence[str]]) -> list[CheckResult]:
    """Every document a stage left ok or partial has the rows its tables promise
    (``TableSpec.coverage``); ``doc_ids``: table name -> the doc_id of each of its rows."""
    checks = []
    for spec in DATA_TABLES:
        if spec.coverage is None or spec.stage is None:
            continue
        counts = Counter(doc_ids.get(spec.name, ()))
        wanted = spec.coverage.rows
        checks.append(
            _check(
                spec.coverage.check,
                spec.coverage.description,
                (
                    doc_id
                    for doc_id, row in primary.items()
                    if is_done(row, spec.stage) and (counts[doc_id] == 0 if wanted == "some" else counts[doc_id] != 1)
                ),
            )
        )
    return checks


def check_run(
    run_id: str, primary: Mapping[str, Mapping[str, Any]], runs: Sequence[Mapping[str, Any]]
) -> list[CheckResult]:
    """The stages that processed documents in ``run_id`` recorded themselves. (Their data
    quality was judged by the stages: failures above the thresholds stopped them before
    publishing, and rows below went to ``quarantine``.)"""
    ran = {
        stage
        for row in primary.values()
        for stage, state in stage_states(row).items()
        if (state or {}).get("run_id") == run_id
    }
    recorded = {row["stage"] for row in runs if row["run_id"] == run_id}
    return [
        _check(
            "run_recorded",
            f"every stage that processed documents in run {run_id} has its runs row",
            (stage for stage in ran if stage not in recorded),
        )
    ]


def _strings(value: Any) -> Iterable[str]:
    """Every string inside a row's value (nested structs and lists followed)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def check_shareable(lake: str | Path, primary: Mapping[str, Mapping[str, Any]]) -> list[CheckResult]:
    """No value the redact stage redacted in a document (the original text of its
    ``redactions`` rows, 3 characters or more) occurs as whole words in that document's rows of
    a table meant to be shared (``TableSpec.shareable``). Only documents the redact stage left ok
    are checked: without it, nothing claims those tables are redacted."""
    redacted = [doc_id for doc_id, row in primary.items() if is_done(row, "redact")]
    if not redacted:
        return [_check("shareable_tables_hold_no_redacted_value", _SHAREABLE, ())]
    where = pc.field("doc_id").isin(redacted)
    values = redacted_values(lake, redacted)
    patterns = {
        doc_id: [whole_word(v) for v in sorted(found) if len(v) >= MIN_PROPAGATED_CHARS]
        for doc_id, found in values.items()
    }
    offenders = []
    for spec in (spec for spec in DATA_TABLES if spec.shareable):
        for row in read_arrow(lake, spec.name, where=where).to_pylist():
            strings = [s for s in _strings({k: v for k, v in row.items() if k not in ("doc_id", "run_id")})]
            if any(p.search(s) for p in patterns.get(row["doc_id"], ()) for s in strings):
                offenders.append(f"{spec.name}:{row['doc_id']}")
    return [_check("shareable_tables_hold_no_redacted_value", _SHAREABLE, sorted(set(offenders)))]


_SHAREABLE = (
    "no value the redact stage redacted occurs in a table meant to be shared "
    "(" + ", ".join(spec.name for spec in DATA_TABLES if spec.shareable) + ") for the documents it redacted"
)


def validate_lake(lake: str | Path, run_id: str | None = None, input_location: str | None = None) -> LakeValidation:
    """Every check, over the tables as they are now: ``documents``, the content tables of each
    stage (``jobs.catalog.tables``: key, stage, coverage), and the run's ``runs`` rows."""
    documents = read_arrow(lake, DOCUMENTS.name).to_pylist()
    primary = _live_primary(documents)
    listed = [f.path for f in list_pdfs(input_location)] if input_location else None
    checks = check_documents(documents, listed)
    doc_ids: dict[str, list[str]] = {}
    for spec in DATA_TABLES:
        if spec.stage is None:  # quarantine: rows of any stage
            continue
        rows = read_arrow(lake, spec.name, [*spec.key, "run_id"]).to_pylist()
        checks += check_rows(spec.name, rows, spec.key, primary, spec.stage)
        doc_ids[spec.name] = [r["doc_id"] for r in rows]
    checks += check_coverage(primary, doc_ids)
    checks += check_shareable(lake, primary)
    if run_id is not None:
        runs = read_arrow(lake, RUNS.name, where=pc.field("run_id") == run_id).to_pylist()
        checks += check_run(run_id, primary, runs)
    return LakeValidation(run_id, checks)


def save_validation(lake: str | Path, result: LakeValidation) -> Path | None:
    """Keep the result beside the run's stage validation results."""
    if result.run_id is None:
        return None
    directory = results_directory(Path(lake), result.run_id)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LAKE_CHECKS_FILE
    body = {"run_id": result.run_id, "success": result.ok, "checks": [asdict(c) for c in result.checks]}
    write_atomically(path, json.dumps(body, indent=1) + "\n")
    return path
