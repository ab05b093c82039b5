"""`foveal check --folds 5` against planted faults (issue 31's "done when").

From cifar10-jpg (../shared): train = the first `--per-class` photos of each class (5,000), test = the first
`--test-per-class` of each class of its test split (all 10,000 by default). Planted, with seed `--seed`:
- 5% of the training labels flipped to another class at random (the photo moved to that class's folder);
- 50 test photos copied into train byte for byte (exact copies) and 50 more re-encoded as JPEG (quality 60-90) at
  another size (0.75-1.5x of each side), both into the class folder of the photo's true class.
Checked: the planted copies found among the reported leak pairs (recall >= 95%), the reported leak pairs that are not
planted (at most 5%), and the flipped labels among the top 2 x (number flipped) of the ranked suspects (>= 70%).

    python benchmarks/check_planted.py                 # about 10 minutes on 2 cores (embeddings of 15,100 photos)
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from plain_loop import default_data_root  # noqa: E402

from foveal.bench.machine import describe, hardware  # noqa: E402


def build(src: Path, root: Path, per_class: int, test_per_class: int, seed: int, flip: float, copies: int):
    from PIL import Image

    rng = random.Random(seed)
    classes = sorted(d.name for d in (src / "train").iterdir() if d.is_dir())
    train, test = [], []
    for c in classes:
        train += [(f, c) for f in sorted((src / "train" / c).iterdir())[:per_class]]
        test += [(f, c) for f in sorted((src / "test" / c).iterdir())[:test_per_class]]
    flipped = set(rng.sample(range(len(train)), round(flip * len(train))))
    wrong = []
    for i, (f, c) in enumerate(train):
        label = rng.choice([k for k in classes if k != c]) if i in flipped else c
        dst = root / "train" / label / f"{c}_{f.name}"  # unique: a moved photo never replaces another
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dst)
        if i in flipped:
            wrong.append(str(dst))
    for f, c in test:
        dst = root / "test" / c / f.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dst)
    planted = []
    for k, j in enumerate(rng.sample(range(len(test)), 2 * copies)):
        f, c = test[j]
        kind = "exact" if k < copies else "near"
        dst = root / "train" / c / f"planted_{kind}_{k}.jpg"
        if kind == "exact":
            shutil.copyfile(f, dst)
        else:
            with Image.open(f) as img:
                w, h = img.size
                s = rng.uniform(0.75, 1.5)
                img.convert("RGB").resize((max(8, round(w * s)), max(8, round(h * s))), Image.BICUBIC).save(
                    dst, quality=rng.randint(60, 90))
        planted.append((str(root / "test" / c / f.name), str(dst), kind))
    return wrong, planted


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-class", type=int, default=500)
    ap.add_argument("--test-per-class", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--flip", type=float, default=0.05)
    ap.add_argument("--copies", type=int, default=50)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--keep", default=None, help="build the set and write the report here, and keep them")
    args = ap.parse_args()
    print(describe(hardware()))
    from foveal.check.report import summary_lines
    from foveal.check.run import check_data

    src = Path(args.data_root or default_data_root()) / "cifar10-jpg"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = args.keep or tmp
        root = Path(tmp) / "cifar10-planted"
        shutil.rmtree(root, ignore_errors=True)
        wrong, planted = build(src, root, args.per_class, args.test_per_class, args.seed, args.flip, args.copies)
        start = time.perf_counter()
        result = check_data(root, folds=args.folds, out=Path(tmp) / "check", progress=False)
        seconds = time.perf_counter() - start
        print("\n".join(summary_lines(result)))
        items = result.scan.items
        leaks = {frozenset((str(items[p.a].path), str(items[p.b].path))) for p in result.leaks()}
        truth = {frozenset((a, b)): kind for a, b, kind in planted}
        found = {kind: sum(1 for pair, k in truth.items() if k == kind and pair in leaks) for kind in ("exact", "near")}
        false_pairs = len(leaks - set(truth))
        for p in result.leaks():
            if frozenset((str(items[p.a].path), str(items[p.b].path))) not in truth:
                print(f"not planted: {items[p.a].path} {items[p.b].path} cosine {p.cosine} phash bits {p.phash_bits}")
        within = len(result.pairs) - len(result.leaks())
        ranked = result.summary["label_issues"]["ranked"]
        top = {r["path"] for r in ranked[: 2 * len(wrong)]}
        hit = len(top & set(wrong))
        figures = {
            "copies_planted": len(truth), "copies_found": sum(found.values()), "exact_found": found["exact"],
            "near_found": found["near"], "copy_recall": sum(found.values()) / len(truth),
            "leak_pairs_reported": len(leaks), "false_pairs": false_pairs,
            "false_pair_share": false_pairs / max(1, len(leaks)), "pairs_within_splits": within,
            "labels_flipped": len(wrong), "flipped_in_top_2x": hit, "label_recall_top_2x": hit / len(wrong),
            "label_precision_top_2x": hit / (2 * len(wrong)), "flagged": result.summary["label_issues"]["flagged"],
            "flipped_among_flagged": sum(1 for r in ranked if r["flagged"] and r["path"] in set(wrong)),
            "seconds": round(seconds, 1), "images": len(items),
        }
        checks = {"copies found >= 95%": figures["copy_recall"] >= 0.95,
                  "false pairs <= 5%": figures["false_pair_share"] <= 0.05,
                  "flipped in top 2x >= 70%": figures["label_recall_top_2x"] >= 0.70}
        print(json.dumps(figures, indent=1))
        for name, ok in checks.items():
            print(f"{'PASS' if ok else 'MISS'}  {name}")
        if args.out:
            Path(args.out).write_text(json.dumps({"machine": describe(hardware()), "args": vars(args), "figures": figures,
                                                  "checks": checks}, indent=1))


if __name__ == "__main__":
    main()
