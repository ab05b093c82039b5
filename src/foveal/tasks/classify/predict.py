"""A classifier at prediction time: the Predictor (a model and its card applied to image files, folders or tensors),
ensembles (the mean of several models' probabilities) and annotated images. `Model.predict`, and through it the CLI,
predict through here."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from foveal.data.augment import Normalize
from foveal.data.views import to_input
from foveal.engine.checkpoint import load_model
from foveal.engine.device import select_device, use_channels_last
from foveal.errors import FovealError
from foveal.infer.sources import PredictRun, read_sources
from foveal.models.card import ModelCard
from foveal.tasks.classify.tta import tta_probabilities
from foveal.types import Classification

log = logging.getLogger("foveal")


@dataclass
class Predictions:
    results: list[Classification]
    images: list[torch.Tensor] = field(default_factory=list)  # the decoded uint8 images, for drawing
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) of files that could not be read


class Predictor:
    def __init__(self, model: nn.Module, card: ModelCard, device: str = "auto", batch_size: int = 64) -> None:
        self.card, self.batch_size = card, batch_size
        self.device = select_device(device)
        self.model = model.to(self.device).eval()
        channels_last = use_channels_last(None, self.model)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.normalize = Normalize(card.mean, card.std, channels_last)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", batch_size: int = 64) -> "Predictor":
        model, card, _ = load_model(path)
        return cls(model, card, device, batch_size)

    @classmethod
    def from_pretrained(cls, name: str, device: str = "auto", batch_size: int = 64) -> "Predictor":
        """A pretrained model by name (`efficientnet_lite0`, `resnet18`, `timm/convnext_tiny`) with its own card."""
        from foveal.models.pretrained import load_pretrained

        model, card = load_pretrained(name)
        return cls(model, card, device, batch_size)

    def prepare(self, image: torch.Tensor) -> torch.Tensor:
        """A decoded uint8 (C, H, W) image in the card's channels and input size."""
        if image.shape[0] != self.card.in_channels:
            image = image[:1] if self.card.in_channels == 1 else image[:1].expand(3, -1, -1)
        return to_input(image, self.card)

    @torch.inference_mode()
    def probabilities(self, images: torch.Tensor, tta: bool = False) -> torch.Tensor:
        """(N, C) class probabilities for a uint8 (N, C, H, W) batch already in the card's input size: the softmax of
        the logits divided by the card's temperature; with `tta`, averaged over flipped and shifted views."""
        temperature = self.card.temperature

        def logits(x: torch.Tensor) -> torch.Tensor:
            return self.model(self.normalize(x.to(self.device))).float() / temperature

        out = []
        for i in range(0, len(images), self.batch_size):
            x = images[i : i + self.batch_size]
            out.append((tta_probabilities(logits, x, self.card.augmented, self.card.flipped) if tta else F.softmax(logits(x), 1)).cpu())
        return torch.cat(out)

    def image_probabilities(self, images: list[torch.Tensor], tta: bool = False) -> torch.Tensor:
        """Probabilities for decoded images of any size, each brought to the card's input first."""
        return self.probabilities(torch.stack([self.prepare(i) for i in images]), tta)

    def predict(self, sources: Iterable[str | Path], tta: bool = False) -> Predictions:
        return predict_with([self], sources, tta)


def predict_with(predictors: list[Predictor], sources: Iterable[str | Path], tta: bool = False) -> Predictions:
    """Read every image once; its probabilities are the mean over the predictors (an ensemble when there are
    several: each applies its own card's preprocessing). Unreadable files are reported and skipped."""
    classes = predictors[0].card.classes
    for p in predictors[1:]:
        if p.card.classes != classes:
            raise FovealError(f"cannot ensemble models with different classes: {p.card.model} has {len(p.card.classes)} "
                              f"({', '.join(p.card.classes[:3])}, ...), {predictors[0].card.model} has {len(classes)} "
                              f"({', '.join(classes[:3])}, ...)")
    needed = [(max(c.input_size[0], c.resize_size or 0), max(c.input_size[1], c.resize_size or 0))
              for c in (p.card for p in predictors)]
    kept, images, failed = read_sources(sources, channels=max(p.card.in_channels for p in predictors),
                                        reduce_to=(max(h for h, _ in needed), max(w for _, w in needed)))
    if not images:
        return Predictions([], [], failed)
    probs = torch.stack([p.image_probabilities(images, tta) for p in predictors]).mean(0)
    results = [Classification(pr.numpy(), classes, str(path)) for path, pr in zip(kept, probs)]
    return Predictions(results, images, failed)


