"""Files that readers see whole or not at all: written to a temporary file in the same folder,
flushed to disk, then renamed over the target (an atomic replace on POSIX file systems)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def write_atomically(path: Path, content: str | Iterable[str], *, mode: int = 0o644) -> Path:
    """Write ``content`` (a text, or lines each given a newline) to ``path`` atomically;
    the parent folders are made. The temporary file is removed if anything fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            if isinstance(content, str):
                stream.write(content)
            else:
                for line in content:
                    stream.write(line)
                    stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
