"""Rules backend: the shipped contract rules find the right spans, rule files are validated with
messages that name the file, rule and key, and matching stays fast and in bounds on any text."""

from __future__ import annotations

import pickle
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udfs.ner.backends.rules import RulesBackend, RulesError, RuleSet, gazetteer_pattern, load_rules
from udfs.ner.entities import SOURCE_RULES, Candidate, NerBackend

RULES_DIR = Path(__file__).resolve().parent.parent / "conf" / "rules"


@pytest.fixture(scope="module")
def contract_rules() -> RuleSet:
    return load_rules([RULES_DIR])


def _texts(rule_set: RuleSet, text: str, label: str) -> list[str]:
    return [candidate.text for candidate in rule_set.find(text) if candidate.label == label]


def _write(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.write_text(body, encoding="utf-8")
    return path


# ---- the shipped contract rules ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label", "span"),
    [
        ("The fee is $2,500,000 payable", "MONEY", "$2,500,000"),
        ("up to $2.5 million in total", "MONEY", "$2.5 million"),
        ("a fee of US$ 100 per month", "MONEY", "US$ 100"),
        ("not to exceed USD 1.2 million.", "MONEY", "USD 1.2 million"),
        ("a deposit of EUR 500,000,", "MONEY", "EUR 500,000"),
        ("costs €1,000.00 each", "MONEY", "€1,000.00"),
        ("a charge of £250.", "MONEY", "£250"),
        ("of Two Million Dollars ($2,000,000) to", "MONEY", "Two Million Dollars"),
        ("of Two Million ($2,000,000) Dollars to", "MONEY", "Two Million ($2,000,000) Dollars"),
        ("of Two Thousand Five\nHundred and No/100's per month", "MONEY", "Two Thousand Five\nHundred and No/100's"),
        ("of Eighty Thousand Dollars and No/100's (580,000.00)\npayable", "MONEY", "580,000.00"),
        ("pay two million dollars upon", "MONEY", "two million dollars"),
        ("a fine of 1,000,000 Euros.", "MONEY", "1,000,000 Euros"),
        ("at $0.50 per unit", "MONEY", "$0.50"),
        ("the sum of one hundred twenty-five thousand dollars", "MONEY", "one hundred twenty-five thousand dollars"),
        (
            "Five Hundred Thousand and 00/100 Dollars ($500,000.00)",
            "MONEY",
            "Five Hundred Thousand and 00/100 Dollars",
        ),
        ("Five Hundred Thousand and 00/100 Dollars ($500,000.00)", "MONEY", "$500,000.00"),
        ("dated February ____, 2017 by", "DATE", "February ____, 2017"),
        ("signed this ____ day of March, 2013", "DATE", "____ day of March, 2013"),
        ("the Exhibits dated 13.8.01 (the", "DATE", "13.8.01"),
        ("represented by its Chief Executive Officer Steven van der Velden and", "PERSON", "Steven van der Velden"),
        ("its Marketing Director, Bart\nWeijermars, hereinafter", "PERSON", "Bart\nWeijermars"),
        ("By: Name Corinne Fallacaro\nTitle PRESIDENT", "PERSON", "Corinne Fallacaro"),
        ("Signature /s/ Andrew Zhang\nDate 13/07/05", "PERSON", "Andrew Zhang"),
        ("Name: Carolyn Silas By: /s/ X", "PERSON", "Carolyn Silas"),
        ("Acme Corp.\nBy: Fatima Nguyen\nTitle: CEO", "PERSON", "Fatima Nguyen"),
        ("By: John Q. Public, Jr.\n", "PERSON", "John Q. Public, Jr."),
        ("and The Associated Press, a New York not-for-profit corporation with", "ORG", "Associated Press"),
        ("and The Right Solution, a Nevada Corporation (the", "ORG", "Right Solution"),
        ('between Bank of America, N.A. ("Bank") and', "ORG", "Bank of America, N.A."),
        ("made the 15th day of March, 2023 by", "DATE", "15th day of March, 2023"),
        ("entered into this 1st day of June 2020.", "DATE", "1st day of June 2020"),
        ("dated March 15, 2023 between", "DATE", "March 15, 2023"),
        ("on 15 March 2023 the", "DATE", "15 March 2023"),
        ("signed Mar. 15, 2023.", "DATE", "Mar. 15, 2023"),
        ("signed 15/03/2023.", "DATE", "15/03/2023"),
        ("signed 03/15/2023.", "DATE", "03/15/2023"),
        ("effective 2023-03-15,", "DATE", "2023-03-15"),
        ("in March 2023 the parties", "DATE", "March 2023"),
        ("a discount of 5% on", "PERCENT", "5%"),
        ("interest of 5.5 % per annum", "PERCENT", "5.5 %"),
        ("five percent (5%) of net sales", "PERCENT", "five percent (5%)"),
        ("ten per cent of the", "PERCENT", "ten per cent"),
        ("a 12.5 percent royalty", "PERCENT", "12.5 percent"),
        ("within thirty (30) days of", "DURATION", "thirty (30) days"),
        ("within 90 days after", "DURATION", "90 days"),
        ("for two (2) years from", "DURATION", "two (2) years"),
        ("for six months.", "DURATION", "six months"),
        ("a term of one (1) year,", "DURATION", "one (1) year"),
        ("within 30 business days,", "DURATION", "30 business days"),
        ("for 12 weeks.", "DURATION", "12 weeks"),
        ("within 48 hours of", "DURATION", "48 hours"),
        ('Acme Inc. ("Licensee") agrees', "ALIAS", "Licensee"),
        ('Beta LLC (the "Company"), a', "ALIAS", "Company"),
        ("Gamma Ltd. (hereinafter referred to as “Distributor”) and", "ALIAS", "Distributor"),
        ('(each a "Party" and together the "Parties")', "ALIAS", "Party"),
        ('(each a "Party" and together the "Parties")', "ALIAS", "Parties"),
        ("(the “Effective Date”)", "ALIAS", "Effective Date"),
        ('may be referred to individually as "Party" and collectively as "Parties."', "ALIAS", "Parties"),
        ("the XG-4500 unit", "PRODUCT_CODE", "XG-4500"),
        ("model AB-12345,", "PRODUCT_CODE", "AB-12345"),
        ("SKU 99-1234-A.", "PRODUCT_CODE", "99-1234-A"),
        ("by Acme Robotics, Inc., a Delaware corporation", "ORG", "Acme Robotics, Inc."),
        ("and Dewey, Cheatem & Howe LLC, a", "ORG", "Dewey, Cheatem & Howe LLC"),
        ("BIRCH FIRST GLOBAL INVESTMENTS INC. (", "ORG", "BIRCH FIRST GLOBAL INVESTMENTS INC."),
        ("with Acme Holdings Co., Ltd. and", "ORG", "Acme Holdings Co., Ltd."),
        ("to Bank of America Corporation.", "ORG", "Bank of America Corporation"),
        ("The Coca-Cola Company", "ORG", "Coca-Cola Company"),
        ("Siemens AG and", "ORG", "Siemens AG"),
    ],
)
def test_contract_rules_find_the_span(contract_rules, text, label, span):
    assert span in _texts(contract_rules, text, label)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("as set out in Section 2.1 and Section 12-4A", "PRODUCT_CODE"),
        ("dated 2023-03-15 and 15-MAR-2023", "PRODUCT_CODE"),
        ("a payment of $2,500,000", "PRODUCT_CODE"),
        ("a well-known, third-party, non-exclusive licence", "PRODUCT_CODE"),
        ("filed on Form 10-K and Form 10-12G, Exhibit A-12345, EX-10.13, COVID-19, 10-12G", "PRODUCT_CODE"),
        ("open 9AM-5PM daily", "PRODUCT_CODE"),
        ("500 pounds of product", "MONEY"),
        ("the Company may 2023 be", "DATE"),
        ("in Section 3.2 (see Exhibit B)", "ALIAS"),
        ("the second year, each month", "DURATION"),
        ("The Company shall pay. This Agreement Inc", "ORG"),
        ("Section 2. Company may", "ORG"),
        ("By: Its President\nBy: Authorized Signatory", "PERSON"),
        ("By: Acme and Beta, jointly, shall pay", "PERSON"),
    ],
)
def test_contract_rules_leave_lookalikes_alone(contract_rules, text, label):
    assert _texts(contract_rules, text, label) == []


