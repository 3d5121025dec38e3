"""Fault points: kill the run at a chosen moment of a commit, to test exactly-once recovery.

Set ``DOCNER_FAULT=<point>:<table>[:<stage>]`` — ``point`` is ``before-commit`` (the data
files are written, the Delta commit is not) or ``after-commit`` — and the driver process is
killed with SIGKILL there, as an out-of-memory kill or a lost node would. Unset (always, in
production) the points cost one environment lookup per commit.
"""

from __future__ import annotations

import os
import signal
import time

FAULT_ENV = "DOCNER_FAULT"
PID_ENV = "DOCNER_FAULT_PID"  # the driver's pid; commits may run in a Spark Python worker
POINTS = ("before-commit", "after-commit")


def arm() -> None:
    """Record the driver's pid for the fault points (call before Spark starts its workers)."""
    if os.environ.get(FAULT_ENV):
        os.environ.setdefault(PID_ENV, str(os.getpid()))


def fault_point(point: str, table: str, stage: str | None) -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    parts = spec.split(":")
    if parts[0] != point or parts[1:2] != [table] or (len(parts) > 2 and parts[2] != stage):
        return
    os.kill(int(os.environ.get(PID_ENV, os.getpid())), signal.SIGKILL)
    time.sleep(60)  # the kill of another process (the driver) takes this one down with it
