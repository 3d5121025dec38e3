r"""Rules NER backend: regex and gazetteer rules from YAML files (``conf/rules/*.yaml``), validated
on load, compiled lazily on the worker. Overlaps are left to the merge step; only identical
(start, end, label) matches are collapsed here.

A rule file::

    name: contracts             # rule-set name, becomes Candidate.model
    version: "1"                # informational; RuleSet.version hashes the rule content
    defines:                    # optional sub-patterns, written (?&name) in this file's patterns
      num: '\d+(?:\.\d+)?'      # and inlined on load (a `regex` group call is 10-50x slower)
    rules:
      - id: money-dollar        # unique across all loaded files
        label: MONEY
        priority: 90            # higher wins when the merge step sees overlapping spans
        score: 0.97             # the score every match gets
        pattern: '\$\s?(?&num)' # `regex` module syntax; or `terms: [...]`, a gazetteer
        ignore_case: false
        group: null             # regex group (name or number) whose span is the entity
        description: optional, for people

A rules directory may hold other stages' rule files beside these, marked by their ``kind``
(``kind: fields``: the fields stage's phrases, udfs.fields.rules); they are skipped here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import regex
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from udfs.ner.backends import Described
from udfs.ner.entities import SOURCE_RULES, Candidate

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_LABEL_PATTERN = r"^[A-Z][A-Z0-9_]*$"
_DEFINE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_MAX_SHOWN_VALUE = 200
KIND = "entities"  # a rule file's `kind`; a rules directory may hold other stages' files (kind: fields)
_CALL = regex.compile(r"\(\?&(\w+)\)")
_UNION_MEMBER = regex.compile(r"(?:constrained-)?(?:int|str|float|bool)|.*[\[-].*")


class RulesError(ValueError):
    """A rule file that cannot be used; the message names the file, the rule and the key."""


class RuleSpec(BaseModel):
    """One rule as written in YAML."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: Annotated[str, Field(pattern=_NAME_PATTERN)]
    label: Annotated[str, Field(pattern=_LABEL_PATTERN)]
    priority: int = 0
    score: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
    pattern: Annotated[str, Field(min_length=1)] | None = None
    terms: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] | None = None
    ignore_case: bool = False
    group: Annotated[int, Field(ge=0)] | Annotated[str, Field(min_length=1)] | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _one_matcher(self) -> RuleSpec:
        if (self.pattern is None) == (self.terms is None):
            raise ValueError("give exactly one of 'pattern' and 'terms'")
        if self.terms is not None:
            blank = [term for term in self.terms if not term.strip()]
            if blank:
                raise ValueError(f"terms: blank term {blank[0]!r}")
            if self.group is not None:
                raise ValueError("group: only a 'pattern' rule has groups")
        return self


