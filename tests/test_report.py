"""docner report: the pure helpers on hand-made rows, the page on a tiny hand-written lake, and
end to end on the samples' lake, rendered in headless Chromium."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image
from pyspark.sql import types as T

from jobs.catalog.stages import STAGES
from jobs.catalog.tables import DOCUMENTS, ENTITIES, PAGES, QUARANTINE, RUNS, TableSpec
from jobs.lake.tables import LakeError, arrow_rows, read_arrow, write_arrow
from jobs.ops.report import write_report
from jobs.ops.report.charts import EARLIER_COLOUR, LATEST_COLOUR
from jobs.ops.report.gather import (
    COLUMN_FIGURES,
    LATEST_NAME,
    REPORTS_DIR,
    TREND_CHARTS,
    SplitCount,
    default_report_path,
    field_coverage,
    gather_report,
    group_runs,
    quality_run,
    run_labels,
    safe_file_part,
    score_histogram,
    split_counts,
    throughput_rows,
    trend_series,
)
from jobs.ops.report.html import render_html
from jobs.quality.results import load_quality_results, parse_quality_result
from udfs.fields.extract import FIELD_NAMES

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
FIXED = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
NASTY = "<script>alert('$x')</script>"


# --- building rows ----------------------------------------------------------------------------


def _default(data_type: T.DataType) -> Any:
    if isinstance(data_type, T.StringType):
        return "x"
    if isinstance(data_type, (T.IntegerType, T.LongType)):
        return 0
    if isinstance(data_type, T.DoubleType):
        return 0.0
    if isinstance(data_type, T.BooleanType):
        return False
    if isinstance(data_type, T.TimestampType):
        return T0
    if isinstance(data_type, T.ArrayType):
        return []
    if isinstance(data_type, T.MapType):
        return {}
    if isinstance(data_type, T.StructType):
        return {f.name: None for f in data_type.fields}
    raise TypeError(data_type)


def _row(spec: TableSpec, **values: Any) -> dict[str, Any]:
    """A row of ``spec`` with ``values``; other NOT NULL columns get a plain default, nullable ones null."""
    unknown = set(values) - set(spec.schema.fieldNames())
    assert not unknown, unknown
    return {
        f.name: values[f.name] if f.name in values else (None if f.nullable else _default(f.dataType))
        for f in spec.schema.fields
    }


def _run_rows(run_id: str, started: dt.datetime, **figures: Any) -> list[dict[str, Any]]:
    """The three runs rows of one pipeline run; ``figures`` override per stage: ``extract={...}``."""
    rows = []
    at = started
    for stage, seconds in (("ingest", 2.0), ("extract", 10.0), ("ner", 20.0)):
        values = {
            "run_id": run_id,
            "stage": stage,
            "env": "local",
            "started_at": at,
            "finished_at": at + dt.timedelta(seconds=seconds),
            "seconds": seconds,
            "documents_in": 4,
            "documents_by_status": {"ok": 3, "failed": 1},
            "code_version": "0.1.0",
            "config_hash": "c0ffee",
        }
        values.update(figures.get(stage, {}))
        rows.append(_row(RUNS, **values))
        at += dt.timedelta(seconds=seconds)
    return rows


def _as_read(spec: TableSpec, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as they come back from the table (maps as lists of pairs)."""
    return arrow_rows(spec, rows).to_pylist()


GOOD_RESULT = {
    "success": True,
    "statistics": {"evaluated_expectations": 2},
    "results": [
        {"success": True, "expectation_config": {"type": "expect_a", "meta": {"id": "a"}}, "result": {}},
        {"success": True, "expectation_config": {"type": "expect_b", "meta": {"id": "b"}}, "result": {}},
    ],
}
BAD_RESULT = {
    "success": False,
    "statistics": {"evaluated_expectations": 3},
    "results": [
        {
            "success": False,
            "expectation_config": {
                "type": "expect_column_pair_values_to_be_equal",
                "meta": {"id": "text_equals_slice"},
            },
            "result": {"element_count": 120, "unexpected_count": 2, "unexpected_index_list": [{}, {}]},
            "exception_info": {"raised_exception": False, "exception_message": None},
        },
        {
            "success": False,
            "expectation_config": {"type": "expect_column_mean_to_be_between", "meta": {"id": "mean_entities"}},
            "result": {"observed_value": 0.5},
            "exception_info": {"raised_exception": False},
        },
        {
            "success": False,
            "expectation_config": {"type": "expect_column_values_to_be_in_set", "meta": {"id": "label_in_set"}},
            "result": {},
            "exception_info": {"metric.id": {"raised_exception": True, "exception_message": "no column 'label'"}},
        },
    ],
}


