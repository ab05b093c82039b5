"""Image decoding to uint8 (C, H, W) tensors from any Pillow mode, shared by the data readers and prediction.

Choices: transparent pixels are composited onto WHITE; 16-bit images are scaled by their bit depth (65535 -> 255);
32-bit 'I' values within 0..65535 count as 16 bit, wider ones are stretched to their range; float 'F' in [0, 1] is
scaled by 255, else stretched; RGB is turned grey with Pillow's ITU-R 601-2 luma; palette images count as colour;
EXIF orientation is applied before anything else. A JPEG much larger than the size it is needed at is decoded
reduced (Pillow's `draft`: the decoder scales by 1/2, 1/4 or 1/8, never below that size), so that a 100-megapixel
photo costs a few megabytes, not gigabytes; an image over Pillow's limit against decompression bombs is reported
in one line of foveal's own instead of Pillow's warning.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from foveal.errors import FovealError

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
)
BACKGROUND = 255  # transparent pixels become white
_GREY_MODES = frozenset({"1", "L", "LA", "La", "F"})
_ROTATED = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height

log = logging.getLogger("foveal")


class UnreadableImage(FovealError):
    """A file that cannot be decoded as an image; carries the path and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = " ".join(str(reason).split()) or "unknown error"
        super().__init__(f"cannot read image {self.path}: {self.reason}")


@dataclass(frozen=True)
class ImageInfo:
    """What the header says: displayed size (after EXIF rotation) and whether the pixels are grey."""

    height: int
    width: int
    grey: bool


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """True if the name ends in an image extension (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _is_grey_mode(mode: str) -> bool:
    return mode in _GREY_MODES or mode.startswith("I")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, Image.DecompressionBombError):
        n, limit = (re.findall(r"\d+", str(exc)) + ["?", "?"])[:2]
        return f"too large to decode safely: {n} pixels, over the limit of {limit} that guards against decompression bombs"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"))


@contextlib.contextmanager
def open_regular(path: str | os.PathLike[str]) -> Iterator:
    """The file opened for reading, if it is a regular file. It is opened without blocking, so that a named pipe
    (which would wait for a writer forever) is refused at once; the check is made on the opened file, so nothing can
    swap the file in between."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        gone = "a symbolic link to a missing file" if os.path.islink(path) else "no such file (any more)"
        raise UnreadableImage(path, gone) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "something else")
            raise UnreadableImage(path, f"not a regular file but {kind}")
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


_OPENING = threading.Lock()  # warnings.catch_warnings is not thread-safe; the readers open images from a pool


@contextlib.contextmanager
def _opened(path: str | os.PathLike[str]) -> Iterator[Image.Image]:
    """The image of a regular file, header read, without Pillow's DecompressionBombWarning (read_image says it)."""
    with open_regular(path) as f:
        with _OPENING, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(f)
        with img:
            yield img


def probe(path: str | os.PathLike[str]) -> ImageInfo:
    """Read the size and colour kind from the file header only, without decoding pixels."""
    try:
        with _opened(path) as img:
            width, height = img.size
            # Image.getexif reads EXIF already parsed from the header; PNG's override would decode the pixels.
            orientation = Image.Image.getexif(img).get(0x0112, 1)
            grey = _is_grey_mode(img.mode)
    except UnreadableImage:
        raise
    except Exception as exc:  # corrupt files raise many kinds of error
        raise UnreadableImage(path, _reason(exc)) from exc
    if orientation in _ROTATED:
        height, width = width, height
    return ImageInfo(int(height), int(width), grey)


