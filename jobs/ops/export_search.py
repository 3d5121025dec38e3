"""``docner export-search``: the ``entity_search`` table as an Elasticsearch / OpenSearch
``_bulk`` NDJSON file, each document with its ``contracts`` row (its key fields) as ``contract``,
incrementally: it keeps an export hash of every document it exported in the lake and writes
only the documents whose hash changed, and deletes for the ones that are gone. (The NER stage
makes ``entity_search``: ``jobs.stages.entity_search``; the fields stage ``contracts``.)

A document the redact stage redacted is exported as redacted: its ``entity_search`` row already
is (the NER stage writes it so with ``redact.enabled``), and every value redacted in its text
is replaced in its ``contract`` (a person named as a party) by the same token.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from jobs.atomic import write_atomically
from jobs.catalog.tables import CONTRACTS, DOCUMENTS, ENTITY_SEARCH, REDACTIONS
from jobs.lake.state import STATUS_REMOVED
from jobs.lake.tables import LakeError, read_arrow, table_columns, table_version
from jobs.lake.views import redacted_values
from udfs.redact.text import whole_word

EXPORTS_DIR = "_exports"
# Lower-case OpenSearch / Elasticsearch index names, and safe as part of a file name.
_INDEX_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,254}")
# A document's ``contract``: every ``contracts`` column but its key and the run that wrote it,
# so a new column of the table reaches the search document (and its export hash) by itself.
CONTRACT_COLUMNS = tuple(name for name in CONTRACTS.schema.fieldNames() if name not in ("doc_id", "run_id"))


@dataclass(frozen=True)
class ExportResult:
    path: str  # the NDJSON file (empty when there was nothing to do)
    indexed: int  # documents written with an index action
    deleted: int  # delete actions
    unchanged: int  # current documents left out: same export hash as last exported
    entity_search_version: int
    contracts_version: int | None = None  # None: the lake has no contracts table (an older lake)


def export_state_path(lake: str | Path, index: str) -> Path:
    """Where the export to ``index`` keeps what it exported: the lake's ``_exports`` folder."""
    _check_index(index)
    return Path(lake).absolute() / EXPORTS_DIR / f"opensearch-{index}.json"


def export_search(lake: str | Path, out_path: str | Path, *, index: str, full: bool = False) -> ExportResult:
    """Write ``entity_search`` to ``out_path`` as ``_bulk`` NDJSON for ``index``: an index action
    and source line per new or changed document (every current document when ``full``), a
    delete action per exported document that left ``entity_search`` or whose ``documents``
    rows are all removed. A document counts as changed when its export hash (:func:`export_hash`:
    its search_hash, and its contract's hash when it has a ``contracts`` row) differs from the
    one recorded by the last export, in ``<lake>/_exports/opensearch-<index>.json``. A lake
    without a ``contracts`` table (made before the fields stage) exports every ``contract`` as null.

    The file is written whole (temp file + rename) before the state is updated (same), so a
    failed export leaves the state as it was and the next one writes the same documents again.
    With nothing to do the file is written empty — never left over from an earlier export —
    and the state is not touched. Tables are read on the driver with delta-rs: no Spark.

    One export per index at a time: a second one fails at once (:func:`_exclusive`) instead of
    working from the same state and overwriting the first one's record of what it sent."""
    state_path = export_state_path(lake, index)
    with _exclusive(state_path, index):
        return _export(lake, Path(out_path), state_path, index=index, full=full)


