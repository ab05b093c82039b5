"""Evaluating checkpoints on a data set, with exactly the preprocessing and batching of their training runs. It knows
no task: `task_of` gives the Task of a checkpoint's card (Model passes tasks.resolve_task)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from foveal.config import TrainConfig
from foveal.engine.checkpoint import load_model, replace_card, resolve_checkpoint
from foveal.engine.device import select_device, use_channels_last
from foveal.engine.rundir import new_run_dir
from foveal.engine.runlock import run_lock
from foveal.errors import FovealError
from foveal.metrics.calibration import calibration_summary
from foveal.models.card import ModelCard

log = logging.getLogger("foveal")


def evaluate_checkpoints(
    checkpoints: list[str | Path], task_of: Callable[[ModelCard], Any], *, data: str | Path | None = None, data_root: str | Path | None = None,
    project: str | Path | None = "runs", name: str = "val", batch_size: int | None = None, device: str = "auto",
    tta: bool | None = None, split: str = "val", calibrate: bool = False,
) -> tuple[dict[str, Any], Path | None]:
    """Metrics of one checkpoint, or of several averaged (an ensemble: the mean of their probabilities), on the data
    the first was trained on unless `data` is given, its validation split or (`split="test"`) its labelled test split.
    Each model sees the data with its own run's preprocessing. With `calibrate`, what the task fits on this output
    (a classifier's temperature) is saved in the checkpoint's card and the metrics are those after it."""
    if calibrate and len(checkpoints) > 1:
        raise FovealError("--calibrate fits one model's temperature; calibrate each member of an ensemble on its own "
                          "(an ensemble averages its members' calibrated probabilities)")
    outs, first, same = [], None, {}
    stamp = _stamp(checkpoints[0])
    for checkpoint in checkpoints:
        task, out, val, splits, cfg = _evaluate_one(checkpoint, task_of, data, data_root, batch_size, device, tta,
                                                    {**same, "split": split}, calibrate)
        if len(checkpoints) > 1 and not task.ensembles:
            raise FovealError(f"ensembles of {task.name} models are not supported; evaluate one checkpoint at a time")
        # every member is scored on the first one's validation images (the same data, split with the same seed)
        same = {"data": cfg.data, "data_root": cfg.data_root, "seed": cfg.seed, "val_split": cfg.val_split}
        if first is not None and tuple(first[2].classes) != tuple(val.classes):
            raise FovealError(f"cannot ensemble {checkpoint}: its classes differ from those of {checkpoints[0]}")
        if first is not None and not torch.equal(first[1].targets, out.targets):
            raise FovealError(f"cannot ensemble {checkpoint}: it was validated on other images than {checkpoints[0]}")
        first = first or (task, out, val, splits)
        outs.append(out)
    task, _, val, splits = first
    for note in splits.notes:  # what the reader skipped, as training reports it (once: the data of the first member)
        log.warning(note)
    out = outs[0] if len(outs) == 1 else task.combine(outs)
    if calibrate:
        out = _calibrate(task, out, checkpoints[0], stamp, split)
    metrics = {"task": task.card.task, "model": task.card.model if len(outs) == 1 else f"ensemble of {len(outs)}",
               "data": splits.name, "split": split, **out.metrics}
    run_dir = None
    if project is not None:
        run_dir = new_run_dir(project, name)
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
        task.write_report(run_dir, val, out, [])
    return metrics, run_dir


def _stamp(checkpoint: str | Path) -> tuple[int, int]:
    stat = resolve_checkpoint(checkpoint).stat()
    return stat.st_mtime_ns, stat.st_size


def _calibrate(task: Any, out: Any, checkpoint: str | Path, stamp: tuple[int, int], split: str) -> Any:
    """Fit the task's calibration on `out` and save its card in the checkpoint, unless the file changed since it was
    read (a run still training in its folder: its lock is held while the card is written)."""
    out, card = task.calibrate(out)
    path = resolve_checkpoint(checkpoint)
    with contextlib.ExitStack() as held:
        if (path.parent / "config.yaml").is_file():  # a run folder
            try:
                held.enter_context(run_lock(path.parent))
            except FovealError as err:
                raise FovealError(f"cannot save the temperature in {path} now: {err}") from None
        if _stamp(path) != stamp:
            raise FovealError(f"{path} changed while it was evaluated; run val --calibrate again")
        replace_card(path, card)
    log.info("%s; saved in %s. These figures, on the images it was fitted on, are optimistic",
             calibration_summary(out.metrics, f"the {split} split"), path)
    return out


def _evaluate_one(checkpoint, task_of, data, data_root, batch_size, device, tta, same, calibrate=False):
    model, card, ckpt = load_model(checkpoint)
    if calibrate and not task_of(card).calibrates:
        raise FovealError(f"--calibrate fits a classifier's temperature; a {card.task} model has none to fit")
    cfg = TrainConfig.from_dict(ckpt["config"]).replace(**same)
    if data is not None:
        cfg = cfg.replace(data=str(data), data_root=None if data_root is None else str(data_root))
    elif data_root is not None:
        cfg = cfg.replace(data_root=str(data_root))
    if batch_size:
        cfg = cfg.replace(eval_batch_size=batch_size)
    if tta is not None:  # None: as the run was evaluated (a speed recipe's runs use TTA)
        cfg = cfg.replace(tta=tta)
    task_type = task_of(card)
    splits = task_type.load_data(cfg)
    val = task_type.eval_split(splits, card)
    dev = select_device(device)
    channels_last = use_channels_last(cfg.channels_last, model)
    model = model.to(dev)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    task = task_type(cfg, card, dev, channels_last)
    return task, task.evaluate(model, task.val_loader(val)), val, splits, cfg
