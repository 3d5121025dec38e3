"""Contract key fields from a document's text and entities (udfs.fields): clauses, values,
evidence offsets, numeric date order."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.config import load_config
from jobs.stages.ner import ner_options
from udfs.fields.dates import DateOrder, date_order, read_date
from udfs.fields.extract import FIELD_NAMES, FINDERS, PERPETUAL, extract_fields
from udfs.fields.rules import load_field_rules
from udfs.ner.places import load_places
from udfs.ner.recognize import build_backends, entity_rows, recognize_texts

OPTIONS = ner_options(load_config("local", overrides=["ner.backends=[rules]"]))
BACKENDS = build_backends(OPTIONS)
RULES = load_field_rules(Path(__file__).resolve().parent.parent / "conf" / "rules")


def entities(text: str) -> list[dict]:
    """The NER stage's rows for ``text`` (the contract rules and contract resolution)."""
    recognized = recognize_texts([text], BACKENDS, OPTIONS)[0]
    rows, _ = entity_rows("doc", [{"page_no": 1, "start": 0, "end": len(text)}], recognized, OPTIONS)
    return rows


def fields(text: str) -> dict[str, list]:
    found: dict[str, list] = {}
    for value in extract_fields(text, entities(text), RULES):
        found.setdefault(value.field, []).append(value)
    return found


CONTRACT = (
    "EXHIBIT 10.1\n"
    "DISTRIBUTION AGREEMENT\n"
    'This Distribution Agreement (the "Agreement") is made and entered into as of March 15, 2019 by and between '
    'Acme Robotics, Inc., a Delaware corporation (the "Company"), and Birch First Global Investments Inc., a '
    'Nevada corporation ("Distributor").\n'
    "WHEREAS, the Company makes robots.\n"
    "1. Term. The term of this Agreement shall be three (3) years from the Effective Date. This Agreement shall "
    "automatically renew for successive one (1) year periods unless either party gives the other sixty (60) days "
    "prior written notice of non-renewal.\n"
    "2. Governing Law. This Agreement shall be governed by and construed in accordance with the laws of the State "
    "of New York, without regard to its conflict of laws principles.\n"
)


def test_a_contract_gives_every_field_it_states_with_evidence_in_the_text():
    found = fields(CONTRACT)
    value = lambda name: [v.normalized_value for v in found.get(name, [])]  # noqa: E731
    assert value("document_title") == ["DISTRIBUTION AGREEMENT"]
    assert value("party") == ["Acme Robotics, Inc.", "Birch First Global Investments Inc."]
    parties = found["party"]
    assert [(p.party_role, p.party_alias) for p in parties] == [("Company", "Company"), ("Distributor", "Distributor")]
    assert parties[0].entity_key == "acme robotics" and parties[0].entity_id
    assert value("agreement_date") == ["2019-03-15"]
    assert value("effective_date") == ["2019-03-15"] and found["effective_date"][0].method == "agreement-date"
    assert value("term") == ["P3Y"]
    assert value("renewal_term") == ["P1Y"]
    assert value("notice_period") == ["P60D"]
    assert value("expiration_date") == ["2022-03-15"] and found["expiration_date"][0].method == "computed"
    assert value("governing_law") == ["New York"]
    for values in found.values():
        for v in values:
            assert 0 <= v.start < v.end <= len(CONTRACT)
            assert CONTRACT[v.start : v.end].strip()  # evidence: the value as written


def test_a_field_the_contract_does_not_state_has_no_value():
    text = "MEMO\nThe parties met on a sunny day and talked about robots for a while.\n"
    assert extract_fields(text, entities(text), RULES) == []
    assert extract_fields("", [], RULES) == []


def test_an_effective_date_the_contract_defines_is_not_its_agreement_date():
    text = (
        "LICENSE AGREEMENT\nThis License Agreement is dated January 5, 2020 by and between Acme Corp. "
        '("Licensor") and Beta LLC ("Licensee"), effective as of February 1, 2020 (the "Effective Date").\n'
        "The term of this Agreement shall continue until December 31, 2024.\n"
    )
    found = fields(text)
    assert [v.normalized_value for v in found["agreement_date"]] == ["2020-01-05"]
    assert [(v.normalized_value, v.method) for v in found["effective_date"]] == [("2020-02-01", "effective-clause")]
    assert [(v.normalized_value, v.method) for v in found["expiration_date"]] == [("2024-12-31", "term-clause")]


