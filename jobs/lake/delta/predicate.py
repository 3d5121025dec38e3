"""A small SQL predicate language for ``replaceWhere``, evaluated on Arrow tables.

Supported: column references (plain or back-quoted), string / integer / decimal /
boolean / NULL literals, ``DATE '…'`` and ``TIMESTAMP '…'`` literals, the comparisons
``= == != <> < <= > >=``, ``[NOT] IN (…)``, ``IS [NOT] NULL``, ``[NOT] BETWEEN … AND …``,
``AND``, ``OR``, ``NOT`` and parentheses. Evaluation follows SQL three-valued logic: the
result is true, false or null per row, and only rows where it is true "match".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc


class PredicateError(ValueError):
    """The predicate text cannot be parsed or does not fit the table's columns."""


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Literal:
    value: object  # None, bool, int, float, str, datetime.date, datetime.datetime


@dataclass(frozen=True)
class Compare:
    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True)
class InList:
    operand: Operand
    values: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class IsNull:
    operand: Operand
    negated: bool


@dataclass(frozen=True)
class And:
    left: Predicate
    right: Predicate


@dataclass(frozen=True)
class Or:
    left: Predicate
    right: Predicate


@dataclass(frozen=True)
class Not:
    operand: Predicate


Operand = Column | Literal
Predicate = Compare | InList | IsNull | And | Or | Not | Literal | Column

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<quoted>`(?:[^`]|``)+`)
      | (?P<number>[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
      | (?P<op><=|>=|<>|!=|==|=|<|>|\(|\)|,)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "NULL", "TRUE", "FALSE", "BETWEEN", "DATE", "TIMESTAMP"}


@dataclass(frozen=True)
class _Token:
    kind: str  # string | quoted | number | op | word | keyword | end
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise PredicateError(f"unexpected character {text[pos:].lstrip()[:1]!r} at {pos} in {text!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "word" and value.upper() in _KEYWORDS:
            tokens.append(_Token("keyword", value.upper(), match.start(kind)))
        else:
            tokens.append(_Token(kind, value, match.start(kind)))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept(self, kind: str, text: str | None = None) -> bool:
        token = self.peek()
        if token.kind == kind and (text is None or token.text == text):
            self.index += 1
            return True
        return False

    def expect(self, kind: str, text: str | None = None) -> _Token:
        token = self.peek()
        if token.kind != kind or (text is not None and token.text != text):
            wanted = text or kind
            got = token.text or "end of predicate"
            raise PredicateError(f"expected {wanted!r} at {token.pos} but found {got!r} in {self.text!r}")
        self.index += 1
        return token

    def parse(self) -> Predicate:
        if self.peek().kind == "end":
            raise PredicateError("empty predicate")
        node = self.or_expr()
        self.expect("end")
        return node

    def or_expr(self) -> Predicate:
        node = self.and_expr()
        while self.accept("keyword", "OR"):
            node = Or(node, self.and_expr())
        return node

    def and_expr(self) -> Predicate:
        node = self.not_expr()
        while self.accept("keyword", "AND"):
            node = And(node, self.not_expr())
        return node

    def not_expr(self) -> Predicate:
        if self.accept("keyword", "NOT"):
            return Not(self.not_expr())
        return self.condition()

    def condition(self) -> Predicate:
        if self.peek().kind == "op" and self.peek().text == "(":
            self.take()
            node = self.or_expr()
            self.expect("op", ")")
            return node
        left = self.operand()
        token = self.peek()
        if token.kind == "op" and token.text in {"=", "==", "!=", "<>", "<", "<=", ">", ">="}:
            self.take()
            op = {"==": "=", "<>": "!="}.get(token.text, token.text)
            return Compare(op, left, self.operand())
        if self.accept("keyword", "IS"):
            negated = self.accept("keyword", "NOT")
            self.expect("keyword", "NULL")
            return IsNull(left, negated)
        negated = self.accept("keyword", "NOT")
        if self.accept("keyword", "IN"):
            self.expect("op", "(")
            values = [self.literal()]
            while self.accept("op", ","):
                values.append(self.literal())
            self.expect("op", ")")
            return InList(left, tuple(values), negated)
        if self.accept("keyword", "BETWEEN"):
            low = self.operand()
            self.expect("keyword", "AND")
            high = self.operand()
            between = And(Compare(">=", left, low), Compare("<=", left, high))
            return Not(between) if negated else between
        if negated:
            raise PredicateError(f"expected IN or BETWEEN after NOT at {token.pos} in {self.text!r}")
        if isinstance(left, Literal) and isinstance(left.value, bool):
            return left
        if isinstance(left, Column):
            return left
        raise PredicateError(f"expected a comparison at {token.pos} in {self.text!r}")

    def operand(self) -> Operand:
        token = self.peek()
        if token.kind == "word":
            self.take()
            return Column(token.text)
        if token.kind == "quoted":
            self.take()
            return Column(token.text[1:-1].replace("``", "`"))
        return self.literal()

    def literal(self) -> Literal:
        token = self.take()
        if token.kind == "string":
            return Literal(_unquote(token.text))
        if token.kind == "number":
            text = token.text
            if re.fullmatch(r"[+-]?\d+", text):
                return Literal(int(text))
            return Literal(float(text))
        if token.kind == "keyword" and token.text in {"TRUE", "FALSE"}:
            return Literal(token.text == "TRUE")
        if token.kind == "keyword" and token.text == "NULL":
            return Literal(None)
        if token.kind == "keyword" and token.text in {"DATE", "TIMESTAMP"}:
            raw = _unquote(self.expect("string").text)
            try:
                if token.text == "DATE":
                    return Literal(dt.date.fromisoformat(raw))
                stamp = dt.datetime.fromisoformat(raw)
            except ValueError:
                raise PredicateError(f"bad {token.text} literal {raw!r} in {self.text!r}") from None
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=dt.UTC)
            return Literal(stamp)
        got = token.text or "end of predicate"
        raise PredicateError(f"expected a value at {token.pos} but found {got!r} in {self.text!r}")