def _tiny_lake(lake: Path, *, with_ner: bool = True, runs: int = 3) -> list[str]:
    """A lake written with delta-rs only: ``runs`` runs, the last of which wrote one document's
    pages and entities (when ``with_ner``), and quality results for the last run. Returns the run ids."""
    run_ids = []
    run_rows: list[dict[str, Any]] = []
    for index in range(runs):
        # Airflow-style ids do not sort by time: the start time must decide.
        run_id = f"manual__run-{runs - index:02d}" if index % 2 else f"2026112{index % 10}T100000Z-{index:08x}"
        run_ids.append(run_id)
        is_last = index == runs - 1
        ner = {
            "entities": 10 + index,
            "entities_per_document": 2.5 + index,
            "mean_score": 0.8 + index / 100,
            "label_mix": {"ORG": 5, "MONEY": 5 + index},
            "models": {"rules": "contracts abc123"},
            "dq_success": not is_last,
            "dq_failed": {"entities.text_equals_slice": 2} if is_last else {},
            "rows_quarantined": {"entities": 2 if is_last else 0},
            "dq_seconds": 3.0,
            "notes": [NASTY] if is_last else [],
        }
        run_rows += _run_rows(
            run_id,
            T0 + dt.timedelta(hours=index),
            extract={
                "pages": 8,
                "pages_per_s": 0.8 + index / 10,
                "ocr_page_share": 0.25,
                "dq_success": True,
                "dq_seconds": 1.5,
                "rows_written": {"pages": 8, "tables": 3},
            },
            **({"ner": ner} if with_ner else {}),
        )
    if not with_ner:
        run_rows = [row for row in run_rows if row["stage"] != "ner"]
    write_arrow(arrow_rows(RUNS, run_rows), lake, RUNS)
    last, earlier = run_ids[-1], run_ids[0]
    write_arrow(
        arrow_rows(
            DOCUMENTS,
            [
                _row(DOCUMENTS, doc_id="d1", source_path="/in/a.pdf", status="ok", run_id=last),
                _row(DOCUMENTS, doc_id="d2", source_path="/in/b.pdf", status="ok", run_id=earlier),
                _row(DOCUMENTS, doc_id="d3", source_path="/in/c.pdf", status="failed", run_id=earlier),
                _row(DOCUMENTS, doc_id="d4", source_path=f"/in/{NASTY}.pdf", status=NASTY, run_id=earlier),
            ],
        ),
        lake,
        DOCUMENTS,
    )
    pages = [
        _row(PAGES, doc_id="d1", page_no=1, status="ok", method="text", route_reason="text_layer", run_id=last),
        _row(
            PAGES,
            doc_id="d1",
            page_no=2,
            status="ok",
            method="ocr",
            route_reason="no_text_layer (dpi 200)",
            run_id=last,
        ),
        _row(PAGES, doc_id="d2", page_no=1, status="ok", method="ocr", route_reason="no_text_layer", run_id=earlier),
        _row(PAGES, doc_id="d2", page_no=2, status="failed", method="none", run_id=earlier),
    ]
    write_arrow(arrow_rows(PAGES, pages), lake, PAGES)
    if with_ner:
        entities = [
            _row(
                ENTITIES,
                doc_id=doc_id,
                entity_id=f"{doc_id}-{n}",
                label=label,
                score=score,
                source=source,
                run_id=run_id,
            )
            for n, (doc_id, label, score, source, run_id) in enumerate(
                [
                    ("d1", "ORG", None, "spacy", last),
                    ("d1", "ORG", None, "spacy", last),
                    ("d1", "MONEY", 0.97, "rules", last),
                    ("d1", "DATE", 0.91, "rules", last),
                    ("d2", "ORG", None, "spacy", earlier),
                    ("d2", "MONEY", 0.42, "transformers", earlier),
                    ("d2", NASTY, 0.05, "transformers", earlier),
                ]
            )
        ]
        write_arrow(arrow_rows(ENTITIES, entities), lake, ENTITIES)
        quarantine = [
            _row(
                QUARANTINE,
                table_name="entities",
                doc_id="d1",
                row_key=f'{{"k": {n}}}',
                check="text_equals_slice",
                run_id=last,
            )
            for n in range(2)
        ]
        write_arrow(arrow_rows(QUARANTINE, quarantine), lake, QUARANTINE)
        results = lake / "_quality" / last
        results.mkdir(parents=True)
        (results / "ner.entities.rows.json").write_text(json.dumps(BAD_RESULT))
        (results / "ner.entities._per_document.json").write_text(json.dumps(GOOD_RESULT))
        (results / "extract.pages.rows.json").write_text(json.dumps(GOOD_RESULT))
    return run_ids


