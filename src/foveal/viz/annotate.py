"""Results drawn onto a copy of the image, for saving next to predictions."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:
    from foveal.types import Classification


MIN_SHORT_SIDE = 224


def to_pil(image: torch.Tensor) -> Image.Image:
    """A uint8 (C, H, W) tensor, C in {1, 3}, as an RGB PIL image."""
    image = torch.as_tensor(image)
    if image.ndim != 3 or image.dtype != torch.uint8 or image.shape[0] not in (1, 3):
        raise ValueError(f"image must be uint8 (C, H, W) with C in {{1, 3}}; got {image.dtype} {tuple(image.shape)}")
    array = image.detach().cpu().numpy()
    pil = Image.fromarray(array[0], "L") if array.shape[0] == 1 else Image.fromarray(np.ascontiguousarray(array.transpose(1, 2, 0)), "RGB")
    return pil.convert("RGB")


def upscale(image: Image.Image, min_short_side: int = MIN_SHORT_SIDE) -> Image.Image:
    """Enlarged by a whole factor with nearest neighbour until the short side is >= min_short_side (pixels
    stay square and crisp); a copy either way."""
    factor = math.ceil(min_short_side / max(min(image.size), 1))
    if factor <= 1:
        return image.copy()
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font, max_width: float) -> str:
    """The text, shortened with '...' until it fits in max_width pixels."""
    if draw.textlength(text, font=font) <= max_width:
        return text
    while len(text) > 1 and draw.textlength(text + "...", font=font) > max_width:
        text = text[:-1]
    return text + "..."


def annotate_classification(image: torch.Tensor, result: Classification, k: int = 3) -> Image.Image:
    """A copy of a uint8 (C, H, W) image, upscaled to >= 224 px on the short side, with the top-k labels and
    their probabilities in a dark box at the top left."""
    canvas = upscale(to_pil(image)).convert("RGBA")
    font_size = max(12, round(min(canvas.size) / 15))
    font = _font(font_size)
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    pad, gap = font_size // 2, font_size // 3
    max_text = canvas.width - 4 * pad
    lines = []
    for name, p in result.top(k):
        pct = f"{100 * p:.1f}%"
        name = _fit(draw, name, font, max_text - draw.textlength("  " + pct, font=font))
        lines.append(f"{name}  {pct}")
    if not lines:
        return canvas.convert("RGB")
    heights = [draw.textbbox((0, 0), s, font=font)[3] for s in lines]
    line_h = max(heights)
    box_w = max(draw.textlength(s, font=font) for s in lines) + 2 * pad
    box_h = len(lines) * line_h + (len(lines) - 1) * gap + 2 * pad
    draw.rounded_rectangle((pad, pad, pad + box_w, pad + box_h), radius=pad // 2, fill=(0, 0, 0, 170))
    for i, text in enumerate(lines):
        colour = (255, 255, 255, 255) if i == 0 else (215, 215, 215, 255)
        draw.text((2 * pad, 2 * pad + i * (line_h + gap)), text, font=font, fill=colour)
    return Image.alpha_composite(canvas, overlay).convert("RGB")


__all__ = ["annotate_classification", "to_pil", "upscale"]
