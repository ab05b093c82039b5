"""`foveal explain` for a detector (and an instance segmenter): a class activation map of each detected box's score
over the backbone's FPN levels (HiResCAM: Grad-CAM with per-location gradients, explain/attribution.py), put back
onto the photo's pixels.

The network runs on the photo resized (and padded) by its own transform; each level's map covers the padded input,
so it is cut to the resized photo and brought to the photo's size."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from foveal.errors import FovealError
from foveal.explain.attribution import level_cams
from foveal.infer.sources import read_sources
from foveal.models.detection import set_postprocess
from foveal.tasks.base import output_folder
from foveal.tasks.detect.predict import DEFAULT_CONF, DEFAULT_IOU
from foveal.viz.explain import plot_attributions


@dataclass
class BoxExplanation:
    """Why a detector found what it found in one photo: per box (class, score, x0 y0 x1 y1), its map."""

    path: str
    boxes: list[tuple[str, float, tuple[float, float, float, float]]]
    cams: list[np.ndarray] = field(default_factory=list)  # (H, W) in [0, 1] over the photo, one per box
    layer: str = "backbone (every FPN level)"
    files: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "boxes": [{"class": c, "score": round(s, 6), "box": [round(v, 2) for v in b]}
                                             for c, s, b in self.boxes],
                "cam_layer": self.layer, "files": [str(f) for f in self.files]}

    def summary(self) -> str:
        found = ", ".join(f"{c} {s:.2f}" for c, s, _ in self.boxes) or "no boxes"
        return f"{Path(self.path).name}: {found}; HiResCAM per box on the {self.layer}"


class _Taps:
    """Forward hooks on a detector's transform and backbone: the resized and padded sizes, and the FPN levels with
    their gradients kept."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.levels: list[torch.Tensor] = []
        self.resized: tuple[int, int] = (0, 0)
        self.padded: tuple[int, int] = (0, 0)
        self.hooks = [model.transform.register_forward_hook(self._transform),
                      model.backbone.register_forward_hook(self._backbone)]

    def _transform(self, _m, _i, out) -> None:
        images = out[0]
        self.resized = tuple(images.image_sizes[0])
        self.padded = tuple(images.tensors.shape[-2:])

    def _backbone(self, _m, _i, out) -> None:
        self.levels = list(out.values()) if isinstance(out, dict) else [out]
        for t in self.levels:
            t.retain_grad()

    def remove(self) -> None:
        for h in self.hooks:
            h.remove()


def explain_boxes(model: torch.nn.Module, image: torch.Tensor, classes: tuple[str, ...], max_boxes: int
                  ) -> tuple[list[tuple[str, float, tuple]], list[np.ndarray]]:
    """The detections of one uint8 (3, H, W) image and each one's map over the photo's pixels."""
    taps = _Taps(model)
    try:
        with torch.enable_grad():
            out = model([image.float().div(255)])[0]
            keep = torch.nonzero(out["labels"] > 0).flatten()[:max_boxes]  # FCOS and RetinaNet's label 0: background
            boxes, cams = [], []
            h, w = image.shape[-2:]
            for k in keep.tolist():
                for t in taps.levels:
                    t.grad = None
                out["scores"][k].backward(retain_graph=True)
                cam = level_cams(taps.levels, [t.grad for t in taps.levels], taps.padded)
                cam = cam[: taps.resized[0], : taps.resized[1]]
                cam = F.interpolate(cam[None, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
                boxes.append((classes[int(out["labels"][k]) - 1], float(out["scores"][k].detach()),
                               tuple(float(v) for v in out["boxes"][k].detach())))
                cams.append(cam.clamp(0, 1).numpy())
    finally:
        taps.remove()
    return boxes, cams


def explain_detector(model: str | Path, sources: list[str | Path], *, pretrained: bool = False,
                     conf: float = DEFAULT_CONF, iou: float = DEFAULT_IOU, max_boxes: int = 6, save: bool = True,
                     project: str | Path = "runs", name: str = "explain", device: str = "auto") -> list[BoxExplanation]:
    """Explain a detector's boxes on image files and folders; with `save`, <photo>_boxes.png under <project>/<name>/
    (each box drawn over its map)."""
    from foveal.engine.checkpoint import load_model, resolve_checkpoint
    from foveal.engine.device import select_device

    if pretrained:
        raise FovealError("explain takes a trained detector's checkpoint; --pretrained is for classifiers")
    if max_boxes < 1:
        raise FovealError(f"max_boxes must be at least 1; got {max_boxes}")
    net, card, _ = load_model(resolve_checkpoint(model))
    if not hasattr(net, "transform") or not hasattr(net, "backbone"):
        raise FovealError(f"{card.model}: explain needs a torchvision detector (a transform and an FPN backbone)")
    net = net.float().to(select_device(device)).eval()
    set_postprocess(net, conf=conf, iou=iou)
    if not sources:
        raise FovealError("no images given: pass image files or folders after the options")
    paths, images, _failed = read_sources(sources, channels=3)
    if not images:
        raise FovealError("no image could be read")
    folder = output_folder(project, name) if save else None
    out = []
    for path, image in zip(paths, images):
        boxes, cams = explain_boxes(net, image, card.classes, max_boxes)
        ex = BoxExplanation(str(path), boxes, cams)
        if folder is not None:
            photo = _draw_boxes(image, boxes)
            panels = [(f"{c} {s:.2f}", cam) for (c, s, _), cam in zip(boxes, cams)]
            ex.files.append(plot_attributions(photo, panels, folder / f"{path.stem}_boxes.png"))
        out.append(ex)
    return out


def _draw_boxes(image: torch.Tensor, boxes: list[tuple[str, float, tuple]]) -> np.ndarray:
    from torchvision.utils import draw_bounding_boxes

    if not boxes:
        return image.permute(1, 2, 0).numpy()
    drawn = draw_bounding_boxes(image, torch.tensor([b for _, _, b in boxes]), labels=[c for c, _, _ in boxes],
                                colors="yellow", width=2)
    return drawn.permute(1, 2, 0).numpy()
