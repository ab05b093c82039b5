"""Drawing class maps: colour overlays with a legend (Pascal VOC's palette for its 21 classes, distinct colours
otherwise), RGBA cut-outs of one class, and grids of image / truth / prediction."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from foveal.viz.annotate import _font, to_pil
from foveal.viz.boxes import class_colours

IGNORE_COLOUR = (255, 255, 255)


def voc_palette(n: int = 256) -> list[tuple[int, int, int]]:
    """Pascal VOC's label colours: the bits of the class id spread over the high bits of R, G and B."""
    out = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out.append((r, g, b))
    return out


def palette(classes: Sequence[str]) -> np.ndarray:
    """(256, 3) uint8 colours by class id: VOC's for VOC's classes, else black for a leading `background` and distinct
    hues for the rest; 255 (ignored pixels) white."""
    from foveal.data.segmentation.semantic import VOC_CLASSES

    if tuple(classes) == VOC_CLASSES:
        colours = voc_palette(256)
    else:
        bg = 1 if classes and classes[0] in ("background", "_background_", "bg") else 0
        colours = [(0, 0, 0)] * bg + class_colours(len(classes) - bg)
        colours += [(0, 0, 0)] * (256 - len(colours))
    colours[255] = IGNORE_COLOUR
    return np.array(colours, dtype=np.uint8)


def colour_map(class_map: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """(H, W, 3) uint8 colours of an (H, W) class map."""
    return palette(classes)[np.asarray(class_map, dtype=np.int64).clip(0, 255)]


def overlay(image: torch.Tensor, class_map: np.ndarray, classes: Sequence[str], alpha: float = 0.5,
            legend: bool = True) -> Image.Image:
    """The image with each class's pixels tinted in its colour (a leading background class left untinted) and a
    legend of the classes present, with their share of the image."""
    base = to_pil(image).convert("RGB")
    cm = np.asarray(class_map)
    colours = colour_map(cm, classes).astype(np.float32)
    tint = np.ones(cm.shape, dtype=bool) if not (classes and classes[0] == "background") else cm != 0
    arr = np.asarray(base, dtype=np.float32)
    arr[tint] = (1 - alpha) * arr[tint] + alpha * colours[tint]
    out = Image.fromarray(arr.round().astype(np.uint8))
    return _legend(out, cm, classes) if legend else out


def _legend(img: Image.Image, class_map: np.ndarray, classes: Sequence[str]) -> Image.Image:
    ids, counts = np.unique(class_map, return_counts=True)
    rows = [(int(i), c / class_map.size) for i, c in zip(ids, counts) if 0 <= i < len(classes)]
    rows.sort(key=lambda r: -r[1])
    font = _font(max(10, min(18, img.height // 24)))
    line = font.size + 6 if hasattr(font, "size") else 16
    width = max(140, max((int(font.getlength(f"{classes[i]} {s:.1%}")) for i, s in rows), default=0) + line + 12)
    canvas = Image.new("RGB", (img.width + width, max(img.height, line * len(rows) + 8)), (255, 255, 255))
    canvas.paste(img, (0, 0))
    draw = ImageDraw.Draw(canvas)
    pal = palette(classes)
    for k, (i, share) in enumerate(rows):
        y = 4 + k * line
        draw.rectangle([img.width + 6, y, img.width + 6 + line - 6, y + line - 6], fill=tuple(int(v) for v in pal[i]),
                       outline=(0, 0, 0))
        draw.text((img.width + line + 6, y), f"{classes[i]} {share:.1%}", fill=(0, 0, 0), font=font)
    return canvas


def cutout(image: torch.Tensor, keep: np.ndarray) -> Image.Image:
    """An RGBA image: the pixels where `keep` is true, everything else transparent."""
    rgba = to_pil(image).convert("RGBA")
    alpha = Image.fromarray(np.asarray(keep, dtype=np.uint8) * 255, mode="L")
    rgba.putalpha(alpha)
    return rgba


def mask_grid(images: Sequence[torch.Tensor], truths: Sequence[np.ndarray], preds: Sequence[np.ndarray],
              classes: Sequence[str], path: str | Path, ncols: int = 4) -> Path:
    """Rows of (image, truth, prediction) triples, the masks in class colours."""
    from matplotlib.figure import Figure

    from foveal.viz.plots import _save

    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig = Figure(figsize=(ncols * 3 * 1.6, nrows * 1.8), layout="tight")
    axes = np.atleast_1d(fig.subplots(nrows, ncols * 3, squeeze=False)).reshape(nrows, ncols * 3)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        r, c = divmod(i, ncols)
        img = images[i].expand(3, -1, -1).permute(1, 2, 0).numpy()
        for k, (pic, title) in enumerate(((img, "image"), (colour_map(truths[i], classes), "truth"),
                                          (colour_map(preds[i], classes), "prediction"))):
            axes[r, c * 3 + k].imshow(pic, interpolation="nearest")
            if r == 0:
                axes[r, c * 3 + k].set_title(title, fontsize=8)
    return _save(fig, path)
