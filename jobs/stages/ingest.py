"""Ingest: list the input PDFs and record each one in ``documents`` (sha256 id, pages, status).

Incremental: a file whose path, size and modification time match its ``documents`` row (made
by the same ingest version) is not read again. New or changed files are probed in Spark
tasks. A file gone from the input location, or whose bytes changed, leaves its row as
``removed``; a document with no file left is removed from the data tables. The first file
(by path) holding a document's bytes is its primary row; others are skipped duplicates.
When nothing changed, nothing is committed.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql.pandas.types import to_arrow_schema

from jobs.catalog.rows import PROBE_RESULT
from jobs.catalog.stages import later_stages, stage_spec
from jobs.catalog.tables import DATA_TABLES, DOCUMENTS
from jobs.lake.state import FIRST_STATE, STATE_COLUMNS, STATUS_REMOVED, derive_status
from jobs.lake.tables import in_list, read_arrow
from jobs.ops.progress import ProgressCounters
from jobs.stages.base import StageContext, StageResult, partitions_for, status_counts
from jobs.stages.runs import record_run
from jobs.stages.versions import ingest_version
from udfs.errors import STATUS_OK, STATUS_SKIPPED
from udfs.files import InputFile, file_name, is_under, list_pdfs, location_root
from udfs.ingest import probe_batches

STAGE = "ingest"
# Ingest makes the documents rows: its state is the first, and what it records about a file
# decides whether the later stages' states stay with the document.
OWN_STATE = stage_spec(STAGE).state_column
LATER_STATES = tuple(STATE_COLUMNS[name] for name in later_stages(STAGE))
if OWN_STATE != FIRST_STATE:
    raise ImportError("ingest must be the first stage of jobs.catalog.stages.STAGES: it makes the documents rows")
DUPLICATE = "DuplicateContent"
# Columns compared to tell whether a documents row changed (run ids and times aside).
_COMPARED = (
    "doc_id",
    "source_path",
    "size_bytes",
    "modified_at",
    "page_count",
    "status",
    "error_class",
    "error_message",
    "error_stage",
)
_STATE_COMPARED = ("status", "error_class", "error_message", "version")


def transform_probe_files(
    files_df: DataFrame, max_file_bytes: int, counters: ProgressCounters | None = None
) -> DataFrame:
    """(source_path, size_bytes) → one PROBE_RESULT row per file (hash, page count, status)."""
    out_schema = to_arrow_schema(PROBE_RESULT)

    def probe(batches):
        for batch in probe_batches(batches, max_file_bytes, out_schema):
            if counters is not None:
                counters.add(documents=batch.num_rows, pages=int(pc.sum(batch.column("page_count")).as_py() or 0))
            yield batch

    return files_df.mapInArrow(probe, PROBE_RESULT)


def _modified_at(modified_ms: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(modified_ms / 1000, dt.UTC) if modified_ms is not None else None


def _live(row: Mapping[str, Any]) -> bool:
    return row["status"] != STATUS_REMOVED


def files_to_probe(
    existing: Mapping[str, Mapping[str, Any]], files: Sequence[InputFile], version: str, reprocess: bool
) -> list[InputFile]:
    """The listed files that must be read: new paths, and paths whose live row was made by
    another ingest version or records another size or modification time (``existing``: the
    live documents rows by source path)."""
    if reprocess:
        return list(files)
    wanted = []
    for item in files:
        row = existing.get(item.path)
        if (
            row is None
            or row[OWN_STATE] is None
            or row[OWN_STATE]["version"] != version
            or row["size_bytes"] != item.size_bytes
            or row["modified_at"] is None
            or row["modified_at"] != _modified_at(item.modified_ms)
        ):
            wanted.append(item)
    return wanted


@dataclass
class IngestPlan:
    rows: list[dict[str, Any]]  # every documents row of ``affected``, as it must be after ingest
    affected: list[str]  # doc_ids whose rows change (rewritten together)
    removed: list[str]  # doc_ids no file holds any more: their rows leave the data tables
    notes: list[str] = field(default_factory=list)


def _state(status: str, error_class: str | None, message: str | None, version: str, run_id: str, now: dt.datetime):
    return {
        "status": status,
        "error_class": error_class,
        "error_message": message,
        "version": version,
        "run_id": run_id,
        "finished_at": now,
    }


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if any(a[c] != b[c] for c in _COMPARED):
        return False
    for column in STATE_COLUMNS.values():
        x, y = a[column], b[column]
        if (x is None) != (y is None):
            return False
        if x is not None and y is not None and any(x[k] != y[k] for k in _STATE_COMPARED):
            return False
    return True


def plan_documents(
    current: Iterable[Mapping[str, Any]],
    probes: Iterable[Mapping[str, Any]],
    gone: set[str],
    *,
    version: str,
    run_id: str,
    now: dt.datetime,
) -> IngestPlan:
    """What ``documents`` must hold after this ingest, for the documents it touches.

    ``current``: every existing row of the doc_ids involved (those of the probed files, of
    the rows at probed paths and of the rows at ``gone`` paths). ``probes``: PROBE_RESULT
    rows (plus ``modified_ms``) of the files read. ``gone``: paths no longer in the input.
    """
    before = {(r["doc_id"], r["source_path"]): dict(r) for r in current}
    rows = {key: dict(row) for key, row in before.items()}
    probed = {p["source_path"]: p for p in probes}

    def remove(row: dict[str, Any], error_class: str, message: str) -> None:
        row[OWN_STATE] = _state(STATUS_REMOVED, error_class, message, version, run_id, now)
        row.update(dict.fromkeys(LATER_STATES))

    # Rows whose file is gone, or now holds other bytes, are removed.
    for row in rows.values():
        if not _live(row):
            continue
        path = row["source_path"]
        if path in gone:
            remove(row, "SourceRemoved", f"{path} is no longer in the input")
        elif path in probed and probed[path]["doc_id"] != row["doc_id"]:
            remove(row, "SourceChanged", f"{path} now holds other bytes (document {probed[path]['doc_id'][:12]}…)")
    # Probed files become (or refresh) their rows; the stage states stay with the document.
    for path, probe in probed.items():
        key = (probe["doc_id"], path)
        status = probe["status"]
        rows[key] = {
            "doc_id": probe["doc_id"],
            "source_path": path,
            "file_name": file_name(path),
            "size_bytes": int(probe["size_bytes"]),
            "modified_at": _modified_at(probe.get("modified_ms")),
            "page_count": probe["page_count"],
            OWN_STATE: _state(status, probe["error_class"], probe["error_message"], version, run_id, now),
            **dict.fromkeys(LATER_STATES),
            "run_id": run_id,
            "ingested_at": now,
        }
    # One primary row per document: the previous one while its file is there, else the first
    # path holding the bytes. It carries the document's extract/ner states.
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for row in rows.values():
        by_doc.setdefault(row["doc_id"], []).append(row)
    removed: list[str] = []
    for doc_id, doc_rows in sorted(by_doc.items()):
        old_primary = next(
            (
                before[(doc_id, r["source_path"])]
                for r in doc_rows
                if (doc_id, r["source_path"]) in before
                and before[(doc_id, r["source_path"])][OWN_STATE] is not None
                and before[(doc_id, r["source_path"])][OWN_STATE]["status"] == STATUS_OK
                and _live(before[(doc_id, r["source_path"])])
            ),
            None,
        )
        candidates = sorted(
            (
                r
                for r in doc_rows
                if r[OWN_STATE]["status"] == STATUS_OK
                or (r[OWN_STATE]["status"] == STATUS_SKIPPED and r[OWN_STATE]["error_class"] == DUPLICATE)
            ),
            key=lambda r: r["source_path"],
        )
        keep = [r for r in candidates if old_primary is not None and r["source_path"] == old_primary["source_path"]]
        primary = keep[0] if keep else (candidates[0] if candidates else None)
        for row in candidates:
            if row is primary:
                row[OWN_STATE] = {
                    **row[OWN_STATE],
                    "status": STATUS_OK,
                    "error_class": None,
                    "error_message": None,
                }
                if old_primary is not None:
                    row.update({column: old_primary[column] for column in LATER_STATES})
            else:
                row[OWN_STATE] = {
                    **row[OWN_STATE],
                    "status": STATUS_SKIPPED,
                    "error_class": DUPLICATE,
                    "error_message": f"identical bytes to {primary['source_path'] if primary else '?'}",
                }
                row.update(dict.fromkeys(LATER_STATES))
        if primary is None and old_primary is not None:
            removed.append(doc_id)
    changed_docs = set()
    for key, row in rows.items():
        derive_status(row)
        old = before.get(key)
        if old is None or not _same(old, row):
            changed_docs.add(row["doc_id"])
    affected = sorted(changed_docs)
    return IngestPlan(
        rows=[rows[key] for key in sorted(rows) if key[0] in changed_docs],
        affected=affected,
        removed=sorted(set(removed) & changed_docs),
    )


def run_ingest(ctx: StageContext, input_location: str, *, reprocess: bool = False) -> StageResult:
    started = time.monotonic()
    now = dt.datetime.now(dt.UTC)
    version = ingest_version(ctx.config)
    files: list[InputFile] = list_pdfs(input_location)
    root = location_root(input_location)
    result = StageResult(STAGE, ctx.run_id, documents_in=len(files))
    if not files:
        result.notes.append(f"no *.pdf files under {input_location}")

    known = read_arrow(
        ctx.lake,
        DOCUMENTS.name,
        ["doc_id", "source_path", "size_bytes", "modified_at", "status", OWN_STATE],
        pc.field("status") != STATUS_REMOVED,
    ).to_pylist()
    under_root = [r for r in known if is_under(r["source_path"], root)]
    live_by_path = {r["source_path"]: r for r in under_root}
    listed = {f.path for f in files}
    gone = {path for path in live_by_path if path not in listed}
    to_probe = files_to_probe(live_by_path, files, version, reprocess)
    probes: list[dict[str, Any]] = []
    if to_probe:
        settings = ctx.config.ingest
        files_df = ctx.spark.createDataFrame(
            [(f.path, f.size_bytes) for f in to_probe], "source_path string, size_bytes long"
        ).repartition(partitions_for(len(to_probe), settings.files_per_task))
        modified = {f.path: f.modified_ms for f in to_probe}
        with ctx.tracking(STAGE, len(to_probe)) as progress:
            ctx.describe(f"read {len(to_probe)} file(s)")
            probes = [
                {**r.asDict(), "modified_ms": modified[r["source_path"]]}
                for r in transform_probe_files(files_df, settings.max_file_bytes, progress.counters).collect()
            ]
    involved = {p["doc_id"] for p in probes} | {
        live_by_path[path]["doc_id"] for path in gone | {p["source_path"] for p in probes} if path in live_by_path
    }
    current = (
        read_arrow(ctx.lake, DOCUMENTS.name, where=pc.field("doc_id").isin(sorted(involved))).to_pylist()
        if involved
        else []
    )
    plan = plan_documents(current, probes, gone, version=version, run_id=ctx.run_id, now=now)
    result.notes.append(
        f"{len(to_probe)} file(s) read, {len(files) - len(to_probe)} unchanged, {len(gone)} gone from the input"
    )
    if plan.removed:
        # The data tables first: the documents commit below is what marks the removal done.
        for spec in DATA_TABLES:
            written = ctx.write_rows([], spec, stage=STAGE, replace_where=in_list("doc_id", plan.removed))
            result.versions[spec.name] = written.version
        result.notes.append(f"{len(plan.removed)} document(s) removed from the data tables")
    if plan.affected:
        written = ctx.write_rows(plan.rows, DOCUMENTS, stage=STAGE, replace_where=in_list("doc_id", plan.affected))
        result.rows_written[DOCUMENTS.name] = written.rows
        result.versions[DOCUMENTS.name] = written.version
    result.statuses = status_counts(ctx)
    result.seconds = time.monotonic() - started
    record_run(ctx, result)
    return result
