"""Semantic segmentation at prediction time: a class for every pixel of images of any size, and of video frames."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from foveal.engine.device import autocast_dtype, use_channels_last
from foveal.infer.sources import CheckpointPredictor
from foveal.models.card import ModelCard
from foveal.types import Segmentation


@torch.inference_mode()
def class_maps(model: nn.Module, card: ModelCard, images: Sequence[torch.Tensor], device: torch.device,
               batch_size: int = 8, amp: str = "auto") -> list[torch.Tensor]:
    """Each uint8 (C, H, W) image's (H, W) int64 class map: the image resized to the card's input size, its logits
    resized back (bilinear) to the image's own size, then the arg-max."""
    from foveal.data.images import resize
    from foveal.models.segmentation import logits

    dtype = autocast_dtype(amp, device, model)
    channels_last = use_channels_last(None, model)
    mean = torch.tensor(card.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(card.std, device=device).view(1, -1, 1, 1)
    was_training = model.training
    model.eval()
    maps = []
    for i in range(0, len(images), batch_size):
        chunk = images[i:i + batch_size]
        x = torch.stack([resize(im.expand(3, -1, -1), card.input_size) for im in chunk]).to(device, torch.float32)
        x = (x.div_(255) - mean) / std
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            out = logits(model, x).float()
        for im, o in zip(chunk, out):
            maps.append(F.interpolate(o[None], size=tuple(im.shape[-2:]), mode="bilinear",
                                      align_corners=False)[0].argmax(0).cpu())
    model.train(was_training)
    return maps


class SegmentPredictor(CheckpointPredictor):
    task, kind = "segment", "segmenter"
    instances = False  # a class per pixel (an InstancePredictor gives a mask per object)

    def segment(self, images: Sequence[torch.Tensor], sources: Sequence[str] = ()) -> list[Segmentation]:
        maps = class_maps(self.model, self.card, images, self.device, self.batch_size)
        return [Segmentation(m.numpy(), self.card.classes, sources[i] if i < len(sources) else "")
                for i, m in enumerate(maps)]

    def segment_frames(self, frames: Iterable[torch.Tensor], source: str = "") -> Iterator[tuple[torch.Tensor, Segmentation]]:
        """(frame, its class map) for a stream of decoded frames (a video), batch by batch; `frame` numbers them."""
        from foveal.infer.video import predict_frames

        return predict_frames(frames, lambda batch: self.segment(batch, [source] * len(batch)), self.batch_size)

    def predict(self, sources: Iterable[str | Path]) -> tuple[list[Segmentation], list[torch.Tensor], list[tuple[str, str]]]:
        """(class maps, decoded images, unreadable files) for files and folders; unreadable ones are skipped."""
        from foveal.infer.predictor import read_sources

        paths, images, failed = read_sources(sources, channels=3)
        return self.segment(images, [str(p) for p in paths]), images, failed