def test_two_names_joined_by_and_stay_two(contract_rules):
    assert _texts(contract_rules, "Acme Corp. and Beta Inc. agree", "ORG") == ["Acme Corp.", "Beta Inc."]


def test_a_full_date_does_not_also_give_its_month_and_year(contract_rules):
    text = "on 15 March 2023, the 15th day of March 2023 and March 15, 2023"
    assert _texts(contract_rules, text, "DATE") == ["15 March 2023", "15th day of March 2023", "March 15, 2023"]


def test_the_written_amount_outranks_the_numeral_inside_it(contract_rules):
    text = "a fee of Two Million ($2,000,000) Dollars and five percent (5%) within thirty (30) days"
    found = contract_rules.find(text)
    for label, whole in [("MONEY", "Two Million ($2,000,000) Dollars"), ("PERCENT", "five percent (5%)")]:
        of_label = [candidate for candidate in found if candidate.label == label]
        best = max(of_label, key=lambda candidate: candidate.priority)
        assert best.text == whole and len(of_label) == 2  # the inner numeral is still proposed


def test_a_written_amount_and_its_numeral_in_brackets_are_two_amounts(contract_rules):
    # docs/annotation.md: numbers written twice are two spans when they are two expressions.
    text = "a fee of Two Million Dollars ($2,000,000), payable"
    assert _texts(contract_rules, text, "MONEY") == ["Two Million Dollars", "$2,000,000"]
    text = "a fee of Eighty Thousand Dollars and No/100's (580,000.00) and 30 (thirty) days"
    assert _texts(contract_rules, text, "MONEY") == ["Eighty Thousand Dollars and No/100's", "580,000.00"]