class RuleFile(BaseModel):
    """A rule file as written in YAML."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    kind: Literal["entities"] = "entities"  # files of other kinds in a rules directory are other stages'
    name: Annotated[str, Field(pattern=_NAME_PATTERN)]
    version: Annotated[str, Field(min_length=1)]
    defines: dict[Annotated[str, Field(pattern=_DEFINE_NAME_PATTERN)], Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict
    )
    rules: Annotated[list[RuleSpec], Field(min_length=1)]


@dataclass(frozen=True)
class Rule:
    """A validated rule, ready to compile: defines are inlined, a gazetteer is one pattern."""

    id: str
    label: str
    priority: int
    score: float
    pattern: str
    ignore_case: bool = False
    group: int | str | None = None

    def compile(self) -> regex.Pattern[str]:
        return regex.compile(self.pattern, regex.IGNORECASE if self.ignore_case else 0)


class RuleSet:
    """Rules loaded from one or more files. Picklable and cheap to ship: the compiled
    patterns are built on first use and never pickled."""

    def __init__(self, name: str, version: str, rules: Sequence[Rule]) -> None:
        self.name = name
        self.version = version
        self.rules = tuple(rules)
        self._compiled: list[regex.Pattern[str]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "rules": self.rules}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.name, self.version, self.rules = state["name"], state["version"], state["rules"]
        self._compiled = None

    def __repr__(self) -> str:
        return f"RuleSet(name={self.name!r}, version={self.version!r}, rules={len(self.rules)})"

    def _patterns(self) -> list[regex.Pattern[str]]:
        if self._compiled is None:
            self._compiled = [rule.compile() for rule in self.rules]
        return self._compiled

    def find(self, text: str) -> list[Candidate]:
        """Every rule's matches in ``text``, sorted by (start, end, label); of identical
        (start, end, label) matches only the highest-priority one is kept."""
        best: dict[tuple[int, int, str], Candidate] = {}
        for rule, compiled in zip(self.rules, self._patterns(), strict=True):
            group = 0 if rule.group is None else rule.group
            for match in compiled.finditer(text):
                start, end = match.span(group)
                if start < 0 or end <= start:  # the group did not take part, or matched nothing
                    continue
                key = (start, end, rule.label)
                kept = best.get(key)
                if kept is not None and (kept.priority, kept.score or 0.0) >= (rule.priority, rule.score):
                    continue
                best[key] = Candidate(
                    start=start,
                    end=end,
                    text=text[start:end],
                    label=rule.label,
                    score=rule.score,
                    source=SOURCE_RULES,
                    model=self.name,
                    model_version=self.version,
                    priority=rule.priority,
                    rule=rule.id,
                )
        return [best[key] for key in sorted(best)]


class RulesBackend:
    """The ``NerBackend`` of a rule set; pickled to Spark workers, compiled there on first use."""

    source = SOURCE_RULES

    def __init__(self, rule_set: RuleSet) -> None:
        self.rule_set = rule_set
        self.model = rule_set.name
        self.model_version = rule_set.version

    @classmethod
    def from_paths(cls, paths: Sequence[Path]) -> RulesBackend:
        return cls(load_rules(paths))

    def recognize(self, texts: Sequence[str]) -> list[list[Candidate]]:
        return [self.rule_set.find(text) for text in texts]


def load_rules(paths: Sequence[Path]) -> RuleSet:
    """Load and validate rule files; a directory stands for all its ``*.yaml`` files, sorted.
    Rule ids must be unique across all files."""
    rules: list[Rule] = []
    names: list[str] = []
    versions: list[str] = []
    defined_in: dict[str, Path] = {}
    for path, named in _rule_files(paths):
        raw = _read_yaml(path)
        kind = raw.get("kind", KIND) if isinstance(raw, dict) else KIND
        if kind != KIND:
            if named:
                raise RulesError(f"{path}: a rule file of kind: {kind} (another stage's rules), not of entity rules")
            continue  # another stage's rules beside the entity rules: kind: fields (udfs.fields.rules)
        rule_file = _validate_rule_file(path, raw)
        names.append(rule_file.name)
        versions.append(rule_file.version)
        fragments = _expand_defines(path, rule_file.defines)
        for spec in rule_file.rules:
            if spec.id in defined_in:
                raise RulesError(f"{path}: rule {spec.id!r}: id: already defined in {defined_in[spec.id]}")
            defined_in[spec.id] = path
            rules.append(_build_rule(path, spec, fragments))
    if not names:
        raise RulesError(f"no entity rule files in {', '.join(map(str, paths))} (only other stages' rule files)")
    return RuleSet("+".join(names), _content_hash(names, versions, rules), rules)


def _rule_files(paths: Sequence[Path]) -> list[tuple[Path, bool]]:
    """The rule files of ``paths``, each with whether it was named itself (not found in a directory)."""
    if isinstance(paths, str | Path):  # a lone path is an easy slip; it means that one path
        paths = [Path(paths)]
    files: list[tuple[Path, bool]] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(path.glob("*.yaml"))
            if not found:
                raise RulesError(f"{path}: no *.yaml rule files in this directory")
            files.extend((file, False) for file in found)
        elif path.is_file():
            files.append((path, True))
        else:
            raise RulesError(f"{path}: no such rule file or directory")
    if not files:
        raise RulesError("no rule files given")
    return files


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RulesError(f"{path}: cannot read rule file: {exc}") from None


def _validate_rule_file(path: Path, raw: Any) -> RuleFile:
    if not isinstance(raw, dict):
        raise RulesError(f"{path}: expected a mapping with 'name', 'version' and 'rules', got {type(raw).__name__}")
    try:
        return RuleFile.model_validate(raw)
    except ValidationError as exc:
        raise RulesError(f"{path}: {_describe_errors(raw, exc)}") from None


def _describe_errors(raw: dict[str, Any], exc: ValidationError) -> str:
    """Pydantic's errors as 'rule <id>: <key>: <problem> (got <value>)', one per key."""
    problems: dict[tuple[str, str], list[str]] = {}
    shown: dict[tuple[str, str], str] = {}
    for error in exc.errors():
        loc = list(error["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            where = _rule_name(raw, loc[1])
            loc = loc[2:]
        if loc and isinstance(loc[-1], str) and _UNION_MEMBER.fullmatch(loc[-1]):
            loc.pop()  # the union member pydantic tried ("constrained-int"), or "[key]": noise here
        key = ".".join(str(part) for part in loc)
        problems.setdefault((where, key), []).append(error["msg"].removeprefix("Value error, "))
        if error["type"] not in ("missing", "value_error") and key:
            shown[where, key] = f" (got {repr(error.get('input'))[:_MAX_SHOWN_VALUE]})"
    return "; ".join(
        ": ".join(item for item in (where, key, " or ".join(messages)) if item) + shown.get((where, key), "")
        for (where, key), messages in problems.items()
    )


def _rule_name(raw: dict[str, Any], index: int) -> str:
    rules = raw.get("rules")
    rule = rules[index] if isinstance(rules, list) and index < len(rules) else None
    rule_id = rule.get("id") if isinstance(rule, dict) else None
    return f"rule {rule_id!r}" if isinstance(rule_id, str) else f"rules[{index}]"


def _expand_defines(path: Path, defines: dict[str, str]) -> dict[str, str]:
    """Every define with the defines it uses inlined, each checked to compile on its own."""
    expanded: dict[str, str] = {}

    def expand(name: str, using: tuple[str, ...]) -> str:
        if name in using:
            raise RulesError(f"{path}: defines.{using[0]}: refers to itself ({' -> '.join((*using, name))})")
        if name not in expanded:
            expanded[name] = _CALL.sub(
                lambda call: f"(?:{expand(call[1], (*using, name))})" if call[1] in defines else call[0],
                defines[name],
            )
        return expanded[name]

    for name in defines:
        try:
            compiled = regex.compile(expand(name, ()))
        except regex.error as exc:
            raise RulesError(f"{path}: defines.{name}: does not compile: {exc} (fragment {defines[name]!r})") from None
        if compiled.groups:
            raise RulesError(
                f"{path}: defines.{name}: has capturing groups, which would renumber the groups of the rules "
                f"using it; write (?:...) (fragment {defines[name]!r})"
            )
    return expanded


def _inline(pattern: str, fragments: dict[str, str]) -> str:
    """``(?&name)`` replaced by the define ``name``; calls of the pattern's own groups stay."""
    return _CALL.sub(lambda call: f"(?:{fragments[call[1]]})" if call[1] in fragments else call[0], pattern)


def _build_rule(path: Path, spec: RuleSpec, fragments: dict[str, str]) -> Rule:
    where = f"{path}: rule {spec.id!r}"
    if spec.terms is not None:
        source = gazetteer_pattern(spec.terms, ignore_case=spec.ignore_case)
    else:
        assert spec.pattern is not None  # RuleSpec checks that there is one
        source = _inline(spec.pattern, fragments)
    rule = Rule(spec.id, spec.label, spec.priority, spec.score, source, spec.ignore_case, spec.group)
    try:
        compiled = rule.compile()
    except regex.error as exc:
        raise RulesError(f"{where}: pattern: does not compile: {exc} (pattern {spec.pattern!r})") from None
    group = spec.group
    if isinstance(group, str) and group not in compiled.groupindex:
        raise RulesError(f"{where}: group: the pattern has no group named {group!r}")
    if isinstance(group, int) and group > compiled.groups:
        raise RulesError(f"{where}: group: the pattern has {compiled.groups} group(s), so no group {group}")
    if compiled.search("") is not None:
        raise RulesError(f"{where}: pattern: matches the empty string, so it would match everywhere")
    return rule


def gazetteer_pattern(terms: Iterable[str], ignore_case: bool = False) -> str:
    """One regex for a list of literal terms: a trie, so thousands of terms cost one pass and
    the longest term wins. Terms match on word boundaries; a space in a term matches any run of
    whitespace (extracted text breaks lines anywhere)."""
    trie: dict[str, Any] = {}
    seen: set[str] = set()
    for term in terms:
        tokens = _term_tokens(term)
        seen_key = "".join(tokens).lower() if ignore_case else "".join(tokens)
        if not tokens or seen_key in seen:
            continue
        seen.add(seen_key)
        node = trie
        for token in tokens:
            node = node.setdefault(token, {})
        node[""] = {}  # a term ends here
    return r"(?<!\w)(?:" + _trie_regex(trie) + r")(?!\w)"


def _term_tokens(term: str) -> list[str]:
    """A term's characters, each run of whitespace one " " token."""
    tokens: list[str] = []
    for word in term.split():
        if tokens:
            tokens.append(" ")
        tokens.extend(word)
    return tokens


def _trie_regex(node: dict[str, Any]) -> str:
    branches = []
    for token in sorted(key for key in node if key):
        head = r"\s+" if token == " " else regex.escape(token)
        child = node[token]
        while len(child) == 1 and "" not in child:  # a chain without choices: one literal
            ((token, child),) = child.items()
            head += r"\s+" if token == " " else regex.escape(token)
        branches.append(head + _trie_regex(child) if child.keys() - {""} else head)
    if not branches:
        raise ValueError("a gazetteer needs at least one non-blank term")
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    # A term that ends here is tried last (greedy "?"), so the longest term wins.
    return f"(?:{body})?" if "" in node else body


def _content_hash(names: Sequence[str], versions: Sequence[str], rules: Sequence[Rule]) -> str:
    """A short hash of everything that decides the output (not file paths, not descriptions),
    so a changed rule changes the version."""
    content = {
        "names": list(names),
        "versions": list(versions),
        "rules": [[r.id, r.label, r.priority, r.score, r.pattern, r.ignore_case, r.group] for r in rules],
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()[:12]


# --- the backend contract (udfs.ner.backends) --------------------------------------------------


@dataclass(frozen=True)
class RulesOptions:
    """The ``ner.rules`` settings; ``rule_set`` is read from ``paths`` on the driver (``prepare``)
    and shipped to the workers with the options, compiled there on first use."""

    paths: tuple[str, ...] = ("rules",)  # rule files or directories; relative: from the conf directory
    rule_set: RuleSet | None = None


Options = RulesOptions


def prepare(options: RulesOptions, conf_dir: Path) -> RulesOptions:
    paths = [Path(path).expanduser() for path in options.paths]
    resolved = [path if path.is_absolute() else conf_dir / path for path in paths]
    return dataclasses.replace(options, paths=tuple(str(p) for p in resolved), rule_set=load_rules(resolved))


def describe(options: RulesOptions, local: bool) -> Described:
    rule_set = _rule_set(options)
    return Described(f"{rule_set.name} {rule_set.version}")


def load(options: RulesOptions) -> RulesBackend:
    return RulesBackend(_rule_set(options))


def _rule_set(options: RulesOptions) -> RuleSet:
    if options.rule_set is None:
        raise ValueError("the rules backend's options hold no rule set: prepare() them on the driver first")
    return options.rule_set
