"""The Predictor: a model and its card applied to image files, folders or tensors. The CLI, the API and (later) the
server and export parity checks all predict through here."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from foveal.data.augment import Normalize
from foveal.data.images import UnreadableImage, read_image
from foveal.data.views import to_input
from foveal.engine.checkpoint import load_model
from foveal.engine.device import select_device, use_channels_last
from foveal.infer.sources import expand_sources
from foveal.models.card import ModelCard
from foveal.types import Classification

log = logging.getLogger("foveal")


@dataclass
class Predictions:
    results: list[Classification]
    images: list[torch.Tensor] = field(default_factory=list)  # the decoded uint8 images, for drawing
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) of files that could not be read


class Predictor:
    def __init__(self, model: nn.Module, card: ModelCard, device: str = "cpu", batch_size: int = 64) -> None:
        self.card, self.batch_size = card, batch_size
        self.device = select_device(device)
        self.model = model.to(self.device).eval()
        channels_last = use_channels_last(None, self.model)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.normalize = Normalize(card.mean, card.std, channels_last)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu", batch_size: int = 64) -> "Predictor":
        model, card, _ = load_model(path)
        return cls(model, card, device, batch_size)

    @classmethod
    def from_pretrained(cls, name: str, device: str = "cpu", batch_size: int = 64) -> "Predictor":
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
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C) class probabilities for a uint8 (N, C, H, W) batch already in the card's input size."""
        out = [
            F.softmax(self.model(self.normalize(images[i : i + self.batch_size].to(self.device))).float(), 1).cpu()
            for i in range(0, len(images), self.batch_size)
        ]
        return torch.cat(out)

    def predict(self, sources: Iterable[str | Path]) -> Predictions:
        paths = expand_sources(sources)
        kept, images, failed = [], [], []
        for p in paths:
            try:
                img = read_image(p, channels=self.card.in_channels)
            except UnreadableImage as err:
                log.warning("skipped %s: %s", p, err)
                failed.append((str(p), str(err)))
                continue
            kept.append(p)
            images.append(img)
        if not images:
            return Predictions([], [], failed)
        probs = self.probabilities(torch.stack([self.prepare(i) for i in images]))
        results = [Classification(pr.numpy(), self.card.classes, str(p)) for p, pr in zip(kept, probs)]
        return Predictions(results, images, failed)
