"""Contract resolution (udfs.ner.resolve): definitions, parties, document evidence and shapes."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.config import load_config
from jobs.stages.ner import ner_options
from udfs.ner.backends.rules import load_rules
from udfs.ner.entities import Candidate
from udfs.ner.lexicon import Lexicon, load_lexicon
from udfs.ner.merge import merge_candidates
from udfs.ner.normalize import entity_key, normalize_reference
from udfs.ner.places import Places, load_places
from udfs.ner.profiles import PROFILES
from udfs.ner.recognize import NerOptions, recognize_texts
from udfs.ner.resolve import made_from_name, resolve_document, shape_ok

CONF = Path(__file__).resolve().parents[1] / "conf"
RULES = load_rules([CONF / "rules"])
POLICY = ner_options(load_config("local")).merge


def model(text: str, phrase: str, label: str, nth: int = 0) -> Candidate:
    """A model's candidate on the nth occurrence of ``phrase``."""
    found = [m.start() for m in re.finditer(re.escape(phrase), text)]
    start = found[nth]
    return Candidate(start, start + len(phrase), phrase, label, None, "spacy", "en_test", "1")


def resolved(
    text: str, *models: Candidate, lexicon: Lexicon | None = None, places: Places | None = None
) -> list[tuple[str, str, str | None]]:
    """(label, text, refers_to_key) of the resolved entities of ``text``: the rules' candidates
    and the given model candidates, merged with the default policy, then resolved."""
    merged = merge_candidates([*RULES.find(text), *models], POLICY)
    return [
        (m.entity.label, m.entity.text, entity_key(*m.refers_to) if m.refers_to else None)
        for m in resolve_document(text, merged, lexicon, places)
    ]


PREAMBLE = (
    "This Services Agreement is made by and between Acme Robotics, Inc., a Delaware corporation "
    '(the "Company"), and Birch First Global Investments Inc., a Nevada corporation ("BFGI").\n'
    "The company's services are provided to BFGI. The Company shall pay BFGI within thirty (30) days.\n"
)


def test_a_role_defined_for_a_party_is_an_alias_of_it_everywhere():
    text = PREAMBLE
    found = resolved(text, model(text, "Company", "ORG", 1), model(text, "BFGI", "ORG", 2))
    assert ("ALIAS", "Company", "acme robotics") in found  # the definition and the later mention
    assert found.count(("ALIAS", "Company", "acme robotics")) == 2
    assert not [f for f in found if f[1] == "Company" and f[0] == "ORG"]  # a role is never an ORG


def test_a_short_name_made_from_the_name_is_an_org_of_that_party():
    found = resolved(PREAMBLE)
    assert found.count(("ORG", "BFGI", "birch first global investments")) == 3  # defined, then two mentions
    assert ("ORG", "Acme Robotics, Inc.", None) in found
    assert ("ORG", "Birch First Global Investments Inc.", None) in found


def test_a_term_defined_without_a_party_is_a_defined_term_and_the_models_calls_on_it_go():
    text = (
        "The Recipient shall keep all confidential information disclosed to it "
        '("Confidential Information") secret. Confidential Information excludes public data.\n'
        '"Territory" means the United States. Sales in the Territory are reported monthly.'
    )
    found = resolved(
        text,
        model(text, "Confidential Information", "ORG", 1),
        model(text, "Territory", "ORG", 1),
        model(text, "the United States", "GPE"),
    )
    assert ("DEFINED_TERM", "Confidential Information", None) in found
    assert not [f for f in found if f[0] == "ORG"]
    assert ("GPE", "United States", None) in found  # the leading article trimmed


