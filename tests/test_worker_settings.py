"""Every setting of a section the workers use reaches them: ``jobs.config.options_from``.

For each setting, one at a time, the test sets a value other than the default and checks that
the worker options built from the section carry exactly that value at the same place (settings
the section declares as staying on the driver aside). A setting added to ``extract``, ``ner``
or a backend's section fails here until it reaches the workers or says where it goes instead.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ValidationError

from jobs.config import DocnerConfig, load_config, options_from
from jobs.stages import extract, fields, ner, policy
from udfs.extract.passes import ExtractOptions
from udfs.fields.run import FieldsOptions
from udfs.ner.backends import BACKENDS, backend_module
from udfs.ner.recognize import NerOptions
from udfs.redact.text import RedactOptions


def leaves(model: BaseModel, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, annotation) of every setting of a section, nested sections followed."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from leaves(value, (*prefix, name))
        else:
            yield (*prefix, name), info.annotation


def candidates(value: Any, annotation: Any) -> list[Any]:
    """Values other than ``value`` that a setting of this type may take."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return [choice for choice in args if choice != value]
    if origin in (typing.Union, types.UnionType):
        return [c for arg in args if arg is not type(None) for c in candidates(value, arg)] + [None]
    if origin is typing.Annotated:
        return candidates(value, args[0])
    if annotation is bool:
        return [not value]
    if annotation is int:
        return [value + 1, value - 1] if value is not None else [2, 1]
    if annotation is float:
        return [value / 2, value + 0.25, 0.5] if value is not None else [0.5, 2.0]
    if annotation is str:
        return [f"{value}x", "EUR", "x", "ontonotes"] if value is not None else ["x"]
    if origin is list:
        return [["ORG"], ["rules/contracts.yaml"], ["spacy"], ["party"], ["EMAIL"]]
    if origin is dict:
        return [{"PER": "PERSON"}, {**(value or {}), "ORG": "keep"}]
    return []


def with_setting(section: BaseModel, path: tuple[str, ...], value: Any) -> BaseModel:
    data = section.model_dump()
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return type(section).model_validate(data)


def changed_sections(section: BaseModel, skip: set[str]) -> Iterator[tuple[tuple[str, ...], Any, BaseModel]]:
    for path, annotation in leaves(section):
        if ".".join(path) in skip or path[0] in skip:
            continue
        current = section
        for key in path:
            current = getattr(current, key)
        for candidate in candidates(current, annotation):
            if candidate == current:
                continue
            try:
                yield path, candidate, with_setting(section, path, candidate)
                break
            except ValidationError:
                continue
        else:
            pytest.fail(f"no other valid value found for setting {'.'.join(path)}: extend candidates()")


def as_option(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return tuple(sorted(value.items()))
    return value


def option_at(options: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        options = getattr(options, key)
    return options


@pytest.fixture(scope="module")
def config() -> DocnerConfig:
    return load_config("local")


def check_every_setting_arrives(section: BaseModel, build: Any, skip: set[str]) -> int:
    checked = 0
    for path, value, changed in changed_sections(section, skip):
        assert option_at(build(changed), path) == as_option(value), ".".join(path)
        checked += 1
    return checked


def test_every_extract_setting_reaches_the_tasks(config):
    def build(section):
        return options_from(section, ExtractOptions, elsewhere=extract.DRIVER_SETTINGS)

    assert check_every_setting_arrives(config.extract, build, set(extract.DRIVER_SETTINGS)) >= 20


def test_every_ner_setting_reaches_the_tasks(config):
    def build(section):
        return options_from(section, NerOptions, elsewhere=ner.DRIVER_SETTINGS, backends=(), merge=None)

    # backends: the backends' own options, built from the names (test_ner_job checks them)
    assert check_every_setting_arrives(config.ner, build, {*ner.DRIVER_SETTINGS, "backends"}) >= 3


def test_every_fields_setting_reaches_the_tasks(config):
    def build(section):
        return options_from(section, FieldsOptions, elsewhere=fields.DRIVER_SETTINGS)

    assert check_every_setting_arrives(config.fields, build, set(fields.DRIVER_SETTINGS)) == 1


def test_every_redact_setting_reaches_the_tasks(config):
    def build(section):
        return options_from(section, RedactOptions, elsewhere=policy.DRIVER_SETTINGS)

    assert check_every_setting_arrives(config.redact, build, set(policy.DRIVER_SETTINGS)) == 2


@pytest.mark.parametrize("spec", BACKENDS, ids=lambda spec: spec.name)
def test_every_backend_setting_reaches_its_options(config, spec):
    section = getattr(config.ner, spec.name)  # each backend has its settings section, ner.<name>
    module = backend_module(spec.name)

    def build(changed):
        return options_from(changed, module.Options)

    assert check_every_setting_arrives(section, build, set()) >= 1


def test_a_setting_that_reaches_no_option_fails_by_name(config):
    @dataclasses.dataclass(frozen=True)
    class Partial:
        model: str = ""

    with pytest.raises(TypeError, match=r"batch_size, labels, max_chunk_chars reach no field of Partial"):
        options_from(config.ner.spacy, Partial)
    assert options_from(
        config.ner.spacy, Partial, elsewhere={"batch_size": "a", "labels": "b", "max_chunk_chars": "c"}
    ) == Partial(config.ner.spacy.model)


def test_the_stages_build_their_options_from_the_whole_config(config):
    options = extract.extract_options(config)
    assert options.ocr.dpi == config.extract.ocr.dpi and options.routing == type(options.routing)()
    built = ner.ner_options(load_config("local", overrides=["ner.normalize.numeric_date_order=DMY"]))
    assert built.normalize.numeric_date_order == "DMY"
