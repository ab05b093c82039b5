"""Files in an image-folder data set that cannot be read as they were listed (a broken symbolic link, a file removed
after listing, a named pipe) are reported once each, by path, and training goes on without them."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import foveal
import foveal.data.folder as folder


def two_classes(root: Path, n: int = 6) -> Path:
    for k, name in enumerate(("cat", "dog")):
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.new("L", (12, 12), 30 + 150 * k + i).save(root / name / f"{i}.png")
    return root


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_a_broken_link_and_a_named_pipe_are_skipped_once_each_and_training_goes_on(tmp_path):
    data = two_classes(tmp_path / "data")
    (data / "cat" / "broken.jpg").symlink_to(tmp_path / "gone.jpg")
    os.mkfifo(data / "dog" / "pipe.jpg")
    cmd = [sys.executable, "-m", "foveal", "train", "--model", "linear", "--data", str(data), "--epochs", "1",
           "--project", str(tmp_path / "runs"), "--name", "run"]
    # a pipe opened for reading waits for a writer: a reader that opens it would hang until this timeout
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    broken = [line for line in lines if "skipped" in line and "broken.jpg" in line]
    pipe = [line for line in lines if "skipped" in line and "pipe.jpg" in line]
    assert len(broken) == 1 and "a symbolic link to a missing file" in broken[0], done.stderr
    assert len(pipe) == 1 and "named pipe" in pipe[0], done.stderr
    assert (tmp_path / "runs" / "run" / "best.pt").is_file()


def test_a_file_removed_between_listing_and_reading_is_skipped(tmp_path, monkeypatch, caplog):
    data = two_classes(tmp_path / "data")
    listed = folder._walk

    def walk_then_remove(where: Path) -> list[Path]:
        files = listed(where)
        if where.name == "cat":
            files[0].unlink()  # listed, then gone before the cache key and the decoder reach it
        return files

    monkeypatch.setattr(folder, "_walk", walk_then_remove)
    logger = logging.getLogger("foveal")
    monkeypatch.setattr(logger, "handlers", [caplog.handler])  # each record once, whoever set up logging before
    monkeypatch.setattr(logger, "propagate", False)
    with caplog.at_level("INFO", logger="foveal"):
        metrics = foveal.Model("linear").train(data=str(data), epochs=1, project=str(tmp_path / "runs"), progress=False)
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage() and "0.png" in r.getMessage()]
    assert len(skipped) == 1 and str(data / "cat" / "0.png") in skipped[0] and "no such file" in skipped[0], skipped
    assert metrics["epochs"] == 1


def _returns_within(seconds: float, fn, *args):
    """fn(*args), or a failure when it blocks longer than `seconds` (a reader waiting on a named pipe's writer)."""
    import threading

    result: list = []
    worker = threading.Thread(target=lambda: result.append(fn(*args)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"{fn.__name__} blocked on a named pipe"
    return result[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_a_named_pipe_among_label_images_or_voc_annotations_is_skipped(tmp_path):
    from foveal.data.detection.voc import read_voc
    from foveal.data.segmentation.semantic import read_semantic

    seg = tmp_path / "seg"
    for sub in ("images", "masks"):
        (seg / sub).mkdir(parents=True)
    for i in range(4):
        Image.new("RGB", (8, 8), (10 * i, 0, 0)).save(seg / "images" / f"{i}.png")
        Image.new("L", (8, 8), i % 2).save(seg / "masks" / f"{i}.png")
    (seg / "masks" / "3.png").unlink()
    os.mkfifo(seg / "masks" / "3.png")
    data = _returns_within(60, read_semantic, seg)
    assert len(data.train) + len(data.val) == 3
    assert any(n.startswith(f"{seg / 'masks' / '3.png'}:") and "named pipe" in n for n in data.notes), data.notes

    voc = tmp_path / "voc"
    (voc / "Annotations").mkdir(parents=True)
    (voc / "JPEGImages").mkdir()
    Image.new("RGB", (20, 10)).save(voc / "JPEGImages" / "a.jpg")
    (voc / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><size><width>20</width><height>10</height></size><object><name>box"
        "</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>")
    os.mkfifo(voc / "Annotations" / "b.xml")
    boxes = _returns_within(60, read_voc, voc)
    assert len(boxes) == 1 and any("b.xml" in n and "named pipe" in n for n in boxes.notes), boxes.notes


def test_cross_validation_reports_a_skipped_file_once(tmp_path, monkeypatch, caplog):
    data = two_classes(tmp_path / "data")
    (data / "dog" / "cut.png").write_bytes(b"\x89PNG not really")
    logger = logging.getLogger("foveal")
    monkeypatch.setattr(logger, "handlers", [caplog.handler])
    monkeypatch.setattr(logger, "propagate", False)
    with caplog.at_level("INFO", logger="foveal"):
        foveal.Model("linear").train(data=str(data), folds=2, epochs=1, project=str(tmp_path / "runs"), progress=False)
    said = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage() and "cut.png" in r.getMessage()]
    assert len(said) == 1, said
