"""foveal explain: Grad-CAM where the cat is (issue 31), Grad-CAM equal to its definition computed by hand, the maps
put back where the model looked, each stage's outputs, the pictures and the command line."""

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image
from skimage import data as skdata
from typer.testing import CliRunner

import foveal
from foveal.cli import app
from foveal.errors import FovealError
from foveal.explain.attribution import cam_layer, grad_cam
from foveal.explain.layers import stage_names
from foveal.models.card import ModelCard
from foveal.tasks.classify.explain import to_photo

# Hand-drawn boxes (y0, x0, y1, x1) around the cat, in the pixels of the photo they are drawn on.
CHELSEA_BOX = (40, 90, 300, 360)  # skimage's chelsea (300 x 451): the face, within the centre the network sees
SIDE_BOX = (150, 260, 350, 560)  # chelsea shrunk to 200 x 300 at the lower right of a grey 400 x 600 canvas


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chelsea")
    cat = skdata.chelsea()
    Image.fromarray(cat).save(folder / "chelsea.png")
    canvas = np.full((400, 600, 3), 128, np.uint8)
    y0, x0, y1, x1 = SIDE_BOX
    canvas[y0:y1, x0:x1] = np.asarray(Image.fromarray(cat).resize((x1 - x0, y1 - y0)))
    Image.fromarray(canvas).save(folder / "chelsea_side.png")
    return folder


@pytest.fixture(scope="module")
def explained(photos, tmp_path_factory):
    model = foveal.Model("efficientnet_lite0", pretrained=True)
    return model.explain([photos / "chelsea.png", photos / "chelsea_side.png"], classes=["tabby"],
                         project=tmp_path_factory.mktemp("explain"), name="cat")


def mass_inside(heat: np.ndarray, box) -> float:
    y0, x0, y1, x1 = box
    return float(heat[y0:y1, x0:x1].sum() / heat.sum())


def test_gradcam_of_tabby_lies_on_the_cat(explained):
    plain, side = explained
    assert "tabby" in dict(plain.top) and plain.layer == "bn2"
    assert mass_inside(plain.gradcam["tabby"], CHELSEA_BOX) > 0.6
    # on the canvas the cat is under two fifths of what the network sees (224 of 256 px of the shorter side), and
    # most of the mass is on it
    heat = side.gradcam["tabby"]
    seen = heat > 0
    y0, x0, y1, x1 = SIDE_BOX
    share = seen[y0:y1, x0:x1].sum() / seen.sum()
    assert share < 0.45 and mass_inside(heat, SIDE_BOX) > 0.6


def test_integrated_gradients_lie_on_the_cat_too(explained):
    heat = explained[1].integrated_gradients["tabby"]
    assert heat.shape == (400, 600) and heat.max() == pytest.approx(1.0)
    assert mass_inside(heat, SIDE_BOX) > 0.6


def test_pictures_are_written(explained):
    files = {f.name for e in explained for f in e.files}
    assert files == {"chelsea_attribution.png", "chelsea_stages.png", "chelsea_side_attribution.png",
                     "chelsea_side_stages.png", "filters.png"}
    for e in explained:
        for f in e.files:
            with Image.open(f) as img:
                assert img.width > 300 and img.height > 100
    assert explained[0].stages == ["blocks.0", "blocks.1", "blocks.2", "blocks.4", "bn2"]


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(4, 6, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3))

    def forward(self, x):
        return self.head(self.features(x))


def test_gradcam_equals_its_definition_by_hand():
    torch.manual_seed(0)
    model, x = Tiny().eval(), torch.randn(1, 3, 16, 16)
    name, layer = cam_layer(model, x)
    assert name == "features"  # the last module to finish a spatial output (the Sequential after its ReLU)
    assert stage_names(model, x) == ["features.1", "features"]
    acts = model.features(x).detach().requires_grad_(True)
    model.head(acts)[0, 2].backward()
    weights = acts.grad.mean((2, 3), keepdim=True)
    cam = torch.relu((weights * acts).sum(1, keepdim=True)).detach()
    cam = torch.nn.functional.interpolate(cam, size=(16, 16), mode="bilinear", align_corners=False)[0, 0]
    ours = grad_cam(model, layer, x, 2)
    torch.testing.assert_close(ours, cam / cam.max(), atol=1e-5, rtol=1e-5)


def test_maps_go_back_where_the_model_looked():
    card = ModelCard("classify", "m", ("a",), 3, (224, 224), (0.5,) * 3, (0.5,) * 3, resize_size=256)
    heat = to_photo(torch.ones(224, 224), card, (300, 451))
    cols = np.flatnonzero(heat[150] > 0.5)
    rows = np.flatnonzero(heat[:, 225] > 0.5)
    # resized to 256 x 384 (x 0.853), the centre 224 x 224 at (16, 80): in the photo, rows 19..281, columns 94..356
    assert abs(cols[0] - 94) <= 1 and abs(cols[-1] - 356) <= 1 and abs(rows[0] - 19) <= 1 and abs(rows[-1] - 281) <= 1
    plain = ModelCard("classify", "m", ("a",), 3, (32, 32), (0.5,) * 3, (0.5,) * 3)
    assert (to_photo(torch.ones(32, 32), plain, (64, 48)) > 0.99).all()


def test_command_line_and_bad_input(photos, tmp_path):
    r = CliRunner().invoke(app, ["explain", "--pretrained", "--top-k", "2", "--methods", "gradcam",
                                 str(photos / "chelsea.png"), "--project", str(tmp_path), "--name", "cli"])
    assert r.exit_code == 0, r.output
    assert "chelsea.png:" in r.output and "Grad-CAM on bn2" in r.output
    assert {p.name for p in (tmp_path / "cli").iterdir()} == {"chelsea_attribution.png", "chelsea_stages.png",
                                                              "filters.png"}
    bad = CliRunner().invoke(app, ["explain", "--pretrained", "--classes", "unicorn", str(photos / "chelsea.png"),
                                   "--project", str(tmp_path), "--name", "bad"])
    assert bad.exit_code != 0 and "'unicorn' is not one of the model's 1000 classes" in str(bad.exception)
    assert not (tmp_path / "bad").exists()
    with pytest.raises(FovealError, match="methods are gradcam, integrated_gradients; got saliency"):
        foveal.Model("efficientnet_lite0", pretrained=True).explain(photos / "chelsea.png", methods=["saliency"])
    with pytest.raises(FovealError, match="explain needs trained weights"):
        foveal.Model("tinyvgg").explain(photos / "chelsea.png")
