"""A single-stage detector split at its raw outputs gives what its own forward gives: the split changes no box. A
two-stage detector whole (what its file holds) gives its own boxes too, and its NMS of no boxes gives none."""

from __future__ import annotations

import pytest
import torch

from foveal.errors import FovealError
from foveal.models.registry import create_model
from foveal.models.split import RawDetector, SplitDetector, WholeDetector, WholeRunner, never_empty_nms


@pytest.mark.parametrize("name", ["fcos", "retinanet"])
def test_the_split_detector_equals_the_detectors_own_forward(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=3, in_channels=3, img_size=(128, 128)).eval()
    model.score_thresh = 0.0  # keep every box, so that the comparison covers the decoding of all of them
    images = [torch.rand(3, 96, 128), torch.rand(3, 120, 80)]  # two sizes: padded to one batch
    with torch.inference_mode():
        want = model(images)
        got = SplitDetector(RawDetector(model), model)(images)
    for w, g in zip(want, got):
        assert len(w["boxes"]) == len(g["boxes"]) > 10
        for k in ("boxes", "scores", "labels"):
            torch.testing.assert_close(g[k], w[k])


def test_two_stage_detectors_do_not_split():
    model = create_model("fasterrcnn", num_classes=3, in_channels=3, img_size=(128, 128))
    with pytest.raises(FovealError, match="exporting FasterRCNN detectors is not supported yet; single-stage"):
        RawDetector(model)
    with pytest.raises(FovealError, match="exporting FCOS detectors is not supported yet; fcos, retinanet"):
        WholeDetector(create_model("fcos", num_classes=3, in_channels=3, img_size=(128, 128)))


def test_the_never_empty_nms_is_torchvisions_and_gives_none_of_none():
    from torchvision.ops import batched_nms

    g = torch.Generator().manual_seed(0)
    xy = torch.rand(300, 2, generator=g) * 100
    boxes = torch.cat([xy, xy + 5 + torch.rand(300, 2, generator=g) * 30], 1)
    scores, labels = torch.rand(300, generator=g), torch.randint(0, 4, (300,), generator=g)
    for iou in (0.3, 0.6):
        assert torch.equal(never_empty_nms(boxes, scores, labels, iou), batched_nms(boxes, scores, labels, iou))
    assert never_empty_nms(boxes[:0], scores[:0], labels[:0], 0.5).shape == (0,)


@pytest.mark.parametrize("name", ["fasterrcnn", "maskrcnn"])
def test_the_whole_detector_and_its_runner_give_the_detectors_boxes(name):
    """The runner, reading what the whole detector returns (the evaluation's score floor and NMS, baked in a file),
    gives what the detector gives at a prediction's own higher threshold, lower NMS overlap and fewer boxes."""
    from foveal.models.detection import set_postprocess

    torch.manual_seed(0)
    model = create_model(name, num_classes=3, in_channels=3, img_size=(128, 128)).eval()
    whole = WholeDetector(model)
    assert len(whole.keys) == (4 if name == "maskrcnn" else 3)
    image = torch.rand(3, 96, 128)
    runner = WholeRunner(whole, masks=name == "maskrcnn")
    with torch.inference_mode():
        floor = runner([image])[0]
        set_postprocess(runner, conf=0.02, iou=0.4, max_det=7)
        got = runner([image])[0]
        set_postprocess(model, conf=0.02, iou=0.4, max_det=7)
        want = model([image])[0]
    assert len(floor["boxes"]) > len(got["boxes"]) > 0 and set(got) == set(want)
    for k in want:
        torch.testing.assert_close(got[k], want[k])
