"""Speed recipes (`--recipe NAME`): the network and schedule that give the best accuracy per second on a CPU, picked
per data set shape. A recipe fills in settings; any setting given on the command line, in the Python call or in a
config file wins over it.

    foveal train --data fashion-mnist --recipe fast        # about 90 s of training on 2 cores
    foveal train --data fashion-mnist --recipe fast-long   # about 5 minutes
    foveal models --recipes                                # what each is for
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from foveal.errors import FovealError

MAX_SIDE = 32  # the recipes' networks are built for small images (28x28 grey, 32x32 colour)


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    grey: dict[str, Any]  # small grey images (Fashion-MNIST, MNIST)
    colour: dict[str, Any]  # small colour images (CIFAR-10)


# Common to every recipe: the airbench ingredients that fit foveal's trainer (batched flip + translate on the in-memory
# tensors, label smoothing, Nesterov SGD with a one-cycle warm-up/warm-down, flip + shift test-time augmentation).
_COMMON: dict[str, Any] = {"model": "fastnet", "optimizer": "sgd", "momentum": 0.9, "schedule": "onecycle",
                           "augment": True, "tta": True, "normalize": "dataset"}

# 32x32 colour: airbench94's optimiser in foveal's terms (its lr 11.5 and decay 0.0153 per 1,024 images, momentum 0.85,
# batch norm's shifts at 64x the lr): at batch 512 and a mean loss, lr 0.75 and a decay of 1e-3 of the weights per step.
# Batch norm makes the convolutions scale-invariant, so the decay sets how fast their directions move; the grey
# settings decay them ten times less per step and learn CIFAR-10 more slowly (docs/history.md, CIFAR-10 in 20 minutes).
_COLOUR_OPT: dict[str, Any] = {"lr": 0.75, "weight_decay": 1.33e-3, "momentum": 0.85, "norm_lr": 64}

RECIPES = {
    # 28x28 grey: fastnet (32, 64, 128) for 4 epochs, what MNIST's 60 s target allows on 2 cores; Fashion-MNIST has the
    # same size and shape, so one setting serves both (docs/benchmarks.md, MNIST and Fashion-MNIST; docs/history.md,
    # The 28×28 recipes).
    # A val_period longer than the run: evaluated after the last epoch only.
    "fast": Recipe("fast", "best accuracy per second: about 55 s of training on 2 cores for 60,000 28x28 images",
                   grey={"hidden": 32, "epochs": 4, "batch_size": 512, "lr": 0.2, "weight_decay": 5e-4,
                         "label_smoothing": 0.2, "val_period": 5},
                   colour={"hidden": 64, "epochs": 10, "batch_size": 512, **_COLOUR_OPT, "label_smoothing": 0.2,
                           "val_period": 5}),
    # 32x32 colour: as many epochs of fastnet_deep (airbench94's widths, 64, 256, 256, in airbench96's residual blocks)
    # as fit in 19.5 minutes, its filters on Muon and each image mirrored in every other epoch (airbench94_muon). The
    # shallower fastnet_wide has fitted its training images after about 12 epochs and gains nothing from more, while
    # fastnet_deep still turns its epochs into test accuracy (docs/benchmarks.md, CIFAR-10; docs/history.md, CIFAR-10
    # in 20 minutes).
    # Evaluated only after the last epoch (the first times an evaluation of a tenth of the test images instead).
    "fast-long": Recipe("fast-long", "a longer schedule: under 5 minutes for 28x28 grey images, 20 minutes for 32x32 "
                        "colour (as many epochs as fit)",
                        grey={"hidden": 32, "epochs": 20, "batch_size": 512, "lr": 0.2, "weight_decay": 5e-4,
                              "label_smoothing": 0.2, "val_period": 5},
                        colour={"model": "fastnet_deep", "hidden": 64, "epochs": 30, "batch_size": 512, **_COLOUR_OPT,
                                "optimizer": "muon", "alternate_flip": True, "label_smoothing": 0.2, "val_period": 50,
                                "time_limit": 19.5}),
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise FovealError(f"unknown recipe {name!r}; expected one of {', '.join(RECIPES)} (foveal models --recipes)")
    return RECIPES[name]


NO_MIRROR = ("mnist", "digits", "emnist", "kmnist")  # data a mirror image changes: no flips in training or TTA


def recipe_settings(name: str, channels: int, size: tuple[int, int], data_name: str = "") -> dict[str, Any]:
    """The settings of a recipe for images of `channels` and `size` (height, width) of the data set `data_name`."""
    recipe = get_recipe(name)
    if max(size) > MAX_SIDE:
        raise FovealError(f"--recipe {name} is built for small images (up to {MAX_SIDE}x{MAX_SIDE}); the data's are "
                          f"{size[0]}x{size[1]}: use --img-size {MAX_SIDE}, or transfer learning (--pretrained)")
    flip = {"flip": False} if data_name.lower() in NO_MIRROR else {}
    return {**_COMMON, **(recipe.grey if channels == 1 else recipe.colour), **flip}


def apply_recipe(cfg, data, explicit: set[str]):
    """(cfg with the recipe's settings for `data` filled in except the keys the user set (`explicit`), the settings
    it filled in)."""
    settings = recipe_settings(cfg.recipe, data.train.channels, data.train.size, data.name)
    if "epochs" in explicit:  # a number of epochs asked for is kept, not stretched to the recipe's time budget
        settings.pop("time_limit", None)
    applied = {k: v for k, v in settings.items() if k not in explicit}
    return cfg.replace(**applied), applied


def recipe_table():
    """A rich table of the recipes: name, what each is for, and its settings for grey and colour images."""
    from rich.table import Table

    table = Table(title="speed recipes (foveal train --recipe NAME); given settings win over a recipe's")
    for col in ("recipe", "for", "28x28 grey", "32x32 colour"):
        table.add_column(col)
    show = lambda d: ", ".join(f"{k} {v}" for k, v in d.items())
    for r in RECIPES.values():
        table.add_row(r.name, r.description, show(r.grey), show(r.colour))
    table.caption = "every recipe: " + show(_COMMON)
    return table
