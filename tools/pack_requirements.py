"""The part of ``requirements.lock`` that a packed docner environment needs (``make package``).

    python -m tools.pack_requirements WHEEL [--extra NAME]... [--without NAME]... > pack.lock

The lock pins everything (dev tools and the transformers extra included). This walks the
dependency graph from the docner wheel's own requirements (plus the chosen extras),
through the metadata of the environment it runs in (``.venv``, installed from the same
lock), and prints the lock entries it reaches, hashes included, so that the packed
environment is installed by ``tools/install_env.py`` like every other. ``--without pyspark``
drops pyspark and whatever only it needs (py4j): on a cluster, spark-submit puts the
cluster's own pyspark on the Python path of the driver and of every Python worker.
"""

from __future__ import annotations

import argparse
import email
import sys
import zipfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tools.install_env import LockError, read_lock


def wheel_requirements(wheel: Path) -> list[Requirement]:
    """``Requires-Dist`` of a wheel, read from its METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = email.message_from_bytes(archive.read(name))
    return [Requirement(line) for line in message.get_all("Requires-Dist") or []]


def _applies(requirement: Requirement, extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in ("", *extras))


def closure(roots: list[Requirement], extras: list[str], without: set[str]) -> dict[str, str]:
    """Canonical name -> installed version of every distribution the roots need."""
    needed: dict[str, str] = {}
    queue = [(root, extras) for root in roots]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while queue:
        requirement, parent_extras = queue.pop()
        if not _applies(requirement, parent_extras):
            continue
        name = canonicalize_name(requirement.name)
        key = (name, tuple(sorted(requirement.extras)))
        if name in without or key in seen:
            continue
        seen.add(key)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"{name} is not installed in {sys.prefix}: run `make venv` first") from None
        needed[name] = distribution.version
        wanted = sorted(requirement.extras)
        queue.extend((Requirement(line), wanted) for line in distribution.requires or [])
    return needed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="the docner wheel")
    parser.add_argument("--lock", type=Path, default=Path("requirements.lock"))
    parser.add_argument("--extra", action="append", default=[], help="a docner extra to include (repeatable)")
    parser.add_argument("--without", action="append", default=[], help="a distribution to leave out (repeatable)")
    args = parser.parse_args(argv)

    needed = closure(wheel_requirements(args.wheel), args.extra, {canonicalize_name(n) for n in args.without})
    try:
        locked = read_lock(args.lock)
    except LockError as error:
        raise SystemExit(str(error)) from None
    missing = sorted(set(needed) - set(locked))
    if missing:
        raise SystemExit(f"not pinned in {args.lock}: {', '.join(missing)} (run `make lock`)")
    stale = sorted(
        f"{name} {version} (locked {locked[name].version})"
        for name, version in needed.items()
        if Version(version).public != Version(locked[name].version).public
    )
    if stale:
        raise SystemExit(f"{sys.prefix} does not match {args.lock}: {', '.join(stale)} (run `make venv`)")
    print(f"# {len(needed)} of the {len(locked)} entries of {args.lock}, for {args.wheel.name}")
    for name in sorted(needed):
        print(locked[name].requirement_lines())
    return 0


if __name__ == "__main__":
    sys.exit(main())
