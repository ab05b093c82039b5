"""A single-stage torchvision detector (FCOS, RetinaNet: foveal's `fcos` and `retinanet` families and torchvision's
own) split where an exported file ends: the network, from the padded normalised batch to the raw outputs of its
head and its anchors (`RawDetector`, what `foveal export` writes), and the rest, the detector's own input transform,
box decoding and NMS (`SplitDetector`, the same code whether the network is eager or an exported file).

torchvision's `batched_nms` does not export with the dynamo exporter, and box decoding needs no export: so the
graph stops at per-level tensors, which the detector's `postprocess_detections` reads as its own forward would.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from foveal.errors import FovealError

HEAD_KEYS = {"FCOS": ("bbox_ctrness", "bbox_regression", "cls_logits"), "RetinaNet": ("bbox_regression", "cls_logits")}


def splits(model: nn.Module) -> bool:
    """Whether `model` is a detector this module splits (single-stage: FCOS or RetinaNet)."""
    return type(model).__name__ in HEAD_KEYS


class RawDetector(nn.Module):
    """The network of a single-stage detector: a normalised (N, 3, H, W) batch (H and W multiples of 32, as the
    detector's transform pads them) to its head's outputs and its anchors, per pyramid level: (for each head output,
    in HEAD_KEYS order, one tensor (N, anchors of the level, k) per level), then the anchors of each level (the same
    for every image of the batch)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if not splits(model):
            raise FovealError(f"exporting {type(model).__name__} detectors is not supported yet; single-stage "
                              "detectors export (fcos, retinanet)")
        self.keys = HEAD_KEYS[type(model).__name__]
        self.backbone, self.head, self.anchor_generator = model.backbone, model.head, model.anchor_generator

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        from torchvision.models.detection.image_list import ImageList

        features = list(self.backbone(x).values())
        out = self.head(features)
        cells = [f.shape[2] * f.shape[3] for f in features]
        per_cell = out["cls_logits"].shape[1] // sum(cells)  # anchors per cell (RetinaNet: 9, FCOS: 1)
        levels = [n * per_cell for n in cells]
        anchors = self.anchor_generator(ImageList(x[:1], [tuple(x.shape[-2:])]), features)[0]
        parts: list[torch.Tensor] = []
        for key in self.keys:
            parts += list(out[key].split(levels, 1))
        return tuple(parts + list(anchors.split(levels)))


class SplitDetector(nn.Module):
    """A detector's predictions in eval mode (a list of {"boxes", "scores", "labels"} per image, as torchvision's
    forward gives them) from a network that ends where `RawDetector` does, eager or exported; the input transform,
    the box decoding and the NMS are those of `template`, a detector of the same card (its weights are not used)."""

    def __init__(self, network: nn.Module, template: nn.Module) -> None:
        super().__init__()
        if not splits(template):
            raise FovealError(f"{type(template).__name__} is not a single-stage detector")
        self.network, self.template = network, template.eval()
        self.keys = HEAD_KEYS[type(template).__name__]

    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        original = [(int(im.shape[-2]), int(im.shape[-1])) for im in images]
        batch, _ = self.template.transform(images)
        outs = self.network(batch.tensors)
        n = len(outs) // (len(self.keys) + 1)
        head = {k: [o.float() for o in outs[i * n:(i + 1) * n]] for i, k in enumerate(self.keys)}
        anchors = [a.float() for a in outs[len(self.keys) * n:]]
        detections = self.template.postprocess_detections(head, [anchors] * len(images), batch.image_sizes)
        return self.template.transform.postprocess(detections, batch.image_sizes, original)


def network_batch(template: nn.Module, images: list[torch.Tensor]) -> torch.Tensor:
    """What the network of `template` takes for float [0, 1] images: normalised, resized, padded into one batch."""
    batch, _ = template.transform(images)
    return batch.tensors
