"""Tasks of the engine: what differs between classification, detection and segmentation lives here."""

from __future__ import annotations

from foveal.errors import FovealError
from foveal.types import Task


def check_classes(splits, card) -> None:
    """Evaluating a checkpoint on data: its classes must be the model's, in the same order."""
    from foveal.errors import short_list

    if tuple(splits.classes) != tuple(card.classes):
        raise FovealError(f"the data {splits.name!r} has classes {short_list(splits.classes)}, the model was trained on "
                          f"{short_list(card.classes)}")


def get_task(name: str):
    task = Task.parse(name)
    if task is Task.CLASSIFY:
        from foveal.tasks.classify import ClassifyTask

        return ClassifyTask
    if task is Task.DETECT:
        from foveal.tasks.detect import DetectTask

        return DetectTask
    from foveal.tasks.segment import SegmentTask

    return SegmentTask
