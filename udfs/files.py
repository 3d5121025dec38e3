"""Finding and reading input files, on local disks or any filesystem pyarrow knows."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow.fs as pafs

PDF_SUFFIX = ".pdf"


@dataclass(frozen=True)
class InputFile:
    path: str  # absolute local path, or a URI for remote filesystems
    size_bytes: int
    modified_ms: int | None = None  # last modification, ms since the epoch (None: unknown)


def _is_remote(location: str) -> bool:
    scheme = urlparse(location).scheme
    return bool(scheme) and scheme != "file" and len(scheme) > 1


def _local(location: str) -> str:
    if location.startswith("file:"):
        return unquote(urlparse(location).path)
    return location


def list_pdfs(location: str) -> list[InputFile]:
    """Every ``*.pdf`` file (any case, any depth) under ``location``, or the file itself, sorted."""
    if _is_remote(location):
        filesystem, root = pafs.FileSystem.from_uri(location)
        scheme = urlparse(location).scheme
        info = filesystem.get_file_info(root)
        infos = (
            [info]
            if info.type == pafs.FileType.File
            else filesystem.get_file_info(pafs.FileSelector(root, recursive=True))
        )
        found = [
            InputFile(f"{scheme}://{i.path}", int(i.size or 0), i.mtime_ns // 1_000_000 if i.mtime_ns else None)
            for i in infos
            if i.type == pafs.FileType.File and i.base_name.lower().endswith(PDF_SUFFIX)
        ]
        return sorted(found, key=lambda f: f.path)
    root_path = Path(_local(location)).absolute()
    if not root_path.exists():
        raise FileNotFoundError(f"input {location} does not exist")
    if root_path.is_file():
        return [_local_file(root_path)]
    found = []
    for directory, _subdirs, names in os.walk(root_path):
        for name in names:
            if name.lower().endswith(PDF_SUFFIX):
                path = Path(directory) / name
                if path.is_file():
                    found.append(_local_file(path))
    return sorted(found, key=lambda f: f.path)


def _local_file(path: Path) -> InputFile:
    stat = path.stat()
    return InputFile(str(path), stat.st_size, stat.st_mtime_ns // 1_000_000)


def location_root(location: str) -> str:
    """``location`` as the paths ``list_pdfs`` returns start: absolute, no trailing '/'."""
    if _is_remote(location):
        return location.rstrip("/")
    return str(Path(_local(location)).absolute()).rstrip("/") or "/"


def is_under(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` itself or lies below it."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def read_bytes(path: str) -> bytes:
    if _is_remote(path):
        filesystem, inner = pafs.FileSystem.from_uri(path)
        with filesystem.open_input_stream(inner) as stream:
            return stream.read()
    with open(_local(path), "rb") as handle:
        return handle.read()


def sha256_of_file(path: str, chunk_bytes: int = 8 * 1024 * 1024) -> str:
    """Hex sha256 of a file, streamed (for files too large to hold in memory)."""
    digest = hashlib.sha256()
    if _is_remote(path):
        filesystem, inner = pafs.FileSystem.from_uri(path)
        with filesystem.open_input_stream(inner) as stream:
            while chunk := stream.read(chunk_bytes):
                digest.update(chunk)
        return digest.hexdigest()
    with open(_local(path), "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def file_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]
