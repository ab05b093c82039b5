"""Speed recipes (`--recipe NAME`): the network and schedule that give the best accuracy per second on a CPU, picked
per data set shape and fitted to the machine: each recipe has a time budget and a list of networks and schedules from
the most accurate down, and trains the first that fits the budget at the pace this CPU measures for it (in the
precision it trains in here; tasks/classify/fit.py). A recipe fills in settings; any setting given on the command
line, in the Python call or in a config file wins over it, and a --time-limit given is the budget.

    foveal train --data fashion-mnist --recipe fast                  # up to 90 s of training on 2 cores
    foveal train --data fashion-mnist --recipe fast --time-limit 2   # the most accurate choice that fits 2 minutes
    foveal train --data fashion-mnist --recipe fast-long             # about 5 minutes
    foveal models --recipes --here                                   # what each is for, and picks here
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from foveal.errors import FovealError

MAX_SIDE = 32  # the recipes' networks are built for small images (28x28 grey, 32x32 colour)


@dataclass(frozen=True)
class Plan:
    """A recipe for one kind of image: its settings, the training time it is built for on 2 cores (seconds, the final
    evaluation included), and its networks and schedules from the most accurate down (`choices`: each a set of
    settings over `settings`). The first choice whose measured pace here fits the budget trains; the first is the
    recipe as measured on the bf16 machines, the later ones what fits a slower CPU (docs/benchmarks.md, Recipes that
    fit the machine). Under a time limit of its own (`settings["time_limit"]`), a choice's epochs are the fewest that
    must fit, and the limit decides how many train."""

    settings: dict[str, Any]
    budget_s: float
    choices: tuple[dict[str, Any], ...]

    @property
    def timed(self) -> bool:
        return "time_limit" in self.settings

    def applied(self, choice: dict[str, Any]) -> dict[str, Any]:
        """The settings a choice sets: under the plan's own time limit, all but its (minimum) epochs."""
        return {k: v for k, v in choice.items() if not (self.timed and k == "epochs")}


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    grey: Plan  # small grey images (Fashion-MNIST, MNIST)
    colour: Plan  # small colour images (CIFAR-10)

    def plan(self, channels: int) -> Plan:
        return self.grey if channels == 1 else self.colour


# Common to every recipe: the airbench ingredients that fit foveal's trainer (batched flip + translate on the in-memory
# tensors, label smoothing, Nesterov SGD with a one-cycle warm-up/warm-down, flip + shift test-time augmentation).
_COMMON: dict[str, Any] = {"model": "fastnet", "optimizer": "sgd", "momentum": 0.9, "schedule": "onecycle",
                           "augment": True, "tta": True, "normalize": "dataset"}

# 32x32 colour: airbench94's optimiser in foveal's terms (its lr 11.5 and decay 0.0153 per 1,024 images, momentum 0.85,
# batch norm's shifts at 64x the lr): at batch 512 and a mean loss, lr 0.75 and a decay of 1e-3 of the weights per step.
# Batch norm makes the convolutions scale-invariant, so the decay sets how fast their directions move; the grey
# settings decay them ten times less per step and learn CIFAR-10 more slowly (docs/history.md, CIFAR-10 in 20 minutes).
_COLOUR_OPT: dict[str, Any] = {"lr": 0.75, "weight_decay": 1.33e-3, "momentum": 0.85, "norm_lr": 64}

# The 28x28 choices below the first: fastnet (16, 32, 64) at batch 256, twice the steps per epoch, and lr 0.3 (on an
# AVX2 CPU in fp32 it trains about 3x the images/s of the first, and 16 channels suit oneDNN's kernels better than 12
# or 20), from the most epochs down. On Fashion-MNIST on EPYC Zen 3, seed 0: 4 epochs 92.45%, 3 epochs 91.78%; lr 0.1
# gave 91.29% in 4 (docs/benchmarks.md and docs/history.md, Fast on AVX2 without bf16).
_GREY_NARROW = {"hidden": 16, "batch_size": 256, "lr": 0.3}
_GREY_FAST_CHOICES = ({"hidden": 32, "epochs": 4}, *({**_GREY_NARROW, "epochs": e} for e in (5, 4, 3, 2, 1)))
# 32x32 colour: narrower networks at the same epochs (their accuracy on CIFAR-10 not measured: a narrower network
# learns less per epoch, so the order is by width)
_COLOUR_WIDTHS = (64, 32, 16)

