"""Transfer learning's speed against a plain torchvision loop (issue 26, part 5), on the same model and photos.

efficientnet_lite0 with its offline ImageNet weights, on the hymenoptera photos of PyTorch's transfer-learning
tutorial (245 train / 153 val JPEGs of many sizes, from ../shared). Two measurements, each as photos per second:

1. **Feature caching** (what `--finetune head` and the head fitted first run): every photo of both splits through
   the frozen backbone, once.
   - plain: `ImageFolder` + `Resize(256, bicubic)`, `CenterCrop(224)`, `ToTensor`, `Normalize`, a `DataLoader`
     with 2 workers, the backbone under `no_grad`, fp32 (the tutorial's code);
   - foveal: from nothing (empty caches): decoding the photos once into memory, then the backbone over them
     (`ClassifyTask.features`), as a run does it.
2. **A fine-tuning epoch** (`--finetune full`): every layer trains.
   - plain: `ImageFolder` + `RandomResizedCrop(224, bicubic)`, `RandomHorizontalFlip`, `TrivialAugmentWide`,
     `ToTensor`, `Normalize`, a `DataLoader` with 2 workers and shuffling, `model.train()`, AdamW, cross-entropy;
   - foveal: `Model.train(finetune="full")` with its defaults; the photos/s of its training epochs (the decoding,
     done once before the first epoch, is timed apart and printed).
   Each side trains 3 epochs; the median of epochs 2 and 3 is kept (the first warms up). foveal runs with `--amp
   off` (fp32, as on a CPU without bf16) and `--amp auto` (bf16 where the CPU has it).

The claim checked: foveal is at least 2x the plain loop in both, printed with the bf16 fast path off and on.

    python benchmarks/finetune_speed.py            # about 10 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from plain_loop import default_data_root  # noqa: E402

from foveal.bench.machine import describe, hardware  # noqa: E402

TARGET = 2.0  # foveal photos/s over the plain loop's, at least


def plain_model(classes: int) -> nn.Module:
    from foveal.models.head import replace_head
    from foveal.models.pretrained import load_pretrained

    model, _ = load_pretrained("efficientnet_lite0")
    replace_head(model, classes)
    return model


def plain_caching(root: Path) -> float:
    """Photos/s of the frozen backbone over both splits, the tutorial's way."""
    import torchvision.datasets as D
    import torchvision.transforms as T

    from foveal.models.head import without_head
    from foveal.models.pretrained import IMAGENET_MEAN, IMAGENET_STD

    tf = T.Compose([T.Resize(256, T.InterpolationMode.BICUBIC), T.CenterCrop(224), T.ToTensor(),
                    T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    model = plain_model(2).eval()
    start, n = time.perf_counter(), 0
    with without_head(model) as backbone, torch.no_grad():
        for split in ("train", "val"):
            loader = torch.utils.data.DataLoader(D.ImageFolder(root / split, tf), batch_size=64, num_workers=2)
            for x, _ in loader:
                backbone(x)
                n += len(x)
    return n / (time.perf_counter() - start)


def plain_epochs(root: Path, epochs: int = 3) -> list[float]:
    """Photos/s of each fine-tuning epoch, the tutorial's way."""
    import torchvision.datasets as D
    import torchvision.transforms as T

    from foveal.models.pretrained import IMAGENET_MEAN, IMAGENET_STD

    tf = T.Compose([T.RandomResizedCrop(224, scale=(0.25, 1.0), interpolation=T.InterpolationMode.BICUBIC),
                    T.RandomHorizontalFlip(), T.TrivialAugmentWide(), T.ToTensor(),
                    T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    data = D.ImageFolder(root / "train", tf)
    loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=True, num_workers=2)
    model = plain_model(len(data.classes)).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    rates = []
    for _ in range(epochs):
        start = time.perf_counter()
        for x, y in loader:
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        rates.append(len(data) / (time.perf_counter() - start))
    return rates


def foveal_caching(root: Path) -> tuple[float, float]:
    """(photos/s, seconds of decoding) of foveal's way: decode once into memory, then the backbone over it."""
    import foveal
    from foveal.engine.device import select_device
    from foveal.tasks.classify.task import ClassifyTask

    cfg = foveal.Model("efficientnet_lite0").config(data=str(root), pretrained=True, finetune="head")
    start = time.perf_counter()
    data = ClassifyTask.load_data(cfg)
    decoded = time.perf_counter() - start
    card = ClassifyTask.make_card(cfg, data)
    model = ClassifyTask.initial_model(cfg, card).to(memory_format=torch.channels_last)
    task = ClassifyTask(cfg, card, select_device("cpu"), True)
    task.features(model, data.train)
    task.features(model, data.val)
    return (len(data.train) + len(data.val)) / (time.perf_counter() - start), decoded


def foveal_epochs(root: Path, amp: str, project: str, epochs: int = 3) -> list[float]:
    import foveal

    m = foveal.Model("efficientnet_lite0")
    m.train(data=str(root), pretrained=True, finetune="full", epochs=epochs, amp=amp, project=project,
            name=f"full-{amp}", progress=False, seed=0)
    with open(m.run_dir / "results.csv") as f:
        import csv

        return [float(r["images_per_s"]) for r in csv.DictReader(f)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", default=None, help="folder holding hymenoptera_data/ (default: ../shared's)")
    ap.add_argument("--out", default=str(HERE / "results" / "finetune_speed.json"))
    args = ap.parse_args()
    root = Path(args.data_root or default_data_root()) / "hymenoptera_data"
    print(describe(hardware()))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FOVEAL_CACHE"] = tmp  # empty data and feature caches: foveal decodes and extracts from nothing
        rows = {}
        rows["plain caching"] = plain_caching(root)
        rows["foveal caching"], decode_s = foveal_caching(root)
        rows["plain epoch"] = statistics.median(plain_epochs(root)[1:])
        for amp in ("off", "auto"):
            rows[f"foveal epoch, amp {amp}"] = statistics.median(foveal_epochs(root, amp, tmp)[1:])
    ratios = {
        "caching": rows["foveal caching"] / rows["plain caching"],
        "epoch, amp off": rows["foveal epoch, amp off"] / rows["plain epoch"],
        "epoch, amp auto": rows["foveal epoch, amp auto"] / rows["plain epoch"],
    }
    print(f"\n{'run':28s} photos/s")
    for k, v in rows.items():
        print(f"{k:28s} {v:8.1f}")
    print(f"(foveal decoded the {root.name} photos once in {decode_s:.1f}s, included in its caching rate)\n")
    for k, v in ratios.items():
        print(f"foveal / plain, {k:18s} {v:5.2f}x  target >= {TARGET}x  {'PASS' if v >= TARGET else 'FAIL'}")
    out = {"hardware": hardware(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
           "photos_per_s": rows, "ratios": ratios, "decode_s": decode_s, "target": TARGET}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
