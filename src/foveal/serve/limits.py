"""What one server accepts and holds: the request size and image pixels, the images per request, the queue and the
batch of the inference thread."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 20 * 1024 * 1024  # one request's body (every image in it together)
    max_pixels: int = 40_000_000  # one image's width x height, read from its header before it is decoded
    max_images: int = 16  # images in one request
    max_queue: int = 64  # requests waiting for the inference thread; one more is answered 429
    max_batch: int = 16  # images run together when several requests of one model and options wait
