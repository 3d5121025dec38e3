"""Where each document stands: its per-stage states and the overall status derived from them.

Every ``documents`` row carries one state per stage (``ingest_state``, ``extract_state``,
``ner_state``: status, error, the stage *version* it was processed with, run and time; the
versions are computed by ``jobs.stages.versions``).

The overall ``status`` / ``error_*`` columns are derived from the states, in pipeline order:
the first stage that failed, skipped or removed the document decides; else the first that
left it partial; else ``ok``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from udfs.errors import STATUS_FAILED, STATUS_OK, STATUS_PARTIAL, STATUS_SKIPPED

STATUS_REMOVED = "removed"  # the source file is gone; the document's rows left the data tables
STATE_STAGES = ("ingest", "extract", "ner")
FINAL_STATUSES = (STATUS_FAILED, STATUS_SKIPPED, STATUS_REMOVED)


def is_primary(row: Mapping[str, Any]) -> bool:
    """A documents row whose stage states count: its file is still there and was read (a
    duplicate's or a removed file's row is kept for the record only)."""
    state = row["ingest_state"]
    return row["status"] != STATUS_REMOVED and state is not None and state["status"] == STATUS_OK


@dataclass(frozen=True)
class Overall:
    status: str
    error_class: str | None
    error_message: str | None
    error_stage: str | None


def overall(states: Mapping[str, Mapping[str, Any] | None]) -> Overall:
    """The document's status from its stage states (the reference for :func:`overall_columns`)."""
    present = [(stage, states[stage]) for stage in STATE_STAGES if states.get(stage) is not None]
    for wanted in (FINAL_STATUSES, (STATUS_PARTIAL,)):
        for stage, state in present:
            assert state is not None
            if state["status"] in wanted:
                return Overall(state["status"], state["error_class"], state["error_message"], stage)
    return Overall(STATUS_OK, None, None, None)
