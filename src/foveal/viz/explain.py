"""Pictures of an explanation: heat maps over the photo, the first layer's filters, and each stage's feature maps."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure

from foveal.viz.plots import _save


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """uint8 (H, W, 3) photo with a (H, W) heat map in [0, 1] blended over it in the 'jet' colours."""
    colour = colormaps["jet"](np.clip(heat, 0, 1))[..., :3] * 255
    base = image if image.shape[-1] == 3 else np.repeat(image, 3, axis=-1)
    return np.round((1 - alpha) * base + alpha * colour).astype(np.uint8)


def plot_attributions(image: np.ndarray, panels: Sequence[tuple[str, np.ndarray]], path: str | Path) -> Path:
    """The photo, then one overlay per (title, heat map), in a row."""
    n = len(panels) + 1
    fig = Figure(figsize=(3.2 * n, 3.6))
    axes = fig.subplots(1, n, squeeze=False)[0]
    axes[0].imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None)
    axes[0].set_title("photo", fontsize=9)
    for ax, (title, heat) in zip(axes[1:], panels):
        ax.imshow(overlay(image, heat))
        ax.set_title(title, fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)


def filter_tiles(weights: torch.Tensor) -> np.ndarray:
    """(out, in, k, k) filters as (out, k, k, 3 or 1) images in [0, 1], each scaled on its own around grey (0 = 0.5)."""
    w = weights.float()
    scale = w.flatten(1).abs().amax(1).clamp_min(1e-12).view(-1, 1, 1, 1)
    tiles = (w / scale * 0.5 + 0.5).permute(0, 2, 3, 1)
    return (tiles if tiles.shape[-1] in (1, 3) else tiles.mean(-1, keepdim=True)).numpy()


def plot_filters(weights: torch.Tensor, path: str | Path, title: str = "first layer's filters") -> Path:
    tiles = filter_tiles(weights)
    cols = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    fig = Figure(figsize=(0.6 * cols + 0.4, 0.6 * rows + 0.6))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, tile in zip(axes, tiles):
        ax.imshow(tile.squeeze(), cmap="gray" if tile.shape[-1] == 1 else None, interpolation="nearest", vmin=0, vmax=1)
    fig.suptitle(f"{title} ({weights.shape[0]} of {weights.shape[2]}x{weights.shape[3]})", fontsize=9)
    return _save(fig, path)


def plot_stages(maps: Mapping[str, torch.Tensor], path: str | Path, per_stage: int = 8) -> Path:
    """One row per stage: its `per_stage` most active channels (by mean activation), each scaled on its own."""
    fig = Figure(figsize=(1.3 * per_stage + 1.6, 1.4 * len(maps) + 0.4))
    axes = fig.subplots(len(maps), per_stage, squeeze=False)
    for row, (name, fmap) in zip(axes, maps.items()):
        order = fmap.flatten(1).mean(1).argsort(descending=True)[:per_stage]
        for ax in row:
            ax.axis("off")
        for ax, c in zip(row, order.tolist()):
            m = fmap[c]
            ax.imshow(((m - m.min()) / (m.max() - m.min()).clamp_min(1e-12)).numpy(), cmap="viridis")
        row[0].set_title(f"{name}  {tuple(fmap.shape)}", fontsize=8, loc="left")
    fig.tight_layout()
    return _save(fig, path)
