"""The lexicon learned from many documents (udfs.ner.lexicon), and what resolution does with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.config import load_config
from jobs.stages.ner import ner_options
from udfs.ner.entities import Candidate
from udfs.ner.lexicon import LexiconError, learn, load_lexicon, write_lexicon
from udfs.ner.merge import Merged
from udfs.ner.resolve import resolve_document

CONF = Path(__file__).resolve().parents[1] / "conf"


def test_learn_keeps_what_enough_documents_show():
    texts = [
        'The licensee shall pay. "Territory" means Canada. The "FDA" approves.',
        'Each licensee reports. "Territory" means the world. "Affiliate" means any "FDA" body.',
        "No licensee here, and no terms.",
    ]
    data = learn(texts, min_documents=2)
    assert data["documents"] == 3 and data["min_documents"] == 2
    assert "licensee" in data["lower_words"] and "means" in data["lower_words"]
    assert "canada" not in data["lower_words"]  # capitalised only
    assert data["defined_terms"] == ["territory"]  # abbreviations ("FDA") are never judged as terms
    with pytest.raises(ValueError):
        learn(texts, min_documents=0)


def test_a_written_lexicon_loads_with_a_digest_and_bad_files_are_named(tmp_path):
    path = tmp_path / "lexicon.json"
    write_lexicon(learn(["the services", "the services"], 2), path)
    lexicon = load_lexicon(path)
    assert lexicon.lower_words == {"the", "services"} and len(lexicon.digest) == 16
    path.write_text(json.dumps({"format": "other"}))
    with pytest.raises(LexiconError, match="not a docner lexicon"):
        load_lexicon(path)
    path.write_text("{")
    with pytest.raises(LexiconError, match="not a JSON lexicon"):
        load_lexicon(path)
    with pytest.raises(LexiconError, match="cannot read lexicon"):
        load_lexicon(tmp_path / "missing.json")


def test_the_lexicon_judges_the_models_calls_but_not_the_parties_names(tmp_path):
    text = 'Nice Systems Ltd. ("NICE") agrees. NICE shall provide Services to the Territory.'

    def model(phrase: str, label: str) -> Merged:
        start = text.index(phrase, text.index("agrees"))
        return Merged(Candidate(start, start + len(phrase), phrase, label, None, "spacy", "m", "1"), ("spacy",))

    from udfs.ner.backends.rules import load_rules
    from udfs.ner.merge import merge_candidates

    rules = load_rules([CONF / "rules"]).find(text)
    merged = merge_candidates([*rules, model("Services", "ORG").entity, model("Territory", "GPE").entity], _policy())
    path = tmp_path / "lexicon.json"
    write_lexicon({**learn(['nice services "Territory"'] * 3, 3)}, path)
    alone = {(m.entity.label, m.entity.text) for m in resolve_document(text, merged)}
    informed = {(m.entity.label, m.entity.text) for m in resolve_document(text, merged, load_lexicon(path))}
    assert ("ORG", "Services") in alone and ("GPE", "Territory") in alone  # this document shows nothing
    assert ("ORG", "Services") not in informed and ("GPE", "Territory") not in informed
    assert ("ORG", "NICE") in informed  # "nice" is a common word elsewhere; here it is the party's name


def _policy():
    return ner_options(load_config("local")).merge


def test_a_missing_lexicon_file_stops_the_stage_with_its_path(tmp_path):
    config = load_config("local", overrides=[f"ner.lexicon={tmp_path / 'nope.json'}"])
    with pytest.raises(LexiconError, match=r"nope\.json: cannot read lexicon"):
        ner_options(config)
