"""A speed recipe fitted to this machine: the most accurate of its choices (recipes.py) whose measured pace fits its
time budget, and the settings a run takes from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from foveal.recipes import RECIPES, get_recipe, recipe_settings


@dataclass(frozen=True)
class Fit:
    """What a recipe chose here and why: its choice, that choice's measured pace (images/s of a training step), the
    seconds it should take, the budget and the precision it trains in."""

    choice: dict[str, Any]
    pace: float | None
    seconds: float | None
    budget_s: float
    precision: str

    def line(self) -> str:
        what = ", ".join(f"{k} {v}" for k, v in self.choice.items())
        if self.pace is None:
            return f"{what} (not measured: training on a GPU)" if what else "the settings given (no choice agrees)"
        return (f"{what}: {self.pace:,.0f} images/s in {self.precision} here, about {self.seconds:.0f} s of the "
                f"{self.budget_s:.0f} s budget")


# An epoch in the trainer runs at about this share of the bare step's measured pace (its batches augmented and new
# each step, its metrics tallied): 2,950-3,600 against 3,300-4,000 images/s for fastnet (16, 32, 64) at batch 256 on
# EPYC Zen 3, measured minutes apart.
TRAINER_SHARE = 0.85


def fit_to_machine(name: str, settings: dict[str, Any], *, channels: int, size: tuple[int, int], num_classes: int,
                   train_images: int, val_images: int, budget_s: float | None = None, fixed: dict[str, Any] | None = None,
                   amp: str = "auto", device: str = "auto") -> tuple[dict[str, Any], Fit]:
    """(settings with the recipe's most accurate choice that fits its budget (`budget_s` instead, where given) at this
    machine's measured pace, what was chosen and why). Choices that contradict `fixed` (the user's own settings) are
    passed over; where none fits, the cheapest that agrees with `fixed`."""
    from foveal.engine.device import autocast_dtype, precision_name, select_device, use_channels_last
    from foveal.engine.pace import training_pace
    from foveal.models.registry import create_model

    plan, fixed = get_recipe(name).plan(channels), fixed or {}
    budget = budget_s or plan.budget_s
    choices = [c for c in plan.choices if all(fixed.get(k, v) == v for k, v in plan.applied(c).items())]
    if not choices:
        return settings, Fit({}, None, None, budget, "")

    def build(choice: dict[str, Any]):
        return lambda: create_model(settings["model"], num_classes=num_classes, in_channels=channels, img_size=size,
                                    hidden=choice["hidden"])

    dev = select_device(device)
    example = build(choices[0])()  # every choice is the same kind of network: one decides precision and layout
    dtype = autocast_dtype(amp, dev, example)
    channels_last = use_channels_last(settings.get("channels_last"), example)
    first = plan.applied(choices[0])
    if dev.type != "cpu":
        return {**settings, **first}, Fit(first, None, None, budget, precision_name(dtype))
    views = 4 if settings.get("tta") else 1  # test-time augmentation: the image, its mirror and two shifted crops
    fit = None
    for choice in choices:
        s = {**settings, **choice}
        pace = training_pace(f"{s['model']} hidden {s['hidden']}", build(choice), (channels, *size), s["batch_size"],
                             num_classes, dtype, channels_last)
        # an evaluation's forward pass costs about a third of a training step; under the plan's time limit the
        # choice's epochs are the fewest that must fit
        epochs = choice["epochs"] if plan.timed else s["epochs"]
        seconds = (epochs * train_images + views * val_images / 3) / (pace * TRAINER_SHARE)
        fit = Fit(plan.applied(choice), pace, seconds, budget, precision_name(dtype))
        if seconds <= budget:
            break
    return {**settings, **fit.choice}, fit


def apply_recipe(cfg, data, explicit: set[str], ranks: int = 1):
    """(cfg with the recipe's settings for `data` filled in except the keys the user set (`explicit`), the settings
    it filled in, what it chose for this machine and why). A --time-limit given is the budget the choice fits."""
    settings = recipe_settings(cfg.recipe, data.train.channels, data.train.size, data.name)
    if "epochs" in explicit:  # a number of epochs asked for is kept, not stretched to the recipe's time budget
        settings.pop("time_limit", None)
    fixed = {k: getattr(cfg, k) for k in explicit if k in ("hidden", "epochs")}  # the user's batch and lr apply on top
    budget = cfg.time_limit * 60 if "time_limit" in explicit and cfg.time_limit else None
    settings, fit = fit_to_machine(cfg.recipe, settings, channels=data.train.channels, size=data.train.size,
                                   num_classes=len(data.classes), train_images=-(-len(data.train) // ranks),
                                   val_images=len(data.val), budget_s=budget, fixed=fixed, amp=cfg.amp,
                                   device=cfg.device)
    applied = {k: v for k, v in settings.items() if k not in explicit}
    return cfg.replace(**applied), applied, fit


def picks_here() -> tuple[dict[str, tuple[str, str]], str]:
    """({recipe: (what it picks here for 60,000 28x28 grey images, for 50,000 32x32 colour images)}, this CPU)."""
    from foveal.engine.device import cpu_name, isa

    picks = {name: tuple(fit_to_machine(name, recipe_settings(name, c, (s, s)), channels=c, size=(s, s), num_classes=10,
                                        train_images=n, val_images=10_000)[1].line()
                         for c, s, n in ((1, 28, 60_000), (3, 32, 50_000)))
             for name in RECIPES}
    return picks, f"{cpu_name()}, {isa()}"
