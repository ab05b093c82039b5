"""Detection sanity check on coco128 (issue 4): train on its 128 images for a fixed budget of 20 minutes from the
ImageNet efficientnet_lite0 backbone, then measure COCO mAP on the same images (upstream uses them as train and val;
overfitting them is the check that the whole pipeline learns).

    python benchmarks/detect_coco128.py                     # fcos, 320 px, AdamW 5e-4, 20 minutes
    python benchmarks/detect_coco128.py --minutes 2         # a smoke run

Prints mAP@.5, mAP@[.5:.95], the epochs that fit and the time per epoch; writes benchmarks/results/detect_coco128.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from plain_loop import default_data_root, hardware  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--model", default="fcos")
    ap.add_argument("--img-size", type=int, default=320)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--optimizer", default="adamw", help="adamw, or sgd (the detect default, with --lr 0.01)")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup-epochs", type=float, default=1.0)
    ap.add_argument("--val-period", type=int, default=5, help="evaluate every N epochs (the first and last always)")
    ap.add_argument("--augment", action="store_true", help="train-time augmentation (off: the check is memorisation)")
    ap.add_argument("--out", default=str(HERE / "results" / "detect_coco128.json"))
    args = ap.parse_args(argv)
    import foveal

    data = Path(args.data_root or default_data_root()) / "coco128" / "data.yaml"
    print(f"hardware: {hardware()}", flush=True)
    start = time.perf_counter()
    m = foveal.Model(args.model, task="detect")
    metrics = m.train(data=str(data), pretrained=True, img_size=args.img_size, epochs=1000, time_limit=args.minutes,
                      augment=args.augment, seed=0, optimizer=args.optimizer, lr=args.lr, warmup_epochs=args.warmup_epochs,
                      val_period=args.val_period, project=tempfile.mkdtemp(), progress=False)
    wall = time.perf_counter() - start
    with (m.run_dir / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    epoch_s = sorted(float(r["time_s"]) for r in rows)[len(rows) // 2]
    evaluated = [r for r in rows if r.get("val_map50")]
    result = {"benchmark": "detect_coco128", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "hardware": hardware(),
              "args": vars(args), "epochs": len(rows), "median_epoch_s": epoch_s, "wall_s": wall,
              "map50_by_epoch": {int(r["epoch"]): round(float(r["val_map50"]), 4) for r in evaluated},
              **{k: metrics[k] for k in ("map", "map50", "map75", "mar100", "train_time_s")},
              "check": {"map50 > 0.3": metrics["map50"] > 0.3}}
    print(f"{args.model} on coco128 at {args.img_size} px: {len(rows)} epochs of {epoch_s:.1f}s (median) in "
          f"{metrics['train_time_s'] / 60:.1f} min; mAP@.5 {metrics['map50']:.3f}, mAP@[.5:.95] {metrics['map']:.3f}")
    print(f"  {'PASS' if metrics['map50'] > 0.3 else 'FAIL'}  mAP@.5 > 0.3")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    return 0 if metrics["map50"] > 0.3 else 1


if __name__ == "__main__":
    sys.exit(main())
