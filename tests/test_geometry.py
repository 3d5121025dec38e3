"""Geometry helpers: ruling detection, OCR box mapping, entity boxes from word boxes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from udfs.extract.ocr import _long_runs, _PageFrame


@settings(max_examples=200, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 6), st.integers(1, 30))), st.integers(2, 9), st.sampled_from([0, 1]))
def test_long_runs_match_brute_force(dark, length, axis):
    got = _long_runs(dark, length, axis)
    expected = np.zeros_like(dark)
    lines = dark if axis == 1 else dark.T
    marks = expected if axis == 1 else expected.T
    for row in range(lines.shape[0]):
        for start in range(lines.shape[1] - length + 1):
            if lines[row, start : start + length].all():
                marks[row, start : start + length] = True
    assert (got == expected).all()


def _dot_position(image: Image.Image) -> tuple[float, float]:
    ys, xs = np.nonzero(np.asarray(image) < 128)
    return float(xs.mean()), float(ys.mean())


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize("skew", [0.0, 2.5, -4.0])
def test_ocr_boxes_map_back_to_the_original_page(rotation, skew):
    width, height, dpi = 300, 200, 72  # 72 dpi: pixels are points
    original = Image.new("L", (width, height), 255)
    original.paste(0, (60, 40, 66, 46))  # a 6x6 dot centred at (63, 43)
    processed = original.rotate(-rotation, expand=True) if rotation else original
    if skew:
        processed = processed.rotate(skew, resample=Image.Resampling.BILINEAR, fillcolor=255)
    x, y = _dot_position(processed)
    box = _PageFrame(width, height, dpi, rotation, skew).to_page(x - 3, y - 3, x + 3, y + 3)
    assert abs((box.x0 + box.x1) / 2 - 63) < 1.5
    assert abs((box.top + box.bottom) / 2 - 43) < 1.5


def _column_boxes(left_words: int, right_words: int, right_width: float) -> list:
    from udfs.extract.layout import Box

    boxes = []
    for line in range(30):
        top = 72 + line * 14
        boxes += [Box(72 + 40 * i, top, 72 + 40 * i + 35, top + 10) for i in range(left_words)]
        boxes += [Box(330 + 45 * i, top, 330 + 45 * i + right_width, top + 10) for i in range(right_words)]
    return boxes


def test_two_balanced_columns_have_a_gutter():
    from udfs.extract.layout import find_gutter

    gutter = find_gutter(_column_boxes(5, 5, 40), 612)
    assert gutter is not None and 272 < gutter < 330


def test_a_table_of_contents_is_not_two_columns():
    from udfs.extract.layout import find_gutter

    # titles on the left, a short page number on the right of every line
    assert find_gutter(_column_boxes(6, 1, 12), 612) is None


def test_a_single_column_has_no_gutter():
    from udfs.extract.layout import find_gutter

    assert find_gutter(_column_boxes(12, 0, 0), 612) is None
