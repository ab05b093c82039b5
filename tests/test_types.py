"""The result types people hold in a notebook: JSON, a picture on their image, saving, and their notebook view."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from foveal.errors import FovealError
from foveal.types import Classification, Detections, Segmentation


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(path)
    return str(path)


def results(source):
    classes = ("cat", "dog", "bird")
    mask = np.zeros((60, 80), dtype=np.int64)
    mask[10:30, 20:50] = 2
    return [
        Classification(np.array([0.1, 0.7, 0.2]), classes, source),
        Detections(np.array([[5, 5, 40, 30], [30, 20, 70, 55]]), np.array([0.9, 0.6]), np.array([0, 2]), classes,
                   (60, 80), source=source),
        Segmentation(mask, classes, source),
    ]


@pytest.mark.parametrize("kind", [0, 1, 2])
def test_json_plot_save_and_notebook_view(kind, photo, tmp_path):
    result = results(photo)[kind]
    assert json.loads(result.to_json()) == json.loads(json.dumps(result.to_dict()))
    drawn = result.plot()
    assert isinstance(drawn, Image.Image) and drawn.width >= 80
    assert np.asarray(drawn).std() > 0
    # the same picture from the image given as a PIL image or an array, as from the file
    same = result.plot(Image.open(photo))
    assert np.array_equal(np.asarray(same), np.asarray(drawn))
    assert np.array_equal(np.asarray(result.plot(np.asarray(Image.open(photo)))), np.asarray(drawn))
    assert json.loads(result.save(tmp_path / "r.json").read_text()) == json.loads(result.to_json())
    assert Image.open(result.save(tmp_path / "r.png")).size == drawn.size
    png = result._repr_png_()
    assert png is not None and Image.open(io.BytesIO(png)).size == drawn.size


def test_without_its_image_a_result_is_text_in_a_notebook_and_plot_says_why():
    result = results("gone.jpg")[1]
    assert result._repr_png_() is None
    with pytest.raises(FovealError, match="not an image file here"):
        result.plot()


def test_an_image_of_another_size_is_refused(tmp_path):
    Image.new("RGB", (10, 10)).save(tmp_path / "small.png")
    with pytest.raises(FovealError, match="prediction was made on one of 80x60"):
        results("")[2].plot(str(tmp_path / "small.png"))


def test_detections_rescaled_to_the_same_picture_at_another_resolution():
    det = results("")[1]
    big = det.rescaled((600, 800))
    assert big.image_size == (600, 800) and np.allclose(big.xyxy, det.xyxy * 10) and big.class_id.tolist() == [0, 2]
    assert det.rescaled(det.image_size) is det
