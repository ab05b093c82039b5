"""Boxes (and instance masks) drawn on images: predictions with class colours and readable labels, truths in white;
the detection precision-recall curves and validation grid of a run."""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image, ImageDraw

from foveal.viz.annotate import _font, to_pil, upscale

if TYPE_CHECKING:
    from foveal.types import Detections

SHOW_CONF = 0.25  # boxes below this confidence are left out of drawings


def class_colours(n: int) -> list[tuple[int, int, int]]:
    """n distinct, saturated colours: hues spread by the golden angle, so neighbouring class ids differ most."""
    out = []
    for i in range(n):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.85, 0.95)
        out.append((int(r * 255), int(g * 255), int(b * 255)))
    return out


def draw_detections(image: torch.Tensor, det: Detections, truth: Detections | None = None,
                    min_conf: float = 0.0) -> Image.Image:
    """A copy of a uint8 (C, H, W) image (small ones enlarged) with each box in its class colour and a filled label
    'class 0.87' above it, its mask (instance segmentation) tinted and outlined in the same colour; true boxes, when
    given, as thin white outlines."""
    canvas = upscale(to_pil(image), 320)
    scale = canvas.width / image.shape[-1]
    draw = ImageDraw.Draw(canvas)
    line = max(2, round(min(canvas.size) / 200))
    font = _font(max(11, round(min(canvas.size) / 40)))
    colours = class_colours(len(det.classes))
    if truth is not None:
        for box in truth.xyxy * scale:
            draw.rectangle(box.tolist(), outline=(255, 255, 255), width=line)
    keep = det.confidence >= min_conf
    if det.mask is not None and keep.any():
        canvas = draw_masks(canvas, det.mask[keep], [colours[c] for c in det.class_id[keep]])
        draw = ImageDraw.Draw(canvas)
    for box, c, s in zip(det.xyxy[keep] * scale, det.class_id[keep], det.confidence[keep]):
        colour = colours[c]
        draw.rectangle(box.tolist(), outline=colour, width=line)
        text = f"{det.classes[c]} {s:.2f}"
        x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
        tx, ty = float(box[0]), float(box[1]) - (y1 - y0) - 2 * line
        ty = ty if ty >= 0 else float(box[1])  # no room above: inside the box's top edge
        draw.rectangle([tx, ty, tx + x1 - x0 + 2 * line, ty + y1 - y0 + 2 * line], fill=colour)
        light = sum(colour) / 3 > 150
        draw.text((tx + line - x0, ty + line - y0), text, fill=(0, 0, 0) if light else (255, 255, 255), font=font)
    return canvas


def draw_masks(canvas: Image.Image, masks: np.ndarray, colours: Sequence[tuple[int, int, int]],
               alpha: float = 0.45) -> Image.Image:
    """Instance masks (k, h, w) tinted onto a canvas that is a whole multiple of their size, each in its colour
    with its outline drawn solid."""
    factor = canvas.width // masks.shape[-1]
    arr = np.asarray(canvas, dtype=np.float32).copy()
    for m, colour in zip(masks, colours):
        inner = m.copy()
        inner[1:] &= m[:-1]
        inner[:-1] &= m[1:]
        inner[:, 1:] &= m[:, :-1]
        inner[:, :-1] &= m[:, 1:]
        m, edge = (a.repeat(factor, 0).repeat(factor, 1) for a in (m, m & ~inner))
        arr[m] = (1 - alpha) * arr[m] + alpha * np.asarray(colour, dtype=np.float32)
        arr[edge] = colour
    return Image.fromarray(arr.round().astype(np.uint8))


def detection_grid(images: Sequence[torch.Tensor], preds: Sequence[Detections], truths: Sequence[Detections],
                   path: str | Path, ncols: int = 4) -> Path:
    """Validation images with predicted boxes (confidence >= 0.25) in class colours and true boxes in white."""
    from foveal.viz.plots import _empty, _save

    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig = Figure(figsize=(3.2 * ncols, 3.2 * nrows), layout="tight")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i < n:
            ax.imshow(np.asarray(draw_detections(images[i], preds[i], truths[i], SHOW_CONF)))
            ax.set_title(f"{len(truths[i])} true, {int((preds[i].confidence >= SHOW_CONF).sum())} found", fontsize=8)
    if n == 0:
        _empty(axes[0], "no images")
    return _save(fig, path)


def plot_pr_curves(precision: np.ndarray, classes: Sequence[str], path: str | Path) -> Path:
    """Precision against recall at IoU .5, per class (thin) and their mean (thick), from COCO's (101, C) table."""
    from foveal.viz.plots import _save

    recall = np.linspace(0, 1, precision.shape[0])
    fig = Figure(figsize=(6, 5), layout="tight")
    ax = fig.subplots()
    valid = [k for k in range(precision.shape[1]) if (precision[:, k] > -1).any()]
    for k in valid[:20]:
        ax.plot(recall, np.clip(precision[:, k], 0, None), lw=1, alpha=0.6, label=f"{classes[k]}")
    if valid:
        mean = np.clip(precision[:, valid], 0, None).mean(1)
        ax.plot(recall, mean, lw=3, color="black", label=f"all classes (AP50 {mean.mean():.3f})")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="precision-recall at IoU 0.5")
    ax.legend(fontsize=7, loc="lower left")
    return _save(fig, path)
