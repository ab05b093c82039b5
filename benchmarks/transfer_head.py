"""Transfer learning on real photos (issue 3): efficientnet_lite0's ImageNet weights on CIFAR-10 (the JPEG copy).

Training set: the first 500 photos of each class of cifar10-jpg/train (5,000); test set: all 10,000 of
cifar10-jpg/test. Three runs in this one process:

1. foveal `--finetune head`: the frozen backbone runs once over every photo (features cached), then the head
   trains for EPOCHS epochs on the cache. Timed as the whole `Model.train` call with an empty tensor cache: photo
   decoding, feature caching, head epochs and per-epoch test passes.
2. The plain PyTorch loop for the same head: `torchvision.datasets.ImageFolder` with the model card's eval transform
   (Resize 256 bicubic, CenterCrop 224, ToTensor, Normalize), a `DataLoader`, the frozen backbone run on every batch
   of every epoch under no_grad, the same head, optimiser, schedule and epochs, then one test pass.
3. foveal `--finetune full` (every layer, the backbone at 1/10 of the learning rate, random resized crop + flip;
   `--full-augment trivial` adds TrivialAugment).

The claim checked: head reaches at least 70% test accuracy, its whole run takes less than half the plain loop's
time, and full beats head in accuracy.

    python benchmarks/transfer_head.py --skip-full          # head vs plain loop, ~25 min on 2 cores
    python benchmarks/transfer_head.py                      # plus --finetune full, ~60 min
    python benchmarks/transfer_head.py --only-full          # --finetune full alone, ~35 min
    python benchmarks/transfer_head.py --per-class 100 --test-per-class 100 --full-epochs 1   # a smoke run
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from plain_loop import default_data_root, hardware, keep_warm  # noqa: E402

LR, BATCH = 3e-3, 64


def subset_tree(src: Path, dst: Path, per_class: int | None) -> Path:
    """A folder of symlinks to the first `per_class` photos of each class (all of them with None)."""
    for cls in sorted(p.name for p in src.iterdir() if p.is_dir()):
        (dst / cls).mkdir(parents=True)
        for f in sorted((src / cls).glob("*.jpg"))[:per_class]:
            (dst / cls / f.name).symlink_to(f)
    return dst


def run_foveal(data: Path, finetune: str, epochs: int, project: str, auto_augment: str = "trivial", head_epochs: int = 5,
               lr: float = None) -> dict:
    import foveal

    os.environ["FOVEAL_CACHE"] = tempfile.mkdtemp()  # an empty tensor cache: decoding is part of the run
    start = time.perf_counter()
    m = foveal.Model("efficientnet_lite0")
    metrics = m.train(data=str(data), pretrained=True, finetune=finetune, epochs=epochs, batch_size=BATCH,
                      optimizer="adamw", lr=lr or LR, schedule="cosine", seed=0, project=project, name=finetune, progress=False,
                      auto_augment=auto_augment, head_epochs=head_epochs)
    wall = time.perf_counter() - start
    with (m.run_dir / "results.csv").open() as f:
        by_epoch = [round(float(r["val_accuracy"]), 4) for r in csv.DictReader(f)]
    return {"runner": f"foveal {finetune}", "accuracy": metrics["accuracy"], "wall_s": wall, "auto_augment": auto_augment,
            "lr": lr or LR, "train_images_per_s": metrics["train_images_per_s"],
            "train_time_s": metrics["train_time_s"], "features_time_s": metrics.get("features_time_s"),
            "epochs": epochs, "head_epochs_first": head_epochs if finetune != "head" else None, "val_accuracy_by_epoch": by_epoch}


def run_plain(train_dir: Path, test_dir: Path, epochs: int) -> dict:
    import torchvision.transforms as T
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder

    from foveal.models.head import without_head
    from foveal.models.pretrained import load_pretrained

    start = time.perf_counter()
    model, card = load_pretrained("efficientnet_lite0")
    tf = T.Compose([T.Resize(card.resize_size, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(card.input_size),
                    T.ToTensor(), T.Normalize(card.mean, card.std)])
    train = DataLoader(ImageFolder(str(train_dir), tf), batch_size=BATCH, shuffle=True)
    test = DataLoader(ImageFolder(str(test_dir), tf), batch_size=BATCH)
    torch.manual_seed(0)
    head = nn.Linear(model.classifier.in_features, len(train.dataset.classes))
    opt = torch.optim.AdamW(head.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * len(train))
    loss_fn = nn.CrossEntropyLoss()
    model.eval()
    with without_head(model) as backbone:
        for _ in range(epochs):
            for x, y in train:
                with torch.no_grad():
                    f = backbone(x)
                loss = loss_fn(head(f), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        correct = 0
        with torch.inference_mode():
            for x, y in test:
                correct += int((head(backbone(x)).argmax(1) == y).sum())
    return {"runner": "plain head", "accuracy": correct / len(test.dataset), "wall_s": time.perf_counter() - start,
            "epochs": epochs}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--per-class", type=int, default=500)
    ap.add_argument("--test-per-class", type=int, default=None, help="default: all 1,000 per class")
    ap.add_argument("--epochs", type=int, default=5, help="head epochs, foveal and plain")
    ap.add_argument("--full-epochs", type=int, default=3)
    ap.add_argument("--full-augment", default="none", help="full's policy after crop + flip: trivial, rand or none")
    ap.add_argument("--head-epochs", type=int, default=5, help="full: head epochs on cached features before every layer trains")
    ap.add_argument("--full-lr", type=float, default=1e-3, help="full: the head's learning rate (the backbone's is 0.1 x)")
    ap.add_argument("--skip-full", action="store_true")
    ap.add_argument("--only-full", action="store_true", help="just the full fine-tune (head and plain: an earlier run)")
    ap.add_argument("--out", default=str(HERE / "results" / "transfer_head.json"))
    args = ap.parse_args(argv)
    root = Path(args.data_root or default_data_root()) / "cifar10-jpg"
    work = Path(tempfile.mkdtemp())
    data = work / "data"
    subset_tree(root / "train", data / "train", args.per_class)
    subset_tree(root / "test", data / "val", args.test_per_class)
    project = str(work / "runs")
    print(f"hardware: {hardware()}", flush=True)
    runs = []
    if args.only_full:
        full = run_foveal(data, "full", args.full_epochs, project, args.full_augment, args.head_epochs, args.full_lr)
        print(f"  {full}", flush=True)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"benchmark": "transfer_head --only-full", "hardware": hardware(),
                                              "args": vars(args), "runs": [full]}, indent=2))
        return 0
    for fn in (lambda: run_foveal(data, "head", args.epochs, project), lambda: run_plain(data / "train", data / "val", args.epochs)):
        keep_warm(3.0)
        runs.append(fn())
        print(f"  {runs[-1]}", flush=True)
    if not args.skip_full:
        keep_warm(3.0)
        runs.append(run_foveal(data, "full", args.full_epochs, project, args.full_augment, args.head_epochs, args.full_lr))
        print(f"  {runs[-1]}", flush=True)
    head, plain = runs[0], runs[1]
    ratio = head["wall_s"] / plain["wall_s"]
    checks = {"head accuracy >= 0.70": head["accuracy"] >= 0.70, "head time ratio < 0.5": ratio < 0.5}
    if len(runs) > 2:
        checks["full beats head"] = runs[2]["accuracy"] > head["accuracy"]
    print(f"\nhead: {head['accuracy']:.2%} in {head['wall_s']:.0f}s (features {head['features_time_s']:.0f}s); plain loop: "
          f"{plain['accuracy']:.2%} in {plain['wall_s']:.0f}s; time ratio {ratio:.3f}")
    if len(runs) > 2:
        print(f"full: {runs[2]['accuracy']:.2%} in {runs[2]['wall_s']:.0f}s ({args.full_epochs} epochs)")
    for k, v in checks.items():
        print(f"  {'PASS' if v else 'FAIL'}  {k}")
    result = {"benchmark": "transfer_head", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "hardware": hardware(),
              "python": platform.python_version(), "args": vars(args), "runs": runs, "time_ratio": ratio, "checks": checks}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"results written to {args.out}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