def test_a_dotted_date_with_a_two_digit_year_needs_the_word_dated(contract_rules):
    assert _texts(contract_rules, "as set out in Section 13.8.01 of the plan", "DATE") == []
    assert _texts(contract_rules, "a proposal dated 13.8.01 and", "DATE") == ["13.8.01"]


def test_a_title_is_followed_by_a_name_only_after_its_holder(contract_rules):
    assert _texts(contract_rules, "the Chief Executive Officer Steven Smith shall", "PERSON") == []
    assert _texts(contract_rules, "its President\nTitle: CEO", "PERSON") == []
    assert _texts(contract_rules, "its President John Smith\nTitle: CEO", "PERSON") == ["John Smith"]


def test_candidates_say_where_they_come_from(contract_rules):
    (candidate,) = contract_rules.find("Pay $5 now.")
    assert candidate == Candidate(
        start=4,
        end=6,
        text="$5",
        label="MONEY",
        score=0.97,
        source=SOURCE_RULES,
        model="contracts",
        model_version=contract_rules.version,
        priority=90,
        rule="money-symbol",
    )


def test_rule_priorities_follow_the_documented_order(contract_rules):
    priority = {rule.id: rule.priority for rule in contract_rules.rules}
    assert priority["money-written"] > priority["money-symbol"] > priority["alias-parenthetical"]
    assert priority["date-day-month-year"] > priority["date-month-year"] > priority["alias-parenthetical"]
    assert priority["money-symbol"] > priority["org-legal-form"] > priority["alias-parenthetical"]
    assert priority["alias-parenthetical"] > priority["product-code"]
    assert all(0.9 <= rule.score <= 0.99 for rule in contract_rules.rules)


def _contract_text(chars: int) -> str:
    paragraph = (
        'This Supply Agreement (the "Agreement") is made this 1st day of June 2020 by and between Acme Corp. '
        '("Supplier") and Beta GmbH (hereinafter referred to as “Buyer”). Buyer shall pay Two Million Dollars '
        "($2,000,000), USD 1.2 million and €1,000.00 within thirty (30) days, plus interest of 5.5 % per annum "
        "and five percent (5%) of net sales for two (2) years. Product XG-4500 (SKU 99-1234-A) ships by "
        "March 15, 2023, 15/03/2023 or 2023-03-15, as set out in Section 2.1 and Exhibit A-1. Notices take 48 "
        "hours; either Party may terminate on 90 days' notice or within 30 business days.\n\n"
    )
    return (paragraph * (chars // len(paragraph) + 1))[:chars]


def test_shipped_rules_are_fast_on_long_documents(contract_rules):
    text = _contract_text(200_000)
    contract_rules.find("warm up: compile the patterns")
    started = time.perf_counter()
    found = contract_rules.find(text)
    elapsed = time.perf_counter() - started
    assert len(found) > 5000
    assert elapsed < 5.0, f"200k characters took {elapsed:.2f}s"


@pytest.mark.parametrize(
    "text",
    [
        "9" * 100_000,
        "1," * 50_000,
        "-" * 100_000,
        '("' * 50_000,
        ' "a' * 30_000 + ")",
        "one " * 25_000 + "dollars",
        "A1-" * 30_000,
        "March " * 20_000,
        "$" * 100_000,
        " " * 100_000 + "days",
    ],
)
def test_no_catastrophic_backtracking_on_degenerate_text(contract_rules, text):
    started = time.perf_counter()
    contract_rules.find(text)
    assert time.perf_counter() - started < 5.0


_FRAGMENTS = [
    "$2,500,000",
    "Two Million Dollars ($2,000,000)",
    "the 15th day of March, 2023",
    "15/03/2023",
    "five percent (5%)",
    "thirty (30) days",
    '(the "Company")',
    "(hereinafter referred to as “Distributor”)",
    "XG-4500",
    "SKU 99-1234-A",
    "Section 2.1",
    "\n",
    " ",
    "(",
    ")",
    '"',
    "-",
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(), st.sampled_from(_FRAGMENTS)), max_size=12).map("".join))
def test_candidates_always_point_into_the_text(contract_rules, text):
    found = contract_rules.find(text)
    for candidate in found:
        assert 0 <= candidate.start < candidate.end <= len(text)
        assert text[candidate.start : candidate.end] == candidate.text
    keys = [(candidate.start, candidate.end, candidate.label) for candidate in found]
    assert keys == sorted(set(keys))


