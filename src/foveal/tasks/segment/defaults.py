"""Semantic segmentation's starting point, read without torch (`foveal train --help` shows it) and by SegmentTask."""

from __future__ import annotations

from typing import Any

DEFAULT_MODEL = "lraspp"  # for photos; for images of at most SMALL_IMAGE pixels, SMALL_IMAGE_MODEL
SMALL_IMAGE, SMALL_IMAGE_MODEL = 256 * 256, "unet"
# AdamW with a cosine decay, the usual recipe for a segmenter on a pretrained encoder; training on crops of 0.6 of the
# input size's sides (a third of its pixels), evaluating at the full input size (docs/benchmarks.md, A CPU-sized
# segmenter)
DEFAULTS: dict[str, Any] = {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 1e-4, "schedule": "cosine",
                            "warmup_epochs": 0.5, "batch_size": 8, "train_scale": 0.6}
