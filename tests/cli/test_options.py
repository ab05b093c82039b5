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
    assert lr.help == "Learning rate."
    assert by_name["flip"].annotation.__origin__ == Optional[bool] and by_name["flip"].default is None
    assert by_name["dice"].annotation.__metadata__[0].help.startswith("segment: weight of a Dice loss")
    assert field_type("float | None") is float and field_type("bool") is bool


def test_train_help_lists_the_generated_options(capsys):
    from foveal.cli import main

    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--label-smoothing", "--muon-lr", "--no-pretrained", "--no-flip", "--time-limit", "--set", "--resume"):
        assert flag in out, flag