# ---- the backend -------------------------------------------------------------------------------


def test_backend_recognizes_each_text_and_survives_pickling(contract_rules):
    backend: NerBackend = RulesBackend(contract_rules)
    assert (backend.source, backend.model, backend.model_version) == ("rules", "contracts", contract_rules.version)
    texts = ["Pay $5 within 90 days.", "", "Nothing here."]
    found = backend.recognize(texts)
    assert [[candidate.text for candidate in candidates] for candidates in found] == [["$5", "90 days"], [], []]
    contract_rules.find("compile first, so that the pickle would carry compiled patterns if it could")
    restored = pickle.loads(pickle.dumps(backend))
    assert restored.rule_set.rules == contract_rules.rules  # the pattern sources travel...
    assert restored.rule_set._compiled is None  # ...the compiled patterns do not
    assert restored.recognize(texts) == found


# ---- rule files --------------------------------------------------------------------------------

_RULE = """
  - id: {id}
    label: {label}
    priority: {priority}
    score: {score}
    pattern: '{pattern}'
"""


def _rule_file(name: str = "test", *rules: str) -> str:
    return f"name: {name}\nversion: '1'\nrules:" + "".join(rules)


def test_identical_spans_keep_the_highest_priority_rule(tmp_path):
    _write(
        tmp_path,
        "r.yaml",
        _rule_file(
            "test",
            _RULE.format(id="low", label="CODE", priority=1, score=0.5, pattern=r"\d+"),
            _RULE.format(id="high", label="CODE", priority=5, score=0.6, pattern=r"\d+"),
            _RULE.format(id="other-label", label="NUM", priority=0, score=0.7, pattern=r"\d+"),
            _RULE.format(id="prefix", label="CODE", priority=0, score=0.7, pattern=r"[A-Z]-\d+"),
        ),
    )
    found = load_rules([tmp_path]).find("see A-12 and 7")
    assert [(c.start, c.end, c.label, c.rule) for c in found] == [
        (4, 8, "CODE", "prefix"),
        (6, 8, "CODE", "high"),
        (6, 8, "NUM", "other-label"),
        (13, 14, "CODE", "high"),
        (13, 14, "NUM", "other-label"),
    ]


def test_group_selects_the_entity_span(tmp_path):
    body = _rule_file(
        "test",
        _RULE.format(id="named", label="ID", priority=1, score=0.9, pattern=r"ID:\s*(?P<code>\d+)")
        + "    group: code\n",
        _RULE.format(id="numbered", label="REF", priority=1, score=0.9, pattern=r"Ref (\w+)(x)?") + "    group: 2\n",
    )
    rule_set = load_rules([_write(tmp_path, "r.yaml", body)])
    # group 2 does not take part in "Ref abc", so that match gives no candidate
    assert [(c.text, c.label) for c in rule_set.find("ID: 42, Ref abc")] == [("42", "ID")]


def test_defines_are_inlined_and_may_use_each_other(tmp_path):
    body = "name: t\nversion: '1'\ndefines:\n  digit: '\\d'\n  num: '(?&digit)+'\nrules:" + _RULE.format(
        id="n", label="NUM", priority=1, score=0.9, pattern="#(?&num)"
    )
    rule_set = load_rules([_write(tmp_path, "r.yaml", body)])
    assert _texts(rule_set, "item #123", "NUM") == ["#123"]
    assert "(?&" not in rule_set.rules[0].pattern


