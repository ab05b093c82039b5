"""Where an exported detector's file ends.

A single-stage torchvision detector (FCOS, RetinaNet: foveal's `fcos` and `retinanet` families and torchvision's
own) is split: the network, from the padded normalised batch to the raw outputs of its head and its anchors
(`RawDetector`, what `foveal export` writes), and the rest, the detector's own input transform, box decoding and NMS
(`SplitDetector`, the same code whether the network is eager or an exported file). torchvision's `batched_nms` does
not export with the dynamo exporter, and box decoding needs no export: so the graph stops at per-level tensors,
which the detector's `postprocess_detections` reads as its own forward would.

A two-stage detector (Faster R-CNN, Mask R-CNN) has its proposals' NMS between its two networks, so it is exported
whole, one image per call, through torch's TorchScript-based ONNX exporter, which torchvision supports for these
models (`WholeDetector`); its file bakes in the evaluation's score floor and NMS overlap, and `WholeRunner` applies
a prediction's own thresholds to what it returns.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from foveal.errors import FovealError
from foveal.models.detection import EVAL_CONF, NMS_IOU

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


OUTPUT_KEYS = ("boxes", "labels", "scores", "masks")  # a torchvision detector's output per image, in its order


class WholeDetector(nn.Module):
    """A two-stage detector whole, as its file holds it: one float [0, 1] image (1, 3, H, W) of any size (resized,
    normalised and post-processed inside) to its boxes, labels, scores and, for Mask R-CNN, masks (k, 1, H, W), at
    COCO evaluation's score floor and the NMS overlap of foveal's prediction and evaluation. It is exported with the
    TorchScript-based exporter (`legacy_export`)."""

    one_image = True
    legacy_export = True
    detections = True  # the parity gates compare its outputs object by object (export.gates.tensor_gates)

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        from foveal.models.detection import set_postprocess

        if not hasattr(model, "roi_heads"):
            raise FovealError(f"exporting {type(model).__name__} detectors is not supported yet; fcos, retinanet, "
                              "fasterrcnn and maskrcnn export")
        self.model = model.eval()
        set_postprocess(self.model, conf=EVAL_CONF, iou=NMS_IOU)
        self.keys = OUTPUT_KEYS if self.model.roi_heads.has_mask() else OUTPUT_KEYS[:3]
        self.masks_at = self.keys.index("masks") if "masks" in self.keys else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        import torchvision.ops.boxes as box_ops

        plain, box_ops.batched_nms = box_ops.batched_nms, never_empty_nms
        try:
            out = self.model([x[0]])[0]
        finally:
            box_ops.batched_nms = plain
        return tuple(out[k] for k in self.keys)


def never_empty_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """torchvision's `batched_nms` (by its coordinate trick, the one it exports) with one more box that keeps no other
    box out and is itself left out: a unit box of class -1, score -1, outside the image. Its NMS is thus never of no
    boxes, which OpenVINO's CPU plugin answers with a row of garbage where it should answer none."""
    from torchvision.ops.boxes import _batched_nms_coordinate_trick

    n = boxes.shape[0]
    boxes = torch.cat([boxes, torch.tensor([[0.0, 0.0, 1.0, 1.0]], dtype=boxes.dtype, device=boxes.device)])
    scores = torch.cat([scores, scores.new_full((1,), -1.0)])
    idxs = torch.cat([idxs, idxs.new_full((1,), -1)])
    keep = _batched_nms_coordinate_trick(boxes, scores, idxs, iou_threshold)
    return keep[keep < n]


class WholeRunner(nn.Module):
    """A two-stage detector's predictions (a list of {"boxes", "labels", "scores"[, "masks"]} per image, as
    torchvision's forward gives them) from its exported file (`WholeDetector`), one image per call; the score
    threshold, NMS overlap and boxes kept per image (`set_postprocess` sets them) apply to what the file returns.
    The file's NMS ran at NMS_IOU: an overlap below it suppresses more, class by class; one above it cannot undo it."""

    def __init__(self, network: nn.Module, masks: bool) -> None:
        super().__init__()
        self.network, self.keys = network, OUTPUT_KEYS if masks else OUTPUT_KEYS[:3]
        self.score_thresh, self.nms_thresh, self.detections_per_img = EVAL_CONF, NMS_IOU, 100

    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        from torchvision.ops import batched_nms

        results = []
        for image in images:
            out = dict(zip(self.keys, self.network(image[None].float())))
            keep = torch.nonzero(out["scores"] > self.score_thresh).flatten()  # torchvision's test: above
            if self.nms_thresh < NMS_IOU:
                keep = keep[batched_nms(out["boxes"][keep], out["scores"][keep], out["labels"][keep], self.nms_thresh)]
            keep = keep[:self.detections_per_img]  # NMS and the file keep the most confident first
            results.append({k: v[keep] for k, v in out.items()})
        return results


def network_batch(template: nn.Module, images: list[torch.Tensor]) -> torch.Tensor:
    """What the network of `template` takes for float [0, 1] images: normalised, resized, padded into one batch."""
    batch, _ = template.transform(images)
    return batch.tensors
