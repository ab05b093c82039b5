"""Detection sanity check on coco128 (issue 4): train on its 128 images for a fixed budget of 20 minutes from the
ImageNet efficientnet_lite0 backbone, then measure COCO mAP on the same images (upstream uses them as train and val;
overfitting them is the check that the whole pipeline learns).

    python benchmarks/detect_coco128.py                     # fcos, 320 px, AdamW 5e-4, 20 minutes
    python benchmarks/detect_coco128.py --minutes 2         # a smoke run
    python benchmarks/detect_coco128.py --instances         # issue 5: maskrcnn on coco128-seg, mask AP@.5 > 0.2

Prints mAP@.5, mAP@[.5:.95] (of masks with --instances), the epochs that fit and the time per epoch; writes
benchmarks/results/detect_coco128.json (maskrcnn_coco128.json with --instances).
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
    ap.add_argument("--instances", action="store_true", help="instance segmentation: maskrcnn on coco128-seg's polygons")
    ap.add_argument("--model", default=None, help="default fcos (maskrcnn with --instances)")
    ap.add_argument("--img-size", type=int, default=320)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--optimizer", default="adamw", help="adamw, or sgd (the detect default, with --lr 0.01)")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup-epochs", type=float, default=1.0)
    ap.add_argument("--val-period", type=int, default=5, help="evaluate every N epochs (the first and last always)")
    ap.add_argument("--augment", action="store_true", help="train-time augmentation (off: the check is memorisation)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    import foveal

    task, folder, key, target = ("segment", "coco128-seg", "mask_map", 0.2) if args.instances else ("detect", "coco128", "map", 0.3)
    args.model = args.model or ("maskrcnn" if args.instances else "fcos")
    args.out = args.out or str(HERE / "results" / f"{'maskrcnn' if args.instances else 'detect'}_coco128.json")
    data = Path(args.data_root or default_data_root()) / folder / "data.yaml"
    print(f"hardware: {hardware()}", flush=True)
    start = time.perf_counter()
    m = foveal.Model(args.model, task=task)
    metrics = m.train(data=str(data), pretrained=True, img_size=args.img_size, epochs=1000, time_limit=args.minutes,
                      augment=args.augment, seed=0, optimizer=args.optimizer, lr=args.lr, warmup_epochs=args.warmup_epochs,
                      val_period=args.val_period, project=tempfile.mkdtemp(), progress=False)
    wall = time.perf_counter() - start
    with (m.run_dir / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    epoch_s = sorted(float(r["time_s"]) for r in rows)[len(rows) // 2]
    evaluated = [r for r in rows if r.get(f"val_{key}50")]
    score = metrics[f"{key}50"]
    result = {"benchmark": f"{args.model}_{folder}", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "hardware": hardware(),
              "args": vars(args), "epochs": len(rows), "median_epoch_s": epoch_s, "wall_s": wall,
              f"{key}50_by_epoch": {int(r["epoch"]): round(float(r[f"val_{key}50"]), 4) for r in evaluated},
              **{k: metrics[k] for k in ("map", "map50", "map75", "mar100", "train_time_s")},
              **{k: metrics[k] for k in ("mask_map", "mask_map50", "mask_map75", "mask_mar100") if k in metrics},
              "check": {f"{key}50 > {target}": score > target}}
    what = "mask " if args.instances else ""
    print(f"{args.model} on {folder} at {args.img_size} px: {len(rows)} epochs of {epoch_s:.1f}s (median) in "
          f"{metrics['train_time_s'] / 60:.1f} min; {what}mAP@.5 {score:.3f}, {what}mAP@[.5:.95] {metrics[key]:.3f}")
    print(f"  {'PASS' if score > target else 'FAIL'}  {what}mAP@.5 > {target}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    return 0 if score > target else 1


if __name__ == "__main__":
    sys.exit(main())
