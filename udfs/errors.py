"""Per-document outcomes: statuses and the error classes recorded in ``documents``."""

from __future__ import annotations

from dataclasses import dataclass

STATUS_OK = "ok"
STATUS_PARTIAL = "partial"  # some pages failed; the pages that worked are kept
STATUS_FAILED = "failed"
STATUS_SKIPPED = "skipped"  # deliberately not processed (too large, duplicate content)
STATUSES = (STATUS_OK, STATUS_PARTIAL, STATUS_FAILED, STATUS_SKIPPED)

MAX_MESSAGE_CHARS = 2000


class DocumentError(Exception):
    """A failure attributable to one document (or page), recorded instead of stopping the run."""

    error_class = "DocumentError"
    status = STATUS_FAILED

    def __init__(self, message: str, error_class: str | None = None, status: str | None = None) -> None:
        super().__init__(message)
        if error_class is not None:
            self.error_class = error_class
        if status is not None:
            self.status = status


class ModelUnavailable(RuntimeError):
    """A configured NER model is not installed or not loadable; nothing is downloaded at run time."""


@dataclass(frozen=True)
class Failure:
    error_class: str
    message: str
    status: str = STATUS_FAILED


def describe(exc: BaseException) -> Failure:
    """The error class and message recorded for an exception raised while processing a document."""
    if isinstance(exc, DocumentError):
        return Failure(exc.error_class, truncate(str(exc)), exc.status)
    return Failure(type(exc).__name__, truncate(f"{type(exc).__name__}: {exc}"))


def truncate(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"
