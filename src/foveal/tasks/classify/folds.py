"""K-fold cross-validation (`--folds K`): K models, each validated on the fold it did not see; the out-of-fold
predictions of all of them score the recipe.

All labelled images (the training and validation splits together) are dealt into K stratified folds. Run folder:
`<project>/<name>/fold1 .. foldK/` (each a normal run, its best.pt usable alone or as an ensemble member),
`oof.csv` (every image's out-of-fold probabilities) and `metrics.json` (`oof_accuracy`, `oof_log_loss`, the
per-fold accuracies, and the usual metrics computed on the out-of-fold predictions).
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import torch

from foveal.config import TrainConfig
from foveal.data.tensors import DataSplits, ImageSet
from foveal.engine.rundir import new_run_dir, run_name
from foveal.errors import FovealError
from foveal.outputs import cell, probability_cells

log = logging.getLogger("foveal")


def fold_ids(labels: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    """The fold (0..k-1) of every image: each class shuffled (seeded) and dealt round-robin."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.empty(len(labels), dtype=torch.int64)
    offset = 0
    for c in labels.unique(sorted=True).tolist():
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        ids[idx] = (torch.arange(len(idx)) + offset) % k  # the offset spreads small classes' remainders
        offset += len(idx)
    return ids


def pooled(data: DataSplits) -> ImageSet:
    t, v = data.train, data.val
    if t.size != v.size or t.channels != v.channels:
        raise FovealError(f"cannot pool the train and val images for folds: {t.size} vs {v.size}")
    paths = t.paths + v.paths if t.paths is not None and v.paths is not None else None
    return ImageSet(torch.cat([t.images, v.images]), torch.cat([t.labels, v.labels]), t.classes, paths)


def train_folds(cfg: TrainConfig, data: DataSplits, task, progress: bool = True) -> tuple[Path, dict[str, Any]]:
    from foveal.engine.trainer import Trainer

    k = int(cfg.folds)
    for note in data.notes:  # the folds' trainers see only their parts: what the reader skipped is said here, once
        log.warning(note)
    images = pooled(data)
    counts = images.class_counts()
    if int(counts.min()) < k:
        small = images.classes[int(counts.argmin())]
        raise FovealError(f"--folds {k} needs at least {k} images of every class; {small!r} has {int(counts.min())}")
    ids = fold_ids(images.labels, k, cfg.seed)
    parent = new_run_dir(cfg.project, run_name(cfg), cfg.exist_ok)
    cfg.save(parent / "config.yaml")
    oof = torch.zeros(len(images), len(images.classes))
    per_fold, scorer = [], None
    for f in range(k):
        val_idx, train_idx = (ids == f).nonzero().flatten(), (ids != f).nonzero().flatten()
        split = DataSplits(f"{data.name} fold {f + 1}/{k}", images.subset(train_idx), images.subset(val_idx))
        log.info("fold %d/%d: %d train, %d val images", f + 1, k, len(train_idx), len(val_idx))
        trainer = Trainer(cfg, split, task, run_dir=_fold_dir(parent, f), progress=progress)
        result = trainer.fit()
        oof[val_idx] = result.output.probs
        per_fold.append(result.metrics[trainer.task.fitness_key])
        scorer = trainer.task
    out = scorer.scored(oof, images.labels)
    metrics = {"task": cfg.task, "model": cfg.model, "data": data.name, "folds": k, **out.metrics,
               "oof_accuracy": out.metrics["accuracy"], "oof_log_loss": out.metrics["log_loss"], "fold_accuracy": per_fold}
    (parent / "metrics.json").write_text(json.dumps(metrics, indent=2))
    _write_oof(parent / "oof.csv", images, oof)
    log.info("%d-fold out-of-fold accuracy %.4f, log loss %.4f; folds %s; results in %s", k, metrics["oof_accuracy"],
             metrics["oof_log_loss"], ", ".join(f"{a:.4f}" for a in per_fold), parent)
    return parent, metrics


def _fold_dir(parent: Path, f: int) -> Path:
    d = parent / f"fold{f + 1}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _write_oof(path: Path, images: ImageSet, probs: torch.Tensor) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["index", "source", "label", "prediction", *(cell(c) for c in images.classes)])
        for i, (label, p) in enumerate(zip(images.labels.tolist(), probs)):
            source = images.paths[i] if images.paths is not None else ""
            w.writerow([i, cell(source), cell(images.classes[label]), cell(images.classes[int(p.argmax())]), *probability_cells(p.tolist())])