def test_a_perpetual_term_and_the_law_of_a_country():
    text = (
        'AGREEMENT\nThis Agreement is made on 1 June 2010 between Acme Ltd. ("Acme") and Beta GmbH ("Beta").\n'
        "This Agreement shall remain in force in perpetuity. This Agreement will be governed by and construed in "
        "accordance with the laws of England and Wales.\n"
    )
    found = fields(text)
    assert [v.normalized_value for v in found["term"]] == [PERPETUAL]
    assert [v.normalized_value for v in found["governing_law"]] == ["England and Wales"]
    assert "expiration_date" not in found  # a perpetual term has no end date


@pytest.mark.parametrize(
    ("text", "order", "evidence"),
    [
        ("signed 18/07/2011; paid 7/8/11", "DMY", "numeric-dates"),
        ("signed 07/18/2011; paid 7/8/11", "MDY", "numeric-dates"),
        ("on 3 May 2010, 4 June 2011 and 5 July 2012; 4/5/11", "DMY", "spelled-dates"),
        ("a Delaware corporation with offices in New York, Texas; 4/5/11", "MDY", "places"),
        ("YA Global Investments II (U.S.), Ltd. Date: 4/8/2020", "MDY", "places"),
        ("the U.S. and the U.S.A.: 4/8/2020", "MDY", "places"),
        ("4/5/11 only", None, "none"),
        ("signed 18/07/2011 and 07/18/2011", None, "contradictory"),
    ],
)
def test_a_documents_numeric_date_order_comes_from_its_own_evidence(text, order, evidence):
    assert date_order(text) == DateOrder(order, evidence)


def test_numeric_dates_are_read_in_the_documents_order_and_never_guessed():
    assert read_date("7/8/11", DateOrder("DMY", "x")) == "2011-08-07"
    assert read_date("7/8/11", DateOrder("MDY", "x")) == "2011-07-08"
    assert read_date("7/8/11", DateOrder(None, "none")) is None
    assert read_date("7/18/98", DateOrder(None, "none")) == "1998-07-18"  # 18 cannot be a month
    assert read_date("this first day of July, 2017", DateOrder(None, "none")) == "2017-07-01"


def test_the_numeric_order_is_recorded_in_the_method():
    text = (
        'AGREEMENT\nThis Agreement is dated 7/8/11 between Acme Ltd. ("Acme") and Beta Ltd. ("Beta"). '
        "Invoices of 18/07/2011 and 25/12/2011 are paid.\n"
    )
    (value,) = fields(text)["agreement_date"]
    assert value.normalized_value == "2011-08-07" and value.method == "preamble-date; order by numeric-dates"


def test_the_registry_lists_every_field_once_in_order():
    assert tuple(FINDERS) == FIELD_NAMES
    assert set(FIELD_NAMES) == {
        "document_title", "party", "agreement_date", "effective_date", "expiration_date", "term", "renewal_term",
        "notice_period", "governing_law",
    }  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from([*CONTRACT[:400], "\n", "(", '"']), max_size=400))
def test_every_value_points_into_the_text(text):
    for value in extract_fields(text, entities(text), RULES):
        assert 0 <= value.start < value.end <= len(text)
        assert value.field in FIELD_NAMES and 0 <= value.score <= 1


def test_the_names_that_sign_are_parties_and_an_address_is_not():
    text = (
        "JOINT FILING AGREEMENT\nThe undersigned agree to file jointly the statement on Schedule 13D.\n"
        "1. Filing. Each of them is responsible for its own information.\n"
        "ACME HOLDINGS LLC\nBy: /s/ John Smith\nName: John Smith\n\n"
        "BETA CAPITAL PARTNERS LP\nBy: /s/ Jane Doe\nName: Jane Doe\n"
    )
    found = fields(text)
    assert [(v.normalized_value, v.method) for v in found["party"]] == [
        ("ACME HOLDINGS LLC", "signature-block"),
        ("BETA CAPITAL PARTNERS LP", "signature-block"),
    ]


def test_an_agreement_date_after_a_table_of_contents_or_in_a_signature_line():
    toc = "DISTRIBUTOR AGREEMENT\nby and between\nACME CORP.\nand\nBETA INC.\nTABLE OF CONTENTS\n1. Definitions 1\n"
    text = toc + 'DISTRIBUTOR AGREEMENT (the "Agreement") is made as of the 1st day of January, 1996, by Acme Corp.\n'
    assert [v.normalized_value for v in fields(text)["agreement_date"]] == ["1996-01-01"]
    body = "The parties agree to the terms below. " * 200  # past the preamble
    signed = f"AGREEMENT\n{body}\nTHUS DONE AND SIGNED at Pretoria on this 31st day of March 2001\n"
    assert [(v.normalized_value, v.method) for v in fields(signed)["agreement_date"]] == [
        ("2001-03-31", "signature-date")
    ]


