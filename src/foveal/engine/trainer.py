"""The Trainer: fit a model on a task's data, evaluate every epoch, checkpoint atomically, resume, stop early.

It knows no task: what differs between tasks (data, model, loss, evaluation, what trains in each epoch) comes from
the Task it is handed (tasks/base.py).

Several processes (torchrun, `--nproc`) train one model together (engine/distributed.py): each takes its part of
every global batch (data/shard.py) and DistributedDataParallel averages the gradients; rank 0 alone evaluates and
writes, and broadcasts what the others must follow.

The run folder stays consistent under a kill at any moment: every file is written atomically, one process at a time
trains in a folder (runlock.run_lock), and best.pt is written before last.pt, so that what last.pt records as the
best epoch is always on disk; a resume takes the best epoch from best.pt itself (`_restore_best`)."""

from __future__ import annotations

import contextlib
import csv
import functools
import gc
import io
import json
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from foveal.config import TrainConfig
from foveal.data.tensors import DataSplits
from foveal.engine.checkpoint import replace_card, save_checkpoint
from foveal.data.shard import Shard
from foveal.engine import distributed
from foveal.engine.device import autocast_dtype, keep_freed_memory, select_device, use_channels_last
from foveal.engine.pace import measured_autocast
from foveal.engine.lookahead import Lookahead
from foveal.engine.loggers import RunLoggers
from foveal.engine.optim import lr_factor, make_optimizer
from foveal.engine.progress import EpochProgress, epoch_line
from foveal.engine.rundir import new_run_dir, run_name
from foveal.engine.runlock import run_lock
from foveal.errors import FovealError
from foveal.fileio import remove_stale_temps, write_text_atomic
from foveal.metrics.calibration import calibration_summary
from foveal.models.card import ModelCard
from foveal.models.registry import count_parameters

log = logging.getLogger("foveal")


class NonFiniteLoss(FovealError):
    """The loss became NaN or infinite; the run stopped and kept its last good checkpoint."""


@dataclass
class TrainResult:
    run_dir: Path
    metrics: dict[str, Any]
    output: Any = None  # the task's evaluation of the best weights on the validation split (EvalOutput)

    @property
    def best(self) -> Path:
        return self.run_dir / "best.pt"

    @property
    def last(self) -> Path:
        return self.run_dir / "last.pt"


def seed_everything(seed: int, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)  # per run, not left on for the next one
    torch.backends.cudnn.benchmark = not deterministic


def epochs_that_fit(done: int, spent_s: float, pace_s: float, budget_s: float, evaluated: bool = True,
                    final_eval_s: float = 0.0) -> int:
    """Epochs in all for a time budget: those done, and as many more whole epochs as fit at `pace_s` each with the
    last epoch's evaluation (`final_eval_s`) still to come; at least one more when the last one done was not
    evaluated, so that a run always ends on an evaluated epoch."""
    more = math.floor((budget_s - spent_s - final_eval_s) / max(pace_s, 1e-9))
    return done + max(more, 0 if evaluated else 1)


def check_resumable(ckpt: dict[str, Any], cfg: TrainConfig, data: DataSplits) -> None:
    card = ckpt["card"]
    if card["task"] != cfg.task:
        raise FovealError(f"cannot resume: the checkpoint is a {card['task']} model, this run is {cfg.task}")
    if card["model"] != cfg.model:
        raise FovealError(f"cannot resume: the checkpoint holds model {card['model']!r}, this run asks for {cfg.model!r}")
    if len(card["classes"]) != len(data.classes):
        raise FovealError(
            f"cannot resume: the checkpoint has {len(card['classes'])} classes, the data {data.name!r} has {len(data.classes)}"
        )


