"""Places: the countries, regions and cities of a gazetteer, and the places an address names.

A news-trained model types ``Beijing`` or ``AUSTRALIA`` as an ORG in a contract's party clause,
and misses the city of an address written the way another country writes it
(``CH-6301 Zug, Switzerland``, ``Ra'anana 43107, Israel``, ``Toronto Ontario Canada``). Two
general methods fix both, with a gazetteer that ships with docner
(``conf/places/geonames.json``, made by ``tools/build_places.py`` from GeoNames, CC BY 4.0):

- a model's ORG (or LOC/FAC) whose whole text is a known place, or a run of them
  (``Ontario Canada``), is that place: a GPE;
- a place the model did not mark is a GPE where the text says it is one: a country or a region
  (state, province) by its name, a city only in an address, followed by a postal code, a
  region or a country (``Richmond, VIC 3121``, ``Zug, Switzerland``, ``Toronto Ontario``);
  a number before a name is no evidence (``4060 Johns Creek Parkway`` is a street).

Names are matched as written (any case), a city's only where its words are not words the
document (or the lexicon) writes in lower case: ``Mobile``, ``Reading`` and ``Split`` are
cities, and words. The file's digest is part of the NER stage version.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = "docner-places/1"
COUNTRY, REGION, CITY = "country", "region", "city"
MAX_WORDS = 4  # the longest name looked up ("Bosnia and Herzegovina", "Prince Edward Island")

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʻ": "'", "`": "'"})
_WORD = re.compile(r"[^\W\d_](?:[\w'’‘.]|-(?=\w))*")
_JOIN = re.compile(r"[ \t]{1,2}|-")  # between the words of one name: no line break, no comma
_ARTICLE = frozenset({"the", "The", "THE"})  # "the Netherlands": the name starts after it
# A word after a place's name that makes it a street's or a building's (West Georgia Street).
_STREET_AFTER = re.compile(
    r"[ \t]+(?:Street|St|Road|Rd|Avenue|Ave|Boulevard|Blvd|Drive|Dr|Lane|Ln|Way|Place|Pl|Parkway|Pkwy|Square|Plaza|"
    r"Court|Ct|Highway|Hwy|Building|Bldg|Tower|Center|Centre|Terrace|Circle|Mall)\b",
    re.IGNORECASE,
)
_GAP_AFTER = re.compile(r"[ \t]*,?[ \t]*\n?[ \t]*")
# Postal codes as addresses around the world write them: 12345, 12345-6789, 3121, CH-6301,
# 2521 CC, M3C 1H6, SW1A 1AA.
_POSTCODE = re.compile(
    r"(?:[A-Z]{1,2}-)?\d{4,6}(?:-\d{4})?(?:[ \t]?[A-Z]{2}(?![\w]))?(?![\w-])|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d(?![\w])|"
    r"[A-Z]{1,2}\d[A-Z\d]?[ \t]\d[A-Z]{2}(?![\w])"
)


class PlacesError(ValueError):
    """A gazetteer file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Places:
    countries: frozenset[str]  # folded names (see fold)
    regions: frozenset[str]
    cities: frozenset[str]
    region_codes: frozenset[str]  # as addresses write them: "TX", "VIC", "Ont."
    source: str
    digest: str  # sha256 of the file's content, for the NER stage version

    def kind(self, name: str) -> str | None:
        """``country``, ``region`` or ``city`` (the first that applies), or None."""
        key = fold(name)
        if key in self.countries:
            return COUNTRY
        if key in self.regions:
            return REGION
        if key in self.cities:
            return CITY
        return None


@dataclass(frozen=True)
class Place:
    start: int
    end: int
    kind: str


def fold(name: str) -> str:
    """A name as the gazetteer keys it: one kind of apostrophe, single spaces, no leading
    article, case folded (``the Netherlands`` → ``netherlands``)."""
    text = " ".join(name.translate(_APOSTROPHES).split())
    text = re.sub(r"^(?:the)\s+", "", text, flags=re.IGNORECASE)
    return text.casefold()


