"""The pii NER backend: Presidio's recognizers offline, checksums and context words deciding,
docner labels out; its settings validated. (The NER stage keeping what it finds, on digital and
scanned pages: tests/test_redact_stage.py, which runs the pipeline once for both.)"""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.config import load_config
from jobs.dev.pii_samples import pii_contract
from udfs.ner.backends.pii import CONTEXT_WORDS, PII_LABELS, PiiOptions, has_context, load

PLANTED = {
    "STREET_ADDRESS": "1200 West Main Street, Suite 400, Springfield, IL 62704",
    "DATE_OF_BIRTH": "04/12/1985",
    "US_SSN": "536-22-8147",
    "US_EIN": "12-3456789",
    "BANK_ACCOUNT": "4459872301",
    "ROUTING_NUMBER": "021000021",
    "IBAN": "GB82 WEST 1234 5698 7654 32",
    "CREDIT_CARD": "4111 1111 1111 1111",
    "EMAIL": "jane.smith@example.com",
    "PHONE": "(617) 253-1000",
    "IP_ADDRESS": "192.168.10.25",
    "US_ITIN": "912-70-1234",
}
TEXT = f"""EMPLOYMENT AGREEMENT
This Agreement is made on March 3, 2021 between Acme Robotics, Inc., {PLANTED["STREET_ADDRESS"]}
(the "Company"), and Jane Q. Smith ("Employee").
Employee's date of birth: {PLANTED["DATE_OF_BIRTH"]}. Social Security Number: {PLANTED["US_SSN"]}.
Company EIN: {PLANTED["US_EIN"]}. Employee's ITIN: {PLANTED["US_ITIN"]}.
Salary is paid to bank account number {PLANTED["BANK_ACCOUNT"]}, routing number {PLANTED["ROUTING_NUMBER"]}.
Or to IBAN {PLANTED["IBAN"]}. Card on file: {PLANTED["CREDIT_CARD"]}.
Reach her at {PLANTED["EMAIL"]} or {PLANTED["PHONE"]}. Her laptop's address is {PLANTED["IP_ADDRESS"]}.
"""


@pytest.fixture(scope="module")
def backend():
    return load(PiiOptions())


def _found(backend, text: str) -> set[tuple[str, str]]:
    return {(c.label, c.text) for c in backend.recognize([text])[0]}


def test_every_planted_kind_is_found_with_its_label_and_offsets(backend):
    candidates = backend.recognize([TEXT, "", "   "])
    assert candidates[1:] == [[], []]
    found = {(c.label, c.text) for c in candidates[0]}
    assert set(PLANTED.items()) <= found
    for c in candidates[0]:
        assert TEXT[c.start : c.end] == c.text and c.source == "pii" and c.model == "presidio-analyzer"
        assert c.rule and 0 < (c.score or 0) <= 1
    assert set(PLANTED) == set(PII_LABELS)


def test_checksums_reject_lookalikes(backend):
    found = _found(
        backend,
        "Card on file: 4111 1111 1111 1112. IBAN GB82 WEST 1234 5698 7654 33. Routing number 021000022. "
        "SSN 000-12-3456.",
    )
    labels = {label for label, _ in found}
    assert not labels & {"CREDIT_CARD", "IBAN", "ROUTING_NUMBER", "US_SSN"}, found


def test_shapes_that_harmless_numbers_share_need_their_context_word(backend):
    bare = "Invoice 021000021 lists part 4459872301 and order 12-3456789, shipped 04/12/1985."
    assert not {label for label, _ in _found(backend, bare)} & {
        "ROUTING_NUMBER", "BANK_ACCOUNT", "US_EIN", "DATE_OF_BIRTH", "PHONE"
    }  # fmt: skip
    # the same values with their context words
    said = "ABA routing 021000021; account no. 4459872301; employer identification 12-3456789; born 04/12/1985."
    assert {label for label, _ in _found(backend, said)} >= {
        "ROUTING_NUMBER",
        "BANK_ACCOUNT",
        "US_EIN",
        "DATE_OF_BIRTH",
    }
    assert ("PHONE", "6172531000") in _found(backend, "Call 6172531000 for support.")


@given(st.integers(0, 12), st.sampled_from([" ", "\n", "\n\n"]))
def test_a_context_word_counts_only_near_the_match(gap, separator):
    text = "routing" + separator + "x " * gap + "021000021"
    near = gap < CONTEXT_WORDS and separator != "\n\n"
    assert has_context(text, text.index("021"), ("routing",)) == near


def test_nothing_is_fetched_from_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"a network call: {args}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    fresh = load(PiiOptions(labels=("EMAIL", "PHONE"), min_score=0.55))  # a new analyzer, built here
    assert {label for label, _ in _found(fresh, "Write to jane.smith@example.co.uk.")} == {"EMAIL"}


def test_settings_are_checked_on_load():
    config = load_config("local", overrides=["ner.backends=[spacy, rules, pii]", "ner.pii.labels=[EMAIL, IBAN]"])
    assert config.ner.pii.labels == ["EMAIL", "IBAN"] and "pii" in config.ner.backends
    with pytest.raises(ValueError, match=r"ner\.pii\.labels: unknown PII label"):
        load_config("local", overrides=["ner.pii.labels=[EMAIL, PASSPORT]"])
    with pytest.raises(ValueError, match=r"ner\.pii\.context_required: unknown PII label"):
        load_config("local", overrides=["ner.pii.context_required=[SSN]"])
    with pytest.raises(ValueError, match="unknown PII label"):
        PiiOptions(labels=("EMAIL", "NOPE"))


def test_generated_contracts_plant_every_kind_and_the_backend_finds_it(backend):
    for seed in range(8):
        pages, planted = pii_contract(seed)
        text = "\n".join(line for page in pages for line in page)
        found = {(c.label, " ".join(c.text.split())) for c in backend.recognize([text])[0]}
        wanted = {(p.label, p.value) for p in planted if p.label != "PERSON"}  # PERSON: the spaCy backend's
        assert wanted <= found, (seed, wanted - found)
        assert {label for label, _ in found} <= set(PII_LABELS)
        invoice = text.split("Invoice ")[1].split()[0]  # a look-alike: nine digits, no context word
        assert not any(invoice in value or "4471-20" in value for _, value in found)


def test_payment_instructions_name_their_routing_numbers(backend):
    text = "Account Number: 9988776655 ABA Routing Number (for domestic transfers): Wire: 011000015 / ACH: 021000021"
    found = _found(backend, text)
    assert {("ROUTING_NUMBER", "011000015"), ("ROUTING_NUMBER", "021000021"), ("BANK_ACCOUNT", "9988776655")} <= found


def test_an_address_keeps_its_city_line_across_a_blank_line_of_ocr(backend):
    text = 'with offices at\n2096 North Cedar Road, Suite 542,\n\nPortland, OR 97205 (the "Company")'
    assert ("STREET_ADDRESS", "2096 North Cedar Road, Suite 542,\n\nPortland, OR 97205") in _found(backend, text)
    two_blank_lines = "2096 North Cedar Road\n\n\nPortland, OR 97205"
    assert ("STREET_ADDRESS", "2096 North Cedar Road") in _found(backend, two_blank_lines)
