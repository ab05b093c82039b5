"""Tasks of the engine: what differs between classification, detection and segmentation lives here."""

from __future__ import annotations

from foveal.errors import FovealError
from foveal.types import Task


def get_task(name: str):
    task = Task.parse(name)
    if task is Task.CLASSIFY:
        from foveal.tasks.classify import ClassifyTask

        return ClassifyTask
    if task is Task.DETECT:
        from foveal.tasks.detect import DetectTask

        return DetectTask
    raise FovealError(f"task {task.value!r} is not available yet; this version trains: classify, detect")
