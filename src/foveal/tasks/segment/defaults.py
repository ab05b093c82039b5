"""Semantic segmentation's starting point, read without torch (`foveal train --help` shows it) and by SegmentTask."""

from __future__ import annotations

from typing import Any

DEFAULT_MODEL = "unet"
# AdamW with a cosine decay, the usual recipe for a U-Net on a pretrained encoder
DEFAULTS: dict[str, Any] = {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 1e-4, "schedule": "cosine",
                            "warmup_epochs": 0.5, "batch_size": 8}
