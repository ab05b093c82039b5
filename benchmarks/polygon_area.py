"""Polygon rasterisation check on coco128-seg (issue 5): every YOLO-seg polygon of an object over 500 px becomes a
mask whose pixel count matches the polygon's area by the shoelace formula within 2%.

    python benchmarks/polygon_area.py

Prints the number of objects checked, the median and worst relative difference; writes
benchmarks/results/polygon_area.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from plain_loop import default_data_root, hardware  # noqa: E402

MIN_AREA, TOLERANCE = 500, 0.02


def perimeter(polygon: list[float]) -> float:
    from foveal.data.segmentation.instances import split_rings

    total = 0.0
    for ring in split_rings(polygon):
        xy = np.asarray(ring).reshape(-1, 2)
        total += float(np.linalg.norm(xy - np.roll(xy, -1, 0), axis=1).sum())
    return total


def area_errors(yaml_path: Path) -> list[tuple[str, float, float, float]]:
    """(image, polygon area, mask area, mean thickness 2 * area / perimeter) of every object over MIN_AREA px."""
    from foveal.data.detection.yolo import read_yolo
    from foveal.data.segmentation.instances import polygon_area, rasterize

    out = []
    for it in read_yolo(yaml_path)["train"].items:
        for seg in it.segments or []:
            area = polygon_area(seg[0])
            if area > MIN_AREA:
                out.append((it.path.name, area, float(rasterize(seg, it.size).sum()), 2 * area / perimeter(seg[0])))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default=str(HERE / "results" / "polygon_area.json"))
    args = ap.parse_args(argv)
    start = time.perf_counter()
    rows = area_errors(Path(args.data_root or default_data_root()) / "coco128-seg" / "data.yaml")
    rel = np.array([abs(m - a) / a for _, a, m, _ in rows])
    over = [(r, float(e)) for r, e in zip(rows, rel) if e > TOLERANCE]
    worst = rows[int(rel.argmax())]
    ok = bool((rel <= TOLERANCE).all())
    result = {"benchmark": "polygon_area", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "hardware": hardware(),
              "objects": len(rows), "median_rel_diff": float(np.median(rel)), "max_rel_diff": float(rel.max()),
              "within": int((rel <= TOLERANCE).sum()),
              "over_tolerance": [{"image": r[0], "polygon_area": round(r[1], 1), "mask_area": r[2],
                                  "mean_thickness_px": round(r[3], 2), "rel_diff": round(e, 4)} for r, e in over],
              "seconds": time.perf_counter() - start, "check": {f"all within {TOLERANCE:.0%}": ok}}
    print(f"{len(rows)} objects over {MIN_AREA} px: mask area vs shoelace area, median {np.median(rel):.3%}, "
          f"worst {rel.max():.3%} ({worst[0]}: {worst[1]:.0f} vs {worst[2]:.0f} px)")
    for r, e in over:
        print(f"  over {TOLERANCE:.0%}: {r[0]}: {r[1]:.0f} vs {r[2]:.0f} px ({e:.1%}), {r[3]:.1f} px thick on average")
    print(f"  {'PASS' if ok else 'FAIL'}  every object within {TOLERANCE:.0%} ({int((rel <= TOLERANCE).sum())} of {len(rows)})")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
