"""docner's Spark side: the command line and pipeline (``cli``, ``pipeline``), the stages
(``stages``), the lake (``lake``), data quality (``quality``), operations (``ops``), the
declarations they share (``catalog``, ``config``) and development aids (``dev``).
See docs/architecture.md."""

from __future__ import annotations

from importlib import metadata


def code_version() -> str:
    """The installed docner version (part of every stage version and ``runs`` row)."""
    try:
        return metadata.version("docner")
    except metadata.PackageNotFoundError:
        return "0+unknown"
