"""Video files in and out through PyAV: frames decode as uint8 (3, H, W), a written MP4 reads back with its frame
count, rate and (lossy, but close) pixels, odd sizes are padded, and bad files fail with one clear error."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from foveal.errors import FovealError
from foveal.infer.video import UnreadableVideo, VideoReader, VideoWriter, is_video


def _frames(n: int, h: int, w: int) -> list[torch.Tensor]:
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return [(torch.stack([x, y, (x + y + i / n) % 1]) * 255).to(torch.uint8) for i in range(n)]


def test_written_video_reads_back(tmp_path):
    frames = _frames(10, 64, 96)
    with VideoWriter(tmp_path / "clip.mp4", fps=12) as w:
        for f in frames:
            w.write(f)
    assert not list(tmp_path.glob("*.partial*"))
    with VideoReader(tmp_path / "clip.mp4") as r:
        back = list(r)
        assert r.fps == Fraction(12)
    assert len(back) == 10 and back[0].dtype == torch.uint8 and back[0].shape == (3, 64, 96)
    err = [(a.float() - b.float()).abs().mean().item() for a, b in zip(frames, back)]
    assert max(err) < 6, err  # H.264 at crf 23 on smooth gradients
    assert err[3] < (frames[3].float() - back[7].float()).abs().mean().item()  # frames stay in order


def test_odd_sizes_are_padded_to_even(tmp_path):
    with VideoWriter(tmp_path / "odd.mp4", fps=Fraction(30000, 1001)) as w:
        for f in _frames(3, 33, 47):
            w.write(f.permute(1, 2, 0).numpy())  # (H, W, 3) arrays work too
    with VideoReader(tmp_path / "odd.mp4") as r:
        back = list(r)
        assert abs(float(r.fps) - 29.97) < 0.01
    assert back[0].shape == (3, 34, 48)


def test_frames_of_another_size_are_refused_and_nothing_is_left(tmp_path):
    with pytest.raises(FovealError, match="frame 1 is 32x32, the video is 64x64"):
        with VideoWriter(tmp_path / "mixed.mp4") as w:
            w.write(_frames(1, 64, 64)[0])
            w.write(_frames(1, 32, 32)[0])
    assert list(tmp_path.iterdir()) == []


def test_bad_files(tmp_path):
    (tmp_path / "not.mp4").write_bytes(b"this is not a video")
    with pytest.raises(UnreadableVideo, match="not.mp4: not a readable video"):
        VideoReader(tmp_path / "not.mp4")
    with pytest.raises(UnreadableVideo):
        VideoReader(tmp_path / "missing.mp4")
    assert is_video("a/B.MP4") and is_video("x.webm") and not is_video("x.jpg")
    with pytest.raises(FovealError, match="no frames to write"):
        VideoWriter(tmp_path / "empty.mp4").close()
