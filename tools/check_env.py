"""Is every requirement of every installed distribution met, extras included? Run by a venv's python.

    VENV/bin/python tools/check_env.py

``tools/install_env.py`` installs a lock with ``--no-deps``, so the lock has to be complete. ``pip
check`` only looks at each distribution's plain requirements: a lock that pins ``weasel`` (which
needs ``smart-open[http]``) but not ``requests`` (which only that extra needs) passes it. This walks
the requirements from every installed distribution, following each extra that something asks for,
and prints one line per unmet requirement in pip check's words; no line means all is met.

Standard library plus the ``packaging`` that pip vendors (every docner venv has pip), so that it
runs in any environment, whatever the lock holds.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata

try:
    from pip._vendor.packaging.requirements import Requirement
except ImportError:  # pragma: no cover - an environment without pip
    from packaging.requirements import Requirement  # type: ignore[assignment]


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def unmet_requirements() -> list[str]:
    """pip check style lines for every unmet requirement, extras that others ask for included."""
    installed = {canonical_name(d.metadata["Name"]): d for d in metadata.distributions() if d.metadata["Name"]}
    # (distribution, extra) pairs to check; "" is a distribution's plain requirements.
    queue: list[tuple[str, str, str]] = [(name, "", "") for name in sorted(installed)]
    seen: set[tuple[str, str]] = set()
    problems: dict[str, None] = {}
    while queue:
        name, extra, asker = queue.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        distribution = installed[name]
        label = f"{distribution.metadata['Name']} {distribution.version}"
        for line in distribution.requires or []:
            requirement = Requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
                continue
            if extra and (requirement.marker is None or requirement.marker.evaluate({"extra": ""})):
                continue  # a plain requirement, checked with the distribution itself
            wanted = canonical_name(requirement.name)
            why = f" for its extra '{extra}' (asked for by {asker})" if extra else ""
            spec = f"{requirement.name}{requirement.specifier}"
            if wanted not in installed:
                problems[f"{label} requires {spec}{why}, which is not installed."] = None
                continue
            have = installed[wanted].version
            if not requirement.specifier.contains(have, prereleases=True):
                problems[f"{label} has requirement {spec}{why}, but you have {requirement.name} {have}."] = None
            queue.extend((wanted, canonical_name(e), label) for e in requirement.extras)
    return list(problems)


def main() -> int:
    for line in unmet_requirements():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
