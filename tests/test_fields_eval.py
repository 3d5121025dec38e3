"""docner eval fields: the gold readers (CUAD's gold.csv, the field JSONL), the matching of each
kind of field, the scores and the reliability table, and an evaluation of a lake written row by
row (no Spark), through the command line too."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.catalog.tables import CONTRACT_FIELDS, DOCUMENTS, EVALUATIONS
from jobs.cli import main
from jobs.lake.tables import arrow_rows, ensure_tables, read_arrow, write_arrow
from jobs.learn.fields_eval import (
    EFFECTIVE_STATED,
    TERM_PERPETUAL,
    GoldField,
    Judged,
    Prediction,
    cuad_date,
    cuad_party_names,
    duration_key,
    evaluate_fields,
    last_day_in_force,
    law_key,
    law_parts,
    method_counts,
    one_slip,
    parse_durations,
    read_fields_gold,
    reliability,
    reliability_of,
    same_value,
    save_fields_evaluation,
    score_parties,
    score_single,
)
from tests.conftest import CUAD_DIR
from udfs.ner.normalize import entity_key

# --- CUAD's answers ----------------------------------------------------------------------------


def test_cuad_dates_pivot_two_digit_years_at_50():
    assert cuad_date("5/8/14") == "2014-05-08"
    assert cuad_date("12/31/49") == "2049-12-31"
    assert cuad_date("1/1/50") == "1950-01-01"
    assert cuad_date("03/15/1999") == "1999-03-15"
    for unreadable in ("[]/[]/2019", "03/[]/1999", "2/30/20", "perpetual", "May 8, 2014", ""):
        assert cuad_date(unreadable) is None


@given(st.dates(dt.date(1950, 1, 1), dt.date(2049, 12, 31)))
def test_any_cuad_date_reads_back(day):
    assert cuad_date(f"{day.month}/{day.day}/{day.year % 100:02d}") == day.isoformat()
    assert cuad_date(f"{day.month:02d}/{day.day:02d}/{day.year}") == day.isoformat()


@pytest.mark.parametrize(
    ("answer", "durations"),
    [
        ("successive 1 year", ("P1Y",)),
        ("successive one (1) year periods", ("P1Y",)),
        ("3 successive 1 year", ("P1Y",)),
        ("successive 12 month periods", ("P12M",)),
        ("thirty (30) days", ("P30D",)),
        ("24 months", ("P24M",)),
        ("5 years; 2 years", ("P5Y", "P2Y")),
        ("Perpetual", ("perpetual",)),
        ("until terminated by either party", ("until_terminated",)),
        ("succsive 1 year", ("P1Y",)),
        ("as the parties agree", ()),
    ],
)
def test_renewal_answers_read_as_durations(answer, durations):
    assert parse_durations(answer) == durations


def test_durations_compare_in_months_and_days():
    assert duration_key("P1Y") == duration_key("P12M") == duration_key("P0Y12M")
    assert duration_key("P2W") == duration_key("P14D")
    assert duration_key("P1Y") != duration_key("P365D")
    assert duration_key("perpetual") == "perpetual" and duration_key("until_terminated") == "until_terminated"
    assert duration_key("P") is None and duration_key("one year") is None
    assert same_value("renewal_term", "P1Y", "P12M")
    assert not same_value("notice_period", "P30D", "P1M")
    assert not same_value("term", "perpetual", "until_terminated")


@given(st.integers(0, 50), st.integers(0, 30))
def test_years_are_twelve_months(years, months):
    assert duration_key(f"P{years}Y{months}M") == duration_key(f"P{12 * years + months}M")


def test_cuad_party_answers_lose_aliases_tails_and_generic_entries():
    names, redacted = cuad_party_names(
        'Skype Communications, S.A. ("Skype"); TOM Online (BVI) limited("Online BVI"); Tel Online Limited '
        '("Company"). Skype, Online BVI and the Company (“Party” and collectively as “Parties.”)'
    )
    assert names == ["Skype Communications, S.A.", "TOM Online (BVI) limited", "Tel Online Limited"]
    assert redacted == []
    names, _ = cuad_party_names(
        'WATER NOW, INC.; ("Water Now"); Hydraspin USA, Inc. ("Subsidiary", collectively with Water Now, '
        '"Hydraspin"); BESTEV MANAGEMENT, LLC ("Distributor"); Hydraspin and Distributor (“Party” and '
        "collectively as the “Parties.”)"
    )
    assert names == ["WATER NOW, INC.", "Hydraspin USA, Inc.", "BESTEV MANAGEMENT, LLC"]
    names, _ = cuad_party_names(
        'Global Music International, Inc. d/b/a Independent Music Network ("IMNTV"); Glu Mobile, Inc. f/k/a '
        'Sorrent, Inc. ("Licensee"); Mutual Insurance Corporation of America (MICOA); Chase Bank USA, N.A., '
        '("Chase"); You ("Affiliate"); Franchisee ("you," "your" or "Franchisee")'
    )
    assert names == [
        "Global Music International, Inc.",
        "Glu Mobile, Inc.",
        "Mutual Insurance Corporation of America",
        "Chase Bank USA, N.A.",
    ]
    names, redacted = cuad_party_names(
        '[ * * * ] ("Provider"); TELCOSTAR PTE, LTD.; Ability Computer & Software Industries Ltd; TELCOSTAR '
        'PTE, LTD. and Ability Computer & Software Industries Ltd (each and both of them "Recipient"); Each of '
        "the foregoing parties is referred to herein as a “Party” and together as the “Parties”."
    )
    assert names == ["TELCOSTAR PTE, LTD.", "Ability Computer & Software Industries Ltd"]
    assert redacted == ["[ * * * ]"]
    names, _ = cuad_party_names(
        'WYZZ, Inc. and WYZZ Licensee, Inc. (collectively "WYZZ"); The Babcock and Wilcox Company ("RemainCo")'
    )
    assert names == ["WYZZ, Inc.", "WYZZ Licensee, Inc.", "The Babcock and Wilcox Company"]


LEGAL_FORMS = st.sampled_from(["Inc.", "LLC", "Ltd.", "GmbH", "S.A.", "Corporation", "B.V.", ""])
NOT_NAMES = {"each", "party", "parties", "herein", "hereto", "the", "and", "dba", "aka", "fka"}
# words of a name: not generic, and kept by the key (no legal form, no "the")
WORDS = (
    st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz"), min_size=3, max_size=8)
    .filter(lambda w: w not in NOT_NAMES and entity_key("ORG", f"Xx {w}") == f"xx {w}")
    .map(str.capitalize)
)


@given(st.lists(st.tuples(WORDS, WORDS, LEGAL_FORMS, WORDS), min_size=1, max_size=6, unique_by=lambda t: t[0]))
def test_names_written_as_cuad_answers_read_back(parties):
    answer = "; ".join(
        f'{first} {second} {form} ("{alias}1")'.replace("  ", " ") for first, second, form, alias in parties
    )
    names, redacted = cuad_party_names(answer)
    assert names == [f"{first} {second} {form}".strip() for first, second, form, _ in parties]
    assert redacted == []


def test_places_fold_prefixes_case_and_aliases():
    assert law_key("the State of New York") == law_key("NEW YORK") == "new york"
    assert law_key("Commonwealth of Massachusetts") == "massachusetts"
    assert law_key("People's Republic of China") == law_key("PRC") == law_key("P.R.C.") == "china"
    assert law_key("Federal Republic of Germany") == "germany"
    assert law_parts("England, United Kingdom; Wales, United Kingdom") == {"england and wales", "united kingdom"}
    assert same_value("governing_law", "England; Wales", "England and Wales")
    assert same_value("governing_law", "Virginia, Texas", "Texas")
    assert same_value("governing_law", "Republic of South Africa", "South Africa")
    assert not same_value("governing_law", "Delaware", "New York")
    assert not same_value("governing_law", "Delaware", None)


def test_titles_and_parties_fold_case_and_form():
    assert same_value("document_title", "CO-BRANDING  AGREEMENT", "Co-Branding Agreement")
    assert not same_value("document_title", "CO-BRANDING AGREEMENT", "Branding Agreement")
    assert same_value("party", "ACME HOLDINGS, INC.", "Acme Holdings Inc")
    assert not same_value("party", "Acme Holdings, Inc.", "Acme Inc.")
    assert same_value("agreement_date", "2014-05-08", "2014-05-08")
    assert not same_value("agreement_date", "2014-05-08", "2014-08-05")


# --- gold files --------------------------------------------------------------------------------

CUAD_HEADER = [
    "document",
    "document_name_answer",
    "parties_answer",
    "agreement_date_answer",
    "effective_date_answer",
    "expiration_date_answer",
    "renewal_term_answer",
    "governing_law_answer",
]


def _cuad(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CUAD_HEADER)
        writer.writerows(rows)
    return path


def test_cuad_gold_reads_each_answer_and_names_what_it_cannot(tmp_path):
    gold = _cuad(
        tmp_path / "gold.csv",
        [
            ["a.pdf", "SERVICES  AGREEMENT", 'Acme Inc. ("Acme")', "5/8/14", "", "perpetual", "1 year", "New York"],
            ["b.pdf", "", "[*] (“Agent”)", "[]/[]/2019", "", "12/31/20", "as agreed", ""],
            ["c.pdf", "", "", "", "", "Perpetual", "", ""],
        ],
    )
    read = read_fields_gold(gold, "cuad")
    a, b, c = read.documents
    assert a.fields["document_title"].values == ("SERVICES AGREEMENT",)
    assert a.fields["party"].values == ("Acme Inc.",)
    assert a.fields["agreement_date"] == GoldField(("2014-05-08",), ("5/8/14",))
    assert a.fields["effective_date"] == GoldField(("2014-05-08",), ("5/8/14",), derived=True)  # issue 17
    assert a.fields["expiration_date"].values == () and a.perpetual
    assert a.fields["renewal_term"].values == ("P1Y",)
    assert "term" not in a.fields and "notice_period" not in a.fields  # CUAD has no gold for them
    assert b.fields["expiration_date"].values == ("2020-12-31",)
    assert b.fields["governing_law"].values == ()  # empty: the contract does not state it
    for unread in ("party", "agreement_date", "effective_date", "renewal_term"):
        assert unread not in b.fields
    assert c.fields["effective_date"].values == () and c.perpetual
    assert [p.message for p in read.problems] == [
        "b.pdf: party: redacted name '[*]': not scored",
        "b.pdf: party: no party name in '[*] (“Agent”)': not scored",
        "b.pdf: agreement_date: '[]/[]/2019' is not a date (M/D/YY): not scored",
        "b.pdf: renewal_term: 'as agreed' is no duration: not scored",
        "b.pdf: effective_date: empty, and the agreement date it falls back to cannot be read: not scored",
    ]
    assert [p.where for p in read.problems][:1] == ["gold.csv row 2"]


def test_cuad_party_answers_are_checked_against_the_marked_names(tmp_path):
    path = tmp_path / "gold.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["document", "parties_spans", "parties_answer"])
        spans = repr(
            [
                "NEXSTAR",
                "Nexstar Broadcasting of Peoria, L.L.C.",
                "Nice Systems Ltd.",
                "Mr. Nirmal K. MINDA",
                'e-centives, Inc., ("e-centives")',
            ]
        )
        answer = 'Peoria, L.L.C. ("NEXSTAR"); Nice Systems Ltc. ("NICE"); Nirmal K. MINDA; e-centives, Inc.; Acme Corp.'
        writer.writerow(["a.pdf", spans, answer])
        writer.writerow(["b.pdf", "not a list [", "Peoria, L.L.C."])
    read = read_fields_gold(path, "cuad")
    a, b = read.documents
    assert a.fields["party"].values == (
        "Nexstar Broadcasting of Peoria, L.L.C.",
        "Nice Systems Ltd.",
        "Nirmal K. MINDA",  # a title before a person's name is not a name cut short
        "e-centives, Inc.",  # a marked passage that goes on past the name is not a longer name
        "Acme Corp.",
    )
    assert b.fields["party"].values == ("Peoria, L.L.C.",)  # unreadable spans: the answer as it is
    assert [p.message for p in read.problems if p.message.startswith("a.pdf")] == [
        "a.pdf: party: answer 'Peoria, L.L.C.' read as the marked 'Nexstar Broadcasting of Peoria, L.L.C.'",
        "a.pdf: party: answer 'Nice Systems Ltc.' read as the marked 'Nice Systems Ltd.'",
    ]


@pytest.mark.skipif(not (CUAD_DIR / "gold.csv").exists(), reason="the CUAD dev set is not here")
def test_the_cuad_dev_gold_reads_with_only_redactions_and_blanks_as_problems():
    read = read_fields_gold(CUAD_DIR / "gold.csv", "cuad")
    assert len(read.documents) == 102
    for problem in read.problems:
        assert any(why in problem.message for why in ("[", "falls back", "read as the marked")), problem
    corrected = [p.message.split(": ", 1)[1] for p in read.problems if "read as the marked" in p.message]
    assert "party: answer 'Peoria, L.L.C.' read as the marked 'Nexstar Broadcasting of Peoria, L.L.C.'" in corrected
    assert len(corrected) <= 8  # a handful of CUAD's answers, each listed
    by_file = {d.file: d for d in read.documents}
    names = [n for d in read.documents for n in d.fields["party"].values]
    assert not [n for n in names if re.search(r"[\"“”]|\b(?:[Pp]art(?:y|ies)|each|collectively)\b", n)]
    assert "Great Lakes Gas Transmission Limited Partnership" in names
    skype = next(d for f, d in by_file.items() if f.startswith("TomOnlineInc"))
    assert len(skype.fields["party"].values) == 5
    assert sum(d.perpetual for d in read.documents) >= 10
    assert not [p for p in read.problems if "renewal_term" in p.message or "governing_law" in p.message]
    assert by_file[skype.file].fields["renewal_term"].values == ("P3Y",)


def test_field_jsonl_reads_sets_alternatives_nulls_and_names_bad_lines(tmp_path):
    lines = [
        {"file": "a.pdf", "field": "party", "value": "Acme Inc."},
        {"file": "a.pdf", "field": "party", "value": "Beta LLC"},
        {"file": "a.pdf", "field": "notice_period", "value": None},
        {"file": "a.pdf", "field": "agreement_date", "value": "May 8, 2014"},
        {"file": "a.pdf", "field": "governing_law", "value": "New York"},
        {"file": "a.pdf", "field": "governing_law", "value": None},
        {"file": "a.pdf", "field": "fee", "value": "5"},
        {"field": "term", "value": "P1Y"},
        {"file": "b.pdf", "field": "term", "value": "one year"},
        {"file": "b.pdf", "field": "term", "value": "P12M"},
        {"file": "b.pdf", "field": "renewal_term", "value": 12},
    ]
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n{oops\n")
    read = read_fields_gold(path, "jsonl")
    a, b = read.documents
    assert a.fields == {
        "party": GoldField(("Acme Inc.", "Beta LLC"), ("Acme Inc.", "Beta LLC")),
        "notice_period": GoldField((), ()),
    }
    assert b.fields == {"term": GoldField(("P12M",), ("P12M",))}
    assert sorted(f"{p.where}: {p.message}" for p in read.problems) == [
        "gold.jsonl:11: 'value' must be a string, or null for a field the document lacks",
        "gold.jsonl:12: not JSON (Expecting property name enclosed in double quotes)",
        "gold.jsonl:4: agreement_date: 'May 8, 2014' is not an ISO date (YYYY-MM-DD)",
        "gold.jsonl:5: governing_law has a value and null (gold.jsonl:5, gold.jsonl:6): not scored",
        "gold.jsonl:7: unknown field 'fee' (fields: document_title, party, agreement_date, effective_date, term, "
        "renewal_term, notice_period, expiration_date, governing_law)",
        "gold.jsonl:8: a record needs a 'file' (the PDF's file name)",
        "gold.jsonl:9: term: 'one year' is not an ISO 8601 duration, perpetual or until_terminated",
    ]


# --- scoring -----------------------------------------------------------------------------------


def _found(value: str | None, confidence: float = 0.9, method: str = "m") -> Prediction:
    return Prediction(value, value or "?", confidence, method, 1)


def test_a_single_field_is_right_wrong_missed_invented_or_rightly_empty():
    stated = GoldField(("2014-05-08", "2014-05-09"))
    counts, kind, right = score_single("agreement_date", stated, _found("2014-05-09"))
    assert (counts.stated, counts.predicted, counts.right, kind, right) == (1, 1, 1, None, True)
    counts, kind, right = score_single("agreement_date", stated, _found(None))  # stated in an unreadable form
    assert (counts.predicted, counts.right, kind, right) == (1, 0, "wrong", False)
    counts, kind, right = score_single("agreement_date", stated, None)
    assert (counts.stated, counts.predicted, kind, right) == (1, 0, "missed", None)
    counts, kind, right = score_single("agreement_date", GoldField(()), _found("2014-05-08"))
    assert (counts.empty, counts.empty_none, counts.predicted, kind, right) == (1, 0, 1, "invented", False)
    counts, kind, right = score_single("agreement_date", GoldField(()), None)
    assert (counts.empty, counts.empty_none, counts.stated, kind) == (1, 1, 0, None)
    assert counts.empty_none_share == 1.0 and counts.precision is None and counts.recall is None


def test_parties_are_sets_of_keys():
    gold = GoldField(("Acme Holdings, Inc.", "Beta LLC", "ACME HOLDINGS INC"))
    predicted = {"acme holdings": _found("acme holdings"), "gamma": _found("gamma")}
    counts, missed, spurious, rightness, slips = score_parties(gold, predicted)
    assert (counts.stated, counts.predicted, counts.right) == (2, 2, 1)
    assert missed == ["Beta LLC"] and spurious == ["gamma"] and slips == []
    assert rightness == {"acme holdings": True, "gamma": False}
    assert counts.precision == 0.5 and counts.recall == 0.5 and counts.f1 == 0.5


def test_a_one_character_slip_in_a_gold_name_is_forgiven_in_long_names_only():
    gold = GoldField(("Pifzer Incorporated Holdings", "Loin Biotechnologies, Inc.", "Acme Co", "Nice Systems Ltc."))
    predicted = {
        key: _found(key) for key in ("pfizer incorporated holdings", "lion biotechnologies", "acne", "nice systems")
    }
    counts, missed, spurious, rightness, slips = score_parties(gold, predicted)
    assert slips == [
        ("Pifzer Incorporated Holdings", "pfizer incorporated holdings"),
        ("Loin Biotechnologies, Inc.", "lion biotechnologies"),
    ]
    assert counts.right == 2 and missed == ["Acme Co", "Nice Systems Ltc."] and spurious == ["acne", "nice systems"]
    assert rightness["lion biotechnologies"] and not rightness["acne"]


def test_an_expiration_on_the_last_day_in_force_is_the_golds_anniversary():
    assert last_day_in_force(("2021-06-01",), "2021-05-31") == "2021-06-01"
    assert last_day_in_force(("2021-06-01", "2021-05-31"), "2021-05-31") is None  # equal: nothing forgiven
    assert last_day_in_force(("2021-06-01",), "2021-06-02") is None  # a day after is another end
    assert last_day_in_force(("2021-06-01",), "2021-05-30") is None
    assert last_day_in_force(("2021-03-01",), "2021-02-28") == "2021-03-01"
    assert last_day_in_force(("2021-06-01",), None) is None


@given(st.text("abcde", max_size=8), st.text("abcde", max_size=8))
def test_one_slip_is_an_edit_distance_of_at_most_one(a, b):
    def osa(x: str, y: str) -> int:
        d = [[i + j if i * j == 0 else 0 for j in range(len(y) + 1)] for i in range(len(x) + 1)]
        for i in range(1, len(x) + 1):
            for j in range(1, len(y) + 1):
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (x[i - 1] != y[j - 1]))
                if i > 1 and j > 1 and x[i - 1] == y[j - 2] and x[i - 2] == y[j - 1]:
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
        return d[len(x)][len(y)]

    assert one_slip(a, b) == (osa(a, b) <= 1) == one_slip(b, a)


@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), max_size=60))
def test_the_reliability_table_holds_every_value_once(values):
    judged = [Judged("party", "m", confidence, right) for confidence, right in values]
    bins = reliability_of(judged)
    assert sum(b.values for b in bins) == len(values)
    assert sum(b.right for b in bins) == sum(right for _, right in values)
    for b in bins:
        if b.values:
            assert b.share_right is not None and 0 <= b.share_right <= 1
        else:
            assert b.share_right is None
        if b.mean_confidence is not None:
            assert b.low <= b.mean_confidence <= b.high + 1e-9


# --- an evaluation of a lake ---------------------------------------------------------------------


def _row(spec, **values):
    row = {field.name: None for field in spec.schema.fields}
    row.update(values)
    return row


NOW = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)
STATE = {
    "status": "ok",
    "error_class": None,
    "error_message": None,
    "version": "f1",
    "run_id": "r1",
    "finished_at": NOW,
}


def _document(doc_id: str, file: str, fields_state: dict | None = STATE) -> dict:
    return _row(
        DOCUMENTS, doc_id=doc_id, source_path=f"/in/{file}", file_name=file, size_bytes=1, page_count=1,
        status="ok", ingest_state=STATE, extract_state=STATE, ner_state=STATE, fields_state=fields_state,
        run_id="r1", ingested_at=NOW,
    )  # fmt: skip


def _value(doc_id, field, rank, value, normalized, confidence, method, entity_key=None, page_no=1) -> dict:
    return _row(
        CONTRACT_FIELDS, doc_id=doc_id, field=field, rank=rank, value=value, normalized_value=normalized,
        confidence=confidence, method=method, page_no=page_no, start=rank, end=rank + len(value),
        end_page_no=page_no, doc_start=rank, doc_end=rank + len(value), entity_key=entity_key, run_id="r1",
    )  # fmt: skip


@pytest.fixture
def fields_lake(tmp_path) -> Path:
    """Two contracts through the fields stage, one not yet: the values each field found."""
    lake = tmp_path / "lake"
    ensure_tables(lake)
    documents = [_document("d1", "acme.pdf"), _document("d2", "beta.pdf"), _document("d3", "raw.pdf", None)]
    write_arrow(arrow_rows(DOCUMENTS, documents), lake, DOCUMENTS)
    values = [
        _value("d1", "document_title", 1, "Services Agreement", "Services Agreement", 0.95, "heading"),
        _value("d1", "party", 1, "Acme Inc.", "Acme Inc.", 0.9, "alias-parenthetical", "acme"),
        _value("d1", "party", 2, "Beta LLC", None, 0.8, "between-list"),  # no key: its value's
        _value("d1", "party", 3, "Gamma Corp", "Gamma Corp", 0.5, "between-list", "gamma"),
        _value("d1", "party", 4, "ACME, Inc", "ACME, Inc", 0.3, "signature", "acme"),  # the same party again
        _value("d1", "agreement_date", 1, "May 8, 2014", "2014-05-08", 0.85, "preamble"),
        _value("d1", "agreement_date", 2, "June 1, 2014", "2014-06-01", 0.99, "signature"),  # not rank 1
        _value("d1", "effective_date", 1, "May 8, 2014", "2014-05-08", 0.6, "agreement-date"),
        _value("d1", "term", 1, "until terminated", "until_terminated", 0.7, "term-clause"),
        _value("d1", "renewal_term", 1, "twelve (12) months", "P12M", 0.75, "renewal-clause"),
        _value("d1", "expiration_date", 1, "December 31, 2015", "2015-12-31", 0.4, "computed", page_no=3),
        _value("d1", "governing_law", 1, "the State of New York", "New York", 0.95, "law-clause"),
        _value("d2", "party", 1, "Delta GmbH", "Delta GmbH", 0.9, "alias-parenthetical", "delta"),
        _value("d2", "agreement_date", 1, "5/9/2014", None, 0.3, "signature", page_no=2),  # order unknown
        _value("d2", "effective_date", 1, "June 1, 2014", "2014-06-01", 0.7, "effective-defined"),
        _value("d3", "party", 1, "Zeta AG", "Zeta AG", 0.9, "alias-parenthetical", "zeta"),
    ]
    write_arrow(arrow_rows(CONTRACT_FIELDS, values), lake, CONTRACT_FIELDS)
    return lake


@pytest.fixture
def cuad_gold(tmp_path) -> Path:
    return _cuad(
        tmp_path / "gold.csv",
        [
            ["acme.pdf", "SERVICES  AGREEMENT", 'Acme, Inc. ("Acme"); Beta L.L.C. ("Beta")', "5/8/14", "",
             "perpetual", "successive one (1) year periods", "State of New York"],
            ["beta.pdf", "Distribution Agreement", 'Delta GmbH ("Delta"); Epsilon S.A. ("Epsilon")', "5/9/14",
             "6/1/14", "", "as the parties agree", "Delaware"],
            ["missing.pdf", "X", "", "", "", "", "", ""],
            ["raw.pdf", "", 'Zeta AG ("Zeta")', "", "", "", "", ""],
        ],
    )  # fmt: skip


def test_an_evaluation_of_a_lake_scores_lists_errors_and_writes_its_rows(fields_lake, cuad_gold, tmp_path):
    result = evaluate_fields(fields_lake, cuad_gold, now=NOW)  # cuad: the file is a .csv
    assert result.format == "cuad"
    assert result.fields == (
        "document_title", "party", "agreement_date", "effective_date", "renewal_term", "expiration_date",
        "governing_law",
    )  # fmt: skip
    assert [d.file for d in result.documents] == ["acme.pdf", "beta.pdf"]
    assert [p.message for p in result.problems] == [
        "beta.pdf: renewal_term: 'as the parties agree' is no duration: not scored",
        "the lake holds no document 'missing.pdf'",
        "'raw.pdf' has not been through the fields stage: not evaluated",
    ]
    party = result.counts["party"]
    assert (party.documents, party.stated, party.predicted, party.right) == (2, 4, 4, 3)
    agreement = result.counts["agreement_date"]
    assert (agreement.stated, agreement.predicted, agreement.right) == (2, 2, 1)
    effective = result.counts["effective_date"]
    assert (effective.stated, effective.right) == (2, 2)  # acme's is its agreement date (CUAD leaves it empty)
    stated = result.extras[EFFECTIVE_STATED]
    assert (stated.documents, stated.stated, stated.right) == (1, 1, 1)
    expiration = result.counts["expiration_date"]
    assert (expiration.stated, expiration.predicted, expiration.empty, expiration.empty_none) == (0, 1, 2, 1)
    assert expiration.precision == 0.0 and expiration.empty_none_share == 0.5
    assert (result.extras[TERM_PERPETUAL].stated, result.extras[TERM_PERPETUAL].right) == (1, 1)
    renewal = result.counts["renewal_term"]
    assert (renewal.documents, renewal.right) == (1, 1)  # P12M is one year; beta's answer is a problem
    law = result.counts["governing_law"]
    assert (law.stated, law.predicted, law.right) == (2, 1, 1)
    assert result.counts["document_title"].right == 1
    total = result.total()
    assert (total.stated, total.predicted, total.right) == (13, 12, 9)

    errors = {(e.file, e.field, e.kind): e for e in result.errors}
    assert sorted(errors) == [
        ("acme.pdf", "expiration_date", "invented"),
        ("acme.pdf", "party", "spurious"),
        ("beta.pdf", "agreement_date", "wrong"),
        ("beta.pdf", "document_title", "missed"),
        ("beta.pdf", "governing_law", "missed"),
        ("beta.pdf", "party", "missed"),
    ]
    wrong = errors[("beta.pdf", "agreement_date", "wrong")]
    assert (wrong.expected, wrong.expected_written, wrong.found, wrong.found_written, wrong.page_no) == (
        ("2014-05-09",), ("5/9/14",), None, "5/9/2014", 2,
    )  # fmt: skip
    assert errors[("beta.pdf", "party", "missed")].expected_written == ("Epsilon S.A.",)
    assert errors[("acme.pdf", "party", "spurious")].found_written == "Gamma Corp"
    invented = errors[("acme.pdf", "expiration_date", "invented")]
    assert invented.expected_text == "none (perpetual)" and invented.page_no == 3

    bins = [(b.values, b.right) for b in reliability(result)]
    assert bins == [(2, 0), (2, 1), (2, 2), (2, 2), (4, 4)]
    counts = method_counts(result)
    assert counts[("party", "alias-parenthetical")] == (2, 2)
    assert counts[("party", "between-list")] == (1, 2)
    assert counts[("agreement_date", "signature")] == (0, 1)
    assert ("term", "term-clause") not in counts  # no CUAD gold for the term
    assert (result.run_id, result.model_version) == ("r1", "f1")

    out = save_fields_evaluation(fields_lake, result, tmp_path / "eval.json")
    rows = {r["label"]: r for r in read_arrow(fields_lake, EVALUATIONS.name).to_pylist()}
    assert set(rows) == {*result.fields, "ALL"}
    assert {(r["task"], r["scheme"], r["eval_id"]) for r in rows.values()} == {("fields", "value", result.eval_id)}
    assert (rows["party"]["gold_spans"], rows["party"]["tp"], rows["party"]["fp"]) == (4, 3.0, 1.0)
    assert rows["ALL"]["precision"] == pytest.approx(9 / 12) and rows["ALL"]["recall"] == pytest.approx(9 / 13)
    assert out is not None
    summary = json.loads(out.read_text())
    assert summary["metrics"]["expiration_date"]["empty_none_share"] == 0.5
    assert summary["extras"][EFFECTIVE_STATED]["right"] == 1
    assert len(summary["errors"]) == 6 and summary["error_counts"]["missed"] == 3
    assert [b["values"] for b in summary["reliability"]] == [2, 2, 2, 2, 4]
    assert {"field": "party", "method": "between-list", "right": 1, "total": 2} in summary["methods"]


def test_field_jsonl_gold_scores_only_the_fields_it_names(fields_lake, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        "\n".join(
            json.dumps(line)
            for line in [
                {"file": "acme.pdf", "field": "party", "value": "Acme Inc."},
                {"file": "acme.pdf", "field": "notice_period", "value": None},
                {"file": "acme.pdf", "field": "governing_law", "value": "New York"},
                {"file": "/in/beta.pdf", "field": "expiration_date", "value": None},
            ]
        )
    )
    result = evaluate_fields(fields_lake, gold)
    assert result.format == "jsonl" and result.problems == []
    assert result.fields == ("party", "notice_period", "expiration_date", "governing_law")
    notice, expiration = result.counts["notice_period"], result.counts["expiration_date"]
    assert (notice.documents, notice.empty, notice.empty_none) == (1, 1, 1)
    assert (expiration.documents, expiration.empty_none_share) == (1, 1.0)  # acme's expiration is not scored
    assert (result.counts["party"].predicted, result.counts["party"].right) == (3, 1)
    only_law = evaluate_fields(fields_lake, gold, fields=["governing_law"])
    assert only_law.fields == ("governing_law",) and only_law.total().right == 1
    with pytest.raises(ValueError, match="unknown fields"):
        evaluate_fields(fields_lake, gold, fields=["fee"])


def test_the_command_prints_errors_scores_and_reliability(fields_lake, cuad_gold, tmp_path, capsys):
    out = tmp_path / "e.json"
    code = main(["eval", "fields", "--lake", str(fields_lake), "--gold", str(cuad_gold), "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "misses and wrong values (6):" in printed.out
    assert "2014-05-09 (5/9/14)" in printed.out and "5/9/2014" in printed.out
    assert "effective_date (stated)" in printed.out and "term (perpetual expiration)" in printed.out
    assert "[0.9, 1.0] |      4 |     4 |         1.0" in printed.out
    assert "errors: missed 3, wrong 1, invented 1, spurious 1" in printed.out
    assert "the lake holds no document 'missing.pdf'" in printed.err
    assert json.loads(out.read_text())["error_counts"]["spurious"] == 1
    labels = {r["label"] for r in read_arrow(fields_lake, EVALUATIONS.name).to_pylist()}
    assert "governing_law" in labels and "ALL" in labels
    assert main(["eval", "fields", "--lake", str(fields_lake), "--gold", str(cuad_gold), "--fields", "fee"]) == 2


def test_the_report_shows_the_latest_fields_evaluation_apart_from_ner(fields_lake, cuad_gold, tmp_path):
    from jobs.ops.report import write_report

    result = evaluate_fields(fields_lake, cuad_gold, now=NOW)
    save_fields_evaluation(fields_lake, result)
    page = write_report(fields_lake, tmp_path / "report.html").read_text()
    assert 'id="evaluation"' not in page  # no NER evaluation: the fields rows are not shown as one
    section = page[page.index('id="fields-evaluation"') :].replace("\n", "")
    assert '<td>party</td><td class="num">4</td><td class="num">4</td><td class="num">3</td>' in section
    assert "<td>ALL</td>" in section
