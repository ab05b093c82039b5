"""Detection at prediction time: a trained detector on image files, folders, decoded images or videos, with confidence
and NMS thresholds, a class filter and per-class counts; drawn images and videos, and a crop per object."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch

import numpy as np

from foveal.errors import FovealError
from foveal.infer.sources import CheckpointPredictor, PredictRun, split_videos
from foveal.models.detection import NMS_IOU, set_postprocess
from foveal.types import Detections

log = logging.getLogger("foveal")

DEFAULT_CONF, DEFAULT_IOU = 0.25, NMS_IOU


class DetectPredictor(CheckpointPredictor):
    task, kind = "detect", "detector"
    reduces = True  # large photos may be decoded reduced: boxes scale back to the photo's pixels (masks would not)

    def __init__(self, model, card, device: str = "auto", batch_size: int = 8) -> None:
        super().__init__(model, card, device, batch_size)
        self.model = inference_detector(self.model, card)

    def class_ids(self, names: Sequence[str] | None) -> list[int] | None:
        """Class names (or ids) to keep, checked against the card."""
        if not names:
            return None
        ids = []
        for n in names:
            if n in self.card.classes:
                ids.append(self.card.classes.index(n))
            elif str(n).isdigit() and int(n) < self.card.num_classes:
                ids.append(int(n))
            else:
                raise FovealError(f"--classes: {n!r} is not a class of this model ({', '.join(self.card.classes[:8])}"
                                  f"{', ...' if self.card.num_classes > 8 else ''})")
        return ids

    @torch.inference_mode()
    def detect(self, images: list[torch.Tensor], *, conf: float = DEFAULT_CONF, iou: float = DEFAULT_IOU,
               classes: Sequence[str] | None = None, max_det: int | None = None, agnostic_nms: bool = False,
               sources: Sequence[str] = ()) -> list[Detections]:
        """Detections for decoded uint8 (C, H, W) images of any size (grey ones as RGB), boxes in their own pixels;
        with `agnostic_nms`, overlapping boxes of different classes are suppressed too (one object, one box)."""
        if not 0 <= conf <= 1 or not 0 < iou <= 1:
            raise FovealError(f"--conf must be in [0, 1] and --iou in (0, 1]; got {conf} and {iou}")
        set_postprocess(self.model, conf=conf, iou=iou, max_det=max_det or self.card.model_kwargs.get("max_det", 100))
        keep = self.class_ids(classes)
        out = []
        for i in range(0, len(images), self.batch_size):
            batch = [_rgb(im).to(self.device, torch.float32).div_(255) for im in images[i:i + self.batch_size]]
            for j, (img, o) in enumerate(zip(batch, self.model(batch))):
                src = sources[i + j] if i + j < len(sources) else ""
                det = self.convert(o, tuple(img.shape[-2:]), src)
                det = det if keep is None else det[np.array([c in keep for c in det.class_id.tolist()], dtype=bool)]
                out.append(class_agnostic(det, iou) if agnostic_nms else det)
        return out

    def convert(self, out: dict[str, torch.Tensor], size: tuple[int, int], source: str) -> Detections:
        """The model's output for one image as foveal's Detections."""
        return to_detections(out, self.card.classes, size, source)

    def detect_frames(self, frames: Iterable[torch.Tensor], source: str = "", **kw) -> Iterator[tuple[torch.Tensor, Detections]]:
        """(frame, its detections) for a stream of decoded frames (a video), batch by batch; `frame` numbers them."""
        from foveal.infer.video import predict_frames

        return predict_frames(frames, lambda batch: self.detect(batch, sources=[source] * len(batch), **kw), self.batch_size)

    def predict(self, sources: Iterable[str | Path], *, keep_pixels: bool = False,
                **kw) -> tuple[list[Detections], list[torch.Tensor], list[tuple[str, str]]]:
        """(detections, decoded images, unreadable files) for files and folders; unreadable ones are skipped. A large
        JPEG is decoded reduced to the model's input size, unless `keep_pixels` (drawings and crops are made from the
        decoded images) or the detections carry masks; the boxes are in the photo's own pixels either way."""
        from foveal.data.images import probe

        reduce = self.card.input_size if self.reduces and not keep_pixels else None
        paths, images, failed = self.read(sources, reduce_to=reduce)
        dets = self.detect(images, sources=paths, **kw)
        if reduce is not None:
            dets = [d.rescaled((info.height, info.width)) for d, info in zip(dets, map(probe, paths))]
        return dets, images, failed


def inference_detector(model: torch.nn.Module, card) -> torch.nn.Module:
    """What detections come from: a single-stage detector split at its raw outputs, so that its eager network and
    an exported file of it share one transform, box decoding and NMS (models/split.py); an exported file's
    detector is built from the card for them; a two-stage detector runs whole, its exported file through
    WholeRunner."""
    from foveal.models.split import RawDetector, SplitDetector, WholeRunner, splits
    from foveal.runtime import ExportedModule

    if isinstance(model, ExportedModule):
        template = card.build()
        if splits(template):
            return SplitDetector(model, template)
        return WholeRunner(model, masks=model.n_outputs == 4)
    if splits(model):
        return SplitDetector(RawDetector(model), model)
    return model


def class_agnostic(det: Detections, iou: float) -> Detections:
    """The boxes that survive NMS across classes: of boxes overlapping more than `iou`, the most confident."""
    from torchvision.ops import nms

    if len(det) < 2:
        return det
    kept = nms(torch.from_numpy(det.xyxy), torch.from_numpy(det.confidence), iou).numpy()
    return det[np.sort(kept)]


