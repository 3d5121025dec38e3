"""``docner maintain``: compact small files, write a checkpoint, vacuum — every table of a lake.

Vacuum runs in delta-rs's *full* mode: besides the files that commits removed, it deletes
files in the table directory that no commit ever added (left by a writer killed between
writing and committing), once they are older than the retention period. The retention
keeps files a reader of an older snapshot, or a writer still about to commit, may need.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from deltalake import DeltaTable

from jobs.config import MaintainSettings
from jobs.lake.tables import list_tables


@dataclass(frozen=True)
class TableMaintenance:
    table: str
    version_before: int
    version_after: int
    files_before: int
    files_after: int
    compacted_from: int  # files rewritten by compaction
    compacted_into: int
    checkpoint: bool
    vacuumed: int  # files deleted (or, in a dry run, that would be)
    seconds: float


def maintain_table(name: str, path: str, settings: MaintainSettings, dry_run: bool = False) -> TableMaintenance:
    started = time.monotonic()
    table = DeltaTable(path)
    version_before, files_before = table.version(), len(table.file_uris())
    compacted_from = compacted_into = 0
    if settings.compact and not dry_run and files_before > 1:
        metrics = table.optimize.compact(target_size=settings.target_file_mb * 1024 * 1024)
        compacted_from, compacted_into = int(metrics["numFilesRemoved"]), int(metrics["numFilesAdded"])
        table = DeltaTable(path)
    checkpoint = False
    if settings.checkpoint and not dry_run:
        table.create_checkpoint()
        checkpoint = True
    vacuumed = table.vacuum(
        retention_hours=settings.retention_hours,
        dry_run=dry_run,
        enforce_retention_duration=False,  # the configured retention is the policy
        full=True,
    )
    table = DeltaTable(path)
    return TableMaintenance(
        table=name,
        version_before=version_before,
        version_after=table.version(),
        files_before=files_before,
        files_after=len(table.file_uris()),
        compacted_from=compacted_from,
        compacted_into=compacted_into,
        checkpoint=checkpoint,
        vacuumed=len(vacuumed),
        seconds=time.monotonic() - started,
    )


def maintain_lake(lake: str | Path, settings: MaintainSettings, dry_run: bool = False) -> list[TableMaintenance]:
    return [maintain_table(name, path, settings, dry_run) for name, path in list_tables(lake).items()]