def test_directories_load_sorted_and_names_join(tmp_path):
    _write(tmp_path, "b.yaml", _rule_file("second", _RULE.format(id="b", label="B", priority=1, score=1, pattern="b")))
    _write(tmp_path, "a.yaml", _rule_file("first", _RULE.format(id="a", label="A", priority=1, score=0, pattern="a")))
    _write(tmp_path, "notes.txt", "not a rule file")
    rule_set = load_rules([tmp_path])
    assert rule_set.name == "first+second"
    assert [rule.id for rule in rule_set.rules] == ["a", "b"]


def test_version_is_a_stable_hash_of_the_rule_content(tmp_path):
    original = _rule_file("t", _RULE.format(id="r", label="X", priority=1, score=0.9, pattern="x"))
    first = load_rules([_write(tmp_path, "r.yaml", original)]).version
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.copy(tmp_path / "r.yaml", moved / "other-name.yaml")
    assert load_rules([moved]).version == first  # paths do not matter
    assert len(first) == 12 and int(first, 16) >= 0
    changed = original.replace("score: 0.9", "score: 0.8")
    assert load_rules([_write(tmp_path, "r.yaml", changed)]).version != first
    described = original + "    description: comments do not change what the rules find\n"
    assert load_rules([_write(tmp_path, "r.yaml", described)]).version == first


def test_shipped_version_changes_when_a_rule_changes(tmp_path, contract_rules):
    text = (RULES_DIR / "contracts.yaml").read_text(encoding="utf-8")
    edited = text.replace("priority: 40", "priority: 41", 1)
    assert edited != text
    assert load_rules([_write(tmp_path, "contracts.yaml", edited)]).version != contract_rules.version


def test_gazetteer_prefers_the_longest_term_on_word_boundaries(tmp_path):
    body = _rule_file("g") + (
        "\n  - id: places\n    label: GPE\n    priority: 1\n    score: 0.9\n    ignore_case: true\n"
        "    terms: [New York, New York City, York, 'C++', 'AT&T', 'Acme Inc.', new york]\n"
    )
    rule_set = load_rules([_write(tmp_path, "g.yaml", body)])
    text = "NEW YORK CITY and New\nYork, Yorkshire, AT&T, C++ and Acme Inc. here"
    assert _texts(rule_set, text, "GPE") == ["NEW YORK CITY", "New\nYork", "AT&T", "C++", "Acme Inc."]


def test_a_large_gazetteer_is_one_fast_pattern():
    import regex

    terms = [f"Company{index} Holdings" for index in range(5000)] + [f"Brand{index}" for index in range(5000)]
    pattern = regex.compile(gazetteer_pattern(terms))
    text = ("Company4999 Holdings bought Brand17 and Brand170 from Company12 Holdings. " * 3000)[:200_000]
    started = time.perf_counter()
    found = [match.group() for match in pattern.finditer(text)]
    assert time.perf_counter() - started < 5.0
    assert found[:4] == ["Company4999 Holdings", "Brand17", "Brand170", "Company12 Holdings"]


