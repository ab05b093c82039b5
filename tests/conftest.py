"""Shared fixtures: the real data sets from ../shared (unpacked by its prepare script), small image trees."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PREPARE = REPO.parent / "shared" / "datasets" / "prepare"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder the shared real data sets are unpacked into (fashion-mnist/, mnist/, cifar10-jpg/, coco128/)."""
    if "FOVEAL_TEST_DATA" in os.environ and (Path(os.environ["FOVEAL_TEST_DATA"]) / "fashion-mnist").is_dir():
        return Path(os.environ["FOVEAL_TEST_DATA"])
    if not PREPARE.exists():
        pytest.fail(f"the shared data sets are missing: expected {PREPARE} (run from a checkout beside shared/)")
    out = subprocess.run(["bash", str(PREPARE)], check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return Path(out)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep caches and downloads of the tests out of the user's home."""
    monkeypatch.setenv("FOVEAL_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("FOVEAL_DATA", str(tmp_path_factory.getbasetemp() / "datasets"))


@pytest.fixture
def pycocotools_from_files(tmp_path):
    """COCOeval's 12 summary numbers for (predictions, truths), read back from COCO JSON files written the documented
    way: the independent route to check foveal's in-memory metrics against."""
    import contextlib
    import io
    import json

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from foveal.metrics.detection import coco_documents

    def stats(preds, truths):
        gt_doc, results = coco_documents(preds, truths)
        (tmp_path / "gt.json").write_text(json.dumps(gt_doc))
        (tmp_path / "dt.json").write_text(json.dumps(results))
        with contextlib.redirect_stdout(io.StringIO()):
            gt = COCO(str(tmp_path / "gt.json"))
            ev = COCOeval(gt, gt.loadRes(str(tmp_path / "dt.json")), "bbox")
            ev.evaluate(), ev.accumulate(), ev.summarize()
        return ev.stats

    return stats


@pytest.fixture
def predict_clip(tmp_path, capsys):
    """Write `frames` as a video, run `foveal predict --save` on it; returns (the text printed, the drawn video's
    frame count, its frame rate). The drawn video lands in tmp_path/runs/predict/."""
    from foveal.cli import main
    from foveal.infer.video import VideoReader, VideoWriter

    def run(checkpoint, frames, fps: int = 4):
        with VideoWriter(tmp_path / "clip.mp4", fps=fps) as w:
            for f in frames:
                w.write(f)
        code = main(["predict", "--model", str(checkpoint), str(tmp_path / "clip.mp4"), "--save",
                     "--project", str(tmp_path / "runs")])
        assert code == 0
        with VideoReader(tmp_path / "runs" / "predict" / "clip.mp4") as r:
            return capsys.readouterr().out, len(list(r)), r.fps

    return run


@pytest.fixture
def check_saved_outputs():
    """What `foveal predict --save --cutout circle` on empty.png, grey.png and huge.jpg must leave in `folder`: an
    overlay per image, and huge's cut-out (4000x3000 RGBA) opaque exactly on its `circle_pixels`."""
    import numpy as np
    from PIL import Image

    def check(folder, circle_pixels: int) -> None:
        assert {p.name for p in folder.glob("*.png") if "_circle" not in p.name} == {"empty.png", "grey.png", "huge.png"}
        cut = Image.open(folder / "huge_circle.png")
        assert cut.mode == "RGBA" and cut.size == (4000, 3000)
        assert (np.asarray(cut)[..., 3] > 0).sum() == circle_pixels

    return check


TINY_SHAPES = dict(n_train=8, n_val=4)  # a few scenes: the runs' files, not good figures


@pytest.fixture
def tiny_shapes(monkeypatch):
    """Every `shapes` load in the test (training, val) gets the few scenes of TINY_SHAPES."""
    import functools

    import foveal.data.detection.dataset as detection
    import foveal.data.segmentation.dataset as segmentation

    monkeypatch.setattr(detection, "shapes_detection", functools.partial(detection.shapes_detection, **TINY_SHAPES))
    monkeypatch.setattr(segmentation, "shapes_semantic", functools.partial(segmentation.shapes_semantic, **TINY_SHAPES))


def train_tiny(project: Path, models: tuple[tuple[str, str], ...]) -> dict[str, Path]:
    """Two-epoch runs of (model, task) pairs on a few `shapes` scenes, a few seconds each: {model: its run folder}."""
    import functools

    import foveal
    import foveal.data.detection.dataset as detection
    import foveal.data.segmentation.dataset as segmentation

    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(detection, "shapes_detection", functools.partial(detection.shapes_detection, **TINY_SHAPES))
        mp.setattr(segmentation, "shapes_semantic", functools.partial(segmentation.shapes_semantic, **TINY_SHAPES))
        for model, task in models:
            m = foveal.Model(model, task=task)
            m.train(data="shapes", epochs=2, batch_size=4, pretrained=True, seed=0, project=str(project), name=model,
                    progress=False)
            runs[model] = m.run_dir
    return runs


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """A detector (fcos) and the default segmenter (lraspp) of `train_tiny`: {"detect": its run folder, "segment": its
    run folder}."""
    runs = train_tiny(tmp_path_factory.mktemp("tiny"), (("fcos", "detect"), ("lraspp", "segment")))
    return {"detect": runs["fcos"], "segment": runs["lraspp"]}


@pytest.fixture(scope="session")
def tiny_two_stage_runs(tmp_path_factory):
    """Faster R-CNN and Mask R-CNN of `train_tiny`: {"fasterrcnn": its run folder, "maskrcnn": its run folder}."""
    return train_tiny(tmp_path_factory.mktemp("tiny_two_stage"), (("fasterrcnn", "detect"), ("maskrcnn", "segment")))


@pytest.fixture
def panels_with_lines():
    """Whether each of a curves.png's side-by-side panels (5 inches wide each) has a line drawn in it in matplotlib's
    first colour; an empty panel ("no data") has none."""
    import numpy as np
    from PIL import Image

    from foveal.viz.plots import DPI

    line = np.array([0x1F, 0x77, 0xB4])

    def check(path, panels: int) -> list[bool]:
        pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
        assert pixels.shape[1] == panels * 5 * DPI, pixels.shape
        hit = (np.abs(pixels - line).max(-1) < 30).any(0)
        return [bool(part.any()) for part in np.array_split(hit, panels)]

    return check
