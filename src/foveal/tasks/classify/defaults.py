"""Classification's starting point, read without torch (`foveal train --help` shows it) and by ClassifyTask."""

from __future__ import annotations

from typing import Any

DEFAULT_MODEL = "tinyvgg"
# torchvision's classification reference: SGD with momentum, weight decay and a cosine decay (the seed tutorial's
# plain SGD at a constant 0.1 is `--momentum 0 --weight-decay 0 --schedule constant`)
DEFAULTS: dict[str, Any] = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "schedule": "cosine"}
# A run that starts from pretrained weights (--pretrained, --weights) fine-tunes: these replace the settings above,
# unless the user gives them (fastai's fine_tune and timm's fine-tuning practice; README, "Transfer learning").
FINETUNE_DEFAULTS: dict[str, Any] = {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.05, "schedule": "cosine",
                                     "epochs": 5}
