"""Seeded short runs of every task, their `val` and `predict --format json`: what a restructuring must not change.

Run as a script (python tests/golden/golden_runs.py OUT.json); test_golden.py runs it in a fresh process pinned to
AVX2 kernels, fp32 and one thread, and compares the figures with those recorded for the CPU's vendor
(golden_<vendor>.json). `python tests/golden/test_golden.py --record` rewrites that vendor's file (only after a change
meant to move them).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import sys
import tempfile
from pathlib import Path

# Keys that measure the machine, not the model.
TIMING = ("_s", "images_per_s", "time")
SHAPES = dict(n_train=16, n_val=8)  # a few scenes: the point is the same numbers, not good ones
COMMON = dict(seed=0, amp="off", progress=False, exist_ok=True)
RUNS = {  # name: (model, task, training settings)
    "classify": ("lenet", "classify", dict(data="digits", epochs=2, batch_size=64, optimizer="adamw", lr=3e-3,
                                           schedule="cosine", weight_decay=0.0, normalize="unit")),
    "detect": ("fcos", "detect", dict(data="shapes", epochs=1, batch_size=4, pretrained=True)),
    # whole images, as when the figures were recorded (semantic segmentation's default crops since issue 30: 0.6)
    "segment": ("unet", "segment", dict(data="shapes", epochs=1, batch_size=4, pretrained=True, train_scale=1.0)),
    "instance": ("maskrcnn", "segment", dict(data="shapes", epochs=1, batch_size=4, pretrained=True)),
}


def small_shapes() -> None:
    """Every `shapes` load in this process (training, val) gets the few scenes of SHAPES."""
    import foveal.data.detection.dataset as detection
    import foveal.data.segmentation.dataset as segmentation

    detection.shapes_detection = functools.partial(detection.shapes_detection, **SHAPES)
    segmentation.shapes_semantic = functools.partial(segmentation.shapes_semantic, **SHAPES)


def kept(values):
    """The metrics without the timings (dicts and lists walked)."""
    if isinstance(values, dict):
        return {k: kept(v) for k, v in values.items() if not any(k.endswith(t) for t in TIMING)}
    if isinstance(values, list):
        return [kept(v) for v in values]
    return values


def predict_images(folder: Path) -> list[str]:
    """Three val scenes of shapes as PNGs, and the first digits image scaled up: what predict reads."""
    import numpy as np
    from PIL import Image

    from foveal.data.shapes import generate_shapes

    folder.mkdir(parents=True, exist_ok=True)
    scenes = generate_shapes(3, size=96, seed=123, min_objects=1, max_objects=4)
    paths = []
    for i, img in enumerate(scenes.images):
        path = folder / f"scene{i}.png"
        Image.fromarray(np.asarray(img).transpose(1, 2, 0)).save(path)  # CHW -> HWC
        paths.append(str(path))
    return paths


def cli_json(args: list[str]):
    from foveal.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(args)
    if code != 0:
        raise SystemExit(f"foveal {' '.join(args)} exited {code}")
    return json.loads(out.getvalue())


def run_all(work: Path) -> dict:
    import foveal

    small_shapes()
    images = predict_images(work / "images")
    results = {}
    for key, (model, task, settings) in RUNS.items():
        m = foveal.Model(model, task=task)
        metrics = m.train(project=str(work / "runs"), name=key, **settings, **COMMON)
        val = cli_json(["val", "--model", str(m.checkpoint), "--project", str(work / "val"), "--name", key,
                        "--format", "json"])
        sources = images if task != "classify" else [str(work / "digit.png")]
        if task == "classify":
            from PIL import Image

            from foveal.data import load_data

            first = load_data("digits", seed=0).val.images[0].numpy()
            Image.fromarray(first[0] if first.shape[0] == 1 else first.transpose(1, 2, 0)).save(sources[0])
        low_conf = ["--conf", "0.001"] if key in ("detect", "instance") else []  # an untrained detector's few objects
        predicted = cli_json(["predict", "--model", str(m.checkpoint), *sources, "--format", "json", *low_conf])
        for p in predicted:
            p["source"] = Path(p["source"]).name
        results[key] = {"train": kept(metrics), "val": kept(val), "predict": predicted}
    return results


def main(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = run_all(Path(tmp))
    Path(argv[0]).write_text(json.dumps(results, indent=1, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
