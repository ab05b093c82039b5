"""Models for the server's tests: a digits classifier (checkpoint and ONNX file), and the tiny shapes detector and
segmenter of the suite's `tiny_runs`; images to send."""

from pathlib import Path

import pytest
from PIL import Image

import foveal
import foveal.data


@pytest.fixture(scope="session")
def served_runs(tmp_path_factory, tiny_runs) -> dict[str, Path]:
    """{"digits": a lenet run folder, "digits_onnx": its ONNX file, "detect", "segment": tiny_runs'} under one
    runs folder (the classifier's) for the runs browser."""
    project = tmp_path_factory.mktemp("served")
    m = foveal.Model("lenet")
    m.train(data="digits", epochs=3, momentum=0.9, schedule="cosine", seed=0, project=str(project), name="digits",
            progress=False)
    m.train(data="digits", epochs=1, seed=1, project=str(project), name="digits_short", progress=False)
    onnx = foveal.Model(project / "digits" / "best.pt").export(format="onnx", check=False).path
    return {"root": project, "digits": project / "digits", "digits_onnx": Path(onnx), **tiny_runs}


@pytest.fixture(scope="session")
def digit_files(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("digit_files")
    data = foveal.data.load_data("digits")
    paths = []
    for i in range(6):
        Image.fromarray(data.val.images[i, 0].numpy()).resize((32, 32)).save(folder / f"digit{i}.png")
        paths.append(folder / f"digit{i}.png")
    return paths


@pytest.fixture(scope="session")
def scene_files(tmp_path_factory) -> list[Path]:
    """Two `shapes` validation scenes as JPEG files."""
    from foveal.data.shapes import generate_shapes

    folder = tmp_path_factory.mktemp("scenes")
    paths = []
    for i, image in enumerate(generate_shapes(2, size=160, seed=100, min_objects=2, max_objects=4).images):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"scene{i}.jpg", quality=95)
        paths.append(folder / f"scene{i}.jpg")
    return paths
