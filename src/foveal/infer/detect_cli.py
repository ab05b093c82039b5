"""`foveal predict` for a detector: boxes as text, JSON or CSV, drawn images, crops per object, counts per class."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import typer

from foveal.errors import FovealError


def predict_detections(checkpoint: Path, sources: list[str], *, conf: float, iou: float, max_det: int | None,
                       format_: str, classes: list[str] | None, out: Path | None, save: bool, crop: bool, margin: float,
                       project: str, name: str, device: str) -> None:
    from foveal.infer.detect_save import output_dir, save_crops, save_drawn, write_csv
    from foveal.infer.detector import DetectPredictor

    if not sources:
        raise FovealError("no images given: pass image files or folders after the options")
    predictor = DetectPredictor.from_checkpoint(checkpoint, device=device)
    dets, images, failed = predictor.predict(sources, conf=conf, iou=iou, classes=classes, max_det=max_det)
    if format_ == "json":
        typer.echo(json.dumps([d.to_dict() for d in dets], indent=2))
    elif format_ == "csv":
        path = write_csv(dets, out or Path("detections.csv"))
        typer.echo(f"boxes: {path} ({sum(len(d) for d in dets)} rows)")
    else:
        for d in dets:
            counts = ", ".join(f"{n} {c}" for c, n in sorted(d.counts().items(), key=lambda kv: -kv[1])) or "nothing"
            typer.echo(f"{d.source}: {len(d)} object(s): {counts}")
        if len(dets) > 1:
            total = Counter()
            for d in dets:
                total.update(d.counts())
            typer.echo("total: " + (", ".join(f"{n} {c}" for c, n in total.most_common()) or "nothing"))
    if (save or crop) and dets:
        folder = output_dir(project, name)
        if save:
            save_drawn(dets, images, folder)
        if crop:
            typer.echo(f"crops: {save_crops(dets, images, folder, margin)} written under {folder / 'crops'}")
        typer.echo(f"results in {folder}")
    if failed:
        typer.echo(f"{len(failed)} file(s) could not be read and were skipped", err=True)
    if not dets:
        raise FovealError("no image could be read")
