"""The fields stage's rules (conf/rules/fields.yaml, udfs.fields.rules): loaded beside the entity
rules without either loader reading the other's file, checked against what the finders read."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from udfs.fields.rules import PATTERNS, WORDS, FieldRulesError, fields_rule_file, load_field_rules
from udfs.ner.backends.rules import RulesError, load_rules

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "conf" / "rules"
SHIPPED = RULES_DIR / "fields.yaml"


def shipped() -> dict:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def write(tmp_path: Path, content: dict, name: str = "fields.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    return path


def test_the_rules_directory_holds_one_fields_file_and_each_loader_takes_its_own():
    assert fields_rule_file(RULES_DIR) == SHIPPED
    rules = load_field_rules(RULES_DIR)
    assert set(rules.patterns) == set(PATTERNS) and set(rules.words) == set(WORDS)
    assert rules.name == "contract-fields" and len(rules.digest) == 16
    entity_rules = load_rules([RULES_DIR])  # the NER backend's rules: fields.yaml is skipped
    assert entity_rules.name == "contracts"


def test_the_finders_read_exactly_the_patterns_the_loader_requires():
    """Every rules["…"] the finders read is a PATTERNS name, and every PATTERNS name is read: the
    schema the loader checks files against is the finders' own."""
    source = (ROOT / "udfs" / "fields" / "extract.py").read_text(encoding="utf-8")
    read = {
        node.slice.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Subscript)
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
        and (
            (isinstance(node.value, ast.Attribute) and node.value.attr == "rules")
            or (isinstance(node.value, ast.Name) and node.value.id == "rules")
        )
    }
    words = set(re.findall(r"""\.words\["(\w+)"\]""", source))
    assert read == set(PATTERNS)
    assert words == set(WORDS)


def test_a_missing_or_misspelt_pattern_is_named(tmp_path):
    content = shipped()
    content["patterns"]["law_clauses"] = content["patterns"].pop("law_clause")
    with pytest.raises(FieldRulesError, match=r"missing patterns \['law_clause'\]; unknown patterns \['law_clauses'\]"):
        load_field_rules(write(tmp_path, content))


def test_a_pattern_without_the_group_the_finders_read_is_an_error(tmp_path):
    content = shipped()
    content["patterns"]["law_clause"] = r"(?i)governed\s+by\s+the\s+laws\s+of\s+(?P<state>\w+)"
    with pytest.raises(FieldRulesError, match=r"pattern 'law_clause': the finders read the named groups \['place'\]"):
        load_field_rules(write(tmp_path, content))


def test_a_broken_pattern_names_the_file_and_the_pattern(tmp_path):
    content = shipped()
    content["patterns"]["dated"] = r"(?i)\bdated("
    path = write(tmp_path, content)
    with pytest.raises(FieldRulesError, match=rf"{re.escape(str(path))}: pattern 'dated': missing \)"):
        load_field_rules(path)


def test_a_file_of_another_kind_or_shape_is_refused(tmp_path):
    content = shipped()
    del content["words"]["form_words"]
    with pytest.raises(FieldRulesError, match=r"missing word lists \['form_words'\]"):
        load_field_rules(write(tmp_path, content))
    entities_file = write(tmp_path, {"name": "x", "version": "1", "rules": []}, "entities.yaml")
    with pytest.raises(FieldRulesError, match="kind"):
        load_field_rules(entities_file)
    with pytest.raises(FieldRulesError, match="expected one rule file of kind: fields in this directory, found none"):
        load_field_rules(_dir_with(tmp_path / "only-entities", entities_file))


def _dir_with(directory: Path, *files: Path) -> Path:
    directory.mkdir()
    for file in files:
        (directory / file.name).write_bytes(file.read_bytes())
    return directory


def test_two_fields_files_in_one_directory_are_ambiguous(tmp_path):
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "a.yaml").write_bytes(SHIPPED.read_bytes())
    (directory / "b.yaml").write_bytes(SHIPPED.read_bytes())
    with pytest.raises(FieldRulesError, match=r"found a\.yaml, b\.yaml"):
        load_field_rules(directory)


def test_the_entity_loader_refuses_a_fields_file_named_on_its_own(tmp_path):
    with pytest.raises(RulesError, match="kind: fields"):
        load_rules([SHIPPED])
    directory = _dir_with(tmp_path / "fields-only", SHIPPED)
    with pytest.raises(RulesError, match="no entity rule files"):
        load_rules([directory])


def test_the_digest_follows_the_content(tmp_path):
    content = shipped()
    first = load_field_rules(write(tmp_path, content))
    content["jurisdictions"]["England"] = "England and Wales"
    second = load_field_rules(write(tmp_path, content))
    assert first.digest != second.digest
    assert second.jurisdictions["england"] == "England and Wales"
