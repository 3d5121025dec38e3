"""The redaction policy, redacted text and its offset map, the redact stage's settings and
switch, and the layers of the redacted PDFs (udfs/redact, jobs/stages/redact.py, policy.py,
jobs/ops/redact_pdf.py). The end-to-end run is in tests/test_redact_stage.py."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from jobs.catalog.stages import later_stages
from jobs.config import ConfigError, RedactSettings, load_config
from jobs.ops.redact_pdf import page_layer
from jobs.pipeline import stages_on
from jobs.stages.policy import redact_options, redaction_key
from udfs.redact.pdf import Box
from udfs.redact.run import document_outcome
from udfs.redact.text import (
    MASK,
    SOURCE_PROPAGATED,
    PageText,
    RedactionKeyError,
    RedactOptions,
    Target,
    key_fingerprint,
    pages_of,
    redact_document,
    replacement,
    to_redacted,
)

KEY = b"0123456789abcdef0123"


def _target(text: str, value: str, label: str = "PERSON", action: str = "label", nth: int = 0) -> Target:
    start = -1
    for _ in range(nth + 1):
        start = text.index(value, start + 1)
    return Target(start, start + len(value), label, action, value, "spacy", entity_id=f"e{start}")


def test_each_action_replaces_the_value_as_documented():
    assert replacement("EMAIL", "label", "a@b.com", None) == "[EMAIL]"
    assert replacement("PHONE", "mask", "555-1234\n99", None) == MASK * 8 + "\n" + MASK * 2
    assert replacement("PHONE", "keep", "555-1234", None) == "555-1234"
    token = replacement("PERSON", "hash", "Jane  Doe", KEY)
    assert token.startswith("[PERSON:") and "Jane" not in token and len(token) == len("[PERSON:]") + 12
    # the same value, whatever its case and spacing, gets the same token; another label, key or value not
    assert replacement("PERSON", "hash", "JANE doe", KEY) == token
    assert replacement("ORG", "hash", "Jane Doe", KEY) != token
    assert replacement("PERSON", "hash", "Jane Doe", KEY[::-1]) != token
    assert replacement("PERSON", "hash", "John Doe", KEY) != token
    with pytest.raises(RedactionKeyError):
        replacement("PERSON", "hash", "Jane Doe", None)
    with pytest.raises(ValueError, match="unknown redaction action"):
        replacement("PERSON", "blur", "Jane Doe", None)


def test_options_refuse_a_hash_without_a_key_and_unknown_actions():
    with pytest.raises(RedactionKeyError, match="at least 16 bytes"):
        RedactOptions(policy=(("PERSON", "hash"),))
    with pytest.raises(RedactionKeyError):
        RedactOptions(policy=(("PERSON", "hash"),), key=b"short")
    with pytest.raises(ValueError, match="unknown redaction action"):
        RedactOptions(policy=(("PERSON", "erase"),))
    assert "key" not in repr(RedactOptions(policy=(("PERSON", "hash"),), key=KEY)).split("policy")[1].split(",")[-1]
    assert KEY.decode() not in repr(RedactOptions(policy=(("PERSON", "hash"),), key=KEY))
    assert key_fingerprint(KEY) != key_fingerprint(KEY[::-1]) and KEY.hex()[:12] not in key_fingerprint(KEY)


def test_a_value_across_a_page_break_is_redacted_on_both_pages():
    text = "Signed by Jane\n\nDoe today."
    pages = pages_of(text, [(1, 0, 14), (2, 16, 26)])
    target = Target(10, 19, "PERSON", "mask", "Jane\n\nDoe", "spacy")
    redacted, rows = redact_document(text, pages, [target], RedactOptions(policy=(("PERSON", "mask"),)))
    assert [p.text for p in redacted] == ["Signed by " + MASK * 4, MASK * 3 + " today."]
    assert [(r.page_no, r.start, r.end, r.doc_start, r.doc_end) for r in rows] == [
        (1, 10, 14, 10, 14),
        (2, 0, 3, 16, 19),
    ]


def test_other_mentions_of_a_redacted_value_are_redacted_too():
    text = "Jane Doe signs. JANE DOE pays.\nJane\nDoe agrees. Janet Doe and Jane Doe-Smith? Jane Doe Holdings LLC."
    pages = [PageText(1, 0, text)]
    options = RedactOptions(policy=(("PERSON", "label"),))
    redacted, rows = redact_document(text, pages, [_target(text, "Jane Doe")], options)
    out = redacted[0].text
    assert "Jane Doe" not in out.replace("Janet Doe", "") and "JANE" not in out and "Jane\nDoe" not in out
    assert "Janet Doe" in out  # a whole-word match only
    assert out.count("[PERSON]") == 5  # "Doe-Smith": a hyphen ends a word
    assert [r.source for r in rows].count(SOURCE_PROPAGATED) == 4
    assert all(r.entity_id is None and r.score is None for r in rows if r.source == SOURCE_PROPAGATED)
    alone, _ = redact_document(
        text, pages, [_target(text, "Jane Doe")], RedactOptions(policy=options.policy, propagate=False)
    )
    assert alone[0].text.count("[PERSON]") == 1


def test_the_worker_records_stale_entities_instead_of_writing_pages():
    item = {
        "doc_id": "d",
        "text": "Call Jane Doe.",
        "pages": [{"page_no": 1, "start": 0, "end": 14}],
        "entities": [{"entity_id": "e", "doc_start": 5, "doc_end": 13, "text": "John Roe", "label": "PERSON",
                      "score": 0.9, "source": "spacy", "rule": None}],
    }  # fmt: skip
    outcome = document_outcome(item, RedactOptions(policy=(("PERSON", "label"),)))
    assert outcome["error_class"] == "ValueError" and "stale" in outcome["error_message"]
    assert outcome["pages"] == [] and outcome["redactions"] == []
    assert "John Roe" not in outcome["error_message"] and "Jane" not in outcome["error_message"]
    item["entities"][0]["text"] = "Jane Doe"
    fine = document_outcome(item, RedactOptions(policy=(("PERSON", "label"),)))
    assert fine["pages"][0]["text"] == "Call [PERSON]." and fine["pages"][0]["redaction_count"] == 1
    assert len(fine["redactions"][0]["redaction_id"]) == 64


@st.composite
def _documents(draw):
    words = draw(st.lists(st.text(alphabet="abcXYZ 1\n", min_size=1, max_size=6), min_size=2, max_size=30))
    text = " ".join(words)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8, unique=True)))
    spans = []
    last = 0
    for start, end in zip(cuts[::2], cuts[1::2], strict=False):
        if start >= last and end > start:
            spans.append((start, end))
            last = end
    action = draw(st.sampled_from(["mask", "label", "hash"]))
    return text, spans, action


@settings(max_examples=200, deadline=None)
@given(_documents())
def test_the_map_points_every_kept_character_at_its_place_in_the_redacted_text(document):
    text, spans, action = document
    half = len(text) // 2
    pages = pages_of(text, [(1, 0, half), (2, half, len(text))])
    targets = [Target(s, e, "PERSON", action, text[s:e], "rules") for s, e in spans]
    options = RedactOptions(policy=(("PERSON", action),), propagate=False, key=KEY)
    redacted, rows = redact_document(text, pages, targets, options)
    for page, out in zip(pages, redacted, strict=True):
        inside = {i for piece in out.spans for i in range(piece.start, piece.end)}
        for offset, char in enumerate(page.text):
            if offset not in inside:
                assert out.text[to_redacted(out.spans, offset)] == char
        for piece in out.spans:
            assert to_redacted(out.spans, piece.start) == piece.redacted_start
            if action == "mask":
                assert (piece.redacted_start, piece.redacted_end) == (piece.start, piece.end)
        assert len(out.text) == len(page.text) + sum(
            (p.redacted_end - p.redacted_start) - (p.end - p.start) for p in out.spans
        )
    covered = 0
    for start, end in spans:
        for page in pages:
            covered += max(0, min(end, page.doc_start + len(page.text)) - max(start, page.doc_start))
    assert sum(r.doc_end - r.doc_start for r in rows) == covered


def test_every_personal_data_label_needs_a_policy():
    with pytest.raises(ValidationError, match=r"no action for the personal-data label.*US_SSN"):
        RedactSettings(policy={"PERSON": "label"})
    with pytest.raises(ConfigError):
        load_config("local", overrides=["redact.policy.EMAIL=blur"])
    config = load_config("local", overrides=["redact.policy.ORG=hash"])  # other labels may be added
    assert config.redact.policy["ORG"] == "hash"


def test_the_hash_key_comes_from_the_environment_or_a_file_and_must_be_long_enough(tmp_path, monkeypatch):
    monkeypatch.delenv("DOCNER_REDACT_KEY", raising=False)
    config = load_config("local", overrides=["redact.policy.PERSON=hash"])
    with pytest.raises(ConfigError, match=r"redact.policy hashes PERSON: set the key in \$DOCNER_REDACT_KEY"):
        redact_options(config)
    assert redact_options(load_config("local")).key is None  # no hash, no key needed
    monkeypatch.setenv("DOCNER_REDACT_KEY", "short")
    with pytest.raises(ConfigError, match="is 5 bytes: it needs at least 16"):
        redaction_key(config)
    monkeypatch.setenv("DOCNER_REDACT_KEY", KEY.decode())
    assert redact_options(config).key == KEY
    monkeypatch.delenv("DOCNER_REDACT_KEY")
    (tmp_path / "key").write_bytes(KEY + b"\n")
    from_file = load_config("local", overrides=["redact.policy.PERSON=hash", f"redact.key_file={tmp_path / 'key'}"])
    assert redaction_key(from_file) == KEY
    gone = load_config("local", overrides=["redact.policy.PERSON=hash", f"redact.key_file={tmp_path / 'nope'}"])
    with pytest.raises(ConfigError, match="cannot read the redaction key"):
        redaction_key(gone)


def test_the_redact_stage_is_off_unless_switched_on_or_named():
    from jobs.cli import _chosen_stages

    assert "redact" not in stages_on(load_config("local"))
    assert stages_on(load_config("local", overrides=["redact.enabled=true"]))[-1] == "redact"
    config = load_config("local")

    def args(stages, switched=False):
        return argparse.Namespace(stages=stages, if_switched_on=switched)

    assert _chosen_stages(args(None), config) == frozenset({"ingest", "extract", "ner", "fields"})
    assert "redact" in _chosen_stages(args("ner,redact"), config)  # named: it runs
    assert _chosen_stages(args("ner,redact", switched=True), config) == frozenset({"ner"})  # the DAG's way


def test_a_stage_reprocessed_clears_only_the_stages_made_from_it():
    assert later_stages("ner") == ("fields", "redact")
    assert later_stages("fields") == ()
    assert later_stages("extract") == ("ner", "fields", "redact")


def _page(method="text", route="text_layer"):
    text = "Call Jane Doe now"
    boxes = [(0, 4, 10), (5, 9, 40), (10, 13, 70), (14, 17, 100)]
    return {
        "page_no": 1, "text": text, "method": method, "route_reason": route,
        "word_boxes": [
            {"start": s, "end": e, "x0": x, "top": 50.0, "x1": x + 25.0, "bottom": 60.0} for s, e, x in boxes
        ],
    }  # fmt: skip


def test_the_pdf_layer_paints_out_the_redacted_words_and_writes_the_token_in_their_place():
    redacted = {
        "text": "Call [PERSON] now",
        "spans": [{"start": 5, "end": 13, "redacted_start": 5, "redacted_end": 13}],
    }
    layer = page_layer(_page(), redacted, 0, (612.0, 792.0))
    assert layer.fill == (Box(40.0, 50.0, 65.0, 60.0), Box(70.0, 50.0, 95.0, 60.0))
    assert [w.text for w in layer.words] == ["Call", "now", "[PERSON]"]
    assert layer.words[-1].box == Box(40.0, 50.0, 95.0, 60.0)
    # a digital page's text layer has unrotated boxes: turned as displayed; OCR's are already
    turned = page_layer(_page(), redacted, 90, (792.0, 612.0))
    assert turned.fill[0] == Box(792.0 - 60.0, 40.0, 792.0 - 50.0, 65.0)
    assert page_layer(_page("ocr", "scan"), redacted, 90, (792.0, 612.0)).fill[0] == Box(40.0, 50.0, 65.0, 60.0)
    # a page without redacted text (its extraction failed, or its check kept it out): all of it
    whole = page_layer({"page_no": 2}, None, 0, (612.0, 792.0))
    assert whole.fill == (Box(0.0, 0.0, 612.0, 792.0),) and whole.words == ()
