"""Semantic segmentation at prediction time: a class for every pixel of images of any size and of video frames;
colour overlays with a legend, and RGBA cut-outs of one class."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from foveal.engine.device import autocast_dtype, use_channels_last
from foveal.errors import FovealError
from foveal.infer.sources import CheckpointPredictor, PredictRun, split_videos
from foveal.models.card import ModelCard
from foveal.types import Segmentation


def network_input(images: Sequence[torch.Tensor], card: ModelCard, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (C, H, W) images of any size as the network takes them: resized to the card's input size, in [0, 1],
    normalised with the card's mean and std."""
    from foveal.data.images import resize

    mean = torch.tensor(card.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(card.std, device=device).view(1, -1, 1, 1)
    x = torch.stack([resize(im.expand(3, -1, -1), card.input_size) for im in images]).to(device, torch.float32)
    return (x.div_(255) - mean) / std


@torch.inference_mode()
def class_maps(model: nn.Module, card: ModelCard, images: Sequence[torch.Tensor], device: torch.device,
               batch_size: int = 8, amp: str = "auto") -> list[torch.Tensor]:
    """Each uint8 (C, H, W) image's (H, W) int64 class map: the image resized to the card's input size, its logits
    resized back (bilinear) to the image's own size, then the arg-max."""
    from foveal.models.segmentation import logits

    dtype = autocast_dtype(amp, device, model)
    channels_last = use_channels_last(None, model)
    was_training = model.training
    model.eval()
    maps = []
    for i in range(0, len(images), batch_size):
        chunk = images[i:i + batch_size]
        x = network_input(chunk, card, device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            out = logits(model, x).float()
        for im, o in zip(chunk, out):
            maps.append(arg_max_at(o, tuple(im.shape[-2:])).cpu())
    model.train(was_training)
    return maps


def arg_max_at(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The (H, W) class map of one image's (C, h, w) logits at `size`: resized (bilinear), then the first largest
    class of each pixel. `max(0).indices` is argmax's answer (the first maximum, documented for both) at about a
    third of its time over many classes on a CPU."""
    if tuple(logits.shape[-2:]) != size:
        logits = F.interpolate(logits[None], size=size, mode="bilinear", align_corners=False)[0]
    return logits.max(0).indices


class SegmentPredictor(CheckpointPredictor):
    task, kind = "segment", "segmenter"

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
        paths, images, failed = self.read(sources)
        return self.segment(images, paths), images, failed


def class_id(classes: tuple[str, ...], name: str | None) -> int | None:
    """The id of the class that --cutout names (None for none)."""
    if name is None:
        return None
    if name in classes:
        return classes.index(name)
    raise FovealError(f"--cutout {name!r}: not a class of this model ({', '.join(classes[:10])}"
                      f"{', ...' if len(classes) > 10 else ''})")


def check_pixel_size(pixel_size: float | None) -> None:
    if pixel_size is not None and pixel_size <= 0:
        raise FovealError(f"--pixel-size is the side of one pixel in mm, above 0; got {pixel_size}")


def segment_sources(checkpoint: Path, sources: list[str | Path], *, save: bool = False, cutout: str | None = None,
                    pixel_size: float | None = None, project: str | Path = "runs", name: str = "predict",
                    device: str = "auto") -> PredictRun:
    """A segmenter over image files, folders and video files; with `save`, overlays with a legend (<stem>.png) and
    drawn videos (<stem>.mp4); with `cutout`, <stem>_<class>.png with everything else transparent. `pixel_size`
    (the side of one pixel in mm) goes into the run's JSON and text as areas in mm²."""
    from foveal.tasks.base import output_folder

    check_pixel_size(pixel_size)
    predictor = SegmentPredictor.from_checkpoint(checkpoint, device)
    keep = class_id(predictor.card.classes, cutout)
    stills, videos = split_videos(sources)
    run, images = segment_loaded(predictor, stills, pixel_size=pixel_size)
    run.folder = output_folder(project, name) if save or cutout else None
    if run.folder is not None:
        save_outputs(run.images, images, run.folder, save, keep)
    run.add_videos(videos, lambda path: segment_video(predictor, path, run.folder if save else None))
    return run


def segment_loaded(predictor: SegmentPredictor, sources: Iterable[str | Path], *, pixel_size: float | None = None,
                   ) -> tuple[PredictRun, list[torch.Tensor]]:
    """(the run, the decoded images) of image files by a loaded segmenter: what `foveal predict` and `foveal serve`
    answer. Unreadable files are in the run's `failed`."""
    check_pixel_size(pixel_size)
    run, sources = PredictRun(options={"pixel_size": pixel_size}, lines=text_lines), list(sources)
    if not sources:
        return run, []
    run.images, images, run.failed = predictor.predict(sources)
    return run, images


def save_outputs(segs: list[Segmentation], images: list, folder: Path, overlays: bool, keep: int | None) -> None:
    from foveal.viz.masks import cutout, overlay

    for i, (seg, img) in enumerate(zip(segs, images)):
        stem = Path(seg.source).stem if seg.source else f"image{i}"
        if overlays:
            overlay(img, seg.class_map, seg.classes).save(folder / f"{stem}.png")
        if keep is not None:
            cutout(img, seg.class_map == keep).save(folder / f"{stem}_{seg.classes[keep]}.png")


def segment_video(predictor, path: Path, save_dir: Path | None) -> list[Segmentation]:
    """Every frame's class map; with save_dir, the overlaid frames (no legend: one frame size) as <stem>.mp4."""
    from foveal.infer.video import run_video
    from foveal.viz.masks import overlay

    return run_video(path, lambda frames: predictor.segment_frames(frames, source=str(path)), save_dir=save_dir,
                     draw=lambda frame, seg: np.asarray(overlay(frame, seg.class_map, seg.classes, legend=False)))


def text_lines(run: PredictRun) -> list[str]:
    """Each image's areas per class, and each video's first frame's."""
    lines = [f"{r.source}: {r.summary(**run.options)}" for r in run.images]
    lines += [f"{path}: {len(v)} frames; first frame: {v[0].summary(**run.options)}" for path, v in run.videos.items()]
    return lines
