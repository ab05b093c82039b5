"""Turn what a user passes to predict (files, folders) into a sorted list of image paths."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from foveal.data.images import IMAGE_EXTENSIONS
from foveal.errors import FovealError


def expand_sources(sources: Iterable[str | Path]) -> list[Path]:
    """Files as given (any extension: a bad one is reported when decoded); folders searched recursively for images."""
    paths: list[Path] = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith("."))
            if not found:
                raise FovealError(f"no images in folder {p} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})")
            paths += found
        elif p.is_file():
            paths.append(p)
        else:
            raise FovealError(f"no such file or folder: {p}")
    if not paths:
        raise FovealError("nothing to predict: give image files or folders")
    return paths