def _unquote(text: str) -> str:
    return text[1:-1].replace("''", "'")


def parse_predicate(text: str) -> Predicate:
    """Parse predicate text into a tree; raises :class:`PredicateError` with the position."""
    return _Parser(text).parse()


def referenced_columns(node: Predicate) -> set[str]:
    if isinstance(node, Column):
        return {node.name}
    if isinstance(node, Literal):
        return set()
    if isinstance(node, Compare):
        return referenced_columns(node.left) | referenced_columns(node.right)
    if isinstance(node, (InList, IsNull)):
        return referenced_columns(node.operand)
    if isinstance(node, (And, Or)):
        return referenced_columns(node.left) | referenced_columns(node.right)
    return referenced_columns(node.operand)


def evaluate(node: Predicate, table: pa.Table) -> pa.ChunkedArray:
    """Evaluate to a boolean column (true / false / null per row) over ``table``."""
    result = _eval(node, table)
    if isinstance(result, pa.Scalar):
        result = pa.chunked_array([pa.array([result.as_py()] * table.num_rows, pa.bool_())])
    elif isinstance(result, pa.Array):
        result = pa.chunked_array([result])
    if result.type != pa.bool_():
        raise PredicateError(f"predicate does not evaluate to a boolean but to {result.type}")
    return result


def matches(node: Predicate, table: pa.Table) -> pa.ChunkedArray:
    """Rows where the predicate is true (nulls count as not matching)."""
    return pc.fill_null(evaluate(node, table), False)


_COMPARE = {
    "=": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}


def _eval(node: Predicate, table: pa.Table):
    if isinstance(node, Column):
        if node.name not in table.column_names:
            known = ", ".join(table.column_names)
            raise PredicateError(f"unknown column {node.name!r} in predicate (columns: {known})")
        return table.column(node.name)
    if isinstance(node, Literal):
        return pa.scalar(node.value)
    if isinstance(node, Compare):
        left, right = _eval(node.left, table), _eval(node.right, table)
        left, right = _align(left, right)
        return _COMPARE[node.op](left, right)
    if isinstance(node, InList):
        operand = _eval(node.operand, table)
        values = [v.value for v in node.values if v.value is not None]
        has_null = any(v.value is None for v in node.values)
        target_type = operand.type
        value_set = _cast_values(values, target_type)
        found = pc.is_in(operand, value_set=value_set)
        found = pc.if_else(pc.is_null(operand), pa.scalar(None, pa.bool_()), found)
        if has_null:
            # x IN (…, NULL) is true when found, otherwise null.
            found = pc.if_else(found, True, pa.scalar(None, pa.bool_()))
        return pc.invert(found) if node.negated else found
    if isinstance(node, IsNull):
        operand = _eval(node.operand, table)
        result = pc.is_valid(operand) if node.negated else pc.is_null(operand)
        return result
    if isinstance(node, And):
        return pc.and_kleene(_eval(node.left, table), _eval(node.right, table))
    if isinstance(node, Or):
        return pc.or_kleene(_eval(node.left, table), _eval(node.right, table))
    if isinstance(node, Not):
        return pc.invert(_eval(node.operand, table))
    raise PredicateError(f"cannot evaluate {node!r}")


def _align(left, right):
    """Cast a literal scalar to the type of the column it is compared with."""
    if isinstance(left, pa.Scalar) and not isinstance(right, pa.Scalar):
        return _cast_scalar(left, right.type), right
    if isinstance(right, pa.Scalar) and not isinstance(left, pa.Scalar):
        return left, _cast_scalar(right, left.type)
    return left, right


def _cast_scalar(scalar: pa.Scalar, target: pa.DataType) -> pa.Scalar:
    if scalar.type == target or not scalar.is_valid:
        return scalar if scalar.is_valid else pa.scalar(None, target)
    try:
        return _cast_values([scalar.as_py()], target)[0]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, PredicateError):
        raise PredicateError(f"cannot compare {target} column with {scalar.as_py()!r}") from None


def _cast_values(values: list[object], target: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(target):
        values = [_as_datetime(v) for v in values]
    try:
        return pa.array(values).cast(target) if values else pa.array([], target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise PredicateError(f"cannot compare {target} column with {values[:3]!r}") from None


def _as_datetime(value: object) -> object:
    if isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
    return value
