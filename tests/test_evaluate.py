"""docner eval ner: alignment of renderings, the four scoring schemes, the gold formats, bad input,
and an evaluation of a lake written row by row (no Spark)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.catalog.tables import DOCUMENTS, ENTITIES, EVALUATIONS, PAGES, RUNS
from jobs.config import DEFAULT_LABELS
from jobs.lake.tables import arrow_rows, ensure_tables, read_arrow, write_arrow
from jobs.lake.views import join_pages
from jobs.learn.align import align
from jobs.learn.evaluate import evaluate_ner, save_evaluation
from jobs.learn.gold import read_gold
from jobs.learn.scoring import ALL, Scores, Span, errors, matched

# --- alignment ---------------------------------------------------------------------------------

WORDS = st.sampled_from(["Acme", "Inc.", "shall", "pay", "$5,000", "to", "Beta", "LLC", "on", "May", "8,", "2014."])
GAPS = st.sampled_from([" ", "  ", "\n", " \n ", "\n\n", "\t"])


@given(st.lists(st.tuples(WORDS, GAPS, GAPS), min_size=1, max_size=40), st.data())
def test_a_span_survives_any_change_of_whitespace(words, data):
    source = " ".join(word for word, _, _ in words)
    target = "".join(word + gap for word, _, gap in words)
    first = data.draw(st.integers(0, len(words) - 1))
    last = data.draw(st.integers(first, len(words) - 1))
    starts = [sum(len(w) + 1 for w, _, _ in words[:i]) for i in range(len(words))]
    start, end = starts[first], starts[last] + len(words[last][0])
    placed = align(source, target).span(start, end, source)
    assert placed is not None
    assert target[placed[0] : placed[1]].split() == source[start:end].split()


def test_spans_in_changed_words_are_not_aligned_and_the_rest_is():
    source = "Acme Inc. agrees to the agree- ment with Beta LLC."
    target = "HEADER\nAcme Inc. agrees to the agreement with Beta LLC."
    alignment = align(source, target)
    assert alignment.span(0, 9, source) == (7, 16)  # "Acme Inc."
    beta = source.index("Beta LLC")
    placed = alignment.span(beta, beta + 8, source)
    assert placed is not None and target[placed[0] : placed[1]] == "Beta LLC"
    assert alignment.region() == (7, len(target))
    assert align("nothing alike here", "completely different words").coverage < 0.5


def test_a_prefix_aligns_exactly():
    target = "Page one.\n\nPage two."
    alignment = align("Page one.", target)
    assert alignment.region() == (0, 9) and alignment.coverage == 1.0


# --- scoring -----------------------------------------------------------------------------------


def test_the_four_schemes_on_one_document():
    gold = [Span(0, 5, "ORG"), Span(10, 15, "PERSON"), Span(30, 35, "DATE"), Span(40, 45, "GPE")]
    predicted = [
        Span(0, 5, "ORG"),  # correct
        Span(10, 14, "PERSON"),  # boundary
        Span(30, 35, "MONEY"),  # type
        Span(50, 55, "ORG"),  # spurious; GPE 40-45 missed
    ]
    assert matched(gold, predicted, "strict") == 1
    assert matched(gold, predicted, "exact") == 2
    assert matched(gold, predicted, "partial") == 2.5
    assert matched(gold, predicted, "type") == 2
    kinds = sorted(e.kind for e in errors(gold, predicted))
    assert kinds == ["boundary", "missed", "spurious", "type"]

    scores = Scores.empty(["ORG", "PERSON", "DATE", "GPE", "MONEY"])
    scores.add(gold, predicted)
    strict = scores.counts["strict"]
    assert (strict[ALL].gold, strict[ALL].predicted, strict[ALL].matched) == (4, 4, 1)
    assert strict["ORG"].precision == 0.5 and strict["ORG"].recall == 1.0
    assert strict["MONEY"].precision == 0.0 and strict["MONEY"].recall is None
    assert scores.counts["type"]["PERSON"].f1 == 1.0
    precision, recall, _ = scores.macro("strict")
    assert precision == pytest.approx((0.5 + 0 + 0) / 3)  # labels with predictions: ORG, PERSON, MONEY
    assert recall == pytest.approx((1 + 0 + 0 + 0) / 4)  # labels with gold: ORG, PERSON, DATE, GPE


def test_each_span_is_matched_once():
    gold = [Span(0, 10, "ORG")]
    predicted = [Span(0, 4, "ORG"), Span(5, 10, "ORG")]
    assert matched(gold, predicted, "type") == 1
    assert matched(predicted, gold, "type") == 1


# --- gold formats ------------------------------------------------------------------------------


def test_labelstudio_and_conll_exports_are_read(tmp_path):
    studio = [
        {
            "id": 7,
            "data": {"text": "Acme Inc. pays Beta", "file": "a.pdf"},
            "annotations": [
                {"was_cancelled": True, "result": []},
                {
                    "result": [
                        {"type": "labels", "from_name": "label", "to_name": "text",
                         "value": {"start": 0, "end": 9, "text": "Acme Inc.", "labels": ["ORG"]}},
                        {"type": "relation", "from_id": "x", "to_id": "y"},
                    ]
                },
            ],
        },
        {"id": 8, "data": {"text": "no file"}, "annotations": []},
    ]  # fmt: skip
    path = tmp_path / "export.json"
    path.write_text(json.dumps(studio))
    read = read_gold(path, "labelstudio", DEFAULT_LABELS)
    (document,) = read.documents
    assert (document.file, document.text, [(s.start, s.end, s.label) for s in document.spans]) == (
        "a.pdf",
        "Acme Inc. pays Beta",
        [(0, 9, "ORG")],
    )
    assert [p.message for p in read.problems] == [
        "no file in the task's data (one of file, file_name, document, source_path, doc_id)"
    ]

    conll = tmp_path / "gold.conll"
    conll.write_text(
        "-DOCSTART- -X- -X- O\n# file = b.pdf\n\nAcme NNP B-ORG\nInc. NNP I-ORG\npays VBZ O\nBeta NNP I-PERSON\n\n"
        "On IN O\nMay NNP B-DATE\n8 CD I-DATE\n"
    )
    read = read_gold(conll, "conll", DEFAULT_LABELS)
    (document,) = read.documents
    assert document.file == "b.pdf"
    assert document.text == "Acme Inc. pays Beta\nOn May 8"
    assert [(document.text[s.start : s.end], s.label) for s in document.spans] == [
        ("Acme Inc.", "ORG"),
        ("Beta", "PERSON"),
        ("May 8", "DATE"),
    ]
    assert [p.message for p in read.problems] == ["I-PERSON does not continue an entity: read as its start"]


def test_bad_gold_records_are_named_and_the_rest_is_read(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"file": "a.pdf", "text": "Acme", "spans": [{"start": 0, "end": 4, "label": "ORG"}]}),
                "{not json",
                json.dumps({"spans": []}),
                json.dumps({"file": "b.pdf", "text": "Beta", "spans": [{"start": 0, "end": 9, "label": "ORG"}]}),
                json.dumps({"file": "c.pdf", "spans": [{"start": 0, "end": 2, "label": "COMPANY"}, {"start": 3}]}),
            ]
        )
    )
    read = read_gold(path, "jsonl", DEFAULT_LABELS)
    assert [d.file for d in read.documents] == ["a.pdf", "b.pdf", "c.pdf"]
    assert [(d.file, len(d.spans)) for d in read.documents] == [("a.pdf", 1), ("b.pdf", 0), ("c.pdf", 0)]
    messages = sorted(f"{p.where}: {p.message}" for p in read.problems)
    assert messages == [
        "gold.jsonl:2: not JSON (Expecting property name enclosed in double quotes)",
        "gold.jsonl:3: a record needs a 'file' (the PDF's file name)",
        "gold.jsonl:4: span 0-9 ends past the text (4)",
        "gold.jsonl:5: span 1 is not {start, end, label}: {'start': 3}",
        "gold.jsonl:5: unknown label 'COMPANY' (span 0-2)",
    ]


# --- an evaluation of a lake ---------------------------------------------------------------------

PAGE_1 = "SERVICES AGREEMENT between Acme Inc. (the Company) and Beta LLC, a Delaware company."
PAGE_2 = "Signed on May 8, 2014 by John Smith for the Company."


def _row(spec, **values):
    row = {field.name: None for field in spec.schema.fields}
    row.update(values)
    return row


@pytest.fixture
def small_lake(tmp_path) -> Path:
    """One recognized document of two pages, its entities, and the NER run's row."""
    lake = tmp_path / "lake"
    ensure_tables(lake)
    now = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)
    state = {
        "status": "ok",
        "error_class": None,
        "error_message": None,
        "version": "v1",
        "run_id": "r1",
        "finished_at": now,
    }
    document = _row(
        DOCUMENTS, doc_id="d1", source_path="/in/acme.pdf", file_name="acme.pdf", size_bytes=1, page_count=2,
        status="ok", ingest_state=state, extract_state=state, ner_state=state, run_id="r1", ingested_at=now,
    )  # fmt: skip
    write_arrow(arrow_rows(DOCUMENTS, [document]), lake, DOCUMENTS)
    pages = [
        _row(PAGES, doc_id="d1", page_no=n, status="ok", method="text", text=text, char_count=len(text),
             word_boxes=[], run_id="r1")
        for n, text in ((1, PAGE_1), (2, PAGE_2))
    ]  # fmt: skip
    write_arrow(arrow_rows(PAGES, pages), lake, PAGES)
    text = join_pages(pages).text

    def entity(surface: str, label: str, occurrence: int = 0) -> dict:
        start = -1
        for _ in range(occurrence + 1):
            start = text.index(surface, start + 1)
        return _row(
            ENTITIES, doc_id="d1", entity_id=f"{start}{label}", page_no=1, start=0, end=1, end_page_no=1,
            doc_start=start, doc_end=start + len(surface), text=surface, label=label, source="spacy",
            sources=["spacy"], model="m", model_version="1", entity_key=surface, run_id="r1",
        )  # fmt: skip

    entities = [
        entity("Acme Inc.", "ORG"),  # right
        entity("Company", "ORG"),  # a role: spurious
        entity("Beta", "ORG"),  # boundary (gold: Beta LLC)
        entity("Delaware", "ORG"),  # type (gold: GPE)
        entity("May 8, 2014", "DATE"),  # right
        entity("SERVICES AGREEMENT", "WORK_OF_ART"),  # a label the gold does not use: ignored
    ]
    write_arrow(arrow_rows(ENTITIES, entities), lake, ENTITIES)
    run = _row(
        RUNS, run_id="r1", stage="ner", env="local", started_at=now, finished_at=now, seconds=1.0, documents_in=1,
        documents_by_status={}, rows_written={}, table_versions={}, models={"spacy": "sm 3.8.0"},
        rows_quarantined={}, dq_failed={}, code_version="0", config_hash="x", notes=[],
    )  # fmt: skip
    write_arrow(arrow_rows(RUNS, [run]), lake, RUNS)
    return lake


