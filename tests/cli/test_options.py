"""`foveal train`'s options are made from TrainConfig's fields: every field with an option has one, with its help."""

from __future__ import annotations

import inspect
from dataclasses import fields
from typing import Optional

from foveal.cli.app import train
from foveal.cli.options import config_parameters, field_type
from foveal.config import TrainConfig


def test_every_setting_with_an_option_is_an_option_of_train():
    params = inspect.signature(train).parameters
    wanted = {f.name for f in fields(TrainConfig) if f.metadata.get("cli", True)}
    assert wanted <= set(params)
    assert "eval_batch_size" not in params and "cutout" not in params  # --set only
    assert {"config", "set_", "resume"} <= set(params)  # the command's own


def test_options_carry_the_fields_help_types_and_tasks():
    by_name = {p.name: p for p in config_parameters()}
    lr = by_name["lr"].annotation.__metadata__[0]
    assert lr.help.startswith("Learning rate. [default: ")
    assert by_name["flip"].annotation.__origin__ == Optional[bool] and by_name["flip"].default is None
    assert by_name["dice"].annotation.__metadata__[0].help.startswith("segment: weight of a Dice loss")
    assert field_type("float | None") is float and field_type("bool") is bool


def test_train_help_lists_the_generated_options(capsys):
    from foveal.cli import main

    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--label-smoothing", "--muon-lr", "--no-pretrained", "--no-flip", "--time-limit", "--set", "--resume"):
        assert flag in out, flag


def test_help_shows_each_options_default_and_each_tasks_where_they_differ(monkeypatch):
    from foveal.tasks import TASKS, task_defaults
    from foveal.tasks.detect import defaults as detect

    starts = {task: task_defaults(task) for task in TASKS}
    lr = {p.name: p for p in config_parameters()}["lr"].annotation.__metadata__[0].help
    for task, start in starts.items():
        assert f"{start.get('lr', TrainConfig().lr):g}" in lr.split("[default: ")[1]
    monkeypatch.setitem(detect.DEFAULTS, "lr", 0.0123)  # read from the task, not copied
    monkeypatch.setattr(detect, "DEFAULT_MODEL", "retinanet")
    by_name = {p.name: p.annotation.__metadata__[0].help for p in config_parameters()}
    assert "detect 0.0123" in by_name["lr"] and "detect retinanet" in by_name["model"]
    assert by_name["label_smoothing"] == f"[default: {TrainConfig().label_smoothing:g}]"  # one value for all
    assert by_name["epochs"].endswith(f"classify fine-tuning {task_defaults('classify', finetune=True)['epochs']}]")
    assert by_name["lookahead"].endswith("[default: --no-lookahead]") and by_name["flip"].endswith("[default: --flip]")
    assert "[default" not in (by_name["data_root"] or "")  # nothing to show where nothing is set


def test_boolean_options_look_like_flags(capsys):
    from foveal.cli import main

    helps = {}
    for verb in ("train", "val", "predict"):
        assert main([verb, "--help"]) == 0
        helps[verb] = capsys.readouterr().out
        assert "<bool>" not in helps[verb], verb
    assert "--lookahead / --no-lookahead" in helps["train"] and "--tta / --no-tta" in helps["val"]
