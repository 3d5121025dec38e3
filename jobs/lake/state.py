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

from jobs.catalog.stages import STAGE_NAMES, STAGES
from udfs.errors import STATUS_FAILED, STATUS_OK, STATUS_PARTIAL, STATUS_SKIPPED

STATUS_REMOVED = "removed"  # the source file is gone; the document's rows left the data tables
FINAL_STATUSES = (STATUS_FAILED, STATUS_SKIPPED, STATUS_REMOVED)
# The documents column of each stage's state, in pipeline order; the first stage makes the rows.
STATE_COLUMNS: dict[str, str] = {stage.name: stage.state_column for stage in STAGES}
FIRST_STATE = STAGES[0].state_column


def is_primary(row: Mapping[str, Any]) -> bool:
    """A documents row whose stage states count: its file is still there and was read (a
    duplicate's or a removed file's row is kept for the record only)."""
    state = row[FIRST_STATE]
    return row["status"] != STATUS_REMOVED and state is not None and state["status"] == STATUS_OK


def stage_states(row: Mapping[str, Any]) -> dict[str, Mapping[str, Any] | None]:
    """The row's state of each stage, by stage name."""
    return {name: row[column] for name, column in STATE_COLUMNS.items()}


def is_done(row: Mapping[str, Any], stage: str) -> bool:
    """``stage`` processed the document and left it ok or partial."""
    state = row[STATE_COLUMNS[stage]]
    return state is not None and state["status"] in (STATUS_OK, STATUS_PARTIAL)


@dataclass(frozen=True)
class Overall:
    status: str
    error_class: str | None
    error_message: str | None
    error_stage: str | None


def overall(states: Mapping[str, Mapping[str, Any] | None]) -> Overall:
    """The document's status from its stage states (the reference for :func:`overall_columns`)."""
    present = [(stage, states[stage]) for stage in STAGE_NAMES if states.get(stage) is not None]
    for wanted in (FINAL_STATUSES, (STATUS_PARTIAL,)):
        for stage, state in present:
            assert state is not None
            if state["status"] in wanted:
                return Overall(state["status"], state["error_class"], state["error_message"], stage)
    return Overall(STATUS_OK, None, None, None)


def derive_status(row: dict[str, Any]) -> dict[str, Any]:
    """Set the row's ``status`` and ``error_*`` columns from its stage states (in place)."""
    result = overall(stage_states(row))
    row.update(
        status=result.status,
        error_class=result.error_class,
        error_message=result.error_message,
        error_stage=result.error_stage,
    )
    return row