def test_a_title_without_line_breaks_and_a_notice_period_that_is_not_the_term():
    text = (
        "Exhibit 10.16 MARKETING AFFILIATE AGREEMENT This Agreement is made this 1st day of October 2008 by and "
        'between Acme, Inc. ("Acme") and Beta LLC ("Beta"). The term of this Agreement shall continue until '
        "terminated by either party on thirty (30) days prior written notice.\n"
    )
    found = fields(text)
    assert [(v.normalized_value, v.method) for v in found["document_title"]] == [
        ("MARKETING AFFILIATE AGREEMENT", "capitals")
    ]
    assert [v.normalized_value for v in found.get("term", [])] == ["until_terminated"]
    assert "expiration_date" not in found


def test_a_place_an_address_or_a_common_word_is_no_party():
    places = load_places(Path(__file__).resolve().parents[1] / "conf" / "places" / "geonames.json")
    text = (
        "AGREEMENT\nThis Agreement is made on 1 June 2010 by and between Acme Robotics, Inc., a Nevada corporation "
        'located at 6795 Edmonds Street, Las Vegas, NV 89118 ("Acme"), and Solutions, LLC ("Seller"). Our '
        "solutions are good.\n"
    )
    rows = entities(text)
    rows += [  # names a model might give, tied to the terms as resolution would
        {"doc_start": text.index("Edmonds"), "doc_end": text.index(", NV"), "text": "Edmonds Street, Las Vegas",
         "label": "ORG", "entity_key": "edmonds street las vegas", "refers_to_key": None, "rule": None},
        {"doc_start": text.index("Nevada"), "doc_end": text.index("Nevada") + 6, "text": "Nevada", "label": "ORG",
         "entity_key": "nevada", "refers_to_key": None, "rule": None},
    ]  # fmt: skip
    names = [v.normalized_value for v in extract_fields(text, rows, RULES, places) if v.field == "party"]
    assert names == ["Acme Robotics, Inc."]


def test_a_renewal_named_by_its_frequency_and_twelve_months_read_as_a_year():
    text = (
        'AGREEMENT\nThis Agreement is made on 1 June 2010 between Acme Ltd. ("Acme") and Beta Ltd. ("Beta").\n'
        "The term of this Agreement shall be twelve (12) months from the Effective Date with automatic annual "
        "renewals thereafter.\n"
    )
    found = fields(text)
    assert [v.normalized_value for v in found["term"]] == ["P1Y"]
    assert [(v.normalized_value, v.method) for v in found["renewal_term"]] == [("P1Y", "renewal-frequency")]


@pytest.mark.parametrize(
    ("clause", "law"),
    [
        ("shall be governed by PRC Laws.", "China"),
        ("The laws of the Federal Republic of Germany shall apply to the Agreement.", "Germany"),
        ("its interpretation and construction are in accordance with the laws of the State of Colorado.", "Colorado"),
        ("shall be governed by the laws of the United States and the State of California.", "California"),
        ("THIS AGREEMENT SHALL BE GOVERNED BY THE LAWS OF THE STATE OF NEW YORK.", "New York"),
        ("accepted in the State of Nevada and shall be governed by and construed under the laws thereof.", "Nevada"),
    ],
)
def test_governing_law_clauses_name_the_place_in_plain_english(clause, law):
    text = f"AGREEMENT\nThe parties agree as follows.\n12. Governing Law. This Agreement {clause}\n"
    assert [v.normalized_value for v in fields(text)["governing_law"]] == [law]


def test_a_heading_about_the_law_names_no_place():
    text = "GOVERNING LAW AND DISPUTE RESOLUTION\nDisputes go to arbitration.\n"
    assert "governing_law" not in fields(text)


def test_a_contract_signed_on_two_dates_is_made_on_the_later():
    body = "The parties agree to the terms below. " * 200
    blocks = "ACME CORP.\nBy: /s/ A\nDate: August 7, 2018\nBETA INC.\nBy: /s/ B\nDate: August 8, 2018\n"
    text = f"AGREEMENT\n{body}\n{blocks}"
    assert [(v.normalized_value, v.method) for v in fields(text)["agreement_date"]] == [
        ("2018-08-08", "signature-date")
    ]


@pytest.mark.parametrize(
    "clause",
    [
        '"Commencement Date" means: 1st January 2013.',
        "This Agreement is effective on the day of January 1, 2013 and runs for a year.",
        "The Joint Venture shall commence on the 1st of January, 2013.",
    ],
)
def test_an_effective_date_stated_in_other_words(clause):
    preamble = 'This Agreement is dated November 2, 2012 between Acme Ltd. ("Acme") and Beta Ltd. ("Beta").'
    text = f"AGREEMENT\n{preamble}\n{clause}\n"
    assert [(v.normalized_value, v.method) for v in fields(text)["effective_date"]] == [
        ("2013-01-01", "effective-clause")
    ]


