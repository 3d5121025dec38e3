"""What an operator sees while a run works: progress, structured logs, Spark job groups.

- **Progress**: each stage counts the documents and pages its tasks finish in Spark
  accumulators (updated on the driver as tasks complete). On a terminal a status line is
  redrawn in place — ``extract  45/102 documents  890/1796 pages  35.2 pages/s  ETA 0:25``;
  off a terminal the same figures go out as ``progress`` log records every
  ``interval_s`` seconds.
- **Logs**: every record carries the run id and stage of the code that logged it
  (``contextvars``); off a terminal (or with ``--log-format json``) records are one JSON
  object per line, for log shippers.
- **Spark UI**: a stage sets its job group (``docner-<run>-<stage>``) and a description
  per step, so the Spark UI's jobs read as the pipeline does.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pyspark import Accumulator
from pyspark.sql import SparkSession

LogFormat = Literal["auto", "json", "text"]

_run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("docner_run_id", default=None)
_stage: contextvars.ContextVar[str | None] = contextvars.ContextVar("docner_stage", default=None)
# Record attributes of LogRecord itself; anything else passed as ``extra`` is a field.
_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "run_id", "stage"}

log = logging.getLogger(__name__)


@contextlib.contextmanager
def log_context(*, run_id: str | None = None, stage: str | None = None) -> Iterator[None]:
    """Tag every log record made inside with ``run_id`` / ``stage`` (those given)."""
    tokens = []
    if run_id is not None:
        tokens.append((_run_id, _run_id.set(run_id)))
    if stage is not None:
        tokens.append((_stage, _stage.set(stage)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Copies the current run id and stage onto each record (``None`` outside a run)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = _run_id.get()
        record.stage = _stage.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, run_id,
    stage, the fields passed as ``extra``, and the exception text if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "run_id": getattr(record, "run_id", None),
            "stage": getattr(record, "stage", None),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The human format, with ``[run stage]`` when inside a run."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(where)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        parts = [p for p in (getattr(record, "run_id", None), getattr(record, "stage", None)) if p]
        record.where = f" [{' '.join(parts)}]" if parts else ""
        return super().format(record)


def resolve_format(requested: LogFormat, stream: IO[str]) -> Literal["json", "text"]:
    if requested != "auto":
        return requested
    return "text" if _isatty(stream) else "json"


def configure_logging(level: str = "INFO", log_format: LogFormat = "auto", stream: IO[str] | None = None) -> str:
    """Set up the root logger on ``stream`` (stderr); returns the format chosen."""
    target = stream if stream is not None else sys.stderr
    chosen = resolve_format(log_format, target)
    handler = logging.StreamHandler(target)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level))
    for chatty in ("py4j", "great_expectations"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return chosen


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass(frozen=True)
class ProgressCounters:
    """Documents and pages done, counted by the tasks (pickled into the UDF closures)."""

    documents: Accumulator[int]
    pages: Accumulator[int]

    @classmethod
    def create(cls, spark: SparkSession) -> ProgressCounters:
        context = spark.sparkContext
        return cls(context.accumulator(0), context.accumulator(0))

    def add(self, documents: int = 0, pages: int = 0) -> None:
        """Called in the tasks; the driver sees the sums as tasks finish."""
        if documents:
            self.documents.add(documents)
        if pages:
            self.pages.add(pages)


@dataclass(frozen=True)
class Snapshot:
    stage: str
    documents_done: int
    documents_total: int
    pages_done: int
    pages_total: int | None
    elapsed_s: float

    @property
    def rate(self) -> float | None:
        """Pages per second when pages are counted, else documents per second."""
        done = self.pages_done if self.pages_total else self.documents_done
        return done / self.elapsed_s if self.elapsed_s > 0 and done else None

    @property
    def eta_s(self) -> float | None:
        rate = self.rate
        if rate is None:
            return None
        done, total = (
            (self.pages_done, self.pages_total) if self.pages_total else (self.documents_done, self.documents_total)
        )
        return max(0.0, (total - done) / rate)

    def line(self) -> str:
        parts = [f"{self.stage:<8}", f"{self.documents_done}/{self.documents_total} documents"]
        if self.pages_total:
            parts.append(f"{self.pages_done}/{self.pages_total} pages")
        rate = self.rate
        unit = "pages/s" if self.pages_total else "docs/s"
        parts.append(f"{rate:.1f} {unit}" if rate is not None else f"- {unit}")
        eta = self.eta_s
        parts.append(f"ETA {format_duration(eta)}" if eta is not None else "ETA -")
        parts.append(f"elapsed {format_duration(self.elapsed_s)}")
        return "  ".join(parts)

    def fields(self) -> dict[str, Any]:
        return {
            "documents_done": self.documents_done,
            "documents_total": self.documents_total,
            "pages_done": self.pages_done,
            "pages_total": self.pages_total,
            "rate": round(self.rate, 3) if self.rate is not None else None,
            "eta_s": round(self.eta_s, 1) if self.eta_s is not None else None,
            "elapsed_s": round(self.elapsed_s, 1),
        }


def format_duration(seconds: float) -> str:
    """``0:25``, ``12:03``, ``2:04:09``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class StageProgress:
    """Reports a stage's progress from its counters until closed (a daemon thread).

    On a terminal the line is redrawn every ``refresh_s``; otherwise a ``progress`` log
    record (with the figures as fields) goes out every ``interval_s`` and once at the end.
    Counts are capped at the totals: a task retried by Spark counts its work twice."""

    def __init__(
        self,
        counters: ProgressCounters,
        stage: str,
        documents_total: int,
        pages_total: int | None,
        *,
        stream: IO[str] | None = None,
        interactive: bool | None = None,
        interval_s: float = 30.0,
        refresh_s: float = 0.5,
    ) -> None:
        self.counters = counters
        self.stage = stage
        self.documents_total = documents_total
        self.pages_total = pages_total
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = _isatty(self.stream) if interactive is None else interactive
        self.interval_s = interval_s
        self.refresh_s = refresh_s
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._context = contextvars.copy_context()

    def snapshot(self) -> Snapshot:
        pages = int(self.counters.pages.value)
        return Snapshot(
            stage=self.stage,
            documents_done=min(int(self.counters.documents.value), self.documents_total),
            documents_total=self.documents_total,
            pages_done=min(pages, self.pages_total) if self.pages_total else pages,
            pages_total=self.pages_total,
            elapsed_s=time.monotonic() - self._started,
        )

    def __enter__(self) -> StageProgress:
        self._thread = threading.Thread(target=self._context.run, args=(self._loop,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._emit(final=True)

    def _loop(self) -> None:
        wait = self.refresh_s if self.interactive else self.interval_s
        while not self._stop.wait(wait):
            self._emit(final=False)

    def _emit(self, *, final: bool) -> None:
        snap = self.snapshot()
        if self.interactive:
            end = "\n" if final else ""
            self.stream.write(f"\r\x1b[2K{snap.line()}{end}")
            self.stream.flush()
        else:
            log.info("progress %s", snap.line(), extra={"event": "progress", "final": final, **snap.fields()})


class SparkJobs:
    """The Spark job group of a stage and the description of its current step."""

    def __init__(self, spark: SparkSession, run_id: str, stage: str) -> None:
        self.spark = spark
        self.group = f"docner-{run_id}-{stage}"
        self.stage = stage
        self.run_id = run_id

    def describe(self, step: str) -> None:
        """Name the jobs started from now on (Spark UI: Jobs → Description)."""
        context = self.spark.sparkContext
        context.setJobGroup(self.group, f"docner {self.stage}: {step} (run {self.run_id})", interruptOnCancel=False)

    def clear(self) -> None:
        self.spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
        self.spark.sparkContext.setLocalProperty("spark.job.description", None)  # type: ignore[arg-type]


def struct_child(array: pa.Array | pa.ChunkedArray, name: str) -> pa.Array:
    """Field ``name`` of a struct column, null where the struct itself is null."""
    struct = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    return struct.flatten()[struct.type.get_field_index(name)]


def finished_pages(raw: pa.Array, pending_status: str) -> int:
    """Pages of a scan batch's ``raw`` column that are done (not waiting for OCR)."""
    done = pc.fill_null(pc.not_equal(struct_child(raw, "status"), pending_status), False)
    return int(pc.sum(done).as_py() or 0)


def listed_items(array: pa.Array) -> int:
    """Total length of a list column (nulls count 0)."""
    return int(pc.sum(pc.list_value_length(array)).as_py() or 0)


def counted_input(
    batches: Iterator[pa.RecordBatch], counters: ProgressCounters | None, pages_column: str | None
) -> Iterator[pa.RecordBatch]:
    """Pass ``batches`` through, counting each batch's rows as documents (and the items of
    its list column ``pages_column`` as pages) once the consumer asks for the next one —
    i.e. once the batch has been processed."""
    pending: tuple[int, int] | None = None
    for batch in batches:
        if pending is not None and counters is not None:
            counters.add(*pending)
        pages = listed_items(batch.column(pages_column)) if pages_column else 0
        pending = (batch.num_rows, pages)
        yield batch
    if pending is not None and counters is not None:
        counters.add(*pending)