# --- checking pages and images ------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.refs: list[tuple[str, str, str]] = []  # tag, attribute, value

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "poster", "action") and value is not None:
                self.refs.append((tag, name, value))


def _images(page: str) -> list[Image.Image]:
    """Parse the page, check that it needs nothing outside itself, and return its decoded images."""
    parser = _Links()
    parser.feed(page)
    assert not {"script", "link", "iframe", "object", "embed"} & set(parser.tags)
    assert "@import" not in page and "url(" not in page
    images = []
    for tag, attribute, value in parser.refs:
        if tag == "a" and attribute == "href":
            assert value.startswith("#"), value
            continue
        assert (tag, attribute) == ("img", "src"), (tag, attribute)
        assert value.startswith("data:image/png;base64,"), value[:80]
        images.append(Image.open(io.BytesIO(base64.b64decode(value.split(",", 1)[1], validate=True))))
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page)
    return images


def _assert_not_blank(image: Image.Image, *, min_colours: int = 20, min_ink: float = 0.02) -> np.ndarray:
    pixels = np.asarray(image.convert("RGB"))
    colours = image.convert("RGB").getcolors(maxcolors=1 << 24)
    assert colours is not None and len(colours) >= min_colours, len(colours or [])
    ink = float((pixels.min(axis=2) < 235).mean())
    assert ink >= min_ink, ink
    return pixels


def _colour_pixels(pixels: np.ndarray, colour: str) -> int:
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(pixels.astype(int) - rgb).max(axis=2) <= 4).sum())


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.fail(
            "chromium is not installed: the report test renders the page in headless Chromium. "
            "Run scripts/os-deps.sh (make test does) or apt-get install chromium"
        )
    return found


def _screenshot(page: Path, png: Path, work: Path, height: int = 2000) -> Image.Image:
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--no-first-run",
        "--force-device-scale-factor=1",
        f"--user-data-dir={work / 'chromium-profile'}",
        f"--screenshot={png}",
        f"--window-size=1280,{height}",
        page.absolute().as_uri(),
    ]
    env = {**os.environ, "HOME": str(work)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env, check=False)
    assert done.returncode == 0 and png.is_file(), f"chromium failed ({done.returncode}):\n{done.stderr[-3000:]}"
    return Image.open(png)


def _check_screenshot(image: Image.Image, height: int = 2000) -> None:
    assert image.size == (1280, height)
    pixels = _assert_not_blank(image, min_colours=200, min_ink=0.05)
    # The charts came out: their bar colours fill many pixels (text alone would not).
    assert _colour_pixels(pixels, LATEST_COLOUR) + _colour_pixels(pixels, EARLIER_COLOUR) > 3000
    # Content all down the page, not one block on a blank sheet.
    bands = np.array_split(pixels, 10, axis=0)
    assert sum(float(band.std()) > 10 for band in bands) >= 6, [round(float(b.std()), 1) for b in bands]


# --- pure helpers -------------------------------------------------------------------------------


