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


def checked_val(splits, card):
    """The validation split of detection or segmentation data, its classes checked against the model's."""
    check_classes(splits, card)
    return splits.val


def build_task_model(cfg, card, families: tuple[str, ...]):
    """A detector's or segmenter's starting model: --pretrained gives a foveal family (`families`) its backbone's
    ImageNet weights and a torchvision model its own (COCO) weights; --weights loads a local file over it."""
    from foveal.models.registry import create_model

    extra = {}
    if cfg.pretrained:
        extra = {"pretrained_backbone": True} if card.model in families else {"pretrained": True}
    model = create_model(card.model, num_classes=card.num_classes, in_channels=3, img_size=card.input_size,
                         **card.model_kwargs, **extra)
    if cfg.weights:
        from foveal.models.pretrained import load_weights_file

        load_weights_file(model, cfg.weights)
    return model.train()


def get_task(name: str, model: str | None = None):
    """The task class of a task name; for `segment`, instance segmentation when `model` is a Mask R-CNN."""
    task = Task.parse(name)
    if task is Task.CLASSIFY:
        from foveal.tasks.classify import ClassifyTask

        return ClassifyTask
    if task is Task.DETECT:
        from foveal.tasks.detect import DetectTask

        return DetectTask
    from foveal.models.instance import is_instance_model

    if is_instance_model(model):
        from foveal.tasks.instance import InstanceTask

        return InstanceTask
    from foveal.tasks.segment import SegmentTask

    return SegmentTask
