"""`foveal predict` for a detector: boxes as text, JSON or CSV, drawn images and videos, crops per object, counts per
class."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import typer

from foveal.infer.sources import PredictRun
from foveal.types import Detections



def detect_sources(checkpoint: Path, sources: list[str | Path], *, conf: float = 0.25, iou: float = 0.6,
                   max_det: int | None = None, classes: list[str] | None = None, save: bool = False, crop: bool = False,
                   margin: float = 0.0, project: str | Path = "runs", name: str = "predict", device: str = "cpu") -> PredictRun:
    """A detector over image files, folders and video files; with `save`, drawn images and videos (<stem>.mp4), with
    `crop`, crops/<class>/... under <project>/<name>. Unreadable files are reported and skipped."""
    from foveal.infer.detect_save import output_dir, save_crops, save_drawn
    from foveal.infer.detector import DetectPredictor
    from foveal.infer.sources import split_videos

    stills, videos = split_videos(sources)
    predictor = DetectPredictor.from_checkpoint(checkpoint, device=device)
    kw = dict(conf=conf, iou=iou, classes=classes, max_det=max_det)
    run = PredictRun(folder=output_dir(project, name) if save or crop else None)
    if stills:
        run.images, images, run.failed = predictor.predict(stills, **kw)
        if run.folder is not None and save:
            save_drawn(run.images, images, run.folder)
        if run.folder is not None and crop:
            save_crops(run.images, images, run.folder, margin)
    run.add_videos(videos, lambda path: predict_video(predictor, path, run.folder if save else None,
                                                      run.folder if crop else None, margin, **kw))
    return run


def predict_detections(checkpoint: Path, sources: list[str], *, format_: str, out: Path | None, **kw) -> None:
    """`foveal predict` on a detector: the detections as text (per-class counts), JSON or CSV."""
    from foveal.infer.detect_save import write_csv

    run = detect_sources(checkpoint, sources, **kw)
    if format_ == "json":
        typer.echo(json.dumps([d.to_dict() for d in run.all], indent=2))
    elif format_ == "csv":
        path = write_csv(run.all, out or Path("detections.csv"))
        typer.echo(f"boxes: {path} ({sum(len(d) for d in run.all)} rows)")
    else:
        for d in run.images:
            typer.echo(f"{d.source}: {len(d)} object(s): {_counts(d.counts())}")
        for path, v in run.videos.items():
            typer.echo(f"{path}: {len(v)} frames, {sum(len(d) for d in v)} detections; most in one frame: "
                       f"{_counts(most_per_frame(v))}")
        if len(run.images) > 1:
            total = Counter()
            for d in run.images:
                total.update(d.counts())
            typer.echo("total: " + _counts(dict(total)))
    if run.folder is not None:
        crops = len(list((run.folder / "crops").rglob("*.jpg")))
        typer.echo(f"results in {run.folder}" + (f" ({crops} crops under crops/)" if crops else ""))
    if run.failed:
        typer.echo(f"{len(run.failed)} file(s) could not be read and were skipped", err=True)


def predict_video(predictor, path: Path, save_dir: Path | None, crop_dir: Path | None, margin: float,
                  **kw) -> list[Detections]:
    """Every frame's detections; with save_dir, the drawn frames as <stem>.mp4 at the video's frame rate; with
    crop_dir, each object's crop as crops/<class>/<stem>_<frame>_<n>.jpg."""
    from foveal.infer.detect_save import save_crops
    from foveal.infer.video import run_video
    from foveal.viz.boxes import draw_detections

    return run_video(path, lambda frames: predictor.detect_frames(frames, source=str(path), **kw),
                     draw=lambda frame, det: np.asarray(draw_detections(frame, det).convert("RGB")), save_dir=save_dir,
                     each=None if crop_dir is None else lambda frame, det: save_crops([det], [frame], crop_dir, margin))


def most_per_frame(frames: list[Detections]) -> dict[str, int]:
    """Per class, the most objects seen in any one frame (the count of a video: the same car is in every frame)."""
    most: dict[str, int] = {}
    for d in frames:
        for c, n in d.counts().items():
            most[c] = max(most.get(c, 0), n)
    return most


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {c}" for c, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "nothing"
