"""Detection end to end on synthetic shapes: train a few minutes, reach mAP@.5 >= 0.9, agree with pycocotools,
write the report, and predict on an empty image, a grey image and a 4000x3000 photo."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch
from PIL import Image

import foveal
import foveal.data.detection.dataset as dataset
from foveal.data.detection.dataset import shapes_detection
from foveal.engine.checkpoint import load_model
from foveal.tasks.detect.predict import DetectPredictor
from foveal.metrics.detection import COCO_KEYS
from foveal.models.detection import EVAL_CONF, NMS_IOU
from foveal.tasks.detect.task import DetectTask
from foveal.types import Detections

RECIPE = dict(pretrained=True, batch_size=4, epochs=6, seed=0, progress=False)  # the detect defaults: SGD 0.01, warm-up, cosine
# fewer scenes than a user's `shapes` (600 / 150), at batch 4 so the step count holds: on a 2-core EPYC without AVX-512
# the full sets made this fixture 296 s of a 33-minute suite (docs/benchmarks.md, "The test suite")
SHAPES = dict(n_train=240, n_val=40)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    project = tmp_path_factory.mktemp("detect")
    m = foveal.Model(task="detect")  # fcos on the ImageNet efficientnet_lite0
    with pytest.MonkeyPatch.context() as mp:  # every `shapes` load in this module, the CLI's `val` included
        mp.setattr(dataset, "shapes_detection", functools.partial(shapes_detection, **SHAPES))
        metrics = m.train(data="shapes", project=str(project), name="shapes", **RECIPE)
        yield m, metrics


def test_detector_learns_shapes(trained):
    m, metrics = trained
    assert metrics["map50"] >= 0.9
    assert set(COCO_KEYS) <= set(metrics) and set(metrics["per_class_ap"]) == {"circle", "square", "triangle"}
    for f in ("pr_curve.png", "confusion_matrix.png", "val_predictions.png", "results.csv", "metrics.json"):
        assert (m.run_dir / f).is_file(), f
    header = (m.run_dir / "results.csv").read_text().splitlines()[0]
    assert "train_classification" in header and "train_bbox_regression" in header  # loss components logged apart


def test_val_reproduces_the_training_metrics(trained, tmp_path, capsys):
    from foveal.cli import main

    m, metrics = trained
    code = main(["val", "--model", str(m.checkpoint), "--project", str(tmp_path), "--format", "json"])
    again = json.loads(capsys.readouterr().out)
    assert code == 0 and again["map"] == pytest.approx(metrics["map"], abs=1e-9) and again["task"] == "detect"
    assert (tmp_path / "val" / "pr_curve.png").is_file()


def test_reloaded_checkpoint_reproduces_map_with_pycocotools_files(trained, pycocotools_from_files):
    m, metrics = trained
    model, card, _ = load_model(m.checkpoint)
    val = shapes_detection(seed=0, **SHAPES).val
    truths = [Detections(b.numpy(), np.ones(len(b)), lab.numpy(), card.classes, tuple(im.shape[-2:]))
              for im, b, lab in zip(val.images, val.boxes, val.labels)]
    preds = DetectPredictor(model, card).detect(val.images, conf=EVAL_CONF, iou=NMS_IOU)
    reference = pycocotools_from_files(preds, truths)
    assert reference[0] == pytest.approx(metrics["map"], abs=1e-4)
    assert reference[1] == pytest.approx(metrics["map50"], abs=1e-4)


def test_predict_empty_grey_and_huge_images(trained, tmp_path, capsys):
    from foveal.cli import main

    m, _ = trained
    rng = np.random.default_rng(0)
    empty = np.clip(rng.normal(120, 6, (96, 96, 3)), 0, 255).astype(np.uint8)  # the shapes' noisy background
    Image.fromarray(empty).save(tmp_path / "empty.png")
    Image.new("L", (200, 150), 128).save(tmp_path / "grey.png")
    scene = shapes_detection(n_train=1, n_val=1, seed=5).val.images[0]
    Image.fromarray(scene.permute(1, 2, 0).numpy()).resize((4000, 3000), Image.NEAREST).save(tmp_path / "huge.jpg")
    code = main(["predict", "--model", str(m.checkpoint), str(tmp_path), "--format", "json", "--save", "--crop",
                 "--margin", "0.1", "--project", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert code == 0
    results = {r["source"].rsplit("/", 1)[-1]: r for r in json.loads(out[:out.rindex("]") + 1])}
    assert set(results) == {"empty.png", "grey.png", "huge.jpg"}
    for name in ("empty.png", "grey.png"):  # nothing to find: few boxes, if any, and none confident
        assert all(o["confidence"] < 0.5 for o in results[name]["objects"]), results[name]
    huge = results["huge.jpg"]
    assert huge["image_size"] == [3000, 4000] and len(huge["objects"]) >= 1
    assert max(o["box"][2] for o in huge["objects"]) > 1000  # boxes in the photo's own pixels
    folder = tmp_path / "runs" / "predict"
    assert {p.name for p in folder.glob("*.jpg")} == {"empty.jpg", "grey.jpg", "huge.jpg"}
    sizes = [(o["box"][2] - o["box"][0], o["box"][3] - o["box"][1]) for r in results.values() for o in r["objects"]]
    # every object's crop is written unless its box rounds to no pixel (a weak model's sub-pixel boxes on the empty images)
    assert sum(w >= 1 and h >= 1 for w, h in sizes) <= len(list((folder / "crops").rglob("*.jpg"))) <= len(sizes)
    assert len(list((folder / "crops").rglob("huge_*.jpg"))) == len(huge["objects"])


def test_a_huge_photo_is_decoded_reduced_and_its_boxes_given_in_its_own_pixels(trained, tmp_path):
    from torchvision.ops import box_iou

    m, _ = trained
    scene = shapes_detection(n_train=1, n_val=1, seed=5).val.images[0]
    huge = tmp_path / "huge.jpg"
    Image.fromarray(scene.permute(1, 2, 0).numpy()).resize((4000, 3000), Image.NEAREST).save(huge)
    pred = DetectPredictor.from_checkpoint(m.checkpoint)
    reduced, images, _ = pred.predict([huge], conf=0.5)
    full, full_images, _ = pred.predict([huge], conf=0.5, keep_pixels=True)  # what --save and --crop decode
    assert tuple(images[0].shape[-2:]) == (375, 500) and tuple(full_images[0].shape[-2:]) == (3000, 4000)
    assert reduced[0].image_size == full[0].image_size == (3000, 4000) and len(full[0]) >= 1
    # the same objects, boxes in the photo's pixels: each full-size box has its reduced-decode twin
    overlap = box_iou(torch.from_numpy(full[0].xyxy), torch.from_numpy(reduced[0].xyxy))
    assert len(reduced[0]) == len(full[0]) and (overlap.max(1).values > 0.8).all(), overlap


def test_predict_filters_classes_and_counts(trained):
    m, _ = trained
    val = shapes_detection(n_train=1, n_val=20, seed=3).val
    pred = DetectPredictor.from_checkpoint(m.checkpoint)
    everything = pred.detect(val.images)
    squares = pred.detect(val.images, classes=["square"])
    assert all(set(d.counts()) <= {"square"} for d in squares)
    assert sum(len(d) for d in squares) == sum(d.counts().get("square", 0) for d in everything)
    one = pred.detect(val.images, max_det=1)
    assert all(len(d) <= 1 for d in one)


def test_class_agnostic_nms_keeps_one_box_per_object(trained, tmp_path):
    from torchvision.ops import box_iou

    from foveal.tasks.detect.predict import class_agnostic

    two = Detections(np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]]), np.array([0.5, 0.9, 0.4]),
                     np.array([0, 1, 1]), ("a", "b"), (64, 64))
    kept = class_agnostic(two, iou=0.5)  # the two overlapping boxes of different classes: the more confident stays
    assert kept.class_id.tolist() == [1, 1] and kept.confidence.tolist() == pytest.approx([0.9, 0.4])
    m, _ = trained
    val = shapes_detection(n_train=1, n_val=20, seed=3).val
    # a low threshold brings out a shape's second-best class; the agnostic option removes it
    per_class = foveal.Model(m.checkpoint).predict(list(_save(val.images, tmp_path)), conf=0.01)
    agnostic = foveal.Model(m.checkpoint).predict(list(_save(val.images, tmp_path)), conf=0.01, agnostic_nms=True)
    assert sum(len(d) for d in agnostic) < sum(len(d) for d in per_class)
    for d in agnostic:
        overlap = box_iou(torch.from_numpy(d.xyxy), torch.from_numpy(d.xyxy)).fill_diagonal_(0)
        assert (overlap <= NMS_IOU + 1e-6).all()


def _save(images, folder):
    for i, image in enumerate(images):
        path = folder / f"scene{i}.png"
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(path)
        yield path


def test_detection_card_and_errors(tmp_path):
    from foveal.config import TrainConfig
    from foveal.errors import FovealError

    data = shapes_detection(n_train=4, n_val=2)
    card = DetectTask.make_card(TrainConfig(task="detect", model="fcos"), data)
    assert card.input_size == (96, 96) and card.model_kwargs["backbone"] == "efficientnet_lite0"
    with pytest.raises(FovealError, match="--backbone goes with"):
        DetectTask.make_card(TrainConfig(task="detect", model="ssdlite320_mobilenet_v3_large", backbone="resnet18"), data)
    with pytest.raises(FovealError, match="expected a timm classification model"):
        foveal.Model("fasterrcnn", task="detect").train(data="shapes", backbone="not_a_net", epochs=1, project=str(tmp_path),
                                                         progress=False)
    assert torch.is_tensor(data.train.images[0])


def test_predict_video_draws_every_frame_and_counts(trained, tmp_path, capsys):
    """A video predicts frame by frame (CLI and Python API alike), is written back drawn at its own frame rate, and
    an unreadable video among the inputs is reported and skipped."""
    import csv

    from foveal.cli import main
    from foveal.infer.video import VideoReader, VideoWriter

    m, _ = trained
    scenes = shapes_detection(n_train=1, n_val=6, seed=7).val.images
    with VideoWriter(tmp_path / "clip.mp4", fps=5) as w:
        for s in scenes:
            w.write(s)
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 64)
    with VideoReader(tmp_path / "clip.mp4") as r:
        decoded = list(r)
    expected = DetectPredictor.from_checkpoint(m.checkpoint).detect(decoded)
    code = main(["predict", "--model", str(m.checkpoint), str(tmp_path / "clip.mp4"), str(tmp_path / "broken.mp4"),
                 "--save", "--format", "csv", "--out", str(tmp_path / "boxes.csv"), "--project", str(tmp_path / "runs")])
    captured = capsys.readouterr()
    assert code == 0 and "1 file(s) could not be read" in captured.err
    with (tmp_path / "boxes.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [sum(int(r["frame"]) == i for r in rows) for i in range(6)] == [len(d) for d in expected]
    assert sum(len(d) for d in expected) >= 6  # each scene has 1-4 shapes
    with VideoReader(tmp_path / "runs" / "predict" / "clip.mp4") as r:
        drawn = list(r)
        assert r.fps == 5
    assert len(drawn) == 6 and drawn[0].shape[-1] >= 320  # small frames are drawn enlarged, as images are

    frames = foveal.Model(m.checkpoint).predict(tmp_path / "clip.mp4", conf=0.25)
    assert [d.frame for d in frames] == list(range(6)) and [len(d) for d in frames] == [len(d) for d in expected]


def test_the_map_of_each_box_lies_on_its_object_and_agrees_with_captum(trained, tmp_path):
    from captum.attr import LayerGradientXActivation

    from foveal.explain.attribution import level_cam
    from foveal.tasks.detect.explain import _Taps

    m, _ = trained
    val = shapes_detection(seed=0, **SHAPES).val
    paths = list(_save(val.images[:4], tmp_path))
    found = m.explain(paths, conf=0.5, max_boxes=3, project=tmp_path, name="ex")
    assert [f.name for e in found for f in e.files] == [f"scene{i}_boxes.png" for i in range(4)]
    masses = []
    for ex in found:
        assert len(ex.boxes) == len(ex.cams) >= 1
        for (_, score, (x0, y0, x1, y1)), cam in zip(ex.boxes, ex.cams):
            w, h = x1 - x0, y1 - y0  # the box grown by half its size on each side: the 1/8 feature grid is coarse
            box = cam[max(0, int(y0 - h / 2)): int(y1 + h / 2) + 1, max(0, int(x0 - w / 2)): int(x1 + w / 2) + 1]
            masses.append(box.sum() / cam.sum())
    assert np.median(masses) > 0.75 and min(masses) > 0.4, masses

    # the same per-level map as captum's gradient x activation on the FPN's first level (summed over the channels,
    # ReLU'd: HiResCAM), for the first box of one scene
    model, card, _ = load_model(m.checkpoint)
    model.eval()
    image = val.images[0].float().div(255)
    taps = _Taps(model)
    try:
        out = model([image])[0]
        out["scores"][0].backward()
        level = next(j for j, t in enumerate(taps.levels) if t.grad is not None)  # the level the box came from
        ours = level_cam(taps.levels[level], taps.levels[level].grad)
    finally:
        taps.remove()
    reference = LayerGradientXActivation(lambda x: model([x[0]])[0]["scores"][:1].view(1, 1),
                                         model.backbone.fpn.layer_blocks[level])
    theirs = torch.relu(reference.attribute(image[None], target=0).detach().sum(1, keepdim=True))
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-6)
