"""--logger: TensorBoard event files read back with TensorBoard's own reader; bad names; a failing logger."""

import csv

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from foveal.config import TrainConfig
from foveal.engine.loggers import RunLoggers
from foveal.engine.trainer import Trainer
from foveal.errors import FovealError
from foveal.tasks.classify.task import ClassifyTask


def test_tensorboard_events_hold_the_runs_numbers_config_and_images(tmp_path, digits):
    cfg = TrainConfig(model="linear", data="digits", epochs=3, lr=0.05, schedule="cosine", logger="tensorboard",
                      project=str(tmp_path), name="tb")
    run = Trainer(cfg, digits, ClassifyTask, progress=False).fit()
    events = list(run.run_dir.glob("events.out.tfevents.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(run.run_dir), size_guidance={"scalars": 0, "images": 0, "tensors": 0}).Reload()
    tags = acc.Tags()
    rows = list(csv.DictReader((run.run_dir / "results.csv").open()))
    for tag, column in (("train/loss", "train_loss"), ("val/accuracy", "val_accuracy"), ("run/lr", "lr")):
        logged = acc.Scalars(tag)
        assert [e.step for e in logged] == [1, 2, 3]
        assert [e.value for e in logged] == pytest.approx([float(r[column]) for r in rows], rel=1e-6)
    lrs = [e.value for e in acc.Scalars("run/lr")]
    assert lrs[0] > lrs[-1]  # the cosine decay, as results.csv has it
    assert acc.Scalars("final/accuracy")[0].value == pytest.approx(run.metrics["accuracy"], rel=1e-6)
    assert {"report/samples", "report/confusion_matrix", "report/curves"} <= set(tags["images"])
    image = acc.Images("report/samples")[0]
    assert image.width > 100 and image.height > 100
    config = acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "model: linear" in config and "logger: tensorboard" in config


def test_csv_alone_writes_no_event_file(tmp_path, digits):
    cfg = TrainConfig(model="linear", data="digits", epochs=1, project=str(tmp_path), name="plain")
    run = Trainer(cfg, digits, ClassifyTask, progress=False).fit()
    assert not list(run.run_dir.glob("events.out.tfevents.*")) and (run.run_dir / "results.csv").is_file()


def test_an_unknown_logger_is_refused_in_one_line():
    with pytest.raises(FovealError, match=r"logger must be one or more of csv, tensorboard.*'wandb'"):
        TrainConfig(logger="tensorboard,wandb").validate()


def test_a_failing_logger_is_dropped_and_the_run_goes_on(tmp_path, caplog):
    loggers = RunLoggers("tensorboard", tmp_path, {"model": "m"})

    class Broken:
        def epoch(self, epoch, record):
            raise OSError("No space left on device")

    loggers.loggers.insert(0, Broken())
    with caplog.at_level("WARNING", logger="foveal"):
        loggers.epoch(1, {"epoch": 1, "train_loss": 0.5, "note": "text", "_start": 3.0})
        loggers.epoch(2, {"epoch": 2, "train_loss": 0.25})
    assert "No space left on device" in caplog.text and caplog.text.count("failed") == 1
    loggers.close()
    acc = EventAccumulator(str(tmp_path)).Reload()
    assert [e.value for e in acc.Scalars("train/loss")] == [0.5, 0.25]
