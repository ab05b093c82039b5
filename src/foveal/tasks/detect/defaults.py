"""Detection's starting point, read without torch (`foveal train --help` shows it) and by DetectTask."""

from __future__ import annotations

from typing import Any

DEFAULT_MODEL = "fcos"
# torchvision's detection references: SGD with momentum and weight decay, a short warm-up, a decaying schedule;
# lr 0.01 at batch 8 (theirs: 0.02 at 16)
DEFAULTS: dict[str, Any] = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4, "schedule": "cosine",
                            "warmup_epochs": 0.5, "batch_size": 8}
