"""Build a Python environment from a hash-locked requirements file: exactly its files, nothing resolved.

    python3.11 tools/install_env.py VENV LOCK [--editable DIR] [--local PATH]... [--allow-missing NAME]...
                                    [--bootstrap FILE] [--no-compile]

Every environment docner builds goes through here: ``.venv``, ``.venv-reader``, ``.venv-airflow``,
``make package``'s archive and ``make lock``'s tools. Standard library only: it runs on the bare
interpreter, before any venv exists.

1. The lock is read and checked before anything is touched: every entry pinned with ``==`` and
   hashed, each package once, no options that reach outside the file. An error names the entry, its
   line and the lock, and leaves an existing environment as it was.
2. ``python -m venv --clear VENV``: the interpreter's own pip (23.2.1 with Python 3.11.7).
3. That pip installs pip and setuptools from ``requirements-bootstrap.lock`` (the lock's own pins
   of them win), ``--require-hashes --no-deps``: neither has dependencies, so nothing is resolved,
   and every later step runs with the same pip whatever the interpreter bundled.
4. Every entry of the lock, ``--require-hashes --no-deps --no-build-isolation``. pip resolves
   nothing (a dependency's newest release on the index is never looked at, extras included) and
   builds the lock's source-only packages (pyspark) with the lock's setuptools, not with whatever
   setuptools the index has that day.
5. The local packages (docner itself), ``--no-deps --no-build-isolation``.
6. ``pip check`` and ``tools/check_env.py`` (the same, following extras, which pip check skips):
   with ``--no-deps`` the lock must be complete; a missing or mismatched dependency fails here,
   named, instead of at import time.
7. The stamp file (``VENV/.docner-installed``: the lock's digest, Python and pip), last: ``make``
   takes an environment as built only when every step before it succeeded. A failure after step 2
   removes the half-built environment.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REQUIRED_PYTHON = (3, 11)
BOOTSTRAP_LOCK = Path(__file__).resolve().parent.parent / "requirements-bootstrap.lock"
CHECK_ENV = Path(__file__).resolve().parent / "check_env.py"
STAMP_NAME = ".docner-installed"

# name[extras]==version [; marker]   (PEP 508 names; ``===`` is an exact pin too)
_PINNED = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?P<extras>\[[^\]]*\])?\s*"
    r"(?P<op>===?)\s*(?P<version>[^\s;,*]+)\s*(?:;\s*(?P<marker>.+))?$"
)
_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_HASH = re.compile(r"^--hash[=\s]\s*(?P<algorithm>sha256|sha384|sha512):(?P<digest>[0-9a-fA-F]+)$")
_MISSING = re.compile(r"^(?P<owner>\S+) \S+ requires (?P<name>[A-Za-z0-9._-]+)\b.*, which is not installed\.$")


class LockError(ValueError):
    """A lock file that cannot be installed as it is: the message names the file, line and entry."""


@dataclass(frozen=True)
class LockEntry:
    """One pinned package of a lock: its canonical name, version, hashes and where it stands."""

    name: str
    version: str
    hashes: tuple[str, ...]
    marker: str | None
    line: int
    text: str

    def requirement_lines(self) -> str:
        """The entry as a requirements file holds it (one logical line, hashes included)."""
        return " \\\n    ".join([self.text, *(f"--hash={digest}" for digest in self.hashes)])


def canonical_name(name: str) -> str:
    """PEP 503 normalised name: ``Smart_Open`` and ``smart.open`` are ``smart-open``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """(first physical line number, joined text) of each requirement, comments and blanks dropped."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        joined = " ".join(part.strip() for part in pending).strip()
        pending = []
        if joined:
            yield start, joined
    if pending and " ".join(pending).strip():
        yield start, " ".join(part.strip() for part in pending).strip()


def parse_lock(text: str, source: str = "lock") -> dict[str, LockEntry]:
    """Canonical name -> entry of every package of a pip-compile style lock.

    Raises ``LockError`` naming ``source``, the line and the package for anything pip would not
    install byte for byte from this file alone: a range or wildcard instead of ``==``, a direct
    URL, an entry without ``--hash``, the same package twice, or an option such as ``-r``, ``-e``
    or ``--index-url``.
    """
    entries: dict[str, LockEntry] = {}
    for line, logical in _logical_lines(text):
        words = logical.split()
        hashes: list[str] = []
        spec_words: list[str] = []
        index = 0
        while index < len(words):
            word = words[index]
            if word == "--hash" and index + 1 < len(words):
                word, index = f"--hash={words[index + 1]}", index + 1
            if word.startswith("--hash"):
                match = _HASH.match(word)
                if not match:
                    raise LockError(f"{source}:{line}: {word!r} is not a sha256/384/512 hash")
                hashes.append(f"{match['algorithm']}:{match['digest'].lower()}")
            elif word.startswith("-"):
                raise LockError(
                    f"{source}:{line}: option {word!r}: a lock holds only pinned, hashed packages "
                    "(index, find-links and nested files come from pip's own configuration)"
                )
            else:
                spec_words.append(word)
            index += 1
        spec = " ".join(spec_words)
        named = _NAME.match(spec)
        label = named.group(1) if named else spec
        pinned = _PINNED.match(spec)
        if not pinned:
            raise LockError(
                f"{source}:{line}: {spec!r} is not pinned with == to one version: every package of "
                f"a lock, {label} included, needs an exact version (re-lock: `make lock`)"
            )
        if not hashes:
            raise LockError(
                f"{source}:{line}: {label}=={pinned['version']} has no --hash: every file pip may take "
                "must be hash-checked (re-lock with --generate-hashes)"
            )
        name = canonical_name(pinned["name"])
        if name in entries and entries[name].marker is None and pinned["marker"] is None:
            raise LockError(
                f"{source}:{line}: {label} is pinned twice (also on line {entries[name].line}): "
                "a lock pins each package once"
            )
        text_without_hashes = spec
        entries[name] = LockEntry(
            name=name,
            version=pinned["version"],
            hashes=tuple(hashes),
            marker=pinned["marker"],
            line=line,
            text=text_without_hashes,
        )
    return entries


def read_lock(path: Path) -> dict[str, LockEntry]:
    """``parse_lock`` of a file, with a clear error when it is not there."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LockError(f"lock file {path} not found") from None
    entries = parse_lock(text, source=str(path))
    if not entries:
        raise LockError(f"{path} pins no package")
    return entries


