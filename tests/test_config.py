import pytest

from foveal.config import TrainConfig, parse_overrides
from foveal.errors import FovealError


def test_precedence_defaults_then_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: 0.01\n  epochs: 7\nmodel: mlp\n")
    cfg = TrainConfig.load(path, {"epochs": "2", "model.hidden": "64"})
    assert (cfg.lr, cfg.epochs, cfg.model, cfg.hidden) == (0.01, 2, "mlp", 64)
    assert cfg.batch_size == TrainConfig().batch_size


def test_saved_config_loads_back(tmp_path):
    cfg = TrainConfig(model="lenet", lr=0.05, patience=3, augment=True)
    cfg.save(tmp_path / "config.yaml")
    assert TrainConfig.load(tmp_path / "config.yaml") == cfg


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"optimizer": "rmsprop"}, "optimizer must be one of sgd, adam, adamw"),
        ({"epochs": "0"}, "epochs must be at least 1"),
        ({"lr": "fast"}, "lr expects float"),
        ({"colour": "red"}, "unknown config key(s) colour"),
        ({"augment": "maybe"}, "augment expects bool"),
        ({"cutout": "-2"}, "cutout is the side of a square in pixels, 0 or more; got -2"),
    ],
)
def test_bad_values_are_one_clear_line(overrides, fragment):
    with pytest.raises(FovealError) as err:
        TrainConfig.load(overrides=overrides)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_none_means_the_default_and_overrides_need_equals():
    assert TrainConfig.load(overrides={"patience": "none"}).patience is None
    assert parse_overrides(["a.b=1", "c = x"]) == {"a.b": "1", "c": "x"}
    with pytest.raises(FovealError, match="key=value"):
        parse_overrides(["lr0.1"])


def test_missing_config_file(tmp_path):
    with pytest.raises(FovealError, match="config file not found"):
        TrainConfig.load(tmp_path / "nope.yaml")
