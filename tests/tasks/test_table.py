"""The task table: one dispatch from a task name (and a model) to a Task, resolved once by Model."""

from __future__ import annotations

import pytest

import foveal
from foveal.errors import FovealError
from foveal.tasks import TASKS, get_task, resolve_task
from foveal.tasks.base import Task


def test_every_entry_is_a_task_under_its_own_name():
    for name in TASKS:
        task = get_task(name)
        assert issubclass(task, Task) and task.name == name
        assert task.card_task and task.default_model and task.fitness_key


def test_a_segmenter_that_is_a_mask_rcnn_is_instance_segmentation():
    assert resolve_task("segment", "unet").name == "segment"
    assert resolve_task("segment", "maskrcnn").name == "instance"
    assert resolve_task("detect", "maskrcnn").name == "detect"  # only a task filed under `segment` claims it
    m = foveal.Model("maskrcnn", task="segment")
    assert m.task_type.name == "instance" and m.task == "segment"  # its card and config still say segment
    assert foveal.Model(task="instance").name == "maskrcnn"


def test_each_task_brings_its_default_model_and_settings():
    assert foveal.Model(task="detect").name == "fcos"
    assert foveal.Model(task="detect").config().lr == 0.01  # the detect defaults over TrainConfig's 0.1
    assert foveal.Model(task="segment").config().optimizer == "adamw"
    assert foveal.Model().config().optimizer == "sgd"


def test_an_unknown_task_is_one_line():
    with pytest.raises(FovealError, match="unknown task 'keypoints'; expected one of classify, detect, segment"):
        foveal.Model(task="keypoints")


def test_predict_refuses_an_option_of_another_task(tmp_path):
    m = foveal.Model("linear")
    m.train(data="digits", epochs=1, project=str(tmp_path), progress=False)
    with pytest.raises(FovealError, match="conf: not an option of a classify model"):
        m.predict(str(tmp_path), conf=0.5)
