"""Trains one task's small model for the distributed tests, under torchrun (each rank) or alone (the one-process
baseline), and saves each rank's weights before training and after every epoch as OUT/rank<r>_epoch<e>.pt.

    python tests/engine/ddp_worker.py OUT TASK PROJECT [frozen-bn]

`frozen-bn` keeps batch norm layers on their running statistics: on a CPU each process normalises by its own part of
the batch, so only then can several processes compute what one does."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import torch
import torch.nn as nn

import foveal
from foveal.data.detection import dataset as detection_data
from foveal.data.segmentation import dataset as segmentation_data
from foveal.engine.trainer import Trainer

# small runs: a few steps of each task, with an odd number of samples so that the last global batch is uneven
RUNS = {
    "classify": ("tinyvgg", dict(data="digits", epochs=3, batch_size=64, fraction=0.3)),
    "detect": ("retinanet", dict(data="shapes", epochs=2, batch_size=4, pretrained=True, augment=False)),
    "segment": ("unet", dict(data="shapes", epochs=2, batch_size=4, pretrained=True, augment=False, optimizer="sgd",
                                lr=0.01)),  # (AdamW, the default, amplifies the float32 differences: its first
    # steps divide by the gradients themselves)
}
SHAPES = dict(n_train=21, n_val=8)


def frozen_bn(start_epoch):
    def start(self, model, epoch):
        start_epoch(self, model, epoch)
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()

    return start


def main(out: Path, task: str, project: str, frozen: bool) -> None:
    rank = int(os.environ.get("RANK", "0"))
    train_epoch = Trainer._train_epoch

    def recorded(self, epoch):
        if epoch == 1:
            torch.save(self.model.state_dict(), out / f"rank{rank}_epoch0.pt")
        record = train_epoch(self, epoch)
        torch.save(self.model.state_dict(), out / f"rank{rank}_epoch{epoch}.pt")
        return record

    Trainer._train_epoch = recorded
    detection_data.shapes_detection = functools.partial(detection_data.shapes_detection, **SHAPES)
    segmentation_data.shapes_semantic = functools.partial(segmentation_data.shapes_semantic, **SHAPES)
    model, settings = RUNS[task]
    if frozen:
        task_type = foveal.Model(model).task_type
        task_type.start_epoch = frozen_bn(task_type.start_epoch)
    foveal.Model(model).train(project=project, name=task, seed=0, amp="off", progress=False, **settings)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:] == ["frozen-bn"])
