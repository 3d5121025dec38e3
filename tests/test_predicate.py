from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.lake.delta.predicate import PredicateError, evaluate, matches, parse_predicate, referenced_columns

TABLE = pa.table(
    {
        "doc_id": ["a", "b", "c", None, "it's"],
        "n": [1, 2, 3, 4, None],
        "day": [dt.date(2024, 1, d) for d in (1, 2, 3, 4, 5)],
        "at": pa.array([dt.datetime(2024, 1, 1, h, tzinfo=dt.UTC) for h in range(5)], pa.timestamp("us", tz="UTC")),
        "flag": [True, False, None, True, False],
    }
)


def rows_matching(text: str) -> list[int]:
    return [i for i, hit in enumerate(matches(parse_predicate(text), TABLE).to_pylist()) if hit]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("doc_id = 'a'", [0]),
        ("doc_id IN ('a', 'c')", [0, 2]),
        ("doc_id NOT IN ('a', 'c')", [1, 4]),  # NULL doc_id is neither in nor not in
        ("doc_id = 'it''s'", [4]),
        ("n > 2", [2, 3]),
        ("n >= 2 AND n <= 3", [1, 2]),
        ("n BETWEEN 2 AND 3", [1, 2]),
        ("n NOT BETWEEN 2 AND 3", [0, 3]),
        ("n = 1 OR doc_id = 'c'", [0, 2]),
        ("NOT (n = 1)", [1, 2, 3]),
        ("doc_id IS NULL", [3]),
        ("n IS NOT NULL AND doc_id <> 'b'", [0, 2]),
        ("day >= DATE '2024-01-04'", [3, 4]),
        ("at < TIMESTAMP '2024-01-01 02:00:00'", [0, 1]),
        ("flag", [0, 3]),
        ("`n` == 4", [3]),
        ("n IN (1, NULL)", [0]),
        ("TRUE", [0, 1, 2, 3, 4]),
    ],
)
def test_predicates_select_the_sql_rows(text, expected):
    assert rows_matching(text) == expected


def test_null_comparison_is_null_not_false():
    result = evaluate(parse_predicate("n = 1"), TABLE).to_pylist()
    assert result == [True, False, False, False, None]


def test_referenced_columns():
    assert referenced_columns(parse_predicate("a = 1 AND (b IN ('x') OR c IS NULL)")) == {"a", "b", "c"}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty predicate"),
        ("doc_id = ", "expected a value"),
        ("doc_id IN ('a'", "expected ')'"),
        ("doc_id = 'a' AND", "expected a value"),
        ("doc_id ~ 'a'", "unexpected character"),
        ("day = DATE 'yesterday'", "bad DATE literal"),
    ],
)
def test_parse_errors_say_where(text, fragment):
    with pytest.raises(PredicateError) as info:
        parse_predicate(text)
    assert fragment in str(info.value)


def test_unknown_column_is_named():
    with pytest.raises(PredicateError, match="unknown column 'nope'"):
        evaluate(parse_predicate("nope = 1"), TABLE)


# --- property: the evaluator agrees with a direct SQL three-valued-logic reference -------

values = st.one_of(st.none(), st.integers(-3, 3))
comparisons = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])


@st.composite
def predicates(draw, depth=0):
    """(predicate text, reference function row -> True/False/None)."""
    kind = draw(st.sampled_from(["cmp", "in", "null"] + (["and", "or", "not"] if depth < 3 else [])))
    if kind == "cmp":
        op, literal = draw(comparisons), draw(st.integers(-3, 3))
        ops = {
            "=": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
        }
        return f"x {op} {literal}", lambda x: None if x is None else ops[op](x, literal)
    if kind == "in":
        options = draw(st.lists(st.integers(-3, 3), min_size=1, max_size=4))
        negated = draw(st.booleans())
        text = f"x {'NOT ' if negated else ''}IN ({', '.join(map(str, options))})"
        return text, lambda x: None if x is None else ((x in options) != negated)
    if kind == "null":
        negated = draw(st.booleans())
        return f"x IS {'NOT ' if negated else ''}NULL", lambda x: (x is not None) if negated else (x is None)
    if kind == "not":
        text, ref = draw(predicates(depth + 1))
        return f"NOT ({text})", lambda x: None if ref(x) is None else not ref(x)
    (lt, lref), (rt, rref) = draw(predicates(depth + 1)), draw(predicates(depth + 1))
    if kind == "and":

        def both(x):
            a, b = lref(x), rref(x)
            if a is False or b is False:
                return False
            return None if a is None or b is None else True

        return f"({lt}) AND ({rt})", both

    def either(x):
        a, b = lref(x), rref(x)
        if a is True or b is True:
            return True
        return None if a is None or b is None else False

    return f"({lt}) OR ({rt})", either


@settings(max_examples=300, deadline=None)
@given(predicates(), st.lists(values, min_size=1, max_size=20))
def test_evaluation_matches_sql_reference(predicate, column):
    text, reference = predicate
    table = pa.table({"x": pa.array(column, pa.int64())})
    assert evaluate(parse_predicate(text), table).to_pylist() == [reference(x) for x in column]