def test_group_runs_orders_by_start_time_and_turns_maps_into_dicts():
    rows = _as_read(RUNS, _run_rows("zzz-early", T0) + _run_rows("manual__late", T0 + dt.timedelta(days=1)))
    rows += _as_read(RUNS, _run_rows("aaa-middle", T0 + dt.timedelta(hours=1)))
    runs = group_runs(reversed(rows))
    assert [run.run_id for run in runs] == ["zzz-early", "aaa-middle", "manual__late"]
    first = runs[0]
    assert list(first.stages) == ["ingest", "extract", "ner"]
    assert first.started_at == T0 and first.seconds == 32.0
    assert first.stage("ingest")["documents_by_status"] == {"ok": 3, "failed": 1}
    assert first.last_stage()["stage"] == "ner"
    assert first.stage("nope") is None


def test_group_runs_ties_on_start_time_break_by_run_id():
    rows = _as_read(RUNS, _run_rows("b", T0) + _run_rows("a", T0))
    assert [run.run_id for run in group_runs(rows)] == ["a", "b"]


def test_split_counts_splits_the_latest_runs_rows_and_sorts_by_count():
    table = pa.table(
        {
            "status": ["ok", "ok", "failed", None, "ok", "failed"],
            "run_id": ["r2", "r1", "r1", "r1", "r2", None],
        }
    )
    assert split_counts(table, "status", "r2") == [
        SplitCount("ok", 2, 1),
        SplitCount("failed", 0, 2),
        SplitCount("(null)", 0, 1),
    ]
    assert split_counts(table, "status", None)[0] == SplitCount("ok", 0, 3)
    assert split_counts(table.slice(0, 0), "status", "r2") == []


def test_split_counts_can_drop_a_trailing_note():
    table = pa.table(
        {"route": ["no_text_layer (dpi 200)", "no_text_layer", "text_layer", None, "(x)"], "run_id": ["a"] * 5}
    )
    assert split_counts(table, "route", "a", normalize=True) == [
        SplitCount("no_text_layer", 2, 0),
        SplitCount("(null)", 1, 0),
        SplitCount("(x)", 1, 0),
        SplitCount("text_layer", 1, 0),
    ]


def test_score_histogram_counts_per_source_and_leaves_out_nulls():
    table = pa.table(
        {
            "score": [0.0, 0.04, 0.5, 0.97, 1.0, None, None],
            "source": ["rules", "rules", "transformers", "rules", "transformers", "spacy", "spacy"],
        }
    )
    histogram = score_histogram(table, bins=10)
    assert histogram.edges[0] == 0.0 and histogram.edges[-1] == 1.0 and len(histogram.edges) == 11
    assert list(histogram.counts) == ["rules", "transformers"]
    assert histogram.counts["rules"] == (2, 0, 0, 0, 0, 0, 0, 0, 0, 1)
    assert histogram.counts["transformers"] == (0, 0, 0, 0, 0, 1, 0, 0, 0, 1)
    assert histogram.missing == 2


def test_score_histogram_widens_to_scores_outside_zero_one():
    histogram = score_histogram(pa.table({"score": [-1.0, 3.0], "source": ["a", "a"]}), bins=4)
    assert histogram.edges == (-1.0, 0.0, 1.0, 2.0, 3.0)
    assert sum(histogram.counts["a"]) == 2


def test_score_histogram_of_no_scores_is_empty():
    histogram = score_histogram(pa.table({"score": pa.array([None], pa.float64()), "source": ["spacy"]}))
    assert histogram.counts == {} and histogram.missing == 1


def test_parse_quality_result_lists_the_failed_checks():
    result = parse_quality_result("ner.entities._per_document.json", BAD_RESULT)
    assert (result.stage, result.table, result.frame) == ("ner", "entities", "_per_document")
    assert not result.success and result.evaluated == 3
    by_id = {check.check: check for check in result.failed}
    assert set(by_id) == {"text_equals_slice", "mean_entities", "label_in_set"}
    assert (by_id["text_equals_slice"].unexpected, by_id["text_equals_slice"].elements) == (2, 120)
    assert by_id["mean_entities"].unexpected is None and by_id["mean_entities"].observed == "0.5"
    assert by_id["label_in_set"].raised == "no column 'label'"
    good = parse_quality_result("extract.pages.rows.json", GOOD_RESULT)
    assert (good.frame, good.success, good.evaluated, good.failed) == ("rows", True, 2, ())


