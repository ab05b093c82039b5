"""What a user passes to predict: files and folders as a sorted list of image paths, videos apart, and what one
prediction run over them produced."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from foveal.data.images import IMAGE_EXTENSIONS, UnreadableImage, read_image
from foveal.errors import FovealError

log = logging.getLogger("foveal")


def split_sources(sources: Iterable[str | Path], split: str) -> list[Path]:
    """The image folders of one split of each data set among `sources`: a data.yaml's `split:` entry, or the
    `split/` folder of a data set's folder (an image folder's test/, CamVid's test/); a source without it is refused."""
    out: list[Path] = []
    for src in sources:
        p = Path(src)
        if p.suffix.lower() in (".yaml", ".yml") and p.is_file():
            from foveal.data.detection.yolo import read_yaml, split_dirs

            dirs = split_dirs(p, read_yaml(p))
            if split not in dirs:
                raise FovealError(f"{p} names no {split} split (a `{split}:` entry); it has {', '.join(dirs)}")
            out += dirs[split]
        elif p.is_dir() and (p / split).is_dir():
            out.append(p / split)
        else:
            raise FovealError(f"--split {split} takes data sets: a data.yaml, or a folder holding {split}/; got {p}")
    return out


def expand_sources(sources: Iterable[str | Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """(paths, (path, reason) of what cannot be read): files as given (any extension: a bad one is reported when
    decoded), folders searched recursively for image files. A path that names nothing (a typo, a file removed since
    the shell listed it) is reported and skipped like an unreadable file; the run fails only when nothing is left."""
    paths: list[Path] = []
    failed: list[tuple[str, str]] = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith(".")
                           and not f.is_dir())
            if not found:
                raise FovealError(f"no images in folder {p} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})")
            paths += found  # links to missing files and pipes among them are reported when read
        elif p.exists() or p.is_symlink():
            paths.append(p)  # a link to a missing file, or a pipe, is reported when read
        else:
            log.warning("skipped %s: no such file or folder", p)
            failed.append((str(p), f"no such file or folder: {p}"))
    if not paths:
        missing = f": {failed[0][1]}" if len(failed) == 1 else f" ({len(failed)} paths name no file or folder)" if failed else ""
        raise FovealError(f"nothing to predict{missing}; give image files or folders")
    return paths, failed


def read_sources(sources: Iterable[str | Path], channels: int | None = None, reduce_to: tuple[int, int] | None = None,
                 ) -> tuple[list[Path], list, list[tuple[str, str]]]:
    """(paths, decoded uint8 images, (path, reason) of unreadable files) for image files and folders; with
    `reduce_to` (height, width), large JPEGs are decoded reduced to no less than that size (data.images.read_image)."""
    kept, images = [], []
    paths, failed = expand_sources(sources)
    for path in paths:
        try:
            img = read_image(path, channels=channels, reduce_to=reduce_to)
        except UnreadableImage as err:
            log.warning("skipped %s: %s", path, err.reason)
            failed.append((str(path), str(err)))
            continue
        kept.append(path)
        images.append(img)
    return kept, images, failed


@dataclass
class PredictRun:
    """What one prediction over images and videos produced: each image's result, each video's per-frame results,
    the unreadable files (path, reason) and the folder the drawn outputs went to (if any); and how the task that
    made it writes it as text, JSON and CSV."""

    images: list = field(default_factory=list)
    videos: dict[str, list] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)
    folder: Path | None = None
    options: dict = field(default_factory=dict)  # each result's to_dict(**options) and summary(**options)
    lines: Callable[["PredictRun"], list[str]] | None = None  # the task's text report; default: a line per image
    csv: Callable[..., str] | None = None  # the task's CSV writer: (run, path, **csv options) -> what was written

    @property
    def all(self) -> list:
        return self.images + [r for v in self.videos.values() for r in v]

    def to_json(self) -> list[dict]:
        return [r.to_dict(**self.options) for r in self.all]

    def text(self) -> list[str]:
        if self.lines is not None:
            return self.lines(self)
        return [f"{r.source}: {r.summary(**self.options)}" for r in self.images]

    def write_csv(self, path: Path | None, **options) -> str:
        """Write the run's CSV (to the task's default file when `path` is None); returns the line to show."""
        if self.csv is None:
            raise FovealError("--format csv is for classifiers and detectors; this model's predictions are text or json")
        return self.csv(self, path, **options)

    def add_videos(self, paths: Iterable[str], predict_video: Callable[[Path], list]) -> None:
        """Each video's per-frame results; one that cannot be read is reported and skipped."""
        for path in paths:
            try:
                self.videos[path] = predict_video(Path(path))
            except FovealError as err:
                log.warning("skipped %s", err)
                self.failed.append((path, str(err)))
        if not self.images and not self.videos:
            raise FovealError("no image or video could be read")


def split_videos(sources: Iterable[str | Path]) -> tuple[list[str | Path], list[str]]:
    """(image files and folders, video files) of what was given to predict."""
    from foveal.infer.video import is_video

    sources = list(sources)
    if not sources:
        raise FovealError("no images given: pass image files, folders or videos")
    videos = [str(s) for s in sources if is_video(s) and Path(s).is_file()]
    return [s for s in sources if str(s) not in videos], videos


class CheckpointPredictor:
    """What detectors and segmenters share at prediction time: a model of the right task on its device, in eval mode,
    loaded from a checkpoint (weights only)."""

    task, kind = "", ""  # the card's task and what to call the model in the error

    def __init__(self, model, card, device: str = "auto", batch_size: int = 8) -> None:
        from foveal.engine.device import select_device

        if card.task != self.task:
            raise FovealError(f"{card.model} is a {card.task} model, not a {self.kind}")
        self.card, self.batch_size = card, batch_size
        self.device = select_device(device)
        self.model = model.to(self.device).eval()

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto"):
        from foveal.engine.checkpoint import load_model

        model, card, _ = load_model(path)
        return cls(model, card, device)

    def read(self, sources: Iterable[str | Path], reduce_to: tuple[int, int] | None = None,
             ) -> tuple[list[str], list, list[tuple[str, str]]]:
        """(paths, decoded RGB images, unreadable files) of image files and folders; unreadable ones are skipped. With
        `reduce_to`, large JPEGs are decoded reduced to no less than that size."""
        paths, images, failed = read_sources(sources, channels=3, reduce_to=reduce_to)
        return [str(p) for p in paths], images, failed
