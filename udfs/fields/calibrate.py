"""Confidence of a field value: how often values found the same way were right.

A finder gives each value a raw score (its own guess of how sure the method is). A
calibration table, fitted on gold (``docner eval fields … --write-calibration FILE``), holds
for each field and method how many of the values it found were right. A value's confidence is
that share, shrunk towards the raw score where the method was seen rarely:

    confidence = (right + prior * score) / (total + prior)

so a method right 45 times in 50 gets about 0.9 whatever its raw score, one seen twice stays
near its raw score, and a method the table has never seen keeps its raw score. Within one
method, a higher raw score still gives a higher confidence. The reliability table (confidence
bins against the share right, ``docner eval fields``) shows how well it holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CALIBRATION_FORMAT = 1


class CalibrationError(ValueError):
    """The calibration file is missing or not a calibration table."""


@dataclass(frozen=True)
class Calibration:
    """(field, method) -> (right, total) counts on gold, and the prior's weight in values."""

    counts: Mapping[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    prior: float = 4.0
    digest: str = "none"  # of the file, so the stage version changes with it
    fitted_on: str = ""

    def confidence(self, field_name: str, method: str, score: float) -> float:
        score = min(1.0, max(0.0, score))
        right, total = self.counts.get((field_name, base_method(method)), (0, 0))
        return round((right + self.prior * score) / (total + self.prior), 4)


NO_CALIBRATION = Calibration()


def base_method(method: str) -> str:
    """The finder's method without what it records after it ("preamble-date; order by places")."""
    return method.split(";", 1)[0].strip()


def fit(counts: Mapping[tuple[str, str], tuple[int, int]], *, fitted_on: str, prior: float = 4.0) -> dict[str, Any]:
    """The calibration file's content for per-method counts from an evaluation on gold."""
    merged: dict[tuple[str, str], tuple[int, int]] = {}
    for (field_name, method), (right, total) in counts.items():
        if not 0 <= right <= total:
            raise CalibrationError(f"{field_name}/{method}: {right} right of {total}")
        key = (field_name, base_method(method))
        seen = merged.get(key, (0, 0))
        merged[key] = (seen[0] + right, seen[1] + total)
    return {
        "format": CALIBRATION_FORMAT,
        "fitted_on": fitted_on,
        "prior": prior,
        "methods": [
            {"field": f, "method": m, "right": right, "total": total}
            for (f, m), (right, total) in sorted(merged.items())
        ],
    }


def load_calibration(path: str | Path) -> Calibration:
    path = Path(path)
    try:
        raw = path.read_bytes()
        content = json.loads(raw)
    except FileNotFoundError:
        raise CalibrationError(f"{path}: no such calibration file (fields.calibration)") from None
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"{path}: not JSON: {exc}") from None
    if not isinstance(content, dict) or content.get("format") != CALIBRATION_FORMAT:
        raise CalibrationError(f"{path}: not a calibration table of format {CALIBRATION_FORMAT}")
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    try:
        prior = float(content.get("prior", 4.0))
        for entry in content["methods"]:
            right, total = int(entry["right"]), int(entry["total"])
            if not 0 <= right <= total:
                raise CalibrationError(f"{path}: {entry['field']}/{entry['method']}: {right} right of {total}")
            counts[(str(entry["field"]), str(entry["method"]))] = (right, total)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, CalibrationError):
            raise
        raise CalibrationError(f"{path}: malformed methods table: {exc!r}") from None
    if prior <= 0:
        raise CalibrationError(f"{path}: prior must be positive")
    return Calibration(counts, prior, hashlib.sha256(raw).hexdigest()[:16], str(content.get("fitted_on", "")))