RECIPES = {
    # 28x28 grey: fastnet (32, 64, 128) for 4 epochs, what MNIST's 60 s target allows on 2 cores of a bf16 machine;
    # Fashion-MNIST has the same size and shape, so one setting serves both (docs/benchmarks.md, MNIST and
    # Fashion-MNIST; docs/history.md, The 28×28 recipes).
    # A val_period longer than the run: evaluated after the last epoch only.
    "fast": Recipe("fast", "best accuracy per second: up to 90 s of training on 2 cores for 60,000 28x28 images "
                           "(about 55 s where bf16 is native)",
                   grey=Plan({"hidden": 32, "epochs": 4, "batch_size": 512, "lr": 0.2, "weight_decay": 5e-4,
                              "label_smoothing": 0.2, "val_period": 50}, 90, _GREY_FAST_CHOICES),
                   colour=Plan({"hidden": 64, "epochs": 10, "batch_size": 512, **_COLOUR_OPT, "label_smoothing": 0.2,
                                "val_period": 50}, 420, tuple({"hidden": h} for h in _COLOUR_WIDTHS))),
    # 32x32 colour: as many epochs of fastnet_deep (airbench94's widths, 64, 256, 256, in airbench96's residual blocks)
    # as fit in 19.5 minutes, its filters on Muon and each image mirrored in every other epoch (airbench94_muon). The
    # shallower fastnet_wide has fitted its training images after about 12 epochs and gains nothing from more, while
    # fastnet_deep still turns its epochs into test accuracy (docs/benchmarks.md, CIFAR-10; docs/history.md, CIFAR-10
    # in 20 minutes). A narrower fastnet_deep where fewer than the 14 epochs of the bf16 machines would fit.
    # Evaluated only after the last epoch (the first times an evaluation of a tenth of the test images instead).
    "fast-long": Recipe("fast-long", "a longer schedule: under 5 minutes for 28x28 grey images, 20 minutes for 32x32 "
                        "colour (as many epochs as fit)",
                        grey=Plan({"hidden": 32, "epochs": 20, "batch_size": 512, "lr": 0.2, "weight_decay": 5e-4,
                                   "label_smoothing": 0.2, "val_period": 5}, 300,
                                  ({"hidden": 32, "epochs": 20}, *({**_GREY_NARROW, "epochs": e} for e in (14, 10)))),
                        colour=Plan({"model": "fastnet_deep", "hidden": 64, "epochs": 30, "batch_size": 512,
                                     **_COLOUR_OPT, "optimizer": "muon", "alternate_flip": True,
                                     "label_smoothing": 0.2, "val_period": 50, "time_limit": 19.5}, 19.5 * 60,
                                    tuple({"hidden": h, "epochs": 14} for h in _COLOUR_WIDTHS))),
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise FovealError(f"unknown recipe {name!r}; expected one of {', '.join(RECIPES)} (foveal models --recipes)")
    return RECIPES[name]


NO_MIRROR = ("mnist", "digits", "emnist", "kmnist")  # data a mirror image changes: no flips in training or TTA


def recipe_settings(name: str, channels: int, size: tuple[int, int], data_name: str = "") -> dict[str, Any]:
    """The settings of a recipe for images of `channels` and `size` (height, width) of the data set `data_name`, with
    its first choice (the network and schedule measured on the bf16 machines)."""
    recipe = get_recipe(name)
    if max(size) > MAX_SIDE:
        raise FovealError(f"--recipe {name} is built for small images (up to {MAX_SIDE}x{MAX_SIDE}); the data's are "
                          f"{size[0]}x{size[1]}: use --img-size {MAX_SIDE}, or transfer learning (--pretrained)")
    flip = {"flip": False} if data_name.lower() in NO_MIRROR else {}
    plan = recipe.plan(channels)
    return {**_COMMON, **plan.settings, **plan.applied(plan.choices[0]), **flip}


def recipe_table(picks: dict[str, tuple[str, str]] | None = None, where: str = ""):
    """A rich table of the recipes: name, what each is for, its settings for grey and colour images, and (`picks`,
    from tasks/classify/fit.py: picks_here) what each picks on this machine (`where`) for 60,000 28x28 grey and 50,000
    32x32 colour images, and why."""
    from rich.table import Table

    table = Table(title="speed recipes (foveal train --recipe NAME); given settings win over a recipe's")
    for col in ("recipe", "for", "28x28 grey", "32x32 colour"):
        table.add_column(col)
    show = lambda d: ", ".join(f"{k} {v}" for k, v in d.items())
    for r in RECIPES.values():
        table.add_row(r.name, r.description, show(recipe_settings(r.name, 1, (28, 28))),
                      show(recipe_settings(r.name, 3, (32, 32))))
        if picks:
            table.add_row("", "picks here", *picks[r.name])
    table.caption = "every recipe: " + show(_COMMON)
    if picks:
        table.caption += f"\nhere: {where}: the first choice that fits the budget at the pace measured here"
    else:
        table.caption += "\nwhat each picks on this CPU, and why: foveal models --recipes --here"
    return table
