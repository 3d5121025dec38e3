"""``docner report``: one self-contained HTML page about the lake's latest run and its trends.

Gathering (:mod:`~jobs.ops.report.gather`: the data model, small pure helpers and
:func:`~jobs.ops.report.gather.gather_report`) is kept apart from drawing
(:mod:`~jobs.ops.report.charts`: matplotlib PNGs) and rendering (:mod:`~jobs.ops.report.html`:
Jinja2 templates in ``templates/``), so each can be tested on hand-made data. The stored
validation results the page lists are read by :mod:`jobs.quality.results`.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from jobs.atomic import write_atomically
from jobs.ops.report.gather import LATEST_NAME, default_report_path, gather_report
from jobs.ops.report.html import render_html

__all__ = ["gather_report", "render_html", "write_report"]

log = logging.getLogger(__name__)


def write_report(lake: str | Path, out: str | Path | None = None, *, max_runs: int = 30) -> Path:
    """Write the HTML report of ``lake`` and return its path.

    ``out`` defaults to ``<lake>/_reports/report-<run id>.html`` (``report-no-runs.html`` for
    a lake without runs), and then ``<lake>/_reports/latest.html`` is refreshed with the same
    page; an explicit ``out`` writes that one file. Trends cover the last ``max_runs`` runs.
    Raises :class:`jobs.lake.tables.LakeError` when ``lake`` is not a directory."""
    if max_runs < 0:
        raise ValueError(f"max_runs must be 0 or more, not {max_runs}")
    data = gather_report(lake, max_runs=max_runs)
    page = render_html(data, dt.datetime.now(dt.UTC))
    target = Path(out) if out is not None else default_report_path(lake, data.latest.run_id if data.latest else None)
    write_atomically(target, page)
    if out is None:
        write_atomically(target.parent / LATEST_NAME, page)
    log.info("report of %s written to %s (%d bytes)", data.lake, target, len(page))
    return target.absolute()
