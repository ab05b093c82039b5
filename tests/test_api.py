"""The Python API end to end on real data: train, val, predict, reload."""

import json

import numpy as np
import pytest
from PIL import Image

import foveal
import foveal.data
from foveal.errors import FovealError


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    project = tmp_path_factory.mktemp("runs")
    m = foveal.Model("tinyvgg", task="classify")
    metrics = m.train(data="digits", epochs=10, momentum=0.9, schedule="cosine", project=str(project), name="t",
                      progress=False)
    return m, metrics, project


def test_train_returns_metrics_and_a_run(trained):
    m, metrics, project = trained
    assert metrics["accuracy"] > 0.9
    assert m.run_dir == project / "t" and m.checkpoint == project / "t" / "best.pt"


def test_a_loaded_model_reproduces_the_saved_metrics_exactly(trained, tmp_path):
    m, metrics, _ = trained
    again = foveal.Model(m.checkpoint).val(project=str(tmp_path))
    for key in ("accuracy", "loss", "log_loss", "top5_accuracy", "per_class"):
        assert again[key] == metrics[key]
    assert json.loads((tmp_path / "val" / "metrics.json").read_text())["accuracy"] == metrics["accuracy"]
    assert (tmp_path / "val" / "confusion_matrix.png").exists()


def test_predict_applies_the_cards_preprocessing(trained, tmp_path):
    m, _, _ = trained
    data = foveal.data.load_data("digits")
    # write a validation digit as a large RGB PNG: predict must convert to grey and resize to 8x8 like training did
    idx = 0
    img = data.val.images[idx, 0].numpy()
    Image.fromarray(img).resize((64, 64), Image.NEAREST).convert("RGB").save(tmp_path / "digit.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    results = m.predict([tmp_path / "digit.png", tmp_path / "broken.png"], save=True, project=str(tmp_path))
    assert len(results) == 1 and results[0].source.endswith("digit.png")
    direct = m.predict(tmp_path / "digit.png")[0]
    assert direct.label == results[0].label and np.isclose(direct.probs.sum(), 1, atol=1e-5)
    assert (tmp_path / "predict" / "digit.png").exists()


def test_untrained_model_cannot_predict():
    with pytest.raises(FovealError, match="predict needs trained weights"):
        foveal.Model("linear").predict("x.png")


def test_lists():
    assert {"linear", "mlp", "tinyvgg", "lenet", "resnet18"} <= set(foveal.list_models())
    assert {"fashion-mnist", "mnist", "cifar10", "cifar100", "digits", "shapes"} <= set(foveal.list_datasets())