def bootstrap_entries(bootstrap: dict[str, LockEntry], lock: dict[str, LockEntry]) -> list[LockEntry]:
    """The bootstrap packages to install first: the lock's own pin of each where it has one."""
    return [lock.get(name, entry) for name, entry in sorted(bootstrap.items())]


def unexpected_problems(check_output: str, allow_missing: Iterable[str]) -> list[str]:
    """The lines of ``pip check`` that are real problems: all but 'requires X, which is not
    installed' for an X the environment leaves out on purpose (pyspark in the cluster archive)."""
    allowed = {canonical_name(name) for name in allow_missing}
    problems = []
    for line in check_output.splitlines():
        line = line.strip()
        if not line or line.startswith("No broken requirements"):
            continue
        missing = _MISSING.match(line)
        if missing and canonical_name(missing["name"]) in allowed:
            continue
        problems.append(line)
    return problems


class InstallError(RuntimeError):
    """A step of the install failed; the message says which and for which lock."""


def _log(venv: Path, message: str) -> None:
    print(f"install-env: {venv}: {message}", file=sys.stderr, flush=True)


def _run(command: Sequence[str], what: str, capture: bool = False) -> str:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}
    completed = subprocess.run(
        list(command),
        env=env,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
        check=False,
    )
    if completed.returncode != 0:
        detail = f"\n{completed.stdout.rstrip()}" if capture and completed.stdout else ""
        raise InstallError(f"{what} failed (exit {completed.returncode}): {shlex.join(command)}{detail}")
    return completed.stdout or ""


def check_output(python: str) -> str:
    """``pip check`` and ``tools/check_env.py`` (which follows extras too) in one environment."""
    lines: dict[str, None] = {}
    for command in ([python, "-m", "pip", "check"], [python, str(CHECK_ENV)]):
        completed = subprocess.run(command, text=True, capture_output=True, check=False)
        output = completed.stdout + completed.stderr
        if completed.returncode != 0 and not output.strip():
            output = f"{shlex.join(command)} exited {completed.returncode}"
        lines.update(dict.fromkeys(output.splitlines()))
    return "\n".join(lines)


def _is_venv(path: Path) -> bool:
    return (path / "pyvenv.cfg").is_file()


