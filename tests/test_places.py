"""The gazetteer of places (udfs.ner.places): its file, its names, and the places of addresses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.config import load_config
from jobs.stages.ner import check_backends, ner_options
from udfs.ner.places import (
    CITY,
    COUNTRY,
    REGION,
    PlacesError,
    address_places,
    find_places,
    fold,
    load_places,
    places_document,
)

CONF = Path(__file__).resolve().parents[1] / "conf"


@pytest.fixture(scope="module")
def places():
    return load_places(CONF / "places" / "geonames.json")


def _texts(text, found):
    return [text[p.start : p.end] for p in found]


def test_the_shipped_gazetteer_knows_countries_regions_and_cities(places):
    assert places.kind("Switzerland") == COUNTRY and places.kind("the Netherlands") == COUNTRY
    assert places.kind("P.R. China") == COUNTRY and places.kind("USA") == COUNTRY
    assert places.kind("Ontario") == REGION and places.kind("Victoria") == REGION  # both cities too
    assert places.kind("NEW SOUTH WALES") == REGION
    assert places.kind("Toronto") == CITY and places.kind("Ra’anana") == CITY and places.kind("Zug") == CITY
    assert places.kind("Company") is None and places.kind("Licensor") is None
    assert {"TX", "VIC", "Ont."} <= places.region_codes
    assert len(places.cities) > 30_000 and len(places.digest) == 64


def test_names_are_found_longest_first_and_not_across_lines_or_commas(places):
    text = "offices in New South Wales and Toronto Ontario Canada; Zug.\nNew\nYork"
    assert _texts("the Netherlands", find_places("the Netherlands", places)) == ["Netherlands"]
    found = ["New South Wales", "Toronto", "Ontario", "Canada", "Zug", "York"]  # York alone: a city
    assert _texts(text, find_places(text, places)) == found


def test_a_city_counts_only_in_an_address(places):
    lowered = frozenset({"the", "of", "a", "reading", "mobile"})
    text = (
        "Richmond, VIC 3121 and Ra'anana 43107, Israel and CH-6301 Zug, Switzerland; 80 Cumberland street, "
        "suite 1707 Toronto Ont. (the Consultant). Toronto is large. 4060 Johns Creek Parkway. "
        "Reading, PA 19601. The laws of Delaware. 1111 West Georgia Street, Vancouver, B.C."
    )
    found = _texts(text, address_places(text, places, lowered))
    # Region codes before a postal code are read too (VIC, PA); "Toronto is large" is no address.
    assert found == [
        *("Richmond", "VIC", "Ra'anana", "Israel", "Zug", "Switzerland", "Toronto", "PA", "Delaware", "Vancouver")
    ]


def test_a_place_whose_words_the_text_writes_in_lower_case_is_not_read(places):
    text = "Mobile, AL 36602"
    assert _texts(text, address_places(text, places, frozenset())) == ["Mobile"]
    assert _texts(text, address_places(text, places, frozenset({"mobile"}))) == []


@given(st.text(alphabet="Zug Toronto,;.\n 12345-ABCVICOnt", max_size=80))
def test_found_places_are_the_texts_words(text):
    places = load_places(CONF / "places" / "geonames.json")
    for place in address_places(text, places, frozenset()):
        assert 0 <= place.start < place.end <= len(text)
        assert places.kind(text[place.start : place.end]) == place.kind


def test_fold_reads_one_apostrophe_one_space_and_no_article():
    assert fold("the  Netherlands") == "netherlands" and fold("Ra’anana") == fold("RA'ANANA")


_PLACES = b'{"format": "docner-places/1", "countries": [], "regions": [], "cities": [], "region_codes": []}'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "not JSON"),
        (b'{"format": "other"}', "not a docner places file"),
        (
            b'{"format": "docner-places/1", "countries": [], "regions": [], "cities": "Zug", "region_codes": []}',
            "'cities'",
        ),
        (
            b'{"format": "docner-places/1", "countries": [" "], "regions": [], "cities": [], "region_codes": []}',
            "'countries'",
        ),
    ],
)
def test_a_bad_places_file_names_the_file_and_the_problem(tmp_path, content, message):
    path = tmp_path / "places.json"
    path.write_bytes(content)
    with pytest.raises(PlacesError, match=message) as raised:
        load_places(path)
    assert str(path) in str(raised.value)
    with pytest.raises(PlacesError, match="cannot be read"):
        load_places(tmp_path / "missing.json")


def test_a_written_places_document_loads(tmp_path):
    document = places_document(["Israel"], ["Ontario"], ["Zug", "Zug"], ["ON"], "test")
    path = tmp_path / "p.json"
    path.write_text(json.dumps(document))
    loaded = load_places(path)
    assert loaded.cities == frozenset({"zug"}) and loaded.region_codes == frozenset({"ON"})


def test_the_gazetteer_is_configured_stops_the_stage_when_missing_and_enters_the_version(tmp_path):
    options = ner_options(load_config("local", overrides=["ner.backends=[rules]"]))
    _, models = check_backends(options, local=True)
    assert models["places"].endswith(options.places.digest)  # part of the NER stage version
    assert ner_options(load_config("local", overrides=["ner.places=null"])).places is None
    config = load_config("local", overrides=[f"ner.places={tmp_path / 'nope.json'}"])
    with pytest.raises(PlacesError, match=r"nope\.json: cannot be read"):
        ner_options(config)
