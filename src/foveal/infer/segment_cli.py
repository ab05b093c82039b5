"""`foveal predict` for a segmenter: per-class pixel areas (and physical areas with --pixel-size) as text or JSON with
COCO RLE masks, colour overlays with a legend, RGBA cut-outs of one class, images, folders and videos. Instance
segmenters (Mask R-CNN) go on in instance_cli."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import typer

from foveal.errors import FovealError
from foveal.infer.sources import PredictRun
from foveal.types import Detections, Segmentation



def rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO's run-length encoding of a (H, W) bool mask ({"size": [H, W], "counts": str}), as pycocotools writes it."""
    from pycocotools import mask as mask_utils

    enc = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in enc["size"]], "counts": enc["counts"].decode("ascii")}


def area_entry(mask: np.ndarray, pixel_size: float | None = None, with_rle: bool = True) -> dict[str, Any]:
    """A (H, W) bool region's pixel count, share of the image, area in mm² (with `pixel_size`, the side of one pixel
    in mm) and RLE mask."""
    pixels = int(mask.sum())
    entry: dict[str, Any] = {"pixels": pixels, "fraction": round(pixels / mask.size, 6)}
    if pixel_size:
        entry["area_mm2"] = round(pixels * pixel_size ** 2, 6)
    if with_rle:
        entry["rle"] = rle(mask)
    return entry


def segmentation_dict(seg: Segmentation, pixel_size: float | None = None, masks: bool = True) -> dict[str, Any]:
    """What JSON output holds for one image or frame: per class its pixel count, share of the image, area in mm²
    (with `pixel_size` in mm) and RLE mask."""
    classes = []
    for name, _ in sorted(seg.areas().items(), key=lambda kv: -kv[1]):
        c = seg.classes.index(name)
        classes.append({"class": name, "class_id": c, **area_entry(seg.class_map == c, pixel_size, masks)})
    return {"source": seg.source, **({} if seg.frame is None else {"frame": seg.frame}),
            "image_size": [int(v) for v in seg.image_size], "classes": classes}


def class_id(classes: tuple[str, ...], name: str | None) -> int | None:
    if name is None:
        return None
    if name in classes:
        return classes.index(name)
    raise FovealError(f"--cutout {name!r}: not a class of this model ({', '.join(classes[:10])}"
                      f"{', ...' if len(classes) > 10 else ''})")


def segment_sources(checkpoint: Path, sources: list[str | Path], *, save: bool = False, cutout: str | None = None,
                    project: str | Path = "runs", name: str = "predict", device: str = "cpu", conf: float = 0.25,
                    iou: float = 0.6, max_det: int | None = None) -> PredictRun:
    """A segmenter over image files, folders and video files; with `save`, overlays with a legend (<stem>.png) and
    drawn videos (<stem>.mp4); with `cutout`, <stem>_<class>.png with everything else transparent. An instance
    segmenter keeps objects at least `conf` confident (NMS at `iou`, at most `max_det`)."""
    from foveal.infer.detect_save import output_dir
    from foveal.infer.sources import split_videos

    predictor = segment_predictor(checkpoint, device)
    keep = class_id(predictor.card.classes, cutout)
    folder = output_dir(project, name) if save or cutout else None
    if predictor.instances:
        from foveal.infer.instance_cli import instance_sources

        return instance_sources(predictor, sources, save=save, keep=keep, conf=conf, iou=iou, max_det=max_det,
                                folder=folder)
    stills, videos = split_videos(sources)
    run = PredictRun(folder=folder)
    if stills:
        run.images, images, run.failed = predictor.predict(stills)
        if run.folder is not None:
            save_outputs(run.images, images, run.folder, save, keep)
    run.add_videos(videos, lambda path: segment_video(predictor, path, run.folder if save else None))
    return run


def segment_predictor(checkpoint: Path, device: str = "cpu"):
    """The predictor of a segmentation checkpoint: a SegmentPredictor (a class per pixel) or, for a Mask R-CNN, an
    InstancePredictor (a mask per object); their `instances` tells which."""
    from foveal.engine.checkpoint import load_model
    from foveal.infer.detector import InstancePredictor
    from foveal.infer.segmenter import SegmentPredictor
    from foveal.models.instance import is_instance_model

    model, card, _ = load_model(checkpoint)
    return (InstancePredictor if is_instance_model(card.model) else SegmentPredictor)(model, card, device)


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


def predict_segmentation(checkpoint: Path, sources: list[str], *, format_: str, pixel_size: float | None, **kw) -> None:
    """`foveal predict` on a segmenter: per-class (and, for instances, per-object) areas as text, or JSON with RLE
    masks."""
    from foveal.infer.instance_cli import describe, instance_dict

    if pixel_size is not None and pixel_size <= 0:
        raise FovealError(f"--pixel-size is the side of one pixel in mm, above 0; got {pixel_size}")
    if format_ == "csv":
        raise FovealError("--format csv is for classifiers and detectors; a segmenter writes text or json")
    run = segment_sources(checkpoint, sources, **kw)
    as_dict = lambda r: instance_dict(r, pixel_size) if isinstance(r, Detections) else segmentation_dict(r, pixel_size)
    as_text = lambda r: describe(r, pixel_size) if isinstance(r, Detections) else _areas(r, pixel_size)
    if format_ == "json":
        typer.echo(json.dumps([as_dict(r) for r in run.all], indent=2))
    else:
        for r in run.images:
            typer.echo(f"{r.source}: {as_text(r)}")
        for path, v in run.videos.items():
            typer.echo(f"{path}: {len(v)} frames; first frame: {as_text(v[0])}")
    if run.folder is not None:
        typer.echo(f"results in {run.folder}")
    if run.failed:
        typer.echo(f"{len(run.failed)} file(s) could not be read and were skipped", err=True)


def describe_area(pixels: int, total: int, pixel_size: float | None) -> str:
    """'12.3% (1234 px, 308.5 mm²)' of a region of `pixels` in an image of `total`."""
    mm = f", {pixels * pixel_size ** 2:.6g} mm²" if pixel_size else ""
    return f"{pixels / total:.1%} ({pixels} px{mm})"


def _areas(seg: Segmentation, pixel_size: float | None) -> str:
    total = seg.class_map.size
    return ", ".join(f"{name} {describe_area(n, total, pixel_size)}"
                     for name, n in sorted(seg.areas().items(), key=lambda kv: -kv[1]))