def _rgb(image: torch.Tensor) -> torch.Tensor:
    return image.expand(3, -1, -1) if image.shape[0] == 1 else image


def to_detections(out: dict[str, torch.Tensor], classes: tuple[str, ...], image_size: tuple[int, int],
                  source: str = "") -> Detections:
    """A torchvision detector's output for one image (labels 1.., 0 the background) as foveal's Detections. RetinaNet
    and FCOS score label 0 like any class (never trained positive, it rarely clears a threshold): it is dropped."""
    keep = out["labels"] > 0
    return Detections(out["boxes"][keep].float().cpu().numpy(), out["scores"][keep].float().cpu().numpy(),
                      (out["labels"][keep] - 1).cpu().numpy(), classes, image_size, source=source)


def detect_sources(checkpoint: Path, sources: list[str | Path], *, conf: float = DEFAULT_CONF, iou: float = DEFAULT_IOU,
                   max_det: int | None = None, classes: list[str] | None = None, agnostic_nms: bool = False,
                   save: bool = False, crop: bool = False, margin: float = 0.0, project: str | Path = "runs",
                   name: str = "predict", device: str = "auto") -> PredictRun:
    """A detector over image files, folders and video files; with `save`, drawn images and videos (<stem>.mp4), with
    `crop`, crops/<class>/... under <project>/<name>. Unreadable files are reported and skipped."""
    from foveal.tasks.base import output_folder
    from foveal.tasks.detect.save import save_crops, save_drawn

    stills, videos = split_videos(sources)
    predictor = DetectPredictor.from_checkpoint(checkpoint, device=device)
    kw = dict(conf=conf, iou=iou, classes=classes, max_det=max_det, agnostic_nms=agnostic_nms)
    run, images = detect_loaded(predictor, stills, keep_pixels=save or crop, **kw)
    run.folder = output_folder(project, name) if save or crop else None
    if stills:
        if run.folder is not None and save:
            save_drawn(run.images, images, run.folder)
        if run.folder is not None and crop:
            save_crops(run.images, images, run.folder, margin)
    run.add_videos(videos, lambda path: predict_video(predictor, path, run.folder if save else None,
                                                      run.folder if crop else None, margin, **kw))
    return run


def detect_loaded(predictor: DetectPredictor, sources: Iterable[str | Path], *, conf: float = DEFAULT_CONF,
                  iou: float = DEFAULT_IOU, classes: list[str] | None = None, max_det: int | None = None,
                  agnostic_nms: bool = False, keep_pixels: bool = False) -> tuple[PredictRun, list[torch.Tensor]]:
    """(the run, the decoded images) of image files by a loaded detector: what `foveal predict` and `foveal serve`
    answer. Unreadable files are in the run's `failed`; `keep_pixels` as in DetectPredictor.predict."""
    run, sources = PredictRun(lines=text_lines, csv=write_csv), list(sources)
    if not sources:
        return run, []
    run.images, images, run.failed = predictor.predict(sources, keep_pixels=keep_pixels, conf=conf, iou=iou,
                                                       classes=classes, max_det=max_det, agnostic_nms=agnostic_nms)
    return run, images


def predict_video(predictor, path: Path, save_dir: Path | None, crop_dir: Path | None, margin: float,
                  **kw) -> list[Detections]:
    """Every frame's detections; with save_dir, the drawn frames as <stem>.mp4 at the video's frame rate; with
    crop_dir, each object's crop as crops/<class>/<stem>_<frame>_<n>.jpg."""
    from foveal.infer.video import run_video
    from foveal.tasks.detect.save import save_crops
    from foveal.viz.boxes import draw_detections

    return run_video(path, lambda frames: predictor.detect_frames(frames, source=str(path), **kw),
                     draw=lambda frame, det: np.asarray(draw_detections(frame, det).convert("RGB")), save_dir=save_dir,
                     each=None if crop_dir is None else lambda frame, det: save_crops([det], [frame], crop_dir, margin))


def text_lines(run: PredictRun) -> list[str]:
    """Each image's objects per class, each video's frames and the most objects of a class in one frame, and the
    total per class over several images."""
    from collections import Counter

    from foveal.types import describe_counts

    lines = [f"{d.source}: {d.summary()}" for d in run.images]
    for path, v in run.videos.items():
        lines.append(f"{path}: {len(v)} frames, {sum(len(d) for d in v)} detections; most in one frame: "
                     f"{describe_counts(most_per_frame(v))}")
    if len(run.images) > 1:
        total = Counter()
        for d in run.images:
            total.update(d.counts())
        lines.append("total: " + describe_counts(dict(total)))
    if run.folder is not None:
        crops = len(list((run.folder / "crops").rglob("*.jpg")))
        if crops:
            lines.append(f"{crops} crops under {run.folder / 'crops'}")
    return lines


def write_csv(run: PredictRun, path: Path | None) -> str:
    """A row per box (of every image and video frame)."""
    from foveal.outputs import write_detections_csv

    path = write_detections_csv(run.all, path or Path("detections.csv"))
    return f"boxes: {path} ({sum(len(d) for d in run.all)} rows)"


def most_per_frame(frames: list[Detections]) -> dict[str, int]:
    """Per class, the most objects seen in any one frame (the count of a video: the same car is in every frame)."""
    most: dict[str, int] = {}
    for d in frames:
        for c, n in d.counts().items():
            most[c] = max(most.get(c, 0), n)
    return most
