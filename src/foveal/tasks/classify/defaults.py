"""Classification's starting point, read without torch (`foveal train --help` shows it) and by ClassifyTask."""

from __future__ import annotations

from typing import Any

DEFAULT_MODEL = "tinyvgg"
# torchvision's classification reference: SGD with momentum, weight decay and a cosine decay (the seed tutorial's
# plain SGD at a constant 0.1 is `--momentum 0 --weight-decay 0 --schedule constant`)
DEFAULTS: dict[str, Any] = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "schedule": "cosine"}
