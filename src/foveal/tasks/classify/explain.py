"""`foveal explain` for a classifier: for each photo, Grad-CAM of its top-k classes (or the classes asked for),
integrated gradients of the first of them, and the feature maps of each stage; the first layer's filters once.

Every map is returned over the photo's own pixels: the model sees the card's view (resize, centre crop), and a map
over that view is put back where the view lies in the photo (zero where the model did not look)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from foveal.errors import FovealError
from foveal.explain.attribution import cam_layer, grad_cam, integrated_gradients
from foveal.explain.layers import first_filters, stage_maps, stage_names
from foveal.infer.sources import read_sources
from foveal.models.card import ModelCard
from foveal.tasks.base import output_folder
from foveal.tasks.classify.predict import Predictor, check_top_k
from foveal.viz.explain import plot_attributions, plot_filters, plot_stages

log = logging.getLogger("foveal")

METHODS = ("gradcam", "integrated_gradients")


@dataclass
class Explanation:
    """Why a classifier said what it said about one photo."""

    path: str
    top: list[tuple[str, float]]  # the top-k classes and their probabilities
    gradcam: dict[str, np.ndarray] = field(default_factory=dict)  # class -> (H, W) in [0, 1] over the photo
    integrated_gradients: dict[str, np.ndarray] = field(default_factory=dict)  # class -> (H, W) in [0, 1]
    layer: str = ""  # the layer Grad-CAM read
    stages: list[str] = field(default_factory=list)  # the modules whose feature maps were drawn
    files: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "top": [{"class": c, "probability": round(p, 6)} for c, p in self.top],
                "gradcam_layer": self.layer, "stages": self.stages, "files": [str(f) for f in self.files]}

    def summary(self) -> str:
        top = ", ".join(f"{c} {p:.1%}" for c, p in self.top)
        return f"{Path(self.path).name}: {top}; Grad-CAM on {self.layer}"


def to_photo(heat: torch.Tensor, card: ModelCard, photo_hw: tuple[int, int]) -> np.ndarray:
    """A map over the card's input view -> the same map over the photo's (H, W) pixels (views.to_input's geometry:
    the shorter side resized to resize_size, the centre input_size cropped; or a plain resize)."""
    h, w = photo_hw
    if card.resize_size is None:
        canvas = heat
    else:
        side = int(card.resize_size)
        rh, rw = (side, int(side * w / h)) if h <= w else (int(side * h / w), side)  # torchvision's resize
        ch, cw = card.input_size
        top, left = int(round((rh - ch) / 2.0)), int(round((rw - cw) / 2.0))  # its centre_crop
        canvas = heat.new_zeros((rh, rw))
        canvas[max(top, 0): top + ch, max(left, 0): left + cw] = heat[max(-top, 0): rh - top, max(-left, 0): rw - left]
    out = F.interpolate(canvas[None, None].float(), size=(h, w), mode="bilinear", align_corners=False)[0, 0]
    return out.clamp(0, 1).numpy()


def class_index(card: ModelCard, wanted: str | int) -> int:
    """A class by name or index, refused in one line if the model has no such class."""
    if isinstance(wanted, int) or str(wanted).isdigit():
        i = int(wanted)
        if 0 <= i < len(card.classes):
            return i
    elif str(wanted) in card.classes:
        return card.classes.index(str(wanted))
    sample = ", ".join(card.classes[:8]) + (", ..." if len(card.classes) > 8 else "")
    raise FovealError(f"class {wanted!r} is not one of the model's {len(card.classes)} classes ({sample})")


def explain_image(predictor: Predictor, image: torch.Tensor, path: str, *, top_k: int = 3,
                  classes: Sequence[str | int] | None = None, methods: Sequence[str] = METHODS,
                  ig_steps: int = 32) -> tuple[Explanation, torch.Tensor, dict[str, torch.Tensor]]:
    """One decoded photo (uint8 C, H, W): its Explanation, the network's input and each stage's feature maps."""
    card, model = predictor.card, predictor.model
    x = predictor.normalize(predictor.prepare(image)[None].to(predictor.device))
    with torch.no_grad():
        probs = F.softmax(model(x).float() / card.temperature, 1)[0].cpu()
    k = min(top_k, len(card.classes))
    best = probs.topk(k).indices.tolist()
    targets = [class_index(card, c) for c in classes] if classes else best
    layer_name, layer = cam_layer(model, x)
    hw = tuple(image.shape[-2:])
    ex = Explanation(path, [(card.classes[i], float(probs[i])) for i in best], layer=layer_name)
    for i in targets:
        if "gradcam" in methods:
            ex.gradcam[card.classes[i]] = to_photo(grad_cam(model, layer, x.clone(), i).cpu(), card, hw)
    if "integrated_gradients" in methods:
        first = targets[0]
        ex.integrated_gradients[card.classes[first]] = to_photo(
            integrated_gradients(model, x.clone(), first, ig_steps).cpu(), card, hw)
    ex.stages = stage_names(model, x)
    maps = {name: m.cpu() for name, m in stage_maps(model, x, ex.stages).items()}
    return ex, x, maps


def explain_sources(model: str | Path, sources: list[str | Path], *, pretrained: bool = False, top_k: int = 3,
                    classes: Sequence[str | int] | None = None, methods: Sequence[str] = METHODS,
                    save: bool = True, project: str | Path = "runs", name: str = "explain",
                    device: str = "auto") -> list[Explanation]:
    """Explain a classifier (a checkpoint, or with `pretrained` a model name) on image files and folders; with
    `save`, under <project>/<name>/: <photo>_attribution.png, <photo>_stages.png and filters.png."""
    from foveal.engine.checkpoint import resolve_checkpoint

    check_top_k(top_k)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise FovealError(f"methods are {', '.join(METHODS)}; got {', '.join(unknown) or 'none'}")
    predictor = (Predictor.from_pretrained(str(model), device=device) if pretrained
                 else Predictor.from_checkpoint(resolve_checkpoint(model), device=device))
    predictor.model.float()
    classes = [class_index(predictor.card, c) for c in classes] if classes else None  # refused before any work
    if not sources:
        raise FovealError("no images given: pass image files or folders after the options")
    paths, images, _failed = read_sources(sources)
    if not images:
        raise FovealError("no image could be read")
    folder = output_folder(project, name) if save else None
    out = []
    for path, image in zip(paths, images):
        ex, _x, maps = explain_image(predictor, image, str(path), top_k=top_k, classes=classes, methods=methods)
        if folder is not None:
            photo = image.permute(1, 2, 0).numpy()
            probs = dict(ex.top)
            panels = [(f"Grad-CAM: {c}" + (f" {probs[c]:.1%}" if c in probs else ""), h) for c, h in ex.gradcam.items()]
            panels += [(f"integrated gradients: {c}", h) for c, h in ex.integrated_gradients.items()]
            ex.files.append(plot_attributions(photo, panels, folder / f"{path.stem}_attribution.png"))
            ex.files.append(plot_stages(maps, folder / f"{path.stem}_stages.png"))
        out.append(ex)
    if folder is not None:
        filters = plot_filters(first_filters(predictor.model), folder / "filters.png")
        for ex in out:
            ex.files.append(filters)
    return out