def test_a_person_who_is_a_party_is_one():
    text = (
        'ENDORSEMENT AGREEMENT\nThis Agreement is made as of May 1, 2012 between Acme LLC ("Acme"), a Delaware '
        'corporation, and Paul Silas ("Celebrity), an individual.\n'
    )
    rows = entities(text)
    start = text.index("Paul Silas")
    rows.append(  # spaCy's PERSON; the broken quote defines nothing
        {"doc_start": start, "doc_end": start + 10, "text": "Paul Silas", "label": "PERSON",
         "entity_key": "paul silas", "refers_to_key": None, "rule": None}
    )  # fmt: skip
    found = [(v.normalized_value, v.method) for v in extract_fields(text, rows, RULES) if v.field == "party"]
    assert ("Paul Silas", "individual-party") in found


def _values(text: str, field: str) -> list:
    return [v.normalized_value for v in fields(text).get(field, [])]


@pytest.mark.parametrize(
    ("clause", "law"),
    [
        (
            "This Agreement is governed by the laws of the State of Virginia. All disputes go to arbitration.",
            "Virginia",
        ),
        (
            "This Agreement shall be governed by the laws of the State of New York without regard to conflicts.",
            "New York",
        ),
        (
            "THIS AGREEMENT SHALL BE GOVERNED BY THE LAWS OF THE STATE OF NEW YORK WITHOUT REGARD TO CONFLICTS.",
            "New York",
        ),
        ("This Agreement is governed by the laws of Hong\nKong.", "Hong Kong"),
        ("This Agreement is governed by the laws of the Republic of Korea.", "South Korea"),
        (
            "This Agreement shall be governed by the internal laws, and not by the laws regarding conflicts of laws, "
            "of the State of North Carolina.",
            "North Carolina",
        ),
        ("This Agreement shall be construed in accordance with and governed by the laws ofthe State ofTexas.", "Texas"),
    ],
)
def test_the_governing_place_ends_where_its_name_does(clause, law):
    assert _values(clause, "governing_law") == [law]


def test_a_renewal_takes_the_renewals_length_not_the_initial_terms():
    text = (
        "This Agreement shall renew on expiry of the initial three (3) year term for successive one (1) year "
        "periods unless either party gives not less than ninety (90) days' written notice of termination."
    )
    assert _values(text, "renewal_term") == ["P1Y"]
    assert _values(text, "notice_period") == ["P90D"]


@pytest.mark.parametrize(
    ("text", "renewal"),
    [
        ("This Agreement shall be renewed automatically for another five (5) years upon the expiration.", "P5Y"),
        ("The Agreement shall continue automatically for successive annual periods thereafter.", "P1Y"),
        ("Thereafter, this Agreement shall be effective month to month, until terminated by either party.", "P1M"),
        ("Without notification the contract will automatically extend for an additional month of service.", "P1M"),
    ],
)
def test_renewals_named_by_their_frequency(text, renewal):
    assert _values(text, "renewal_term") == [renewal]


def test_a_term_that_ends_on_an_anniversary_and_the_date_it_gives():
    text = (
        'This Agreement is made as of March 15, 2019 between Acme, Inc. ("Acme") and Beta LLC ("Beta").\n'
        "The term of this Agreement commences on the Effective Date and shall terminate on the third anniversary "
        "of the Effective Date, unless terminated earlier."
    )
    assert _values(text, "term") == ["P3Y"]
    assert [(v.normalized_value, v.method) for v in fields(text)["expiration_date"]] == [("2022-03-15", "computed")]


def test_a_term_that_runs_from_an_event_gives_no_expiration_date():
    text = (
        'This Agreement is made as of March 15, 2019 between Acme, Inc. ("Acme") and Beta LLC ("Beta").\n'
        "This Agreement shall be effective as of the Effective Date and shall continue in effect for a period of "
        "five (5) years from the Reseller's first purchase order for Product."
    )
    assert _values(text, "term") == ["P5Y"]
    assert "expiration_date" not in fields(text)