def test_capitalised_common_nouns_headings_and_addresses_are_not_names():
    text = (
        "LIMITATION OF LIABILITY\n"
        "The services and the software are licensed as is. Services include Software updates.\n"
        "Notices go to 100 Main Street, Suite 200, Springfield, and to Jane Q. Doe.\n"
    )
    found = resolved(
        text,
        model(text, "LIMITATION OF LIABILITY", "ORG"),  # words contracts write in lower case (lexicon)
        model(text, "Services", "ORG"),
        model(text, "Software", "PERSON"),
        model(text, "Suite 200", "PERSON"),
        model(text, "Jane Q. Doe", "PERSON"),
        lexicon=load_lexicon(CONF / "lexicon" / "contracts.json"),
    )
    assert [f[:2] for f in found if f[0] in ("ORG", "PERSON")] == [("PERSON", "Jane Q. Doe")]


def test_shapes_of_the_models_values():
    def c(text: str, label: str) -> Candidate:
        return Candidate(0, len(text), text, label, None, "spacy", "m", "1")

    assert shape_ok(c("March 15, 2023", "DATE")) and shape_ok(c("2019", "DATE")) and shape_ok(c("7/18/11", "DATE"))
    assert not shape_ok(c("9", "DATE")) and not shape_ok(c("monthly", "DATE")) and not shape_ok(c("33304", "DATE"))
    assert shape_ok(c("$5,000", "MONEY")) and shape_ok(c("Five Thousand Dollars", "MONEY"))
    assert not shape_ok(c("500", "MONEY"))
    assert shape_ok(c("Securities Act of 1933", "LAW")) and shape_ok(c("Bankruptcy Code", "LAW"))
    assert not shape_ok(c("Section 9.2", "LAW")) and not shape_ok(c("Article 10", "LAW"))
    assert shape_ok(c("John A. Smith", "PERSON"))
    assert not shape_ok(c("Durbin 2", "PERSON")) and not shape_ok(c("LICENSOR", "PERSON"))


def test_places_in_party_clauses_are_places():
    text = "organized under the laws of the State of New York, and Foo LLC, a Nevada corporation."
    found = resolved(text, model(text, "the State of New York", "ORG"), model(text, "Nevada corporation", "ORG"))
    assert ("GPE", "New York", None) in found and ("GPE", "Nevada", None) in found


def test_each_a_party_marks_party_only_where_it_stands_for_one_party():
    text = (
        'Acme Robotics, Inc. and Beta Tools LLC (each a "Party" and together the "Parties") agree. '
        "Either Party may end this. A Party that breaches pays; the Parties meet yearly."
    )
    found = resolved(text)
    parties = [f for f in found if f[1] in ("Party", "Parties")]
    assert parties == [("ALIAS", "Party", None), ("ALIAS", "Party", None)]  # defined, and "Either Party"


def test_made_from_name():
    assert made_from_name("BFGI", "Birch First Global Investments Inc.")
    assert made_from_name("Logan's", "Logan's Roadhouse, Inc.")
    assert made_from_name("NW1", "Network 1 Financial, Inc.")
    assert made_from_name("Antares", "Antares Pharma, Inc.")
    assert not made_from_name("Company", "Acme Robotics, Inc.")
    assert not made_from_name("Licensor", "Liquidmetal Technologies, Inc.")


def test_section_references_are_their_own_label_with_the_identifier_as_value():
    text = "as set out in Sections 3.10 and 3.11, Article IV and Exhibit “A”; see Section 2.03 (b)."
    found = [(c.text, c.label) for c in RULES.find(text) if c.label == "SECTION_REF"]
    assert found == [
        ("Sections 3.10", "SECTION_REF"),
        ("3.11", "SECTION_REF"),
        ("Article IV", "SECTION_REF"),
        ("Exhibit “A”", "SECTION_REF"),
        ("Section 2.03 (b)", "SECTION_REF"),
    ]
    assert [normalize_reference(t) for t, _ in found] == ["3.10", "3.11", "IV", "A", "2.03(b)"]
    assert not [c for c in RULES.find("EXHIBIT 10.3\nSERVICES AGREEMENT") if c.label == "SECTION_REF"]


class _Fixed:
    """A backend that proposes given candidates (offsets into the one text it is given)."""

    source, model, model_version = "spacy", "fixed", "1"

    def __init__(self, candidates: list[Candidate]) -> None:
        self.candidates = candidates

    def recognize(self, texts):
        return [list(self.candidates) for _ in texts]


