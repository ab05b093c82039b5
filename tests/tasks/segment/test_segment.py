"""Semantic segmentation end to end on synthetic shapes: train a few minutes, reach mIoU >= 0.85, agree with
torchmetrics, write the report, and predict overlays, cut-outs and JSON areas for an empty, a grey and a 4000x3000
image and a video."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import foveal
from foveal.data.segmentation.dataset import shapes_semantic
from foveal.tasks.segment.predict import SegmentPredictor

RECIPE = dict(pretrained=True, epochs=5, lr=2e-3, seed=0, progress=False)  # AdamW, cosine (the segment defaults)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    project = tmp_path_factory.mktemp("segment")
    m = foveal.Model(task="segment")  # U-Net on the ImageNet efficientnet_lite0
    metrics = m.train(data="shapes", project=str(project), name="shapes", **RECIPE)
    return m, metrics


def test_unet_learns_shapes_and_agrees_with_torchmetrics(trained):
    from torchmetrics.classification import MulticlassJaccardIndex

    m, metrics = trained
    assert metrics["miou"] >= 0.85, metrics["miou"]
    assert set(metrics["per_class_iou"]) == {"background", "circle", "square", "triangle"}
    for f in ("confusion_matrix.png", "val_predictions.png", "per_class_iou.json", "results.csv", "metrics.json"):
        assert (m.run_dir / f).is_file(), f
    val = shapes_semantic(seed=0).val
    maps = SegmentPredictor.from_checkpoint(m.checkpoint).segment(val.images)
    pred = torch.stack([torch.from_numpy(s.class_map) for s in maps])
    reference = MulticlassJaccardIndex(4, average="macro")(pred, torch.stack(val.masks).long())
    assert float(reference) == pytest.approx(metrics["miou"], abs=1e-4)


def test_val_reproduces_the_training_metrics(trained, tmp_path, capsys):
    from foveal.cli import main

    m, metrics = trained
    code = main(["val", "--model", str(m.checkpoint), "--project", str(tmp_path), "--format", "json"])
    again = json.loads(capsys.readouterr().out)
    assert code == 0 and again["miou"] == pytest.approx(metrics["miou"], abs=1e-9) and again["task"] == "segment"


def test_predict_empty_grey_and_huge_images(trained, tmp_path, capsys, check_saved_outputs):
    from foveal.cli import main

    m, _ = trained
    rng = np.random.default_rng(0)
    Image.fromarray(np.clip(rng.normal(120, 6, (96, 96, 3)), 0, 255).astype(np.uint8)).save(tmp_path / "empty.png")
    Image.new("L", (200, 150), 128).save(tmp_path / "grey.png")
    scene = shapes_semantic(n_train=1, n_val=1, seed=5).val
    Image.fromarray(scene.images[0].permute(1, 2, 0).numpy()).resize((4000, 3000), Image.NEAREST).save(tmp_path / "huge.jpg")
    truth = np.asarray(Image.fromarray(scene.masks[0].numpy()).resize((4000, 3000), Image.NEAREST))
    code = main(["predict", "--model", str(m.checkpoint), str(tmp_path), "--format", "json", "--save",
                 "--cutout", "circle", "--pixel-size", "0.5", "--project", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert code == 0
    results = {r["source"].rsplit("/", 1)[-1]: r for r in json.loads(out[:out.rindex("]") + 1])}
    assert set(results) == {"empty.png", "grey.png", "huge.jpg"}
    top = results["empty.png"]["classes"][0]  # the shapes' noisy background alone: background almost everywhere
    assert top["class"] == "background" and top["fraction"] > 0.95, results["empty.png"]
    grey = results["grey.png"]  # a flat grey is unlike any training scene: it predicts, whatever it says
    assert grey["image_size"] == [150, 200] and sum(c["pixels"] for c in grey["classes"]) == 150 * 200
    huge = results["huge.jpg"]
    assert huge["image_size"] == [3000, 4000]
    from pycocotools import mask as mask_utils

    for c in huge["classes"]:
        decoded = mask_utils.decode({"size": c["rle"]["size"], "counts": c["rle"]["counts"].encode()})
        assert decoded.shape == (3000, 4000) and decoded.sum() == c["pixels"]
        assert c["area_mm2"] == pytest.approx(c["pixels"] * 0.25)
        if c["class"] != "background":  # the big photo's classes sit where the small scene's truth put them
            iou = (decoded & (truth == c["class_id"])).sum() / (decoded | (truth == c["class_id"])).sum()
            assert iou > 0.7, (c["class"], iou)
    folder = tmp_path / "runs" / "predict"
    circle = next((c for c in huge["classes"] if c["class"] == "circle"), None)
    check_saved_outputs(folder, circle["pixels"] if circle else 0)


def test_predict_video_and_python_api(trained, tmp_path, predict_clip):
    m, _ = trained
    out, frames, fps = predict_clip(m.checkpoint, shapes_semantic(n_train=1, n_val=5, seed=9).val.images)
    assert "clip.mp4: 5 frames" in out and frames == 5 and fps == 4
    segs = foveal.Model(m.checkpoint).predict(tmp_path / "clip.mp4")
    assert [s.frame for s in segs] == list(range(5)) and segs[0].class_map.shape == (96, 96)