def test_an_effective_date_defined_as_the_last_signature_and_the_end_it_gives():
    text = (
        'SERVICES AGREEMENT\nThis Agreement is entered into between Acme, Inc. ("Acme") and Beta LLC ("Beta").\n'
        "10.1 Term. This Agreement shall commence as of the Effective Date and shall continue in effect for one (1) "
        "year.\n11.16 Effective Date. The Effective Date of this Agreement shall be the later of the dates shown by "
        "the signatures below.\nACME, INC. BETA LLC\nBy: /s/ Ann Smith By: /s/ Bob Jones\n"
        "Date: March 14, 2018 Date: March 7, 2018\n\nEXHIBIT A\nWHEREAS, the parties entered into the Services "
        'Agreement dated March 7, 2018 (the "Effective Date").\n'
    )
    found = fields(text)
    assert [(v.normalized_value, v.method) for v in found["effective_date"]] == [("2018-03-14", "last-signature")]
    assert [v.normalized_value for v in found["expiration_date"]] == ["2019-03-14"]


def test_the_earlier_of_termination_or_a_date_ends_on_that_date():
    text = (
        'This Agreement is made as of January 1, 1996 between Acme, Inc. ("Acme") and Beta LLC ("Beta").\n'
        "Section 14.1 TERM. This Agreement shall be effective until the earlier of (a) its termination in "
        "accordance with the provisions of this Article 14 or (b) the date that is two (2) years after the date "
        "of this Agreement; provided, however, that this Agreement will renew automatically for successive terms "
        "of one (1) year each.\n"
    )
    assert _values(text, "term") == ["P2Y"]
    assert [(v.normalized_value, v.method) for v in fields(text)["expiration_date"]] == [("1998-01-01", "computed")]
    later = text.replace(
        "the earlier of (a) its termination in accordance with the provisions of this Article 14",
        ("the later of (a) the completion of the Research"),
    )
    assert "expiration_date" not in fields(later)  # no one date: the research has none


def test_a_duration_that_names_the_engagement_is_the_term():
    text = (
        'This Agreement is made as of November 1, 2003 between Acme, Inc. ("Company") and Jane Roe ("Celebrity").'
        "\n1. ENGAGEMENT\nThe COMPANY agrees to a one year engagement to contract the CELEBRITY to speak at the "
        "company meetings.\n2. The Celebrity grants a one year warranty.\n"
    )
    assert [(v.normalized_value, v.method) for v in fields(text)["term"]] == [("P1Y", "term-noun")]
    assert _values(text, "expiration_date") == ["2004-11-01"]
    assert "term" not in fields(text.replace("a one year engagement", "an engagement"))


@pytest.mark.parametrize(
    ("written", "expected", "method"),
    [
        ("1st January 2013 to 31st December 2013", "2013-12-31", "end-date-label"),
        ("1.5t January 2013 to 315t December 2013", "2013-12-31", "end-date-label"),  # OCR's "5t" for "st"
        ("1st January 2013 to 15th June 2013", "2013-06-15", "end-date-label"),
        ("January 2013 to June 2013", "2013-06-30", "end-date-label; month end"),
    ],
)
def test_a_defined_term_from_one_date_to_another_ends_on_the_second(written, expected, method):
    text = f"1. DEFINITIONS\n7. \u201cTerm\u201d means: {written} or until terminated under this Agreement.\n"
    assert [(v.normalized_value, v.method) for v in fields(text)["expiration_date"]] == [(expected, method)]


def test_a_sentence_about_what_survives_is_not_the_term():
    text = (
        "This Agreement and the obligations of confidentiality shall survive for a period of two (2) years after "
        "termination. The initial term of this Agreement shall be five (5) years from the Effective Date."
    )
    assert _values(text, "term") == ["P5Y"]


@pytest.mark.parametrize(
    "text",
    [
        "AGREEMENT PERIOD\nEffective Date: January 1, 2019\nExpiration Date: December 31, 2023\n",
        "TERM: January 1, 2019 to December 31, 2023\n",
        "This Second Amendment shall be effective from the Amendment Date and shall expire on December 31, 2023.",
    ],
)
def test_stated_end_dates_outside_a_term_clause(text):
    assert _values(text, "expiration_date") == ["2023-12-31"]


def test_the_date_of_another_document_is_not_the_agreements():
    text = (
        "SUPPLY AGREEMENT\nThe parties to this Supply Agreement are Acme, Inc. and Beta LLC.\n"
        "1. Background. Beta has confirmed by letter dated November 30, 2007 that it accepts the proposal.\n"
        "Termination Date: December 31, 2023\n"
    )
    assert "agreement_date" not in fields(text)


def test_party_names_a_recognizer_reads_short_or_not_at_all():
    text = (
        "This Agreement is entered into by and between eFashion Solutions, LLC, a New Jersey limited liability "
        'company ("EFS"), and theglobe.com, Inc., a Delaware corporation ("theglobe").'
    )
    assert [v.normalized_value for v in fields(text)["party"]] == ["eFashion Solutions, LLC", "theglobe.com, Inc."]