def test_gazetteer_needs_a_term():
    with pytest.raises(ValueError, match="non-blank term"):
        gazetteer_pattern([])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            _rule_file("t", _RULE.format(id="bad-regex", label="X", priority=1, score=0.9, pattern="(ab")),
            ["rule 'bad-regex'", "pattern: does not compile", "(ab"],
        ),
        (
            _rule_file("t", _RULE.format(id="too-sure", label="X", priority=1, score=1.5, pattern="x")),
            ["rule 'too-sure'", "score", "less than or equal to 1", "1.5"],
        ),
        (
            _rule_file(
                "t", _RULE.format(id="typo", label="X", priority=1, score=0.5, pattern="x") + "    priorty: 3\n"
            ),
            ["rule 'typo'", "priorty", "Extra inputs are not permitted"],
        ),
        (
            _rule_file("t", _RULE.format(id="empty", label="X", priority=1, score=0.5, pattern=r"\d*")),
            ["rule 'empty'", "pattern", "empty string"],
        ),
        (
            _rule_file(
                "t",
                _RULE.format(id="no-group", label="X", priority=1, score=0.5, pattern=r"(\d)") + "    group: name\n",
            ),
            ["rule 'no-group'", "group", "'name'"],
        ),
        (
            _rule_file(
                "t", _RULE.format(id="group-3", label="X", priority=1, score=0.5, pattern=r"(\d)") + "    group: 3\n"
            ),
            ["rule 'group-3'", "group", "no group 3"],
        ),
        (
            _rule_file(
                "t", _RULE.format(id="both", label="X", priority=1, score=0.5, pattern="x") + "    terms: [x]\n"
            ),
            ["rule 'both'", "exactly one of 'pattern' and 'terms'"],
        ),
        (
            _rule_file("t", "\n  - id: neither\n    label: X\n    score: 0.5\n"),
            ["rule 'neither'", "exactly one of 'pattern' and 'terms'"],
        ),
        (
            _rule_file("t", "\n  - id: blank\n    label: X\n    score: 0.5\n    terms: ['  ']\n"),
            ["rule 'blank'", "blank term"],
        ),
        (
            _rule_file("t", "\n  - id: nolabel\n    score: 0.5\n    pattern: x\n"),
            ["rule 'nolabel'", "label", "Field required"],
        ),
        (
            _rule_file("t", _RULE.format(id="lower", label="money", priority=1, score=0.5, pattern="x")),
            ["rule 'lower'", "label", "'money'"],
        ),
        (
            _rule_file("t", _RULE.format(id="prio", label="X", priority="high", score=0.5, pattern="x")),
            ["rule 'prio'", "priority", "'high'"],
        ),
        (
            _rule_file("t", _RULE.format(id="a", label="X", priority=1, score=0.5, pattern="x"))
            + _RULE.format(id="a", label="Y", priority=1, score=0.5, pattern="y"),
            ["rule 'a'", "id: already defined in"],
        ),
        (
            "name: t\nversion: 1\nrules:" + _RULE.format(id="r", label="X", priority=1, score=0.5, pattern="x"),
            ["version", "valid string", "(got 1)"],
        ),
        ("name: t\nversion: '1'\nrules: []\n", ["rules", "at least 1 item"]),
        ("name: t\nversion: '1'\nrules: [\n", ["cannot read rule file"]),
        ("- just\n- a list\n", ["expected a mapping", "got list"]),
        (
            "name: t\nversion: '1'\ndefines:\n  num: '(\\d+)'\nrules:"
            + _RULE.format(id="r", label="X", priority=1, score=0.5, pattern="(?&num)"),
            ["defines.num", "capturing groups"],
        ),
        (
            "name: t\nversion: '1'\ndefines:\n  a: 'x(?&b)'\n  b: 'y(?&a)'\nrules:"
            + _RULE.format(id="r", label="X", priority=1, score=0.5, pattern="(?&a)"),
            ["defines.a", "refers to itself", "a -> b -> a"],
        ),
        (
            _rule_file("t", _RULE.format(id="undefined", label="X", priority=1, score=0.5, pattern="(?&nope)")),
            ["rule 'undefined'", "pattern: does not compile", "nope"],
        ),
    ],
)
def test_bad_rule_files_are_refused_with_a_clear_message(tmp_path, body, expected):
    path = _write(tmp_path, "broken.yaml", body)
    with pytest.raises(RulesError) as raised:
        load_rules([path])
    message = str(raised.value)
    assert message.startswith(str(path)), message
    for part in expected:
        assert part in message, message
    assert isinstance(raised.value, ValueError)


def test_duplicate_ids_across_files_name_both_files(tmp_path):
    first = _write(
        tmp_path, "a.yaml", _rule_file("a", _RULE.format(id="r", label="X", priority=1, score=1, pattern="x"))
    )
    second = _write(
        tmp_path, "b.yaml", _rule_file("b", _RULE.format(id="r", label="X", priority=1, score=1, pattern="y"))
    )
    with pytest.raises(RulesError, match="rule 'r': id: already defined in") as raised:
        load_rules([tmp_path])
    assert str(raised.value).startswith(str(second)) and str(first) in str(raised.value)


def test_missing_paths_and_empty_directories_are_errors(tmp_path):
    with pytest.raises(RulesError, match="no such rule file or directory"):
        load_rules([tmp_path / "missing.yaml"])
    with pytest.raises(RulesError, match=r"no \*\.yaml rule files"):
        load_rules([tmp_path])
    with pytest.raises(RulesError, match="no rule files given"):
        load_rules([])
