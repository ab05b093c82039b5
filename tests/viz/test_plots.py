from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from foveal.viz.plots import (
    CORRECT,
    DPI,
    WRONG,
    format_value,
    image_grid,
    normalize_rows,
    plot_compare,
    plot_confusion,
    plot_curves,
)


def _png(path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


def _has_colour(pixels: np.ndarray, hex_colour: str, tol: int = 30) -> bool:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return bool((np.abs(pixels.astype(int) - rgb).max(-1) < tol).any())


HISTORY = [
    {"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "train_accuracy": 0.5, "val_accuracy": 0.45},
    {"epoch": 2, "train_loss": 0.7, "val_loss": None, "train_accuracy": 0.7},
    {"epoch": 3, "train_loss": 0.5, "val_loss": 0.8, "train_accuracy": 0.8, "val_accuracy": 0.7},
]


def test_plot_curves_writes_png_into_new_folders(tmp_path):
    path = plot_curves(HISTORY, tmp_path / "a" / "b" / "curves.png")
    pixels = _png(path)
    assert pixels.shape[1] == pytest.approx(10 * DPI, abs=2) and pixels.shape[0] == pytest.approx(4 * DPI, abs=2)
    assert pixels.std() > 10  # something was drawn


@pytest.mark.parametrize("history", [[], [{"epoch": 1, "train_loss": 0.3}], [{"train_accuracy": None}]])
def test_plot_curves_partial_histories(tmp_path, history):
    assert _png(plot_curves(history, tmp_path / "c.png")).size > 0


def test_normalize_rows():
    m = np.array([[3, 1, 0], [0, 0, 0], [2, 2, 4]])
    out = normalize_rows(m)
    np.testing.assert_allclose(out, [[0.75, 0.25, 0], [0, 0, 0], [0.25, 0.25, 0.5]])
    np.testing.assert_allclose(out.sum(1), [1, 0, 1])
    assert m.dtype.kind == "i"  # input untouched


@pytest.mark.parametrize("n, normalize", [(3, False), (3, True), (40, False)])
def test_plot_confusion(tmp_path, n, normalize):
    rng = np.random.default_rng(0)
    matrix = rng.integers(0, 10, (n, n)) + np.diag(np.full(n, 50))
    pixels = _png(plot_confusion(matrix, [f"class {i}" for i in range(n)], tmp_path / "cm.png", normalize=normalize))
    assert min(pixels.shape[:2]) > 400
    assert pixels.shape[0] < 20 * DPI


def test_plot_confusion_checks_shape(tmp_path):
    with pytest.raises(ValueError, match="3, 3"):
        plot_confusion(np.zeros((2, 2)), ["a", "b", "c"], tmp_path / "cm.png")


def test_image_grid_rgb_with_wrong_and_right_titles(tmp_path):
    images = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    wrong = [i % 3 == 0 for i in range(10)]
    pixels = _png(image_grid(images, [f"img {i}" for i in range(10)], tmp_path / "grid.png", wrong=wrong, ncols=4))
    assert pixels.shape[1] > pixels.shape[0]  # 4 columns, 3 rows of square cells plus titles
    assert _has_colour(pixels, WRONG) and _has_colour(pixels, CORRECT)


def test_image_grid_grey_tiny_images_plain_titles(tmp_path):
    images = torch.zeros((3, 1, 8, 8), dtype=torch.uint8)
    images[:, :, ::2, ::2] = 255  # a checkerboard: nearest interpolation keeps pure black and white blocks
    pixels = _png(image_grid(images, ["a", "b", "c"], tmp_path / "grey.png"))
    assert not _has_colour(pixels, WRONG) and not _has_colour(pixels, CORRECT)
    assert pixels.shape[1] > 2 * pixels.shape[0]  # one row of three
    grey = pixels[(pixels.max(-1) > 40) & (pixels.max(-1) < 215)]
    assert len(grey) < 0.05 * pixels.shape[0] * pixels.shape[1]  # no smeared in-between greys


def test_image_grid_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError):
        image_grid(torch.zeros((2, 3, 8, 8)), ["a", "b"], tmp_path / "x.png")  # float
    with pytest.raises(ValueError):
        image_grid(torch.zeros((2, 3, 8, 8), dtype=torch.uint8), ["a"], tmp_path / "x.png")


def test_plot_compare_one_panel_per_metric(tmp_path):
    rows = [
        {"name": "resnet18", "accuracy": 0.93, "train_time_s": 123.4},
        {"name": "tiny", "accuracy": 0.87, "train_time_s": 12.3},
        {"name": "no time", "accuracy": 0.5},
    ]
    two = _png(plot_compare(rows, tmp_path / "two.png"))
    three = _png(plot_compare(rows, tmp_path / "three.png", metrics=("accuracy", "train_time_s", "params")))
    assert three.shape[1] > 1.3 * two.shape[1]


@pytest.mark.parametrize(
    "value, text", [(0.93123, "0.931"), (12.34, "12.3"), (45.0, "45.0"), (123.4, "123"), (1234.5, "1,234"), (7, "7"), (0, "0")]
)
def test_format_value(value, text):
    assert format_value(value) == text


def test_no_figures_left_open(tmp_path):
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    plot_curves(HISTORY, tmp_path / "c.png")
    plot_confusion(np.eye(2), ["a", "b"], tmp_path / "m.png")
    assert len(plt.get_fignums()) == before
    assert matplotlib.get_backend()  # importing foveal.viz did not break the backend


def test_plot_curves_draws_the_panels_asked_for(tmp_path, panels_with_lines):
    history = [{"epoch": e, "train_loss": 1 / e, "val_map": 0.1 * e, "train_box": 0.5 / e} for e in (1, 2, 3)]
    path = plot_curves(history, tmp_path / "c.png", {"loss": ["train_loss"], "mAP": ["val_map"], "parts": ["train_box"]})
    assert panels_with_lines(path, 3) == [True, True, True]
    assert panels_with_lines(plot_curves(history, tmp_path / "d.png"), 2) == [True, False]  # no accuracy: empty