def find_places(text: str, places: Places) -> list[Place]:
    """Every gazetteer name in ``text``, longest first at each word, not overlapping: runs of
    up to MAX_WORDS words joined by a space or a hyphen, the first capitalised."""
    words = list(_WORD.finditer(text))
    found: list[Place] = []
    index = 0
    while index < len(words):
        first = words[index]
        hit = None
        if first.group()[0].isupper() and first.group() not in _ARTICLE:
            last = index
            while last + 1 < len(words) and last + 1 - index < MAX_WORDS:
                if not _JOIN.fullmatch(text, words[last].end(), words[last + 1].start()):
                    break
                last += 1
            for stop in range(last, index - 1, -1):
                end = words[stop].end()
                kind = places.kind(text[first.start() : end])
                if kind is None and text[end - 1] == ".":  # "Zug." ends a sentence; "U.S.A." keeps its dot
                    end -= 1
                    kind = places.kind(text[first.start() : end])
                if kind is not None:
                    hit = (Place(first.start(), end, kind), stop)
                    break
        if hit is None:
            index += 1
            continue
        found.append(hit[0])
        index = hit[1] + 1
    return found


def address_places(text: str, places: Places, lowered: frozenset[str]) -> list[Place]:
    """The places ``text`` names as places: countries and regions wherever their names stand,
    cities only in an address (a postal code, a region code, a region or a country next to
    them). Names made only of words in ``lowered`` (words written in lower case) are not read,
    nor the name of a street (``West Georgia Street``)."""
    found = [
        p
        for p in find_places(text, places)
        if not _common(text[p.start : p.end], lowered) and not _STREET_AFTER.match(text, p.end)
    ]
    starts = {p.start: p for p in found}
    kept = []
    for place in found:
        if place.kind != CITY or _in_address(text, place, places, starts):
            kept.append(place)
    return kept


def _common(name: str, lowered: frozenset[str]) -> bool:
    words = [w.lower() for w in _WORD.findall(name.translate(_APOSTROPHES))]
    return bool(words) and all(w.rstrip(".") in lowered for w in words)


def _in_address(text: str, place: Place, places: Places, starts: dict[int, Place]) -> bool:
    gap = _GAP_AFTER.match(text, place.end)
    after = gap.end() if gap else place.end
    following = starts.get(after)
    if following is not None and following.kind in (REGION, COUNTRY):
        return True
    code = re.match(r"(?:[A-Z]\.){2,3}|[A-Z][A-Za-z]{1,3}\.?(?![\w])", text[after : after + 6])
    if code and code.group() in places.region_codes:
        return True
    return bool(_POSTCODE.match(text, after)) and after > place.end


def load_places(path: Path | str) -> Places:
    """Read and check a gazetteer file (FORMAT); PlacesError says what is wrong with it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PlacesError(f"places file {path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlacesError(f"places file {path}: not JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PlacesError(f"places file {path}: not a docner places file (format must be {FORMAT!r})")
    lists = {}
    for key in ("countries", "regions", "cities", "region_codes"):
        values = data.get(key)
        if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
            raise PlacesError(f"places file {path}: {key!r} must be a list of names")
        lists[key] = values
    return Places(
        countries=_folded(lists["countries"]),
        regions=_folded(lists["regions"]),
        cities=_folded(lists["cities"]),
        region_codes=frozenset(lists["region_codes"]),
        source=str(data.get("source", "")),
        digest=hashlib.sha256(raw).hexdigest(),
    )


def _folded(names: Iterable[str]) -> frozenset[str]:
    return frozenset(fold(name) for name in names)


def places_document(
    countries: Iterable[str], regions: Iterable[str], cities: Iterable[str], region_codes: Iterable[str], source: str
) -> dict[str, Any]:
    """The JSON document of a places file (sorted, without duplicates)."""
    return {
        "format": FORMAT,
        "source": source,
        "countries": sorted(set(countries)),
        "regions": sorted(set(regions)),
        "region_codes": sorted(set(region_codes)),
        "cities": sorted(set(cities)),
    }
