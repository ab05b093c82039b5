"""What predict is given: paths that cannot be read (a broken link, a named pipe, a path that names nothing) are
reported by path and skipped; the others are predicted."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PIL import Image

import foveal
from foveal.errors import FovealError
from foveal.infer.sources import read_sources


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    for k, name in enumerate(("cat", "dog")):
        (root / "data" / name).mkdir(parents=True)
        for i in range(5):
            Image.new("L", (12, 12), 30 + 150 * k + i).save(root / "data" / name / f"{i}.png")
    m = foveal.Model("linear")
    m.train(data=str(root / "data"), epochs=1, project=str(root / "runs"), progress=False)
    return m.checkpoint


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_unreadable_paths_among_the_arguments_are_skipped_and_the_rest_predicted(checkpoint, tmp_path):
    Image.new("L", (12, 12), 200).save(tmp_path / "ok.png")
    (tmp_path / "broken.jpg").symlink_to(tmp_path / "gone.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")
    cmd = [sys.executable, "-m", "foveal", "predict", "--model", str(checkpoint), str(tmp_path / "ok.png"),
           str(tmp_path / "broken.jpg"), str(tmp_path / "pipe.jpg"), str(tmp_path / "typo.png")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)  # a pipe opened to read would hang
    assert done.returncode == 0, done.stderr
    assert "ok.png:" in done.stdout
    skipped = [line for line in done.stderr.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 3, done.stderr
    why = {name: next(line for line in skipped if name in line) for name in ("broken.jpg", "pipe.jpg", "typo.png")}
    assert "missing file" in why["broken.jpg"] and "named pipe" in why["pipe.jpg"]
    assert "no such file or folder" in why["typo.png"]
    assert "3 file(s) could not be read" in done.stderr


def test_a_folder_with_a_broken_link_is_read_without_it(tmp_path):
    Image.new("RGB", (6, 4)).save(tmp_path / "a.png")
    (tmp_path / "b.png").symlink_to(tmp_path / "gone.png")
    kept, images, failed = read_sources([tmp_path])
    assert kept == [tmp_path / "a.png"] and len(images) == 1
    assert [path for path, _ in failed] == [str(tmp_path / "b.png")]


def test_nothing_readable_is_one_line(tmp_path):
    with pytest.raises(FovealError, match="no such file or folder"):
        read_sources([tmp_path / "typo.png"])


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory):
    """A 4000x3000 JPEG photo-like enough to decode (12 megapixels: 36 MB decoded at full size)."""
    from PIL import ImageDraw

    path = tmp_path_factory.mktemp("big") / "big.jpg"
    img = Image.new("RGB", (4000, 3000), (120, 30, 200))
    ImageDraw.Draw(img).ellipse((500, 500, 3000, 2500), fill=(10, 200, 10))
    img.save(path, quality=85)
    return path


def test_a_huge_photo_is_decoded_reduced_and_reported_in_one_line_of_foveals(checkpoint, big_jpeg, monkeypatch, caplog):
    import logging
    import tracemalloc
    import warnings

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 8_000_000)  # 12 MP is then a "huge" photo, as 108 MP is by default
    logger = logging.getLogger("foveal")
    monkeypatch.setattr(logger, "handlers", [caplog.handler])
    monkeypatch.setattr(logger, "propagate", False)
    model = foveal.Model(checkpoint)
    with warnings.catch_warnings(record=True) as raised, caplog.at_level(logging.INFO, logger="foveal"):
        warnings.simplefilter("always")
        tracemalloc.start()
        try:
            results = model.predict(big_jpeg)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert len(results) == 1 and results[0].label in ("cat", "dog")
    assert peak < 12e6, f"{peak / 1e6:.0f} MB traced: the 36 MB full-size decode happened"
    assert not [w for w in raised if issubclass(w.category, Image.DecompressionBombWarning)]
    said = [r.getMessage() for r in caplog.records if "big.jpg" in r.getMessage()]
    assert said == [f"{big_jpeg}: a very large image (4000x3000, 12 megapixels); decoded reduced to 500x375"], said