@contextlib.contextmanager
def _exclusive(state_path: Path, index: str) -> Iterator[None]:
    """Hold an exclusive lock on ``<state>.lock`` (``flock``: the system drops it when the
    holder dies, so a killed export never leaves a stale lock behind)."""
    lock_path = state_path.with_name(state_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LakeError(
                f"another export-search to index {index!r} is running (it holds {lock_path}); run this one after it"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _export(lake: str | Path, out_path: Path, state_path: Path, *, index: str, full: bool) -> ExportResult:
    exported = _read_state(state_path)
    # The version is read before the rows: a commit in between makes it older than the rows,
    # which only costs a re-check, while hashes decide what is written.
    version = table_version(lake, ENTITY_SEARCH.name)
    search = read_arrow(lake, ENTITY_SEARCH.name)
    contracts_version, contracts = _read_contracts(lake)
    contracts = redacted_contracts(contracts, _redactions(lake, contracts))
    live = set(
        read_arrow(lake, DOCUMENTS.name, ["doc_id", "status"], pc.field("status") != STATUS_REMOVED)
        .column("doc_id")
        .to_pylist()
    )
    hashes = _current_hashes(search, live, contracts)
    to_index = sorted(doc_id for doc_id, digest in hashes.items() if full or exported.get(doc_id) != digest)
    to_delete = sorted(doc_id for doc_id in exported if doc_id not in hashes)
    rows = search.filter(pc.field("doc_id").isin(to_index)) if to_index else search.slice(0, 0)
    write_atomically(out_path, _bulk_lines(rows, contracts, to_delete, index))
    if to_index or to_delete:
        state = {
            "entity_search_version": version,
            "contracts_version": contracts_version,
            "documents": dict(sorted(hashes.items())),
        }
        write_atomically(state_path, [json.dumps(state, indent=1)])
    return ExportResult(
        path=str(out_path.absolute()),
        indexed=len(to_index),
        deleted=len(to_delete),
        unchanged=len(hashes) - len(to_index),
        entity_search_version=version,
        contracts_version=contracts_version,
    )


def _read_contracts(lake: str | Path) -> tuple[int | None, dict[str, dict[str, Any]]]:
    """The ``contracts`` table's version and doc_id -> :func:`contract_source` of its rows; (None,
    {}) for a lake made before the fields stage. A column the table lacks reads as null."""
    available = table_columns(lake, CONTRACTS.name)
    if available is None:
        return None, {}
    version = table_version(lake, CONTRACTS.name)  # before the rows, as for entity_search
    read = ["doc_id", *(name for name in CONTRACT_COLUMNS if name in available)]
    contracts: dict[str, dict[str, Any]] = {}
    for batch in read_arrow(lake, CONTRACTS.name, read).to_batches():
        for row in batch.to_pylist():
            doc_id = row["doc_id"]
            if doc_id in contracts:
                raise LakeError(f"contracts holds document {doc_id} twice; its key is doc_id")
            contracts[doc_id] = contract_source(row)
    return version, contracts


def _redactions(lake: str | Path, contracts: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """doc_id -> {redacted value: its token}; none for a lake made before the redact stage."""
    if table_columns(lake, REDACTIONS.name) is None or not contracts:
        return {}
    return redacted_values(lake, list(contracts))


def redacted_contracts(
    contracts: Mapping[str, dict[str, Any]], redactions: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, Any]]:
    """The contracts with every redacted value of their document (whole words, any case and
    spacing) replaced by its token in each string they hold."""

    def replace(value: Any, patterns: list[tuple[re.Pattern[str], str]]) -> Any:
        if isinstance(value, str):
            for pattern, token in patterns:
                value = pattern.sub(lambda _: token, value)  # noqa: B023 - used at once
            return value
        if isinstance(value, list):
            return [replace(item, patterns) for item in value]
        if isinstance(value, dict):
            return {key: replace(item, patterns) for key, item in value.items()}
        return value

    out = dict(contracts)
    for doc_id, values in redactions.items():
        if doc_id in out:
            ordered = sorted(values.items(), key=lambda item: -len(item[0]))
            out[doc_id] = replace(out[doc_id], [(whole_word(value), token) for value, token in ordered])
    return out


def contract_source(row: Mapping[str, Any]) -> dict[str, Any]:
    """The ``contract`` of a search document: a ``contracts`` row's fields, dates as ISO
    ``YYYY-MM-DD`` strings (what a search engine maps as a date), parties as objects."""
    return {name: _json_value(row.get(name)) for name in CONTRACT_COLUMNS}


def export_hash(search_hash: str, contract: Mapping[str, Any] | None) -> str:
    """What the export state records for a document: its ``search_hash`` alone when it has no
    contract (as the exports before contracts recorded it, so those documents are not sent
    again), else ``<search_hash>:<sha256 of the contract's canonical JSON>``; a document that
    has a contract is therefore sent once more after an export from before contracts."""
    if contract is None:
        return search_hash
    canonical = json.dumps(contract, sort_keys=True, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return f"{search_hash}:{hashlib.sha256(canonical.encode('ascii')).hexdigest()}"


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):  # only dates in contracts: no timestamps to keep a zone for
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    return value


def search_source(row: Mapping[str, Any], contract: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The search engine's document for an ``entity_search`` row: its content, nested entities,
    flat, sorted, distinct ``entity_keys`` / ``entity_texts`` for plain keyword queries, and the
    document's ``contract`` (:func:`contract_source`; null when it has no ``contracts`` row)."""
    entities = [
        {
            "label": entity["label"],
            "entity_key": entity["entity_key"],
            "text": entity["text"],
            "normalized_value": entity["normalized_value"],
            "mentions": entity["mentions"],
            "pages": list(entity["pages"]),
            "spans": [dict(span) for span in entity["spans"]],
        }
        for entity in row["entities"]
    ]
    return {
        "doc_id": row["doc_id"],
        "file_name": row["file_name"],
        "source_path": row["source_path"],
        "page_count": row["page_count"],
        "status": row["status"],
        "entity_count": row["entity_count"],
        "labels": list(row["labels"]),
        "entities": entities,
        "entity_keys": sorted({entity["entity_key"] for entity in entities}),
        "entity_texts": sorted({entity["text"] for entity in entities}),
        "contract": dict(contract) if contract is not None else None,
        "search_hash": row["search_hash"],
    }


def _check_index(index: str) -> None:
    if not _INDEX_NAME.fullmatch(index):
        raise ValueError(
            f"index {index!r} is not a valid index name here: lower-case letters, digits, '.', '_' and "
            "'-', starting with a letter or digit"
        )


def _read_state(path: Path) -> dict[str, str]:
    """doc_id -> export hash of the documents the last export to this index left indexed."""
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        documents = state["documents"]
        if not isinstance(documents, dict):
            raise TypeError("'documents' is not an object")
        return {str(doc_id): str(digest) for doc_id, digest in documents.items()}
    except (ValueError, KeyError, TypeError) as error:
        raise LakeError(f"export state {path} is unreadable ({error}); delete it to export everything again") from None


def _current_hashes(search: pa.Table, live: set[str], contracts: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """doc_id -> :func:`export_hash` of the entity_search rows whose document has a live
    documents row."""
    hashes: dict[str, str] = {}
    seen: set[str] = set()
    columns = search.select(["doc_id", "search_hash"]).to_pydict()
    for doc_id, digest in zip(columns["doc_id"], columns["search_hash"], strict=True):
        if doc_id in seen:
            raise LakeError(f"entity_search holds document {doc_id} twice; its key is doc_id")
        seen.add(doc_id)
        if doc_id in live:
            hashes[doc_id] = export_hash(digest, contracts.get(doc_id))
    return hashes


def _bulk_lines(
    rows: pa.Table, contracts: Mapping[str, Mapping[str, Any]], to_delete: Iterable[str], index: str
) -> Iterator[str]:
    """Action and source lines, index actions in doc_id order then deletes. ASCII-only JSON:
    no character inside a line can be read as a line break (U+2028, U+0085, …)."""

    def line(value: Any) -> str:
        return json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))

    for batch in rows.sort_by("doc_id").to_batches():
        for row in batch.to_pylist():
            yield line({"index": {"_index": index, "_id": row["doc_id"]}})
            yield line(search_source(row, contracts.get(row["doc_id"])))
    for doc_id in to_delete:
        yield line({"delete": {"_index": index, "_id": doc_id}})
