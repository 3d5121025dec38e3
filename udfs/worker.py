"""Per-process set-up for Spark's Python workers.

Spark's worker calls ``importlib.invalidate_caches()`` before every task, and Python then
re-reads the central directory of every zip or jar on ``sys.path``. Spark puts two there:
``pyspark.zip`` and the spark-core jar (5,000+ entries, no Python in it). On this project's
2-core VM that cost ~90 ms per task — more than the work of many tasks. The archives do not
change while a worker lives, so their finders keep their caches.
"""

from __future__ import annotations

import os
import sys
import zipimport
from typing import Any


class _StaticArchiveFinder:
    """A zipimporter whose directory is read once: ``invalidate_caches`` does nothing."""

    def __init__(self, importer: zipimport.zipimporter) -> None:
        self._importer = importer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._importer, name)

    def invalidate_caches(self) -> None:
        return None


def freeze_archive_finders() -> int:
    """Wrap the zip/jar finders on ``sys.path``; returns how many were wrapped."""
    wrapped = 0
    for path, finder in list(sys.path_importer_cache.items()):
        if isinstance(finder, zipimport.zipimporter):
            sys.path_importer_cache[path] = _StaticArchiveFinder(finder)
            wrapped += 1
    return wrapped


def prepare_worker() -> None:
    """Set up this process as a Spark Python worker: in a reused worker (the only kind docner
    configures), freeze the archive finders. Idempotent; a no-op outside Spark's workers."""
    if os.environ.get("SPARK_REUSE_WORKER"):
        freeze_archive_finders()
