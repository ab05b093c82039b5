"""Video files at prediction time, through PyAV (FFmpeg): frames out as uint8 (3, H, W) tensors, drawn frames back in
as an H.264 MP4 at the source's frame rate. torchvision 0.29 no longer reads or writes video itself."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from foveal.errors import FovealError

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv"})  # a .gif is an image
DEFAULT_FPS = Fraction(25)


class UnreadableVideo(FovealError):
    """A video file that FFmpeg cannot open or decode."""


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def predict_frames(frames: Iterable[torch.Tensor], predict: Callable[[list[torch.Tensor]], list], batch_size: int
                   ) -> Iterator[tuple[torch.Tensor, object]]:
    """(frame, its result with `frame` set to its index) for a stream of frames, predicted `batch_size` at a time."""
    n = 0
    it = iter(frames)
    while batch := list(itertools.islice(it, batch_size)):
        for img, result in zip(batch, predict(batch)):
            yield img, dataclasses.replace(result, frame=n)
            n += 1


def run_video(path: Path, predict: Callable[[Iterable[torch.Tensor]], Iterator[tuple[torch.Tensor, object]]], *,
              draw: Callable[[torch.Tensor, object], np.ndarray] | None = None, save_dir: Path | None = None,
              each: Callable[[torch.Tensor, object], None] | None = None) -> list:
    """Every frame's result from `predict` (frames in, (frame, result) out); with save_dir, `draw(frame, result)` of
    each as <stem>.mp4 at the video's frame rate; `each(frame, result)` for any other per-frame output."""
    out = []
    with VideoReader(path) as video:
        writer = VideoWriter(save_dir / f"{Path(path).stem}.mp4", video.fps) if save_dir is not None else contextlib.nullcontext()
        with writer:
            for frame, result in predict(video):
                out.append(result)
                if save_dir is not None:
                    writer.write(draw(frame, result))
                if each is not None:
                    each(frame, result)
            if not out:
                raise FovealError(f"{path}: the video has no frames")
    return out


class VideoReader:
    """The frames of a video file, decoded one at a time (a long video never sits in memory whole)."""

    def __init__(self, path: str | Path) -> None:
        import av

        self.path = Path(path)
        try:
            self._container = av.open(str(self.path))
        except (av.FFmpegError, OSError) as exc:
            raise UnreadableVideo(f"{self.path}: not a readable video ({exc})") from None
        if not self._container.streams.video:
            self._container.close()
            raise UnreadableVideo(f"{self.path}: has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = Fraction(rate) if rate else DEFAULT_FPS
        self.frames = int(self._stream.frames or 0)  # 0 when the container does not say

    def __iter__(self) -> Iterator[torch.Tensor]:
        import av

        try:
            for frame in self._container.decode(self._stream):
                yield torch.from_numpy(frame.to_ndarray(format="rgb24")).permute(2, 0, 1)
        except av.FFmpegError as exc:
            raise UnreadableVideo(f"{self.path}: decoding failed ({exc})") from None

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoWriter:
    """Frames (uint8 (3, H, W) tensors or (H, W, 3) arrays, all of one size) to an H.264 MP4 playable everywhere
    (yuv420p, so an odd width or height is padded by one edge pixel). Written to a temporary name and renamed at
    close, so a stopped run leaves no half-written file under the final name."""

    def __init__(self, path: str | Path, fps: Fraction | float = DEFAULT_FPS) -> None:
        self.path, self.fps = Path(path), Fraction(fps).limit_denominator(1001)
        self._partial = self.path.with_name(self.path.stem + ".partial" + self.path.suffix)
        self._container = self._stream = None
        self.frames = 0

    def write(self, frame: torch.Tensor | np.ndarray) -> None:
        import av

        arr = frame.permute(1, 2, 0).numpy() if isinstance(frame, torch.Tensor) else np.asarray(frame)
        h, w = arr.shape[:2]
        if h % 2 or w % 2:
            arr = np.pad(arr, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        if self._stream is None:
            self._container = av.open(str(self._partial), "w", format="mp4")
            self._stream = self._container.add_stream("libx264", rate=self.fps)
            self._stream.width, self._stream.height = arr.shape[1], arr.shape[0]
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": "23", "preset": "veryfast"}
        elif (arr.shape[1], arr.shape[0]) != (self._stream.width, self._stream.height):
            raise FovealError(f"{self.path}: frame {self.frames} is {w}x{h}, the video is {self._stream.width}x{self._stream.height}")
        for packet in self._stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> Path:
        if self._stream is None:
            raise FovealError(f"{self.path}: no frames to write")
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        self._partial.replace(self.path)
        return self.path

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        elif self._container is not None:
            self._container.close()
            self._partial.unlink(missing_ok=True)
