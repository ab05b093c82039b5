"""The task table: every task foveal trains, evaluates and predicts, by name. Adding a task is one line here and a
package beside this file (docs/architecture.md). Tasks are imported when first asked for, so that the command line
starts without torch; each package's `defaults.py` (its default model and training settings) reads without torch."""

from __future__ import annotations

from importlib import import_module

from foveal.errors import FovealError

TASKS = {
    "classify": "foveal.tasks.classify.task:ClassifyTask",
    "detect": "foveal.tasks.detect.task:DetectTask",
    "segment": "foveal.tasks.segment.task:SegmentTask",
    "instance": "foveal.tasks.instance.task:InstanceTask",
}


def get_task(name: str):
    """The task class of a name in TASKS."""
    if name not in TASKS:
        raise FovealError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}")
    module, cls = TASKS[name].split(":")
    return getattr(import_module(module), cls)


def task_defaults(name: str, finetune: bool = False) -> dict:
    """A task's starting point without importing the task (so without torch): its default model as `model`, and the
    training settings it sets over TrainConfig's; with `finetune`, those of a run that fine-tunes pretrained weights
    (the same where the task has none of its own)."""
    if name not in TASKS:
        raise FovealError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}")
    package = TASKS[name].split(":")[0].rsplit(".", 1)[0]
    defaults = import_module(f"{package}.defaults")
    if not finetune:
        return {"model": defaults.DEFAULT_MODEL, **defaults.DEFAULTS}
    model = getattr(defaults, "PRETRAINED_MODEL", defaults.DEFAULT_MODEL)
    return {"model": model, **defaults.DEFAULTS, **getattr(defaults, "FINETUNE_DEFAULTS", {})}


def resolve_task(name: str, model: str | None = None):
    """The task a run or checkpoint of `model` is, asked for as `name` (a task's name, or the task a card records):
    a task that files its models under `name` and claims this model wins (`segment` with a Mask R-CNN is `instance`),
    else the task called `name`."""
    for other in TASKS:
        task = get_task(other)
        if other != name and task.card_task == name and model is not None and task.claims(model):
            return task
    return get_task(name)