def classify_sources(model: str | Path, sources: list[str | Path], *, pretrained: bool = False,
                     ensemble: list[str | Path] = (), tta: bool = False, top_k: int = 3, save: bool = False,
                     project: str | Path = "runs", name: str = "predict", device: str = "auto") -> PredictRun:
    """A classifier (a checkpoint, or with `pretrained` a model name with its ImageNet weights), or the ensemble of it
    and the `ensemble` checkpoints, over image files and folders; with `save`, annotated images under
    <project>/<name>. Unreadable files are reported and skipped."""
    from foveal.engine.checkpoint import resolve_checkpoint
    from foveal.infer.video import is_video

    check_top_k(top_k)  # before the models load
    if pretrained:
        if ensemble:
            raise FovealError("--pretrained predicts with one named model; checkpoints cannot join it")
        predictors = [Predictor.from_pretrained(str(model), device=device)]
    else:
        predictors = [Predictor.from_checkpoint(resolve_checkpoint(m), device=device) for m in [model, *ensemble]]
    if not sources:
        raise FovealError("no images given: pass image files or folders after the options")
    if any(is_video(s) for s in sources):
        raise FovealError(f"{next(s for s in sources if is_video(s))}: video input goes to detectors and segmenters; "
                          f"a classifier takes images (extract frames first)")
    run, images = classify_loaded(predictors, sources, tta=tta, top_k=top_k)
    if not run.images:
        raise FovealError("no image could be read")
    if save:
        run.folder = save_annotated(run.images, images, project, name, top_k)
    return run


def classify_loaded(predictor: Predictor | list[Predictor], sources: Iterable[str | Path], *, top_k: int = 3,
                    tta: bool = False) -> tuple[PredictRun, list[torch.Tensor]]:
    """(the run, the decoded images) of image files by a loaded classifier, or the ensemble of a list of them: what
    `foveal predict` and `foveal serve` answer. Unreadable files are in the run's `failed`."""
    check_top_k(top_k)
    out = predict_with(predictor if isinstance(predictor, list) else [predictor], sources, tta=tta)
    return PredictRun(images=out.results, failed=out.failed, options={"k": int(top_k)}, csv=write_csv), out.images


def write_csv(run: PredictRun, path: Path | None, *, proba: bool = False, header: list[str] | None = None) -> str:
    """A Kaggle submission: a row per image, its label (or with `proba` every class's probability)."""
    from foveal.outputs import write_submission

    path = write_submission(run.images, path or Path("submission.csv"), proba=proba, header=header)
    return f"submission: {path} ({len(run.images)} rows)"


def check_top_k(top_k: int) -> None:
    if int(top_k) < 1:
        raise FovealError(f"top_k is how many labels to show per image, 1 or more; got {top_k}")


def save_annotated(results: list[Classification], images: list[torch.Tensor], project: str | Path, name: str,
                   top_k: int = 3) -> Path:
    """One annotated PNG per input image, named after it, in a new `<project>/<name>` folder."""
    from foveal.tasks.base import output_folder
    from foveal.viz.annotate import annotate_classification

    run_dir = output_folder(project, name)
    used: set[str] = set()
    for image, result in zip(images, results):
        stem = Path(result.source).stem
        target, i = stem, 2
        while target in used:
            target, i = f"{stem}_{i}", i + 1
        used.add(target)
        annotate_classification(image, result, k=top_k).save(run_dir / f"{target}.png")
    return run_dir
