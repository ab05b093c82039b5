"""A prediction drawn on its image: what `Classification.plot`, `Detections.plot` and `Segmentation.plot` return."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from foveal.errors import FovealError
from foveal.viz.annotate import annotate_classification
from foveal.viz.boxes import draw_detections
from foveal.viz.masks import overlay

if TYPE_CHECKING:
    from foveal.types import Result


def as_image(image: Any, source: str = "") -> torch.Tensor:
    """A uint8 (C, H, W) tensor of `image` (a path, a PIL image, an (H, W[, C]) uint8 array or a (C, H, W) tensor),
    or, with none given, of the file the prediction was made from."""
    if image is None:
        if not source or not os.path.isfile(source):
            raise FovealError(f"plot needs the image: the prediction's source {source!r} is not an image file here")
        image = source
    if isinstance(image, (str, os.PathLike)):
        from foveal.data.images import read_image

        return read_image(image, channels=3)
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise FovealError(f"plot expects a uint8 (H, W) or (H, W, C) array; got {image.dtype} {image.shape}")
        image = torch.from_numpy(np.ascontiguousarray(image[None] if image.ndim == 2 else image.transpose(2, 0, 1)))
    if not isinstance(image, torch.Tensor) or image.dtype != torch.uint8 or image.ndim != 3:
        raise FovealError(f"plot expects a path, a PIL image, a uint8 array or a uint8 (C, H, W) tensor; got "
                          f"{type(image).__name__}")
    return image[:3] if image.shape[0] == 4 else image


def draw(result: "Result", image: Any = None) -> Image.Image:
    """The result drawn on its image: a classification's top labels, boxes (and instance masks) in their class
    colours, a class map tinted with a legend."""
    pixels = as_image(image, result.source)
    if hasattr(result, "probs"):  # a Classification
        return annotate_classification(pixels, result)
    if tuple(pixels.shape[-2:]) != tuple(result.image_size):
        raise FovealError(f"the image is {pixels.shape[-1]}x{pixels.shape[-2]}; the prediction was made on one of "
                          f"{result.image_size[1]}x{result.image_size[0]}")
    if hasattr(result, "xyxy"):  # Detections
        return draw_detections(pixels, result)
    return overlay(pixels, result.class_map, result.classes)
