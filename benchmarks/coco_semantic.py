"""coco128-seg from ../shared as a semantic segmentation folder: every photo resized to 480x360 (width x height) and
a class mask per photo (0 the background, class i + 1 where an object of COCO class i lies; later objects of the
file over earlier ones), in the `images/` + `masks/` layout `foveal train --task segment` reads. Written outside the
project (derived data is never committed).

    python benchmarks/coco_semantic.py /tmp/coco128-semantic
    foveal train --task segment --model unet --pretrained --data /tmp/coco128-semantic --img-size 352
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from plain_loop import default_data_root  # noqa: E402

SIZE = (480, 360)


def convert(src: Path, dst: Path, size: tuple[int, int] = SIZE) -> int:
    names = yaml.safe_load((src / "data.yaml").read_text())["names"]
    names = [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)
    (dst / "images").mkdir(parents=True, exist_ok=True)
    (dst / "masks").mkdir(parents=True, exist_ok=True)
    (dst / "classes.txt").write_text("\n".join(["background", *(n.replace(" ", "_") for n in names)]) + "\n")
    n = 0
    for image in sorted((src / "images").rglob("*.jpg")):
        label = src / "labels" / image.parent.name / f"{image.stem}.txt"
        photo = Image.open(image).convert("RGB").resize(size, Image.BILINEAR)
        mask = Image.new("L", size, 0)
        draw = ImageDraw.Draw(mask)
        for line in (label.read_text().splitlines() if label.is_file() else []):
            values = line.split()
            if len(values) < 7:
                continue
            cls, xy = int(values[0]), [float(v) for v in values[1:]]
            draw.polygon([(x * size[0], y * size[1]) for x, y in zip(xy[0::2], xy[1::2])], fill=cls + 1)
        photo.save(dst / "images" / f"{image.stem}.jpg", quality=95)
        mask.save(dst / "masks" / f"{image.stem}.png")
        n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--data-root", default=None)
    args = ap.parse_args(argv)
    n = convert(Path(args.data_root or default_data_root()) / "coco128-seg", Path(args.out))
    print(f"{n} photos and masks in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