def _gold_line(file: str, text: str | None, marks: list[tuple[str, str]]) -> str:
    body = text if text is not None else PAGE_1 + "\n\n" + PAGE_2
    spans = [{"start": body.index(s), "end": body.index(s) + len(s), "label": label} for s, label in marks]
    record = {"file": file, "spans": spans}
    if text is not None:
        record["text"] = text
    return json.dumps(record)


def test_an_evaluation_of_a_lake_scores_names_errors_and_writes_its_rows(small_lake, tmp_path):
    # The gold was made on another rendering of page 1 only (words reflowed onto lines).
    reflowed = PAGE_1.replace(" (the", "\n(the").replace("company.", "\ncompany.")
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        "\n".join(
            [
                _gold_line(
                    "acme.pdf",
                    reflowed,
                    [("Acme Inc.", "ORG"), ("Company", "ALIAS"), ("Beta LLC", "ORG"), ("Delaware", "GPE")],
                ),
                _gold_line("missing.pdf", None, [("Acme Inc.", "ORG")]),
            ]
        )
    )
    result = evaluate_ner(small_lake, gold, known_labels=DEFAULT_LABELS)
    assert result.labels == ("ALIAS", "GPE", "ORG")
    assert [p.message for p in result.problems] == ["the lake holds no document 'missing.pdf'"]
    (document,) = result.documents
    assert document.region == (0, len(PAGE_1))  # page 2 (the date) is not evaluated
    strict, overlap = result.scores.counts["strict"][ALL], result.scores.counts["type"][ALL]
    # predicted in the region with an evaluated label: Acme Inc., Company, Beta, Delaware (all ORG)
    assert (strict.gold, strict.predicted, strict.matched) == (4, 4, 1)
    assert overlap.matched == 2  # Acme Inc. and Beta ~ Beta LLC
    assert result.errors["type"] == 2  # Company ALIAS→ORG, Delaware GPE→ORG
    assert result.errors["boundary"] == 1
    assert result.confusions[("GPE", "ORG")] == 1 and result.confusions[("ALIAS", "ORG")] == 1
    assert result.ignored_predictions == {"WORK_OF_ART": 1}
    example = result.examples["boundary"][0]
    assert example["gold"] == {"text": "Beta LLC", "label": "ORG"} and example["predicted"]["text"] == "Beta"
    assert example["page"] == 1 and "Beta LLC, a Delaware" in example["context"]
    assert (result.run_id, result.model, result.model_version) == ("r1", "spacy=sm 3.8.0", "v1")

    out = save_evaluation(small_lake, result, tmp_path / "eval.json")
    rows = read_arrow(small_lake, EVALUATIONS.name).to_pylist()
    by_key = {(r["scheme"], r["label"]): r for r in rows}
    assert {r["eval_id"] for r in rows} == {result.eval_id}
    assert by_key[("strict", "ALL")]["tp"] == 1.0 and by_key[("strict", "ALL")]["fp"] == 3.0
    assert by_key[("strict", "ORG")]["precision"] == 0.25 and by_key[("strict", "ORG")]["recall"] == 0.5
    assert by_key[("partial", "ALL")]["tp"] == 1.5 + 2  # Acme, Company, Delaware exact; Beta half
    assert ("type", "MACRO") in by_key
    summary = json.loads(Path(out).read_text())
    assert summary["metrics"]["type"]["ALL"]["tp"] == 2.0
    assert summary["errors"]["type"] == 2