def test_a_title_continued_on_its_next_line_and_a_form_of():
    assert _values("SERVICE AGREEMENT\nFOR\nTRANSFER AGENT SERVICES\nTO\nACME FUND\n", "document_title") == [
        "SERVICE AGREEMENT FOR TRANSFER AGENT SERVICES"
    ]
    assert _values("Exhibit 99\nFORM OF DEVELOPMENT AGREEMENT\nBETWEEN\n", "document_title") == [
        "DEVELOPMENT AGREEMENT"
    ]


def test_clause_numbers_are_not_date_evidence():
    assert date_order("See Section 13.1.12 and Section 14.2.10. Signed on 7/18/98.").evidence == "numeric-dates"
    assert date_order("See Section 13.1.12 and Section 14.2.10.").order is None


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("AGENCY AGREEMENT\nMay 14, 2014\nKeefe, Bruyette & Woods, Inc.\n", "2014-05-14"),
        ("HOSTING AGREEMENT\nHosting Agreement between Acme and Beta, 18/9/2008\nTABLE OF CONTENTS\n", "2008-09-18"),
        ("The parties have signed it.\n\nHamburg, November 19th, 2012\n\n/s/ Thomas Kassberg\n", "2012-11-19"),
        ("By: /s/ Markus Frick By: /s/ Steven Raack\nDate: 3-14-18 Date: 3-7-18\n", "2018-03-14"),
        (
            "This Agreement is made and entered into this 20th day of Friday, March 2020 by and between A and B.",
            "2020-03-20",
        ),
    ],
)
def test_agreement_dates_under_the_title_by_the_signatures_or_with_their_day_apart(text, date):
    assert _values(text, "agreement_date") == [date]


def test_the_signatories_of_a_short_agreement_without_a_party_clause():
    text = (
        "JOINT FILING AGREEMENT\nThe undersigned hereby agree to the joint filing of this statement.\n"
        "Dated: April 8, 2020\n"
        "YA II PN, Ltd.\nBy: /s/ Troy J. Rillo\nChief Compliance Officer\n"
        "Yorkville Advisors Global, LP\nBy: Yorkville Advisors GP, LLC, its general partner\nBy: /s/ Troy J. Rillo\n"
    )
    assert [v.normalized_value for v in fields(text)["party"]] == [
        "YA II PN, Ltd.",
        "Yorkville Advisors Global, LP",
        "Yorkville Advisors GP, LLC",
    ]


def test_an_effective_date_where_the_term_begins():
    text = 'The duration of this Venture (the "Term") will begin on March 1, 2020 and continue until February 28, 2025.'
    assert _values(text, "effective_date") == ["2020-03-01"]
    assert _values(text, "expiration_date") == ["2025-02-28"]


def test_a_term_until_the_end_of_the_calendar_year_or_no_later_than_a_date():
    text = (
        'This Agreement is made as of May 8, 2014 between Acme, Inc. ("Acme") and Beta LLC ("Beta").\n'
        "This agreement shall begin upon its execution and shall remain in effect until the end of the current "
        "calendar year."
    )
    assert _values(text, "expiration_date") == ["2014-12-31"]
    text = (
        "This Agreement shall commence as of the Effective Date and shall terminate five (5) years following the "
        "launch of the first Website, but in no event later than February 28, 2013."
    )
    assert _values(text, "expiration_date") == ["2013-02-28"]


def test_a_term_from_the_date_hereof_gives_its_end():
    text = (
        'This Agreement is made as of March 15, 2019 between Acme, Inc. ("Acme") and Beta LLC ("Beta").\n'
        "The term of this Agreement shall be three (3) years from the date hereof."
    )
    assert _values(text, "expiration_date") == ["2022-03-15"]


def test_what_lasts_beyond_the_term_does_not_end_it():
    text = (
        'This Agreement is made as of March 15, 2019 between Acme, Inc. ("Acme") and Beta LLC ("Beta").\n'
        "The confidentiality obligations of this Agreement shall remain in effect until December 31, 2030."
    )
    assert "expiration_date" not in fields(text)


def test_the_date_of_the_agreement_an_amendment_amends_is_not_its_own():
    text = (
        "FIRST AMENDMENT\nThis First Amendment to the Loan Agreement dated as of May 1, 2010 is made between "
        "Acme, Inc. and Beta LLC."
    )
    assert "agreement_date" not in fields(text)
    own = 'This Agreement (this "Agreement") dated November 28, 2001 is made between Acme, Inc. and Beta LLC.'
    assert _values(own, "agreement_date") == ["2001-11-28"]