def file_mode(path: str | os.PathLike[str]) -> str:
    """The Pillow mode the file stores its pixels in (RGB, L, RGBA, P, I;16, CMYK, ...), from the header only."""
    try:
        with _opened(path) as img:
            return img.mode
    except UnreadableImage:
        raise
    except Exception as exc:  # corrupt files raise many kinds of error
        raise UnreadableImage(path, _reason(exc)) from exc


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(height, width) as displayed, from the header only."""
    info = probe(path)
    return info.height, info.width


def is_grey(path: str | os.PathLike[str]) -> bool:
    """True if the file holds grey pixels (modes 1, L, LA, I, I;16, F), from the header only."""
    return probe(path).grey


def _composite(img: Image.Image) -> np.ndarray:
    """Flatten an image with alpha onto the white background: (H, W) for LA, (H, W, 3) for RGBA."""
    grey = img.mode in ("LA", "La")
    arr = np.asarray(img.convert("LA" if grey else "RGBA"), dtype=np.uint32)
    colour, alpha = arr[..., :-1], arr[..., -1:]
    out = (colour * alpha + BACKGROUND * (255 - alpha) + 127) // 255
    out = out.astype(np.uint8)
    return out[..., 0] if grey else out


def _high_depth(img: Image.Image) -> np.ndarray:
    """Scale 16/32-bit integer and float grey to 8 bit by depth, never by clipping."""
    arr = np.asarray(img)
    if img.mode == "F":
        arr = np.nan_to_num(arr.astype(np.float64))
        lo, hi = (0.0, 1.0) if arr.min() >= 0 and arr.max() <= 1 else (arr.min(), arr.max())
        return np.round((arr - lo) * (255 / max(hi - lo, 1e-12))).clip(0, 255).astype(np.uint8)
    arr = arr.astype(np.int64)
    if img.mode.startswith("I;16") or (arr.min() >= 0 and arr.max() <= 65535):
        return ((arr + 128) // 257).astype(np.uint8)  # 16 bit: round(v * 255 / 65535)
    lo, hi = int(arr.min()), int(arr.max())  # genuinely 32-bit data: stretch its range
    return ((arr - lo) * 255 // max(hi - lo, 1)).astype(np.uint8)


def _to_array(img: Image.Image) -> np.ndarray:
    """Any Pillow mode as uint8 (H, W) grey or (H, W, 3) RGB."""
    mode = img.mode
    if mode == "L":
        return np.asarray(img)
    if mode == "1":
        return np.asarray(img.convert("L"))
    if mode == "F" or mode.startswith("I"):
        return _high_depth(img)
    if mode in ("LA", "La", "RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in img.info):
        return _composite(img)
    if mode == "RGB":
        return np.asarray(img)
    return np.asarray(img.convert("RGB"))  # P, CMYK, YCbCr, ...


def _set_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    if arr.ndim == 2:
        return arr[..., None] if channels == 1 else np.repeat(arr[..., None], 3, axis=2)
    if channels == 1:
        return np.asarray(Image.fromarray(arr, "RGB").convert("L"))[..., None]
    return arr


def read_image(path: str | os.PathLike[str], channels: int | None = None,
               reduce_to: tuple[int, int] | None = None) -> torch.Tensor:
    """Decode a file to uint8 (C, H, W); channels 1 = grey, 3 = RGB, None = 1 for grey files else 3. With
    `reduce_to` (height, width), the size it will be resized to: a JPEG at least twice as large on both sides is
    decoded reduced, to no less than that size."""
    if channels not in (None, 1, 3):
        raise FovealError(f"channels must be 1, 3 or None; got {channels!r}")
    try:
        with _opened(path) as img:
            full = img.size
            if reduce_to is not None and img.format == "JPEG":
                h, w = reduce_to
                if Image.Image.getexif(img).get(0x0112, 1) in _ROTATED:
                    h, w = w, h
                img.draft(None, (int(w), int(h)))
            _say_if_huge(path, full, img.size)
            img.load()
            img = ImageOps.exif_transpose(img)
            arr = _to_array(img)
    except UnreadableImage:
        raise
    except Exception as exc:
        raise UnreadableImage(path, _reason(exc)) from exc
    arr = _set_channels(arr, channels or (1 if arr.ndim == 2 else 3))
    return torch.from_numpy(np.require(arr.transpose(2, 0, 1), requirements=["C", "W"]))


def _say_if_huge(path: str | os.PathLike[str], full: tuple[int, int], decoded: tuple[int, int]) -> None:
    """One line for an image over Pillow's limit against decompression bombs (where Pillow warns)."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is None or full[0] * full[1] <= limit:
        return
    size = f"{full[0]}x{full[1]}, {full[0] * full[1] / 1e6:.0f} megapixels"
    if decoded != full:
        log.warning("%s: a very large image (%s); decoded reduced to %dx%d", path, size, *decoded)
    else:
        log.warning("%s: a very large image (%s); decoding it takes about %.0f MB", path, size,
                    full[0] * full[1] * 4 / 1e6)


def resize(img: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear, antialiased resize of uint8 (..., C, H, W) to (h, w); returns the input when already that size."""
    size = (int(size[0]), int(size[1]))
    if tuple(img.shape[-2:]) == size:
        return img
    out = TF.resize(img, list(size), interpolation=InterpolationMode.BILINEAR, antialias=True)
    return out if out.dtype == torch.uint8 else out.round().clamp(0, 255).to(torch.uint8)