def test_gold_without_text_points_into_the_stored_text(small_lake, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(_gold_line("/in/acme.pdf", None, [("Acme Inc.", "ORG"), ("May 8, 2014", "DATE")]))
    result = evaluate_ner(small_lake, gold, known_labels=DEFAULT_LABELS)
    assert result.problems == []
    assert result.scores.counts["strict"][ALL].matched == 2
    assert result.scores.counts["strict"]["ORG"].predicted == 4  # the whole document is evaluated


@pytest.mark.slow
def test_the_cli_prints_the_table_and_keeps_the_rows(small_lake, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(_gold_line("acme.pdf", None, [("Acme Inc.", "ORG"), ("Beta LLC", "ORG")]))
    done = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "eval", "ner", "--lake", str(small_lake), "--gold", str(gold),
         "--out", str(tmp_path / "e.json")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ORG" in done.stdout and "strict P" in done.stdout and "errors:" in done.stdout
    assert json.loads((tmp_path / "e.json").read_text())["metrics"]["strict"]["ORG"]["tp"] == 1.0


def test_the_report_shows_the_latest_evaluation(small_lake, tmp_path):
    from jobs.ops.report import write_report

    gold = tmp_path / "gold.jsonl"
    gold.write_text(_gold_line("acme.pdf", None, [("Acme Inc.", "ORG"), ("Beta LLC", "ORG")]))
    first = evaluate_ner(small_lake, gold, known_labels=DEFAULT_LABELS, now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    save_evaluation(small_lake, first)
    gold.write_text(_gold_line("acme.pdf", None, [("Acme Inc.", "ORG"), ("May 8, 2014", "DATE")]))
    latest = evaluate_ner(small_lake, gold, known_labels=DEFAULT_LABELS, now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    save_evaluation(small_lake, latest)
    page = write_report(small_lake, tmp_path / "report.html").read_text()
    section = page[page.index('id="evaluation"') :]
    assert latest.eval_id in section and first.eval_id not in section
    assert "<td>DATE</td>" in section and "<td>MACRO</td>" in section


def test_two_passes_differ_where_they_do_not_share_a_span():
    from jobs.learn.gold import GoldDocument, GoldSpan
    from tools.gold_agreement import differences

    text = "Acme Inc. and Beta LLC signed on May 8, 2014."
    a = GoldDocument("x.pdf", text, [GoldSpan(0, 9, "ORG"), GoldSpan(14, 22, "ORG"), GoldSpan(33, 44, "DATE")])
    b = GoldDocument("x.pdf", text, [GoldSpan(0, 9, "ORG"), GoldSpan(14, 18, "ORG"), GoldSpan(33, 44, "DATE")])
    (group,) = differences(a, b)
    assert group["a"] == [{"start": 14, "end": 22, "label": "ORG", "text": "Beta LLC"}]
    assert group["b"] == [{"start": 14, "end": 18, "label": "ORG", "text": "Beta"}]
    assert "Acme Inc. and Beta LLC signed" in group["context"]


def _pass(path, spans, text="Acme Inc. and Beta LLC signed on May 8, 2014; see Section 2."):
    path.write_text(json.dumps({"file": "x.pdf", "text": text, "spans": spans}) + "\n")
    return path


def test_the_gold_file_is_the_shared_spans_and_the_written_decisions(tmp_path):
    from tools.gold_adjudicate import main as adjudicate

    org, beta, short, date = (
        {"start": 0, "end": 9, "label": "ORG"},
        {"start": 14, "end": 22, "label": "ORG"},
        {"start": 14, "end": 18, "label": "ORG"},
        {"start": 33, "end": 44, "label": "DATE"},
    )
    ref = {"start": 50, "end": 59, "label": "SECTION_REF"}
    a = _pass(tmp_path / "a.jsonl", [org, beta, date, ref])
    b = _pass(tmp_path / "b.jsonl", [org, short, date])
    decisions = tmp_path / "decisions.jsonl"
    out = tmp_path / "gold.jsonl"
    decisions.write_text(json.dumps({"file": "x.pdf", "start": 14, "take": "a", "reason": "legal form"}) + "\n")
    assert adjudicate([str(a), str(b), str(decisions), str(out)]) == 1  # the reference is not settled
    assert not out.exists()
    decisions.write_text(
        json.dumps({"file": "x.pdf", "start": 14, "take": "a", "reason": "legal form"})
        + "\n"
        + json.dumps({"file": "x.pdf", "label": "SECTION_REF", "take": "b", "reason": "not marked"})
        + "\n"
    )
    assert adjudicate([str(a), str(b), str(decisions), str(out)]) == 0
    assert json.loads(out.read_text())["spans"] == [org, beta, date]
    decisions.write_text(json.dumps({"file": "x.pdf", "start": 14, "take": "a"}) + "\n")
    assert adjudicate([str(a), str(b), str(decisions), str(out)]) == 1  # no reason
    idle = json.dumps({"file": "x.pdf", "start": 99, "take": "b", "reason": "r"})
    decisions.write_text(
        "\n".join(
            [
                json.dumps({"file": "x.pdf", "start": 14, "take": "a", "reason": "r"}),
                json.dumps({"file": "x.pdf", "label": "SECTION_REF", "take": "b", "reason": "r"}),
                idle,
            ]
        )
    )
    assert adjudicate([str(a), str(b), str(decisions), str(out)]) == 1  # a decision that settles nothing


def test_the_lexicon_command_learns_from_the_lake_and_leaves_gold_documents_out(small_lake, tmp_path):
    from udfs.ner.lexicon import load_lexicon

    out = tmp_path / "lexicon.json"

    def lexicon(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "jobs.cli", "lexicon", "--lake", str(small_lake), "--out", str(out),
             "--min-documents", "1", *extra],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    done = lexicon()
    assert done.returncode == 0, done.stderr[-2000:]
    learned = load_lexicon(out)
    assert learned.documents == 1 and "agreement" not in learned.lower_words  # capitalised only here
    assert learned.lower_words and all(word.islower() for word in learned.lower_words)
    gold = tmp_path / "gold.jsonl"
    gold.write_text(_gold_line("acme.pdf", None, [("Acme Inc.", "ORG")]))
    done = lexicon("--exclude-gold", str(gold))
    assert done.returncode == 0 and "1 left out" in done.stdout
    assert load_lexicon(out).documents == 0 and not load_lexicon(out).lower_words
    assert lexicon("--min-documents", "0").returncode == 2