class Trainer:
    def __init__(self, cfg: TrainConfig, data: DataSplits, task, *, resume: dict[str, Any] | None = None,
                 run_dir: Path | None = None, progress: bool = True) -> None:
        self.cfg, self.data, self.progress = cfg, data, progress
        if cfg.calibrate and not task.calibrates:
            raise FovealError(f"--calibrate fits a classifier's temperature; a {task.name} model has none to fit")
        if resume is not None:
            check_resumable(resume, cfg, data)
        seed_everything(cfg.seed, cfg.deterministic)
        self.device = select_device(cfg.device)
        self.world = distributed.join(cfg.dist_backend, self.device, cfg.dist_timeout)
        self.device = distributed.rank_device(self.device, self.world)
        self.progress = progress and self.world.main
        if self.device.type == "cpu":
            keep_freed_memory()
        # a temperature fitted to the weights of a checkpoint (val --calibrate) does not carry over to further training
        self.card = ModelCard.from_dict({**resume["card"], "temperature": 1.0}) if resume else task.make_card(cfg, data)
        self.model = (self.card.build() if resume else task.initial_model(cfg, self.card))
        self.model = distributed.sync_batch_norm(self.model, self.device, self.world).to(self.device)
        self.channels_last = use_channels_last(cfg.channels_last, self.model)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.amp = autocast_dtype(cfg.amp, self.device, self.model) if task.autocast else None
        self.task = task(cfg, self.card, self.device, self.channels_last)
        self.train_loader, self.val_loader = self.task.loaders(self.model, data)
        self.train_loader.shard = Shard(self.world.rank, self.world.size)
        if resume is None:
            self.task.before_training(self.model, data)
        if self.amp is not None and cfg.amp == "auto" and self.device.type == "cpu" and not self.world.distributed:
            # the generic probe said bf16: the model's own step decides (measured once per machine)
            key = f"{task.name} {self.card.model} {cfg.finetune or 'all'} {self.card.input_size} batch {cfg.batch_size}"
            self.amp = measured_autocast(self.task, self.model, self.train_loader, key)
        if self.world.rank:  # each rank its own random augmentations (the model, made before, is the same on all)
            torch.manual_seed(cfg.seed + 1_000_003 * self.world.rank)
        self._ddp: nn.Module | None = None  # the task's loss in DistributedDataParallel, for the trainable parameters
        self._trainable: tuple[bool, ...] | None = None
        self._rank_rng: list[torch.Tensor] | None = None
        self.optimizer = make_optimizer(cfg, self.model, self.task.param_groups(self.model))
        self.lookahead = Lookahead(self.model) if cfg.lookahead else None
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_factor(cfg, len(self.train_loader)))
        self.history: list[dict[str, Any]] = []
        self._last_eval: tuple[int, Any] | None = None  # (epoch, its evaluation), for _finish to reuse
        self.start_epoch, self.best_fitness, self.best_epoch = 1, -math.inf, 0
        if run_dir is None and self.world.main:
            run_dir = new_run_dir(cfg.project, run_name(cfg), cfg.exist_ok)
        self.run_dir = distributed.broadcast(run_dir, self.world)
        if resume is not None:
            self._restore(resume)

    def _restore(self, ckpt: dict[str, Any]) -> None:
        self.model.load_state_dict(ckpt["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        states = ckpt.get("rank_rng") or [ckpt["rng"]]
        if self.world.rank < len(states):  # another number of ranks: the new ones keep their seeds
            torch.set_rng_state(states[self.world.rank])
        self.history = list(ckpt["history"])
        self.start_epoch = int(ckpt["epoch"]) + 1
        if self.lookahead is not None and ckpt.get("lookahead") is not None:
            self.lookahead.load_state_dict(ckpt["lookahead"])
        self.best_fitness, self.best_epoch = self._restore_best(ckpt)

    def _restore_best(self, last: dict[str, Any]) -> tuple[float, int]:
        """(fitness, epoch) of the best weights on disk: best.pt's own record. A kill after best.pt's write and
        before last.pt's leaves best.pt one epoch ahead of last.pt; that epoch is trained again and, being the
        recorded best epoch, replaces best.pt (see `_fit_epochs`)."""
        from foveal.engine.checkpoint import load_checkpoint

        if not (self.run_dir / "best.pt").is_file():
            return -math.inf, 0
        best = load_checkpoint(self.run_dir / "best.pt")
        if not ModelCard.from_dict(best["card"]).same_weights(ModelCard.from_dict(last["card"])):
            raise FovealError(f"cannot resume {self.run_dir}: its best.pt holds another model than its last.pt")
        return float(best["best_fitness"]), int(best["best_epoch"])

    # --- the loop -------------------------------------------------------------------------------------------

    def fit(self) -> TrainResult:
        try:
            if not self.world.main:  # rank 0 alone writes in the run folder
                return self._fit()
            with run_lock(self.run_dir):
                leftovers = remove_stale_temps(self.run_dir)
                if leftovers:
                    log.info("removed %d unfinished file(s) of an interrupted write: %s", len(leftovers),
                             ", ".join(p.name for p in leftovers))
                return self._fit()
        except RuntimeError as e:
            if not distributed.lost_peer(e, self.world):
                raise
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise FovealError(f"rank {self.world.rank}: lost the other processes of the job ({first}); "
                              f"the job stops, and `--resume {self.run_dir}` continues it from its last epoch") from None

    def _fit(self) -> TrainResult:
        cfg = self.cfg
        if self.world.main:
            self.cfg.save(self.run_dir / "config.yaml")
            self.loggers = RunLoggers(cfg.logger, self.run_dir, cfg.to_dict())
            if self.history:  # resumed: results.csv may lag last.pt by the epoch a kill interrupted
                _write_history(self.run_dir / "results.csv", self.history)
        log.info("training %s on %s (%d train / %d val images, %d classes) on %s%s%s%s -> %s",
                 cfg.model, self.data.name, len(self.data.train), len(self.data.val), len(self.data.classes), self.device,
                 f" x {self.world.size} processes" if self.world.distributed else "", ", bf16" if self.amp else "",
                 ", channels_last" if self.channels_last else "", self.run_dir)
        for note in self.data.notes:
            log.warning(note)
        stale = 0
        # Python's full garbage collections scan every live object; with a few hundred thousand of them (torch,
        # torchvision and a data set loaded) one takes a few tenths of a second, as long as a whole epoch of a small
        # model. Freezing what exists now keeps them out of those scans for the run (docs/history.md, Seed models
        # against the plain PyTorch loop).
        gc.collect()
        gc.freeze()
        try:
            return self._fit_epochs(stale)
        finally:
            gc.unfreeze()
            if self.world.main:
                self.loggers.close()  # after finish(), a no-op; after a failure, the event files are complete

    def _fit_epochs(self, stale: int) -> TrainResult:
        epoch = self.start_epoch - 1
        while epoch < self.cfg.epochs:
            epoch += 1
            record = self._train_epoch(epoch)
            stop, stale = self._end_epoch(epoch, record, stale) if self.world.main else (False, stale)
            epochs, stop = distributed.broadcast((self.cfg.epochs, stop), self.world)  # rank 0 decides for all
            if epochs != self.cfg.epochs:
                self._set_epochs(epochs)
            if stop:
                break
        return self._finish()

    def _end_epoch(self, epoch: int, record: dict[str, Any], stale: int) -> tuple[bool, int]:
        """Rank 0's work after an epoch's training: evaluate, checkpoint, log, fit the epochs to --time-limit;
        (whether to stop early, evaluations without improvement)."""
        cfg = self.cfg
        train_s = record["train_s"] = time.perf_counter() - record["_start"]
        improved = False
        evaluated = self._evaluates(epoch)
        if evaluated:
            with distributed.all_threads(self.world, self.device):
                out = self.task.evaluate(self.model, self.val_loader)
            self._last_eval = (epoch, out)
            record.update({f"val_{k}": v for k, v in out.metrics.items() if isinstance(v, (int, float))})
            fitness = out.metrics[self.task.fitness_key]
            # the best epoch itself again: best.pt was written and last.pt not, before a kill
            improved = fitness > self.best_fitness or epoch == self.best_epoch
            if improved:
                self.best_fitness, self.best_epoch, stale = fitness, epoch, 0
            else:
                stale += 1
        elif epoch == 1 and cfg.time_limit:
            record["eval_estimate_s"] = self._estimate_eval_s()
        record["time_s"] = time.perf_counter() - record.pop("_start")
        if evaluated:
            record["eval_s"] = record["time_s"] - train_s
        self.history.append(record)
        self._save(epoch, improved)
        log.info("%s", epoch_line(record, cfg.epochs, self.task.fitness_key, improved))
        self.loggers.epoch(epoch, record)
        if cfg.time_limit and epoch < cfg.epochs:
            self._fit_time_limit(epoch, evaluated)
        if cfg.patience is not None and stale >= cfg.patience:
            log.info("early stopping: no improvement in %d evaluations (best epoch %d)", cfg.patience, self.best_epoch)
            return True, stale
        return False, stale

    def _evaluates(self, epoch: int) -> bool:
        """--val-period N: evaluate every N epochs and the last, and the first: for an early reading when N is no
        longer than the run (a period longer than the run asks for the last evaluation only, so that a short recipe
        spends none of its time budget on an early reading), and to time an evaluation for --time-limit, unless a
        sample of the validation data can be timed instead (`_estimate_eval_s` times a tenth of one, leaving the rest
        of the budget to training; docs/history.md, The 28×28 recipes and CIFAR-10 in 20 minutes)."""
        if epoch == 1 and self.cfg.time_limit:
            first = not hasattr(self.val_loader, "first")
        else:
            first = epoch == 1 and self.cfg.val_period <= self.cfg.epochs
        return first or epoch % self.cfg.val_period == 0 or epoch >= self.cfg.epochs

    def _estimate_eval_s(self) -> float:
        """The seconds an evaluation of the validation data will take, from timing one of its first tenth (at least
        a batch), scaled up."""
        loader = self.val_loader
        n = len(loader.labels)
        sample = min(n, max(loader.batch_size, n // 10))
        start = time.perf_counter()
        self.task.evaluate(self.model, loader.first(sample))
        return (time.perf_counter() - start) * n / sample

    def _fit_time_limit(self, epoch: int, evaluated: bool) -> None:
        """--time-limit: after each epoch, as many more epochs as fit in what is left of the budget at the pace of
        the last few (the median of their training times, plus the mean evaluation time spread over --val-period),
        keeping the time of the last epoch's evaluation,
        and the schedule stretched or shrunk to end with them. The budget covers the task's work before the first
        epoch too (a fine-tune's cached backbone features and its head fitted first). An epoch's cost can change during a run (a detector's
        proposals find more objects, another job shares the cores), so one early measurement is not trusted for the
        whole budget; Ultralytics' `time=` re-estimates after every epoch too."""
        history = self.history
        train = sorted(r.get("train_s", r["time_s"]) for r in history[-3:])
        evals = [r["eval_s"] for r in history if "eval_s" in r] or [r["eval_estimate_s"] for r in history
                                                                      if "eval_estimate_s" in r]
        eval_s = sum(evals) / len(evals) if evals else 0.0
        pace = train[len(train) // 2] + eval_s / self.cfg.val_period
        spent = sum(r["time_s"] for r in history) + self.task.prep_time_s  # a fine-tune's head fitted first counts
        fits = epochs_that_fit(epoch, spent, pace, self.cfg.time_limit * 60, evaluated, final_eval_s=eval_s)
        if fits == self.cfg.epochs:
            return
        if epoch == 1 or abs(fits - self.cfg.epochs) > 1:
            log.info("time limit %.1f min: %d epochs fit at %.1fs each (planned %d)", self.cfg.time_limit, fits, pace,
                     self.cfg.epochs)
        self._set_epochs(fits)

    def _set_epochs(self, epochs: int) -> None:
        """The run's length changed (--time-limit): the config says so, and the schedule stretches or shrinks to it."""
        self.cfg = self.task.cfg = self.cfg.replace(epochs=epochs)
        if self.world.main:
            self.cfg.save(self.run_dir / "config.yaml")
        factor = lr_factor(self.cfg, len(self.train_loader))
        self.scheduler.lr_lambdas = [factor] * len(self.optimizer.param_groups)

    def _train_epoch(self, epoch: int) -> dict[str, Any]:
        model, task, opt, sched = self.model, self.task, self.optimizer, self.scheduler
        task.start_epoch(model, epoch)
        forward, weights, counted = self._forward()
        start = time.perf_counter()
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        tally = self.task.new_tally()  # what the task counts per batch: correct predictions, loss components
        seen, steps = 0, len(self.train_loader)
        evals = [r["eval_s"] for r in self.history if "eval_s" in r]
        bar = EpochProgress(epoch, self.cfg.epochs, steps, enabled=self.progress,
                            eval_s=sum(evals) / len(evals) / self.cfg.val_period if evals else 0.0)
        # the hot loop: no work that does nothing (a disabled autocast, a constant schedule's step), no .item()
        autocast = (lambda: torch.autocast(self.device.type, dtype=self.amp)) if self.amp else contextlib.nullcontext
        step_schedule = not (self.cfg.schedule == "constant" and self.cfg.warmup_epochs == 0)
        lookahead, done, total = self.lookahead, (epoch - 1) * steps, self.cfg.epochs * steps
        for step, batch in enumerate(self.train_loader.epoch(epoch), 1):
            with autocast():
                loss, counts = forward(batch)
            opt.zero_grad(set_to_none=True)
            if weights is None:
                loss.backward()
                n = len(batch[1])
            else:  # this rank's share of the global batch (0: a padding sample, which changes nothing)
                (loss * weights[step - 1]).backward()
                n = counted[step - 1]
                counts = counts if n else counts * 0
            opt.step()
            if step_schedule:
                sched.step()
            if lookahead is not None:
                lookahead.after_step(done + step, total)
            loss_sum.add_(loss.detach(), alpha=n)
            tally = tally + counts
            seen += n
            if bar.due():
                if weights is None:  # (several ranks check together, on their sums, at the end of the epoch)
                    self._check_finite(loss_sum, epoch, step)
                bar.update(step, self._stats(loss_sum, tally, seen, start, ranks=self.world.size))
        if weights is not None:
            loss_sum, tally, total_seen = distributed.sum_all([loss_sum, tally, torch.tensor(seen)], self.world)
            seen = int(total_seen)
            distributed.sync_buffers(model, self.world)
        bar.close(steps, self._stats(loss_sum, tally, seen, start))
        self._check_finite(loss_sum, epoch, steps)
        elapsed = time.perf_counter() - start
        if self.world.distributed:
            self._rank_rng = distributed.gather(torch.get_rng_state(), self.world)
        return {"epoch": epoch, "train_loss": float(loss_sum) / seen, **self.task.train_metrics(tally, seen),
                "lr": opt.param_groups[0]["lr"], "images_per_s": seen / elapsed, "_start": start}

    def _forward(self):
        """(what computes a batch's loss and counts, per-step loss weights, per-step counted samples): the task's
        loss itself in one process; with several, the LossStep in DistributedDataParallel, wrapped again whenever
        the epoch changed which parameters train (gradual unfreezing), and this rank's share of each step."""
        if not self.world.distributed:
            return functools.partial(self.task.loss, self.model), None, None
        trainable = tuple(p.requires_grad for p in self.model.parameters())
        if trainable != self._trainable:
            self._ddp, self._trainable = distributed.wrap(self.task, self.model, self.device), trainable
        loader = self.train_loader
        n = loader.samples
        return self._ddp, loader.shard.weights(n, loader.batch_size), loader.shard.counts(n, loader.batch_size)

    def _stats(self, loss_sum: torch.Tensor, tally: torch.Tensor, seen: int, start: float, ranks: int = 1) -> str:
        """The bar's text: rank 0's figures mid-epoch, its pace times the `ranks` that keep step with it."""
        shown = [f"{k.removeprefix('train_')} {v:.4f}" for k, v in self.task.train_metrics(tally, seen).items()]
        return " ".join([f"train loss {float(loss_sum) / seen:.4f}", *shown,
                         f"{ranks * seen / (time.perf_counter() - start):.0f} img/s"])

    def _check_finite(self, loss_sum: torch.Tensor, epoch: int, step: int) -> None:
        if not torch.isfinite(loss_sum):
            last = self.run_dir / "last.pt"
            kept = f"last good checkpoint: {last} (epoch {epoch - 1})" if last.exists() else "no checkpoint was written"
            raise NonFiniteLoss(
                f"the training loss became {float(loss_sum)} in epoch {epoch} by step {step}; stopped ({kept}); try a lower --lr"
            )

    # --- checkpoints and the end of the run ----------------------------------------------------------------

    def _payload(self, epoch: int) -> dict[str, Any]:
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        return {
            "card": self.card.to_dict(), "config": self.cfg.to_dict(), "state_dict": state, "epoch": epoch,
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(), "rng": torch.get_rng_state(),
            "rank_rng": self._rank_rng,  # each rank's generator, for a resume with as many ranks
            "history": self.history, "best_fitness": self.best_fitness, "best_epoch": self.best_epoch,
            "lookahead": self.lookahead.state_dict() if self.lookahead is not None else None,
        }

    def _save(self, epoch: int, improved: bool) -> None:
        """best.pt first: last.pt then never names a best epoch whose weights are not on disk."""
        payload = self._payload(epoch)
        if improved:
            save_checkpoint(self.run_dir / "best.pt", payload)
        save_checkpoint(self.run_dir / "last.pt", payload)
        _write_history(self.run_dir / "results.csv", self.history)

    def _finish(self) -> TrainResult:
        """Rank 0 evaluates the best weights and writes the run's metrics and report; every rank returns them."""
        if not self.world.main:
            return TrainResult(self.run_dir, distributed.broadcast(None, self.world))
        with distributed.all_threads(self.world, self.device):
            result = self._finish_main()
        distributed.broadcast(result.metrics, self.world)
        return result

    def _finish_main(self) -> TrainResult:
        from foveal.engine.checkpoint import load_checkpoint

        last_epoch = self.history[-1]["epoch"] if self.history else None
        if self._last_eval is not None and self._last_eval[0] == self.best_epoch == last_epoch:
            out = self._last_eval[1]  # the weights in memory are the best ones and were just evaluated
        else:
            best = load_checkpoint(self.run_dir / "best.pt")
            self.model.load_state_dict(best["state_dict"])
            out = self.task.evaluate(self.model, self.val_loader)
        if self.cfg.calibrate:
            out = self._calibrate(out)
        metrics = {
            "task": self.cfg.task, "model": self.cfg.model, "data": self.data.name, **out.metrics,
            "train_time_s": sum(r["time_s"] for r in self.history) + self.task.prep_time_s,
            "epochs": len(self.history), "best_epoch": self.best_epoch, "parameters": count_parameters(self.model),
            "train_images_per_s": float(np.median([r["images_per_s"] for r in self.history])),
            **({"processes": self.world.size} if self.world.distributed else {}),
            **self.task.run_metrics(),
        }
        write_text_atomic(self.run_dir / "metrics.json", json.dumps(metrics, indent=2))
        self.task.write_report(self.run_dir, self.data.val, out, self.history)
        self.loggers.finish(metrics, last_epoch or 0)
        log.info("done: %s %.4f (best epoch %d) in %.1fs; results in %s", self.task.fitness_key,
                 metrics[self.task.fitness_key], self.best_epoch, metrics["train_time_s"], self.run_dir)
        return TrainResult(self.run_dir, metrics, out)

    def _calibrate(self, out: Any) -> Any:
        """--calibrate: the task fits its temperature on the best weights' validation output, and best.pt's card
        keeps it (last.pt's does not: training resumes from the weights as they were trained)."""
        out, card = self.task.calibrate(out)
        replace_card(self.run_dir / "best.pt", card)
        log.info("%s; saved in best.pt", calibration_summary(out.metrics, "the validation split"))
        return out


def _write_history(path: Path, history: list[dict[str, Any]]) -> None:
    keys = list(dict.fromkeys(k for r in history for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(history)
    write_text_atomic(path, buf.getvalue())