def test_load_quality_results_keeps_pipeline_order_and_reports_a_broken_file(tmp_path):
    directory = tmp_path / "_quality" / "run-1"
    directory.mkdir(parents=True)
    (directory / "ner.entities.rows.json").write_text(json.dumps(GOOD_RESULT))
    (directory / "extract.pages.rows.json").write_text("{not json")
    results = load_quality_results(tmp_path, "run-1")
    assert [(r.stage, r.table) for r in results] == [("extract", "pages"), ("ner", "entities")]
    assert results[0].error and "JSONDecodeError" in results[0].error and not results[0].success
    assert results[1].error is None and results[1].success
    assert load_quality_results(tmp_path, "no-such-run") == []


def test_quality_run_is_the_latest_run_that_validated_something(tmp_path):
    checked = _run_rows("checked", T0, ner={"dq_success": False})
    idle = _run_rows("idle", T0 + dt.timedelta(hours=1))
    runs = group_runs(_as_read(RUNS, checked + idle))
    assert quality_run(runs).run_id == "checked"
    (tmp_path / "_quality" / "idle").mkdir(parents=True)
    assert quality_run(runs, tmp_path).run_id == "idle"
    assert quality_run(group_runs(_as_read(RUNS, idle))) is None


def test_trend_series_has_one_value_per_run_and_gaps_where_a_figure_is_missing():
    first = _run_rows(
        "r1",
        T0,
        extract={"pages_per_s": 2.0, "ocr_page_share": 0.25},
        ner={
            "entities_per_document": 7.5,
            "mean_score": 0.9,
            "dq_failed": {"entities.a": 3, "entities.b": 1},
            "rows_quarantined": {"entities": 4},
        },
    )
    second = _run_rows(
        "r2", T0 + dt.timedelta(hours=1), extract={"documents_in": 0}, ner={"documents_by_status": {"ok": 5}}
    )
    series = trend_series(group_runs(_as_read(RUNS, first + second)))
    assert series["documents_in"] == {"ingest": [4.0, 4.0], "extract": [4.0, 0.0], "ner": [4.0, 4.0]}
    assert series["documents_by_status"] == {"ok": [3.0, 5.0], "failed": [1.0, 0.0]}
    assert series["ocr_page_share"] == {"extract": [25.0, None]}
    assert series["pages_per_s"] == {"extract": [2.0, None]}
    assert series["entities_per_document"] == {"ner": [7.5, None]}
    assert series["mean_score"] == {"ner": [0.9, None]}
    assert series["seconds"]["ner"] == [20.0, 20.0]
    assert series["dq"] == {"failing checks": [2.0, 0.0], "rows quarantined": [4.0, 0.0]}


def test_stage_figures_of_the_trends_and_the_runs_table_come_from_the_stage_registry():
    charted = {chart.key: chart for chart in TREND_CHARTS}
    for stage in STAGES:
        for figure in stage.figures:
            if figure.trend is not None:
                assert charted[figure.name].title == f"{figure.trend.title} ({stage.name})"
                assert charted[figure.name].unit == figure.trend.unit
            else:
                assert figure.name not in charted
    assert [(item.stage, item.figure.column) for item in COLUMN_FIGURES] == [
        ("extract", "pages"),
        ("ner", "entities"),
        ("ner", "mean score"),
    ]


def test_throughput_rows_compute_rates_per_stage():
    rows = _run_rows("r1", T0, extract={"pages": 30, "pages_per_s": 3.0}, ner={"entities": 100, "documents_in": 0})
    (run,) = group_runs(_as_read(RUNS, rows))
    by_stage = {row["stage"]: row for row in throughput_rows(run)}
    assert by_stage["ingest"]["documents_per_s"] == 2.0
    assert by_stage["extract"]["pages"] == 30 and by_stage["extract"]["pages_per_s"] == 3.0
    assert by_stage["ner"]["entities_per_s"] == 5.0 and by_stage["ner"]["documents_per_s"] is None


def test_run_labels_are_short_and_unique():
    runs = group_runs(_as_read(RUNS, _run_rows("a", T0) + _run_rows("b", T0 + dt.timedelta(seconds=5))))
    assert run_labels(runs) == ["11-23 10:00:00", "11-23 10:00:05"]
    assert run_labels(runs[:1]) == ["11-23 10:00"]