def test_profiles_choose_labels_and_resolution():
    text = PREAMBLE
    backends = [_Fixed([model(text, "Company", "ORG", 1), model(text, "thirty", "CARDINAL")])]
    contracts = recognize_texts([text], backends, NerOptions(merge=POLICY, profile="contracts"))[0]
    ontonotes = recognize_texts([text], backends, NerOptions(merge=POLICY, profile="ontonotes"))[0]
    assert "CARDINAL" not in {m.entity.label for m in contracts.merged}
    assert ("ORG", "Company") in {(m.entity.label, m.entity.text) for m in ontonotes.merged}
    assert ("ORG", "Company") not in {(m.entity.label, m.entity.text) for m in contracts.merged}
    assert PROFILES["contracts"].resolve and not PROFILES["ontonotes"].resolve


_WORDS = st.sampled_from(
    ["Acme", "Inc.", "Company", "the", "company", "shall", '("Company")', "Beta", "LLC", '("Beta")', "\n", "Services",
     "services", "Section", "9.2", "March", "2020", "$5", "NOTICES", ",", "."]
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(_WORDS, min_size=1, max_size=60), picks=st.lists(st.tuples(st.integers(0, 59), st.integers(1, 3)))
)
def test_resolved_entities_point_into_the_text_and_never_overlap(words, picks):
    text = " ".join(words)
    starts = [m.start() for m in re.finditer(r"\S+", text)]
    models = []
    for index, length in picks:
        if index < len(starts):
            start = starts[index]
            end = starts[min(index + length, len(starts)) - 1]
            end = re.compile(r"\S+").match(text, end).end()
            models.append(Candidate(start, end, text[start:end], "ORG", None, "spacy", "m", "1"))
    merged = merge_candidates([*RULES.find(text), *models], POLICY)
    out = resolve_document(text, merged)
    for item in out:
        assert text[item.entity.start : item.entity.end] == item.entity.text
        assert item.entity.end > item.entity.start
    spans = sorted((m.entity.start, m.entity.end) for m in out)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_a_party_clause_without_a_known_name_still_tells_names_from_roles():
    text = (
        'This Agreement is made between Bank of America, N.A. ("Bank of America") and [***] (the "Provider"). '
        'Bank of America pays the Provider. Questions go to us ("we").'
    )
    lexicon = load_lexicon(CONF / "lexicon" / "contracts.json")  # many contracts write "provider"
    found = resolved(text, model(text, "Bank of America", "ORG", 1), lexicon=lexicon)
    # The legal name is read whole ("N.A."), and its short name, defined and mentioned, refers to it.
    assert ("ORG", "Bank of America, N.A.", None) in found
    assert found.count(("ORG", "Bank of America", "bank of america na")) == 2
    assert not [f for f in found if f[1] == "Bank"]
    assert found.count(("ALIAS", "Provider", None)) == 2
    assert ("DEFINED_TERM", "we", None) in found and not [f for f in found if f[0] == "ALIAS" and f[1] == "we"]


PLACES = load_places(CONF / "places" / "geonames.json")


def test_a_models_org_that_names_a_known_place_is_a_gpe():
    text = (
        "Dynamic Hearing Pty Ltd, a corporation organized under the laws of Victoria, Australia, and "
        "Beijing Tuniu Technology Co., Ltd., with offices at 895 Don Mills Road Toronto Ontario Canada.\n"
        "Beijing Tuniu shall deliver the goods."
    )
    found = resolved(
        text,
        model(text, "Australia", "ORG"),
        model(text, "Toronto Ontario Canada", "ORG"),
        model(text, "Beijing Tuniu", "ORG", 1),
        places=PLACES,
    )
    for place in ("Victoria", "Australia", "Toronto", "Ontario", "Canada"):
        assert ("GPE", place, None) in found
    assert not [f for f in found if f[0] == "ORG" and f[1] in ("Australia", "Toronto Ontario Canada")]
    # A party's name that starts with a place: "Beijing Tuniu" is the party, "Beijing" alone is not.
    assert ("ORG", "Beijing Tuniu", "beijing tuniu technology") in found
    assert not [f for f in found if f[1] == "Beijing"]
    # Without the gazetteer nothing is typed by it.
    assert ("ORG", "Australia", None) in resolved(text, model(text, "Australia", "ORG"))


