"""Write-audit-publish: a stage's rows are checked with Great Expectations before they are published.

Each table may have a suite, ``conf/expectations/<table>.json`` (GX 1.x suite JSON; the
expectation ``meta.id`` names the check, ``meta.frame`` the frame it runs on when it is not the
rows themselves, ``severity`` ``warning`` makes a table-level check advisory). A stage builds
the frames (the rows plus what a check compares them with, e.g. the document text slice under
each entity) and :func:`audit` validates them:

- a row-level check that fails on at most ``quality.max_failed_share`` of the rows sends those
  rows (found by their key through GX's ``unexpected_index_list``) to ``quarantine`` and
  keeps them out of the table; above it, or a failing critical table-level check, fails the
  stage before anything is published, with a message naming the checks and row counts;
- every validation result is kept as JSON under ``<lake>/_quality/<run_id>/`` and
  ``docner data-docs`` renders them as GX Data Docs HTML.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.atomic import write_atomically
from jobs.config import DocnerConfig, resolve_conf_path
from udfs.fields.extract import FIELD_NAMES

log = logging.getLogger(__name__)
RESULTS_DIR = "_quality"
ROWS_FRAME = "rows"
_lock = threading.Lock()  # validations: the GX context is not thread-safe
_context_lock = threading.Lock()


class QualityError(RuntimeError):
    """A stage's output failed its checks beyond the configured thresholds: nothing was published."""


@dataclass(frozen=True)
class Check:
    id: str
    frame: str
    key: tuple[str, ...]  # columns that identify a failing row in its frame
    severity: str  # critical | warning
    config: dict[str, Any]  # the expectation as it stands in the suite file


@dataclass(frozen=True)
class Suite:
    name: str
    version: str
    table: str
    key: tuple[str, ...]
    checks: tuple[Check, ...]
    path: Path

    def frames(self) -> list[str]:
        return sorted({check.frame for check in self.checks})


@dataclass
class Audit:
    """What validating one table's rows found."""

    table: str
    max_failed_share: float = 0.0
    rows: int = 0
    failed: dict[str, int] = field(default_factory=dict)  # check id -> failing rows (1: table-level)
    blocking: list[str] = field(default_factory=list)  # why the stage must not publish
    warnings: list[str] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)  # QUARANTINE rows
    keys: dict[tuple[str, ...], set[tuple[Any, ...]]] = field(default_factory=dict)  # key columns -> keys out
    seconds: float = 0.0
    results: list[str] = field(default_factory=list)  # result JSON files written


# --- suites ---------------------------------------------------------------------------------


def suite_path(config: DocnerConfig, table: str) -> Path:
    return resolve_conf_path(config, config.quality.suites) / f"{table}.json"


def _gx_imported() -> None:
    """Return once GX is wholly imported. The warm-up thread may be importing it right now,
    holding ``_context_lock``; a half-imported package has not registered all its expectations,
    and a suite read meanwhile fails with "expect_… not found" (seen in a clean-clone test run)."""
    with _context_lock:
        import great_expectations  # noqa: F401


def load_suite(path: Path) -> Suite:
    """Read and check a suite file: every expectation must be one GX knows, with valid kwargs."""
    _gx_imported()
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    try:
        data = json.loads(path.read_text())
        docner = data["meta"]["docner"]
        key = tuple(docner["key"])
        frame_keys = {name: tuple(columns) for name, columns in (docner.get("frames") or {}).items()}
        checks = []
        seen = set()
        for index, entry in enumerate(data["expectations"]):
            meta = entry.get("meta") or {}
            check_id = meta.get("id")
            if not check_id or check_id in seen:
                raise ValueError(f"expectation {index} needs a unique meta.id")
            seen.add(check_id)
            # Unknown types and bad kwargs fail here (GX's own loader drops unknown types silently).
            ExpectationConfiguration(type=entry["type"], kwargs=entry["kwargs"]).to_domain_obj()
            frame = meta.get("frame", ROWS_FRAME)
            if frame != ROWS_FRAME and frame not in frame_keys:
                raise ValueError(f"check {check_id!r} runs on frame {frame!r}, which meta.docner.frames does not key")
            checks.append(
                Check(
                    id=check_id,
                    frame=frame,
                    key=frame_keys.get(frame, key),
                    severity=entry.get("severity", "critical"),
                    config=entry,
                )
            )
        return Suite(data["name"], str(docner["version"]), docner["table"], key, tuple(checks), path)
    except Exception as exc:  # noqa: BLE001 - any defect in the file is reported with its path
        raise QualityError(f"expectation suite {path} is invalid: {exc}") from None


