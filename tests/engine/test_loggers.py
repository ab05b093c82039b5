"""--logger: TensorBoard event files read back with TensorBoard's own reader, MLflow runs read back with MLflow's
client; bad names; a failing logger."""

import csv

import pytest
from mlflow.tracking import MlflowClient
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
    with pytest.raises(FovealError, match=r"logger must be one or more of csv, tensorboard, mlflow.*'wandb'"):
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


def test_mlflow_run_holds_the_runs_numbers_params_and_artifacts(tmp_path, digits, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    cfg = TrainConfig(model="linear", data="digits", epochs=3, lr=0.05, schedule="cosine", logger="csv,mlflow",
                      project=str(tmp_path / "runs"), name="ml")
    run = Trainer(cfg, digits, ClassifyTask, progress=False).fit()
    client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("runs")
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.run_id == (run.run_dir / "mlflow_run_id").read_text().strip()
    assert found.info.run_name == "ml" and found.info.status == "FINISHED"
    rows = list(csv.DictReader((run.run_dir / "results.csv").open()))
    for key, column in (("train/loss", "train_loss"), ("val/accuracy", "val_accuracy"), ("run/lr", "lr")):
        history = sorted(client.get_metric_history(found.info.run_id, key), key=lambda m: m.step)
        assert [m.step for m in history] == [1, 2, 3]
        assert [m.value for m in history] == pytest.approx([float(r[column]) for r in rows], rel=1e-6)
    assert found.data.metrics["final/accuracy"] == pytest.approx(run.metrics["accuracy"], rel=1e-6)
    assert found.data.params["model"] == "linear" and found.data.params["logger"] == "csv,mlflow"
    artifacts = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert {"config.yaml", "results.csv", "report"} <= artifacts
    report = {a.path for a in client.list_artifacts(found.info.run_id, "report")}
    assert {"report/samples.png", "report/confusion_matrix.png"} <= report
    assert (tmp_path / "runs" / "mlartifacts").is_dir()  # beside the runs, not in the working directory


def test_mlflow_goes_where_the_environment_says_and_a_resumed_run_continues_its_mlflow_run(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "pets")
    run_dir = tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    first = RunLoggers("mlflow", run_dir, {"model": "m", "epochs": 2})
    first.epoch(1, {"epoch": 1, "train_loss": 0.5})
    first.close()  # interrupted after epoch 1
    client = MlflowClient(uri)
    (interrupted,) = client.search_runs([client.get_experiment_by_name("pets").experiment_id])
    assert interrupted.info.status == "FAILED"
    second = RunLoggers("mlflow", run_dir, {"model": "m", "epochs": 2})
    second.epoch(2, {"epoch": 2, "train_loss": 0.25})
    second.finish({"accuracy": 0.9}, 2)
    (resumed,) = client.search_runs([client.get_experiment_by_name("pets").experiment_id])
    assert resumed.info.run_id == interrupted.info.run_id and resumed.info.status == "FINISHED"
    history = client.get_metric_history(resumed.info.run_id, "train/loss")
    assert sorted((m.step, m.value) for m in history) == [(1, 0.5), (2, 0.25)]
    assert not (tmp_path / "runs" / "mlflow.db").exists()


def test_an_mlflow_store_that_cannot_be_opened_leaves_the_run_without_it(tmp_path, monkeypatch, caplog):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'file' / 'mlflow.db'}")
    with caplog.at_level("WARNING", logger="foveal"):
        loggers = RunLoggers("tensorboard,mlflow", tmp_path / "run", {"model": "m"})
    assert "the mlflow logger could not start" in caplog.text
    assert [type(lg).__name__ for lg in loggers.loggers] == ["TensorBoardLogger"]
    loggers.close()
