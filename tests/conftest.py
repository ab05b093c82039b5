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