def parameters(config: DocnerConfig) -> dict[str, Any]:
    """Values the suites refer to as ``{"$PARAMETER": name}``."""
    settings = config.quality
    return {
        "labels": list(settings.labels),
        "fields": list(config.fields.fields or FIELD_NAMES),  # the fields the fields stage writes
        "max_entities_per_document": settings.max_entities_per_document,
        "min_mean_entities_per_document": settings.min_mean_entities_per_document,
        "min_mean_ocr_confidence": settings.min_mean_ocr_confidence,
    }


# --- validating -----------------------------------------------------------------------------


def _context() -> Any:
    """The process's GX context, built once even when the warm-up thread and a stage ask at
    the same time."""
    with _context_lock:
        return _new_context()


@cache
def _new_context() -> Any:
    """One in-memory GX context per process: no files, no progress bars, no analytics."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        ),
    )
    context.data_sources.add_spark(name="docner", persist=False)
    return context


def warm_up(suite_files: Sequence[Path]) -> None:
    """Import GX, build its context and load ``suite_files`` in a background thread, so
    that the ~2 s this takes in a new process overlaps the stage's Spark work instead of
    delaying its audit. Problems are left for the stage itself to find and report."""

    def prepare() -> None:
        try:
            _context()
            for path in suite_files:
                if path.is_file():
                    load_suite(path)
        except Exception:  # the audit loads the suites again and raises there
            log.debug("warming up Great Expectations failed", exc_info=True)

    threading.Thread(target=prepare, name="docner-gx-warm-up", daemon=True).start()


def _batch(frame_name: str, df: DataFrame) -> Any:
    source = _context().data_sources.get("docner")
    try:
        asset = source.get_asset(frame_name)
    except LookupError:
        asset = source.add_dataframe_asset(name=frame_name)
    try:
        definition = asset.get_batch_definition("whole")
    except KeyError:
        definition = asset.add_batch_definition_whole_dataframe("whole")
    return definition.get_batch(batch_parameters={"dataframe": df})


def _expectations(checks: Sequence[Check]) -> list[Any]:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    expectations = []
    for check in checks:
        entry = check.config
        configuration = ExpectationConfiguration(
            type=entry["type"],
            kwargs=entry["kwargs"],
            meta={**(entry.get("meta") or {}), "id": check.id},
            severity=entry.get("severity", "critical"),
        )
        expectations.append(configuration.to_domain_obj())
    return expectations


def _run_checks(
    suite: Suite, frame: str, df: DataFrame, checks: Sequence[Check], params: Mapping[str, Any], result_format: Any
) -> Any:
    import great_expectations as gx

    gx_suite = gx.ExpectationSuite(
        name=f"{suite.name}.{frame}", expectations=_expectations(checks), meta={"version": suite.version}
    )
    with _lock:  # the GX context is not thread-safe
        return _batch(f"{suite.table}.{frame}", df).validate(
            gx_suite, result_format=result_format, expectation_parameters=dict(params)
        )


def _validate(suite: Suite, frame: str, df: DataFrame, params: Mapping[str, Any]) -> Any:
    """Validate ``frame`` against the suite's checks on it, in two passes.

    Every check first runs for its verdict alone (GX's ``BOOLEAN_ONLY`` result): the counts
    a check needs are aggregated in a query or two. Only the checks that failed run again
    with ``COMPLETE`` results: the observed value of a table-level check, and the element
    and unexpected counts and ``unexpected_index_list`` (the keys of every failing row) of a
    row-level one, which cost a query per metric; a passing suite never pays for them. The
    second pass's results replace the first's, so the stored result is one GX suite result."""
    checks = [c for c in suite.checks if c.frame == frame]
    outcome = _run_checks(suite, frame, df, checks, params, {"result_format": "BOOLEAN_ONLY"})
    by_id = {c.id: c for c in checks}
    again = {
        index: by_id[result.expectation_config.meta["id"]]
        for index, result in enumerate(outcome.results)
        if not result.success and _exception(result) is None
    }
    if again:
        retry = list(again.values())
        keys = sorted({column for check in retry for column in check.key})
        complete = _run_checks(
            suite, frame, df, retry, params, {"result_format": "COMPLETE", "unexpected_index_column_names": keys}
        )
        detailed = {result.expectation_config.meta["id"]: result for result in complete.results}
        for index, check in again.items():
            outcome.results[index] = detailed[check.id]
    return outcome


def _exception(result: Any) -> str | None:
    """The message of an exception a check raised (GX nests it under metric ids, or not)."""
    info = result.exception_info or {}
    candidates = [info, *(v for v in info.values() if isinstance(v, dict))]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            return str(candidate.get("exception_message"))
    return None


def _reason(result: Any) -> str:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "result_format")}
    observed = result.result.get("observed_value") if result.result else None
    text = f"{config.type}({json.dumps(kwargs, default=str, sort_keys=True)})"
    if observed is not None:
        text += f"; observed {observed}"
    raised = _exception(result)
    if raised:
        text += f"; raised {raised}"
    return text[:2000]


def audit(
    *,
    suite: Suite,
    frames: Mapping[str, DataFrame],
    params: Mapping[str, Any],
    max_failed_share: float,
    stage: str,
    run_id: str,
    results_dir: Path,
) -> Audit:
    """Validate ``frames`` (``rows`` and any other frame the suite's checks name) against ``suite``."""
    started = time.monotonic()
    report = Audit(table=suite.table, max_failed_share=max_failed_share)
    now = dt.datetime.now(dt.UTC)
    # Each expectation is a Spark job or more: the frames (joins with the text they check
    # against) are computed once, not once per check.
    cached = {name: frames[name].persist() for name in suite.frames()}
    try:
        report.rows = cached[ROWS_FRAME].count() if ROWS_FRAME in cached else frames[ROWS_FRAME].count()
        for frame in suite.frames():
            _validate_frame(suite, frame, cached[frame], params, stage, run_id, results_dir, now, report)
    finally:
        for frame_df in cached.values():
            frame_df.unpersist()
    report.seconds = time.monotonic() - started
    return report


def _validate_frame(
    suite: Suite,
    frame: str,
    df: DataFrame,
    params: Mapping[str, Any],
    stage: str,
    run_id: str,
    results_dir: Path,
    now: dt.datetime,
    report: Audit,
) -> None:
    max_failed_share = report.max_failed_share
    outcome = _validate(suite, frame, df, params)
    results_dir.mkdir(parents=True, exist_ok=True)
    target = results_dir / f"{stage}.{suite.table}.{frame}.json"
    _pass_not_applicable(outcome)
    document = outcome.to_json_dict()
    document.setdefault("meta", {})["run_id"] = {"run_name": f"{run_id} {stage}", "run_time": now.isoformat()}
    write_atomically(target, json.dumps(document, default=str, indent=1))
    report.results.append(str(target))
    checks = {c.id: c for c in suite.checks if c.frame == frame}
    for result in outcome.results:
        check = checks[result.expectation_config.meta["id"]]
        if result.success:
            continue
        details = result.result or {}
        index = details.get("unexpected_index_list")
        raised = _exception(result) is not None
        if index is None or raised:  # a table-level check (or one that could not run)
            report.failed[check.id] = 1
            message = f"{suite.table}: check {check.id!r} failed: {_reason(result)}"
            (report.warnings if check.severity == "warning" and not raised else report.blocking).append(message)
            continue
        failing = int(details.get("unexpected_count") or len(index))
        report.failed[check.id] = failing
        total = int(details.get("element_count") or report.rows or 1)
        if failing / total > max_failed_share:
            report.blocking.append(
                f"{suite.table}: check {check.id!r} failed on {failing} of {total} rows "
                f"(over quality.max_failed_share={max_failed_share:g}): {_reason(result)}"
            )
            continue
        reason = _reason(result)
        out = report.keys.setdefault(check.key, set())
        for entry in index:
            key = tuple(entry.get(column) for column in check.key)
            out.add(key)
            report.quarantine.append(
                {
                    "table_name": suite.table,
                    "doc_id": str(entry.get("doc_id")),
                    "row_key": json.dumps(dict(zip(check.key, key, strict=True)), default=str, sort_keys=True),
                    "check": check.id,
                    "suite": f"{suite.name} {suite.version}",
                    "reason": reason,
                    "row_values": json.dumps(entry, default=str, sort_keys=True),
                    "stage": stage,
                    "run_id": run_id,
                    "quarantined_at": now,
                }
            )


def without_quarantined(rows: DataFrame, report: Audit) -> DataFrame:
    """``rows`` less the rows the checks sent to quarantine (anti-joined on their key columns)."""
    spark = rows.sparkSession
    for columns, keys in report.keys.items():
        if not keys:
            continue
        schema = rows.select(*columns).schema
        out = spark.createDataFrame([list(k) for k in sorted(keys, key=repr)], schema)
        rows = rows.join(F.broadcast(out), list(columns), "left_anti")
    return rows


# The lake-wide checks of ``docner validate`` (jobs.quality.validate) are kept beside the stages' GX
# results, but are not GX results themselves.
LAKE_CHECKS_FILE = "validate.lake.json"


_COLUMN_AGGREGATES = frozenset(
    {
        "expect_column_mean_to_be_between",
        "expect_column_median_to_be_between",
        "expect_column_stdev_to_be_between",
        "expect_column_sum_to_be_between",
        "expect_column_min_to_be_between",
        "expect_column_max_to_be_between",
    }
)


def _no_values(result: Any) -> bool:
    """A column-aggregate check that failed only because the column held no values: a mean
    (median, …) of, e.g., the OCR confidence of a batch without scanned pages. There is
    nothing to judge, so the check does not apply."""
    config = result.expectation_config
    kind = getattr(config, "type", None) or getattr(config, "expectation_type", None)
    return kind in _COLUMN_AGGREGATES and (result.result or {}).get("observed_value") is None


NOT_APPLICABLE = "not applicable: the column held no values"


def _pass_not_applicable(outcome: Any) -> None:
    """Pass the column-aggregate checks of a GX suite result that failed only for want of
    values (:func:`_no_values`), with a ``meta.docner`` note, and make the suite's verdict and
    statistics follow: the stage, the stored result, the report and Data Docs then agree."""
    changed = False
    for result in outcome.results:
        if not result.success and _exception(result) is None and _no_values(result):
            result.success = True
            result.meta = {**(result.meta or {}), "docner": NOT_APPLICABLE}
            changed = True
    if changed:
        total = len(outcome.results)
        passed = sum(bool(r.success) for r in outcome.results)
        outcome.statistics.update(
            evaluated_expectations=total,
            successful_expectations=passed,
            unsuccessful_expectations=total - passed,
            success_percent=100.0 * passed / total,
        )
        outcome.success = passed == total


def results_directory(lake: Path, run_id: str) -> Path:
    return Path(lake) / RESULTS_DIR / run_id


def blocking_message(audits: Sequence[Audit]) -> str:
    problems = [problem for report in audits for problem in report.blocking]
    return "data-quality checks failed, nothing was published:\n  " + "\n  ".join(problems)


# --- Data Docs ------------------------------------------------------------------------------


def build_data_docs(lake: Path, out: Path) -> list[Path]:
    """Render every stored validation result of the lake as a GX Data Docs page under ``out``,
    with an index page linking them (newest run first)."""
    from great_expectations.core.expectation_validation_result import expectationSuiteValidationResultSchema
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    root = Path(lake) / RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    pages: list[tuple[str, str, bool, Path]] = []
    for result_file in sorted(root.glob("*/*.json"), reverse=True):
        if result_file.name == LAKE_CHECKS_FILE:
            continue
        run_id = result_file.parent.name
        result = expectationSuiteValidationResultSchema.load(json.loads(result_file.read_text()))
        html = DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(result))
        page = out / run_id / f"{result_file.stem}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(html)
        pages.append((run_id, result_file.stem, bool(result.success), page))
    items = "\n".join(
        f'<li><a href="{p.relative_to(out)}">{run} — {name}</a>: {"passed" if ok else "FAILED"}</li>'
        for run, name, ok, p in pages
    )
    index = out / "index.html"
    index.write_text(
        "<!doctype html><meta charset='utf-8'><title>docner data quality</title>"
        f"<h1>docner data quality: {Path(lake).absolute()}</h1><ul>\n{items}\n</ul>\n"
    )
    return [index, *(p for *_, p in pages)]