def test_a_company_form_in_a_place_is_not_a_party_whose_short_name_is_the_place():
    text = 'NETWORK 1 FINANCIAL, INC., a Virginia Corporation ("NETWORK 1"), and Affiliate. Virginia law applies.'
    found = resolved(text)
    assert ("GPE", "Virginia", None) in found
    assert not [f for f in found if f[0] == "ORG" and f[1] == "Virginia"]


def test_the_cities_of_addresses_are_places_and_a_street_is_not():
    text = (
        "NICE Systems Ltd., having its place of business at 8 Hapnina Street, Ra'anana 43107, Israel, and "
        "Swisscom AG, at Baarerstrasse 135, CH-6301 Zug, Switzerland, and JVLS, LLC of 4060 Johns Creek "
        "Parkway Suite H Suwanee, GA 30024, and Dynamic Hearing Pty Ltd, 2 Chapel Street, Richmond, VIC 3121."
    )
    found = resolved(text, places=PLACES)
    places = [f[1] for f in found if f[0] == "GPE"]
    for place in ("Ra'anana", "Israel", "Zug", "Switzerland", "Suwanee", "GA", "Richmond", "VIC"):
        assert place in places
    assert "Johns Creek" not in places and "NICE" not in places


def test_a_list_of_months_is_one_date_per_month_the_last_with_its_year():
    text = "Royalties for April, May, June and July are due in 2021. Fees of March are not."
    found = resolved(text, model(text, "April, May, June and July", "DATE"))
    assert [f[1] for f in found if f[0] == "DATE"] == ["April", "May", "June", "July"]
    # With a year the rules give the same: each month, the last with the year.
    text = "Royalties for April, May and June 2021."
    for models in [(), (model(text, "April, May and June 2021", "DATE"),)]:
        assert [f[1] for f in resolved(text, *models) if f[0] == "DATE"] == ["April", "May", "June 2021"]


def test_a_name_the_rules_read_after_a_title_is_judged_by_the_documents_words():
    text = "The company and its Director The Company shall act; its President Jody Stewart signs."
    found = resolved(text)
    assert ("PERSON", "Jody Stewart", None) in found
    assert not [f for f in found if f[0] == "PERSON" and f[1] == "The Company"]


def test_a_party_named_by_what_it_is_is_an_org_unless_it_is_a_defined_role():
    text = (
        'Kubient Inc. ("Kubient") and The Associated Press, a New York not-for-profit corporation ("Customer"). '
        'WHEREAS, Licensee, a Delaware corporation, and the "Licensee" agree.'
    )
    found = resolved(text)
    assert ("ORG", "Associated Press", None) in found
    assert not [f for f in found if f[0] == "ORG" and f[1] == "Licensee"]


def test_a_party_a_definition_names_stands_though_its_words_are_common():
    text = (
        'This Exhibit is entered into by and between Kubient, Inc. ("Kubient"), and The Associated Press '
        '("Customer"). The press is associated with the Statement of Work (the "SOW").'
    )
    lexicon = load_lexicon(CONF / "lexicon" / "contracts.json")
    found = resolved(
        text, model(text, "The Associated Press", "ORG"), model(text, "Statement of Work", "ORG"), lexicon=lexicon
    )
    assert ("ORG", "Associated Press", None) in found  # trimmed of its article
    assert ("ALIAS", "Customer", "associated press") in found
    assert not [f for f in found if f[1] == "Statement of Work" and f[0] == "ORG"]  # no party clause before it