def test_field_coverage_counts_the_contracts_with_each_field():
    contracts = pa.table(
        {
            "missing_fields": [["term", "party"], ["term"], list(FIELD_NAMES)],
            "run_id": ["r2", "r1", "r2"],
        }
    )
    coverage = {c.key: (c.latest, c.earlier) for c in field_coverage(contracts, "r2")}
    assert list(coverage) == list(FIELD_NAMES)
    assert coverage["term"] == (0, 0) and coverage["party"] == (0, 1) and coverage["governing_law"] == (1, 1)


def test_report_file_names_are_safe_for_any_run_id(tmp_path):
    assert safe_file_part("20261123T101500Z-1a2b3c4d") == "20261123T101500Z-1a2b3c4d"
    assert safe_file_part("scheduled__2026-11-23T10:00:00+00:00") == "scheduled__2026-11-23T10_00_00_00_00"
    assert safe_file_part("../..") == "run"
    assert default_report_path(tmp_path, None) == tmp_path.absolute() / REPORTS_DIR / "report-no-runs.html"


# --- the page ---------------------------------------------------------------------------------


def test_report_of_a_lake_shows_the_latest_run_quality_and_trends(tmp_path):
    lake = tmp_path / "lake"
    run_ids = _tiny_lake(lake)
    latest = run_ids[-1]  # an Airflow-style id that sorts before the others
    assert max(run_ids) != latest
    path = write_report(lake)
    assert path == default_report_path(lake, latest)
    page = path.read_text()
    assert (lake / REPORTS_DIR / LATEST_NAME).read_text() == page
    assert f"Latest run <code>{latest}</code>" in page
    for heading in (
        "Documents by status",
        "Throughput of the latest run",
        "Data quality",
        "Trends over the last 3 runs",
    ):
        assert heading in page
    # Data quality of the latest run: its failing checks and quarantined rows.
    assert "text_equals_slice (expect_column_pair_values_to_be_equal): 2 of 120 rows" in page
    text = html.unescape(page)  # entities as the browser reads them (the escaper picks &#39; or &#x27;)
    assert "raised no column 'label'" in text and "raised no column 'label'" not in page
    assert "entities / text_equals_slice" in page and '<span class="bad">FAILED</span>' in page
    # Text from the data is escaped.
    assert NASTY not in page and NASTY in text
    images = _images(page)
    # 4 latest-run charts, seconds per stage, 8 trends.
    assert len(images) == 13
    for image in images:
        assert image.format == "PNG"
        _assert_not_blank(image)
    data = gather_report(lake)
    assert data.documents == [SplitCount("ok", 1, 1), SplitCount(NASTY, 0, 1), SplitCount("failed", 0, 1)]
    assert data.pages == [SplitCount("ocr", 1, 1), SplitCount("none", 0, 1), SplitCount("text", 1, 0)]
    assert data.routes[0] == SplitCount("no_text_layer", 1, 1)
    assert data.entities[0] == SplitCount("ORG", 2, 1)
    assert data.scores is not None and data.scores.missing == 3
    assert data.quality_run is not None and data.quality_run.run_id == latest
    # The entities chart holds bars in both colours.
    entities_png = next(
        img
        for img, alt in zip(images, re.findall(r'alt="([^"]*)"', page), strict=True)
        if alt.startswith("Entities by label")
    )
    pixels = np.asarray(entities_png.convert("RGB"))
    assert _colour_pixels(pixels, LATEST_COLOUR) > 200 and _colour_pixels(pixels, EARLIER_COLOUR) > 200


def test_report_is_the_same_for_the_same_lake_apart_from_its_time(tmp_path):
    lake = tmp_path / "lake"
    _tiny_lake(lake)
    first = render_html(gather_report(lake), FIXED)
    assert render_html(gather_report(lake), FIXED) == first
    later = render_html(gather_report(lake), FIXED + dt.timedelta(hours=1))
    assert later != first and later.replace("09:00:00 UTC", "08:00:00 UTC") == first


