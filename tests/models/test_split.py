"""A single-stage detector split at its raw outputs gives what its own forward gives: the split changes no box."""

from __future__ import annotations

import pytest
import torch

from foveal.errors import FovealError
from foveal.models.registry import create_model
from foveal.models.split import RawDetector, SplitDetector


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
