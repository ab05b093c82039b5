"""Uploaded images, checked before any model sees them: the request's size, each file's content (its header read by
Pillow, whatever its name says), a format foveal decodes, and its pixels (a decompression bomb is refused from its
header, before it is decoded). Each bad upload is an UploadError: the HTTP status and one line."""

from __future__ import annotations

from pathlib import Path

from foveal.errors import FovealError

FORMATS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "BMP": ".bmp", "WEBP": ".webp", "TIFF": ".tif", "GIF": ".gif"}


class UploadError(FovealError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_length(header: str | None, max_bytes: int) -> None:
    """The request's Content-Length, before its body is read."""
    if header is None:
        raise UploadError(411, "a request with images must say its Content-Length")
    try:
        length = int(header)
    except ValueError:
        raise UploadError(400, f"Content-Length must be a number of bytes; got {header!r}") from None
    if length > max_bytes:
        raise UploadError(413, f"the request is {length / 2**20:.1f} MB; this server takes up to "
                               f"{max_bytes / 2**20:.0f} MB of images per request")


def save_upload(data: bytes, name: str, folder: Path, index: int, max_pixels: int) -> tuple[Path, tuple[int, int]]:
    """(the file, its width and height): the upload written to `folder` under a name of its index and true format,
    once its header shows an image that foveal decodes and that is not too large."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise UploadError(400, f"{name}: an empty file; expected an image")
    path = folder / f"{index}"
    path.write_bytes(data)
    try:
        with Image.open(path) as img:
            fmt, (width, height) = img.format, img.size
    except Image.DecompressionBombError as err:
        raise UploadError(413, f"{name}: {err}") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise UploadError(415, f"{name}: not an image; expected a {', '.join(sorted(set(FORMATS) - {'MPO'}))} "
                               f"file") from None
    if fmt not in FORMATS:
        raise UploadError(415, f"{name}: a {fmt} image; expected one of {', '.join(sorted(set(FORMATS) - {'MPO'}))}")
    if width * height > max_pixels:
        raise UploadError(413, f"{name}: {width}x{height} is {width * height / 1e6:.1f} megapixels; this server "
                               f"takes images up to {max_pixels / 1e6:.0f} megapixels")
    return path.rename(path.with_suffix(FORMATS[fmt])), (width, height)
