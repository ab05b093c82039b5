"""Saving drawn predictions into a run folder."""

from __future__ import annotations

from pathlib import Path

from foveal.engine.rundir import new_run_dir
from foveal.infer.predictor import Predictions


def save_annotated(out: Predictions, project: str | Path, name: str, top_k: int = 3) -> Path:
    """One annotated PNG per input image, named after it, in a new `<project>/<name>` folder."""
    from foveal.viz.annotate import annotate_classification

    run_dir = new_run_dir(project, name)
    used: set[str] = set()
    for image, result in zip(out.images, out.results):
        stem = Path(result.source).stem
        target, i = stem, 2
        while target in used:
            target, i = f"{stem}_{i}", i + 1
        used.add(target)
        annotate_classification(image, result, k=top_k).save(run_dir / f"{target}.png")
    return run_dir