def test_trends_cover_the_last_max_runs(tmp_path):
    lake = tmp_path / "lake"
    run_ids = _tiny_lake(lake, runs=7)
    out = tmp_path / "out" / "report.html"
    assert write_report(lake, out, max_runs=4) == out.absolute()
    page = out.read_text()
    assert "Trends over the last 4 runs" in page and "7 (trends over the last 4)" in page
    runs_table = page.split("<h3>Runs</h3>", 1)[1].split("</table>", 1)[0]
    assert [r for r in run_ids if r in runs_table] == run_ids[-4:]
    assert not (lake / REPORTS_DIR).exists()  # an explicit out writes that file only
    with pytest.raises(ValueError, match="max_runs"):
        write_report(lake, out, max_runs=-1)


def test_report_of_a_lake_without_ner_says_so(tmp_path):
    lake = tmp_path / "lake"
    _tiny_lake(lake, with_ner=False, runs=2)
    page = write_report(lake).read_text()
    assert "No entities in the lake" in page
    assert "Entities per document (ner): no run recorded this figure." in page
    assert "Pages by extraction method" in page
    _images(page)


def test_report_of_an_empty_lake_says_there_are_no_runs(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    path = write_report(lake)
    assert path.name == "report-no-runs.html" and (path.parent / LATEST_NAME).is_file()
    page = path.read_text()
    assert "No runs yet" in page and "No Delta tables in the lake" in page
    assert _images(page) == []
    # A lake whose tables exist but hold nothing yet.
    write_arrow(arrow_rows(RUNS, []), lake, RUNS)
    page = write_report(lake).read_text()
    assert "No runs yet" in page and "<td>runs</td>" in page


def test_report_of_a_missing_lake_is_an_error(tmp_path):
    with pytest.raises(LakeError, match="does not exist"):
        write_report(tmp_path / "nowhere")


@pytest.mark.slow
def test_tiny_lake_report_renders_in_chromium(tmp_path):
    lake = tmp_path / "lake"
    _tiny_lake(lake)
    image = _screenshot(write_report(lake), tmp_path / "shot.png", tmp_path)
    _check_screenshot(image)


# --- end to end ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_lake(pipeline_run, test_config, sample_dir, tmp_path_factory) -> tuple[Path, list[str]]:
    """A copy of the samples lake (the shared pipeline run, and whatever runs the end-to-end
    tests added), then one more run with nothing left to do: (lake, [the last run that
    validated rows, the no-op run])."""
    from jobs.pipeline import run_pipeline
    from jobs.stages.base import StageContext, new_run_id

    lake = tmp_path_factory.mktemp("report") / "lake"
    shutil.copytree(pipeline_run[0], lake)
    checked = [r for r in read_arrow(lake, "runs").to_pylist() if r["dq_success"] is not None]
    validated = max(checked, key=lambda r: r["started_at"])["run_id"]

    def no_spark():
        raise AssertionError("a run with nothing to do must not start Spark")

    ctx = StageContext(spark=no_spark, config=test_config, lake=lake, run_id=new_run_id())
    run_pipeline(ctx, str(sample_dir))
    return lake, [validated, ctx.run_id]


@pytest.mark.slow
def test_report_of_the_samples_lake_renders_in_chromium(sample_lake, tmp_path):
    lake, (first, second) = sample_lake
    path = write_report(lake)
    assert path == default_report_path(lake, second)
    page = path.read_text()
    assert f"Latest run <code>{second}</code>" in page
    for heading in (
        "Documents by status",
        "Pages by extraction method",
        "Entities by label",
        "Entity scores by source",
        "Throughput of the latest run",
        "Data quality",
        "Trends over the last",
        "Tables",
    ):
        assert heading in page, heading
    # The second run had nothing to do: the quality section shows the first run's results.
    assert f"the latest run that did, <code>{first}</code>" in page
    validated = {
        r["stage"] for r in read_arrow(lake, "runs").to_pylist() if r["run_id"] == first and r["dq_success"] is not None
    }
    assert validated
    checked = {"extract": "pages", "ner": "entities", "fields": "contract_fields"}
    for stage in validated:  # the tables that run checked
        assert f"<td>{checked[stage]}</td><td>rows</td>" in page
    images = _images(page)
    assert len(images) >= 10
    for image in images:
        _assert_not_blank(image)
    shot = tmp_path / "report.png"
    image = _screenshot(path, shot, tmp_path)
    _check_screenshot(image)
