"""Training speed on photos of real sizes, through `foveal train` on this CPU: the default semantic segmenter on
360x480 photos against the U-Net as it trained before (480x480, whole photos), and a full fine-tune of
efficientnet_lite0 at 224 px. The photos are generated (smooth colour fields, and class masks of the same kind):
the speed of a step does not depend on what they show, and nothing is downloaded.

Each run trains a few epochs; the photos/s of its last is kept (the first builds the kernels)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

SEGMENT_PHOTO = (360, 480)  # height, width: CamVid's size, and coco128-seg's as benchmarks/coco_semantic.py writes it
FINETUNE_PHOTO = (375, 500)  # hymenoptera's typical photo
SEGMENT_RUNS: dict[str, dict[str, Any]] = {
    "lraspp (the default)": {"model": "lraspp"},
    "unet, as before: 480x480, whole photos": {"model": "unet", "img_size": 480, "train_scale": 1.0},
}


def _smooth(generator: torch.Generator, channels: int, size: tuple[int, int], cells: int = 6) -> torch.Tensor:
    low = torch.rand(1, channels, cells, cells * size[1] // size[0], generator=generator)
    return F.interpolate(low, size=size, mode="bilinear", align_corners=False)[0]


def write_photos(folder: Path, n: int, size: tuple[int, int], classes: int = 0, seed: int = 0) -> Path:
    """`n` JPEG photos of `size` in `folder`: with `classes`, a semantic segmentation folder (images/ and masks/ of
    that many classes); without, an image folder of two classes."""
    from PIL import Image

    g = torch.Generator().manual_seed(seed)
    for i in range(n):
        photo = (_smooth(g, 3, size) * 255).to(torch.uint8).permute(1, 2, 0).numpy()
        sub = "images" if classes else ("a", "b")[i % 2]
        (folder / sub).mkdir(parents=True, exist_ok=True)
        Image.fromarray(photo).save(folder / sub / f"{i:04d}.jpg", quality=90)
        if classes:
            (folder / "masks").mkdir(exist_ok=True)
            mask = _smooth(g, classes, size).argmax(0).to(torch.uint8).numpy()
            Image.fromarray(mask).save(folder / "masks" / f"{i:04d}.png")
    return folder


def train_speed(folder: Path, project: str, name: str, epochs: int, **settings) -> dict[str, Any]:
    """photos/s of the last of `epochs` epochs of `foveal train` on `folder`, the run's --amp setting and the network's
    input size."""
    import logging

    import foveal
    from foveal.engine.checkpoint import load_checkpoint

    log = logging.getLogger("foveal")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        m = foveal.Model(settings.pop("model"), task=settings.pop("task", None))
        m.train(data=str(folder), epochs=epochs, project=project, name=name, progress=False, exist_ok=True,
                val_period=epochs + 1, **settings)
    finally:
        log.setLevel(level)
    ckpt = load_checkpoint(Path(m.run_dir) / "last.pt")
    cfg = ckpt["config"]
    return {"photos_per_s": float(ckpt["history"][-1]["images_per_s"]), "amp": cfg.get("amp"),
            "input_size": list(ckpt["card"]["input_size"])}


def bench_photos(parts: tuple[str, ...] = ("segment", "finetune"), echo=print) -> dict[str, Any]:
    """Each part's runs on generated photos: {part: {run: {photos_per_s, ...}}}."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="foveal-bench-photos-") as tmp:
        root = Path(tmp)
        if "segment" in parts:
            folder = write_photos(root / "segment", 32, SEGMENT_PHOTO, classes=12)
            results["segment"] = {}
            for label, settings in SEGMENT_RUNS.items():
                r = train_speed(folder, str(root / "runs"), label.split()[0], 2, task="segment", **settings)
                results["segment"][label] = r
                echo(f"  segment  {label:<40} {r['photos_per_s']:6.1f} photos/s of {SEGMENT_PHOTO[0]}x"
                     f"{SEGMENT_PHOTO[1]} (network input {r['input_size'][0]}x{r['input_size'][1]})")
        if "finetune" in parts:
            folder = write_photos(root / "finetune", 128, FINETUNE_PHOTO)
            r = train_speed(folder, str(root / "runs"), "finetune", 2, model="efficientnet_lite0", pretrained=True,
                            finetune="full", head_epochs=0)
            results["finetune"] = {"efficientnet_lite0 full fine-tune at 224 px": r}
            echo(f"  finetune efficientnet_lite0, --finetune full, 224 px    {r['photos_per_s']:6.1f} photos/s")
    return results