def install(
    venv: Path,
    lock_path: Path,
    *,
    bootstrap_path: Path = BOOTSTRAP_LOCK,
    editable: Sequence[Path] = (),
    local: Sequence[Path] = (),
    allow_missing: Sequence[str] = (),
    compile_bytecode: bool = True,
    quiet: bool = True,
) -> Path:
    """Build ``venv`` from ``lock_path`` (steps 1-7 of the module docstring); return the stamp path."""
    if sys.version_info[:2] != REQUIRED_PYTHON:
        raise InstallError(
            f"docner's environments need Python {'.'.join(map(str, REQUIRED_PYTHON))} (its locks are "
            f"resolved for it), got {sys.version.split()[0]} at {sys.executable}"
        )
    lock = read_lock(lock_path)
    bootstrap = read_lock(bootstrap_path)
    for path in (*editable, *local):
        if not path.exists():
            raise InstallError(f"{path} not found (a local package to install into {venv})")
    if venv.exists() and not _is_venv(venv) and any(venv.iterdir()):
        raise InstallError(f"{venv} exists and is not a virtual environment: not clearing it")

    stamp = venv / STAMP_NAME
    started = time.monotonic()
    quiet_flag = ["--quiet"] if quiet else []
    compile_flag = [] if compile_bytecode else ["--no-compile"]
    _log(venv, f"fresh venv for {lock_path} ({len(lock)} packages), Python {sys.version.split()[0]}")
    _run([sys.executable, "-m", "venv", "--clear", str(venv)], f"creating {venv}")
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip"]
    try:
        with tempfile.TemporaryDirectory(prefix="install-env-") as scratch:
            first = bootstrap_entries(bootstrap, lock)
            first_file = Path(scratch) / "bootstrap.txt"
            first_file.write_text("\n".join(entry.requirement_lines() for entry in first) + "\n", encoding="utf-8")
            _run(
                [*pip, "install", *quiet_flag, "--require-hashes", "--no-deps", "-r", str(first_file)],
                f"installing {', '.join(f'{e.name}=={e.version}' for e in first)} into {venv} "
                f"(from {bootstrap_path} and {lock_path})",
            )
        _run(
            [
                *pip, "install", *quiet_flag, *compile_flag,
                "--require-hashes", "--no-deps", "--no-build-isolation", "-r", str(lock_path),
            ],
            f"installing {lock_path} into {venv} (a package of the lock that pip could not get, or whose "
            "file did not match its hash, is named above)",
        )  # fmt: skip
        for path in editable:
            _run(
                [*pip, "install", *quiet_flag, "--no-deps", "--no-build-isolation", "-e", str(path)],
                f"installing {path} (editable) into {venv}",
            )
        for path in local:
            _run(
                [*pip, "install", *quiet_flag, *compile_flag, "--no-deps", "--no-build-isolation", str(path)],
                f"installing {path} into {venv}",
            )
        problems = unexpected_problems(check_output(python), allow_missing)
        if problems:
            raise InstallError(
                f"{lock_path} is incomplete or inconsistent (pip check and the extras check in {venv}):\n  "
                + "\n  ".join(problems)
                + "\nEvery dependency must be pinned in the lock: re-lock (`make lock`) rather than add it by hand."
            )
        pip_version = _run([*pip, "--version"], "pip --version", capture=True).split()[1]
        digest = hashlib.sha256(lock_path.read_bytes()).hexdigest()
        partial = stamp.with_suffix(".partial")
        partial.write_text(
            f"lock {lock_path} sha256:{digest}\npython {sys.version.split()[0]}\npip {pip_version}\n", encoding="utf-8"
        )
        partial.replace(stamp)
    except BaseException:
        if _is_venv(venv):
            shutil.rmtree(venv, ignore_errors=True)
            _log(venv, "removed the half-built environment")
        raise
    _log(venv, f"ready in {time.monotonic() - started:.1f} s (pip {pip_version}, stamp {stamp})")
    return stamp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("venv", type=Path, help="the environment to (re)build")
    parser.add_argument("lock", type=Path, help="its hash-locked requirements file")
    parser.add_argument("--bootstrap", type=Path, default=BOOTSTRAP_LOCK, help="pip and setuptools, locked")
    parser.add_argument("--editable", type=Path, action="append", default=[], help="a local project, editable")
    parser.add_argument("--local", type=Path, action="append", default=[], help="a local wheel or project")
    parser.add_argument(
        "--allow-missing", action="append", default=[], help="a dependency left out on purpose (pip check)"
    )
    parser.add_argument("--no-compile", action="store_true", help="no bytecode (pip --no-compile)")
    parser.add_argument("--verbose", action="store_true", help="pip's own output")
    args = parser.parse_args(argv)
    try:
        install(
            args.venv,
            args.lock,
            bootstrap_path=args.bootstrap,
            editable=args.editable,
            local=args.local,
            allow_missing=args.allow_missing,
            compile_bytecode=not args.no_compile,
            quiet=not args.verbose,
        )
    except (LockError, InstallError) as error:
        print(f"install-env: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