@pytest.mark.parametrize(
    ("clause", "law"),
    [
        ("This Agreement shall be governed by the laws of the P.R.C. Any dispute goes to CIETAC.", "China"),
        ("This Agreement shall be governed by the laws of the State of Texas\nARTICLE 12 NOTICES", "Texas"),
    ],
)
def test_the_governing_place_stops_at_an_abbreviation_or_a_heading(clause, law):
    assert _values(clause, "governing_law") == [law]


@pytest.mark.parametrize(
    "text",
    [
        "Buyer may extend the delivery deadline for an additional thirty (30) days by notice.",
        "The annual renewal fee is payable in advance.",
        "Reseller may offer extended warranty coverage for an additional twenty-four (24) months.",
        "The Agreement may be extended for one (1) year upon the parties' mutual agreement in writing.",
        "Either party may terminate if the term of the Services Agreement has not been renewed for an additional "
        "term of one (1) year.",
    ],
)
def test_what_is_extended_or_charged_is_not_a_renewal(text):
    assert "renewal_term" not in fields(text)


def test_a_title_in_capitals_without_its_form_of():
    text = "Exhibit 99 FORM OF DEVELOPMENT AGREEMENT This Agreement is made between Acme, Inc. and Beta LLC."
    assert _values(text, "document_title") == ["DEVELOPMENT AGREEMENT"]


def test_a_term_clause_in_the_present_tense():
    text = "3. Term. This Agreement remains in effect until December 31, 2025, unless terminated earlier."
    assert _values(text, "expiration_date") == ["2025-12-31"]


def test_signing_parties_with_an_article_or_a_signature_word_before_them():
    text = (
        "JOINT FILING AGREEMENT\nThe undersigned agree to file jointly.\n"
        "THE GRILLED CHEESE TRUCK, INC.\nBy: /s/ Jane Roe\n"
        "ATTEST: KIOSK CONCEPTS, INC.\nBy: /s/ John Doe\n"
    )
    keys = [v.entity_key for v in fields(text)["party"]]
    assert keys == ["grilled cheese truck", "kiosk concepts"]


def test_a_legal_form_the_recognizer_cut_short():
    text = (
        "This Agreement is made between Great Lakes Gas Transmission Limited Partnership and Acme, Inc., a "
        "Delaware corporation."
    )
    names = [v.normalized_value for v in fields(text)["party"]]
    assert "Great Lakes Gas Transmission Limited Partnership" in names


def test_a_provision_of_the_agreement_is_not_its_term():
    text = (
        "8.5 Notwithstanding any other term of this Agreement, DCL shall within a period of five months of the "
        "Commencement Date reduce the number of vehicles.\n"
        "2. This Agreement shall commence on the Commencement Date and shall continue for an initial period of "
        "five years until terminated."
    )
    assert _values(text, "term") == ["P5Y"]


@pytest.mark.parametrize(
    "text",
    [
        # a definition of another agreement, whose parties come between its name and "dated"
        "CONTENT LICENSE AGREEMENT\nThe parties to this Agreement are Acme, Inc. and Beta LLC.\n"
        "1. Definitions. “Master Agreement” means the Master Transaction Agreement entered into by and between "
        "Gamma Holdings Limited and Delta Holdings Limited, dated as of July 27, 2009.\n",
        # "that certain" agreement, effective as of its own date
        "LICENSE AGREEMENT\nThe parties to this Agreement are Acme, Inc. and Beta LLC.\n"
        "2.6 Beta acknowledges that certain agreement effective as of June 25, 2013 among Gamma LLC and Acme.\n",
        # a document named inside a sentence the rendering broke across lines
        "SERVICE AGREEMENT\nThe parties to this Agreement are Acme, Inc. and Beta LLC.\n7. This Agreement "
        "supersedes, cancels and terminates the following contract(s): Service\nAgreement dated November 01, 2015.\n",
    ],
)
def test_the_dates_of_other_documents_named_in_a_contract_are_not_its_own(text):
    found = fields(text)
    assert "agreement_date" not in found and "effective_date" not in found


def test_a_defined_term_in_quotes_does_not_make_the_contract_another_document():
    text = (
        "SECOND AMENDMENT\nThis Second Amendment (“Second Amendment”), entered into by and between Acme, Inc. "
        "(“Acme”) and Beta LLC (“Beta”) is effective as of October 1, 2018 (“Second Amendment Effective Date”) "
        "and amends that certain Manufacturing Agreement between Acme and Beta dated July 1, 2017.\n"
    )
    assert _values(text, "agreement_date") == ["2018-10-01"]
    assert _values(text, "effective_date") == ["2018-10-01"]


def test_an_effective_date_label_heads_a_form_above_the_opening_but_not_in_the_body():
    form = (
        "Software License Agreement\nAgreement Number: CW251207\nEffective Date: 11/4/10\n"
        "This Software License Agreement is entered into by Acme, Inc., a Delaware corporation, and Beta LLC.\n"
    )
    assert _values(form, "agreement_date") == ["2010-11-04"]
    body = (
        "TRANSPORTATION SERVICE AGREEMENT\nThis Transportation Service Agreement is entered into by Acme, Inc. and "
        "Beta LLC.\nNOW, THEREFORE, the parties agree:\n1. EFFECTIVE DATE: November 01, 2016\n"
        "2. TERM: November 01, 2016 to October 31, 2017\nACME, INC.\nBy: /s/ Jane Roe\n"
        "Dated: December 14, 2015\n"
    )
    assert _values(body, "agreement_date") == ["2015-12-14"]
    assert _values(body, "effective_date") == ["2016-11-01"]


def test_signature_dates_under_their_label_and_other_labelled_dates():
    signed = (
        "SUPPLY AGREEMENT\nThe parties to this Agreement are Acme, Inc. and Beta LLC.\n"
        "ACCEPTED AND AGREED TO BY BUYER\nDATE OF:\nJanuary 10, 2020\n/s/ Eric Green\nBY: Eric Green\n"
        "SELLER\nDate: December 11, 2018\n/s/ Kurt Aerts\n"
    )
    assert _values(signed, "agreement_date") == ["2020-01-10"]
    opened = (
        "FRANCHISE AGREEMENT\nThe parties to this Agreement are Acme, Inc. and Beta LLC.\n"
        "EXHIBIT A - PRODUCT IMPROVEMENT PLAN\nOpen Date: February 14, 2005\nParking: Asphalt surface lot\n"
    )
    assert "agreement_date" not in fields(opened)


def test_a_term_from_the_date_hereof_runs_from_the_agreement_date_not_the_effective_date():
    text = (
        'This Agreement (this "Agreement") is dated November 28, 2001 between Acme, Inc. ("Acme") and Beta LLC '
        '("Beta"), effective as of December 1, 2001.\nThe term of this Agreement shall end on the seventh '
        "anniversary of the date hereof.\n"
    )
    assert _values(text, "effective_date") == ["2001-12-01"]
    assert [(v.normalized_value, v.method) for v in fields(text)["expiration_date"]] == [("2008-11-28", "computed")]


def test_a_scanned_numeral_in_brackets_still_gives_the_term_and_renewal():
    text = (
        'This Agreement is made as of March 14, 2018 between Acme, Inc. ("Acme") and Beta LLC ("Beta").\n'
        "The term of this Agreement shall commence as of the Effective Date and shall continue in effect for one (I) "
        "year. This Agreement shall automatically renew beyond the Initial Term for successive one (I) year terms.\n"
    )
    assert _values(text, "term") == ["P1Y"] and _values(text, "renewal_term") == ["P1Y"]
    assert _values(text, "expiration_date") == ["2019-03-14"]


def test_the_short_name_a_two_column_party_list_sets_before_a_name_is_not_part_of_it():
    text = (
        "FLEET MAINTENANCE AGREEMENT\nTHIS AGREEMENT is made on 13 October 2005 between:\n"
        "DCL DAIRY CREST LIMITED (Company no 2085882) whose registered office is at Claygate House, Esher; and\n"
        "SEV SEV GROUP LIMITED (company no 4463640) whose registered office is at Unit 95/2, Tanfield.\n---\n"
        "Solutions Media SOLUTIONS MEDIA, INC.\nBy: /s/ Jane Roe\n"
    )
    assert _values(text, "party") == ["DAIRY CREST LIMITED", "SEV GROUP LIMITED", "SOLUTIONS MEDIA, INC."]


def test_a_duration_the_contract_defines_as_its_term_whatever_the_subject():
    text = (
        'This Agreement is dated as of January 26, 2011 between Acme Trust ("Client") and Beta LLC ("Agent").\n'
        "1. Term. Agent's appointment hereunder shall commence on the Effective Date and shall continue for three "
        "years thereafter (the “Initial Term”).\n"
    )
    assert [(v.normalized_value, v.method) for v in fields(text)["term"]] == [("P3Y", "term-defined")]
    undefined = text.replace("(the “Initial Term”)", "(the “Services”)")
    assert "term" not in fields(undefined)
