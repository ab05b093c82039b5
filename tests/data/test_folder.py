"""Path data sets: every layout, every user error, skipping bad files, and the disk cache."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import foveal.data.folder as folder
from foveal.data.views import PhotoStore
from foveal.data.folder import load_path_data
from foveal.errors import FovealError


@pytest.fixture(autouse=True)
def cache_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path_factory.mktemp("fcache")
    monkeypatch.setenv("FOVEAL_CACHE", str(root))
    return root


def write(path: Path, value: int = 0, mode: str = "L", size: tuple[int, int] = (8, 8)) -> Path:
    """An image of one flat value; size is (width, height) as in PIL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "I;16":
        img = Image.fromarray(np.full(size[::-1], value * 257, dtype=np.uint16))
    elif mode in ("LA", "RGBA"):
        img = Image.new(mode, size, (value,) * (len(mode) - 1) + (255,))  # opaque
    elif mode == "P":
        img = Image.new("P", size, 0)
        img.putpalette([value, value, value] * 256)
    else:
        img = Image.new(mode, size, value if mode == "L" else (value,) * len(mode))
    img.save(path)
    return path


def truncated(path: Path) -> Path:
    """A PNG whose header is intact but whose pixel data is cut off: fails only when decoded."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (8, 8), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:50])
    return path


def tree(root: Path, classes: tuple[str, ...] = ("cat", "dog"), n: int = 4, **kw) -> Path:
    """root/<class>/<class>_i.png with pixel value 40 * (class index + 1) + i, so labels can be checked."""
    for c, name in enumerate(classes):
        for i in range(n):
            write(root / name / f"{name}_{i}.png", 40 * (c + 1) + i, **kw)
    return root


def assert_labels_match_pixels(s) -> None:
    for img, label in zip(s.images, s.labels):
        assert int(img.float().mean().round()) // 40 - 1 == int(label)


def error(fn, *args, **kw) -> str:
    with pytest.raises(FovealError) as err:
        fn(*args, **kw)
    msg = str(err.value)
    assert "\n" not in msg and msg
    return msg


def test_train_val_tree(tmp_path: Path) -> None:
    tree(tmp_path / "d" / "train")
    tree(tmp_path / "d" / "val", n=2)
    data = load_path_data(tmp_path / "d")
    assert data.name == "d" and data.classes == ("cat", "dog")
    assert len(data.train) == 8 and len(data.val) == 4
    assert data.train.images.shape == (8, 1, 8, 8) and data.train.images.dtype == torch.uint8
    assert all("/train/" in p for p in data.train.paths) and all("/val/" in p for p in data.val.paths)
    assert data.train.class_counts().tolist() == [4, 4]
    assert_labels_match_pixels(data.train)
    assert_labels_match_pixels(data.val)


def test_val_folder_preferred_over_test(tmp_path: Path) -> None:
    tree(tmp_path / "train")
    tree(tmp_path / "test", n=1)
    assert all("/test/" in p for p in load_path_data(tmp_path).val.paths)
    tree(tmp_path / "val", n=2)
    data = load_path_data(tmp_path)
    assert len(data.val) == 4 and all("/val/" in p for p in data.val.paths)


def test_the_test_split_in_the_place_of_val(tmp_path: Path) -> None:
    tree(tmp_path / "train")
    tree(tmp_path / "val", n=2)
    tree(tmp_path / "test", n=3)
    data = load_path_data(tmp_path, split="test")
    assert len(data.val) == 6 and all("/test/" in p for p in data.val.paths) and len(data.train) == 8
    assert len(load_path_data(tmp_path).val) == 4  # val/ otherwise, from its own cache entry
    write(tmp_path / "kaggle" / "test" / "unlabelled.png")
    tree(tmp_path / "kaggle" / "train")
    assert "has no labelled test split: expected" in error(load_path_data, tmp_path / "kaggle", split="test")


def test_train_without_labelled_val_is_split(tmp_path: Path) -> None:
    tree(tmp_path / "train", n=5)
    write(tmp_path / "test" / "unlabelled.png")  # Kaggle-style test/ without class folders
    data = load_path_data(tmp_path, val_split=0.4)
    assert data.val.class_counts().tolist() == [2, 2] and len(data.train) == 6
    assert all("/train/" in p for p in data.val.paths)
    assert any("splitting train/" in n for n in data.notes)


def test_class_tree_is_split_stratified_and_seeded(tmp_path: Path) -> None:
    tree(tmp_path, ("a", "b", "c"), n=10)
    data = load_path_data(tmp_path)  # default val_split 0.2
    assert data.val.class_counts().tolist() == [2, 2, 2] and len(data.train) == 24
    assert not set(data.train.paths) & set(data.val.paths)
    assert_labels_match_pixels(data.train)
    again = load_path_data(tmp_path, seed=42)
    assert again.val.paths == data.val.paths
    other = load_path_data(tmp_path, seed=7, val_split=0.3)
    assert other.val.class_counts().tolist() == [3, 3, 3] and other.val.paths != data.val.paths


@pytest.mark.parametrize("sub", ["", "labels", "images"])
def test_csv_file_finds_images_beside_in_stem_or_images_folder(tmp_path: Path, sub: str) -> None:
    img_dir = tmp_path / sub if sub else tmp_path
    rows = ["id,label"]
    for i in range(10):
        label = "dog" if i % 2 else "cat"
        write(img_dir / f"{i:03d}.jpg" if i % 3 else img_dir / f"{i:03d}.png", 40 * (1 + i % 2) + i % 5)
        rows.append(f"{i:03d},{label}")  # Kaggle-style: ids without extension
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    data = load_path_data(tmp_path / "labels.csv", val_split=0.4)
    assert data.classes == ("cat", "dog") and len(data.train) + len(data.val) == 10
    assert data.val.class_counts().tolist() == [2, 2]
    assert all(Path(p).parent == img_dir for p in data.train.paths)
    assert_labels_match_pixels(data.train)


def test_directory_with_one_csv_and_an_image_folder(tmp_path: Path) -> None:
    rows = ["image,class"] + [f"pics/x{i}.png,{i % 3 * 5}" for i in range(9)]
    for i in range(9):
        write(tmp_path / "pics" / f"x{i}.png", i)
    (tmp_path / "train.csv").write_text("\n".join(rows))
    data = load_path_data(tmp_path)
    assert data.classes == ("0", "5", "10")  # numeric labels sort as numbers
    assert len(data.train) + len(data.val) == 9 and data.train.channels == 1


def test_sizes_most_common_or_img_size(tmp_path: Path) -> None:
    tree(tmp_path, n=3)
    write(tmp_path / "cat" / "big.png", 40, size=(12, 10))
    data = load_path_data(tmp_path)
    assert data.train.size == (8, 8) and data.val.size == (8, 8)
    assert any("1 resized" in n for n in data.notes)
    small = load_path_data(tmp_path, img_size=6)
    assert small.train.images.shape[1:] == (1, 6, 6)
    assert_labels_match_pixels(small.train)
    assert load_path_data(tmp_path, photos=PhotoStore(6, (5, 5), "bilinear")).train.size == (6, 6)  # mixed sizes


def test_channels_grey_modes_give_1_and_any_colour_gives_3(tmp_path: Path) -> None:
    write(tmp_path / "a" / "1.png", 40, mode="I;16")
    write(tmp_path / "a" / "2.png", 41, mode="LA")
    write(tmp_path / "b" / "1.png", 80)
    write(tmp_path / "b" / "2.png", 81)
    grey = load_path_data(tmp_path, val_split=0.5)
    assert grey.train.channels == 1
    assert_labels_match_pixels(grey.train)
    write(tmp_path / "a" / "3.png", 42, mode="RGBA")
    write(tmp_path / "b" / "3.png", 82, mode="P")
    colour = load_path_data(tmp_path, val_split=0.5)
    assert colour.train.channels == 3 and colour.val.channels == 3
    assert_labels_match_pixels(colour.train)
    assert_labels_match_pixels(colour.val)


def test_corrupt_and_non_image_files_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tree(tmp_path)
    (tmp_path / "cat" / "readme.txt").write_text("hello")
    (tmp_path / "cat" / "fake.png").write_text("not a png")
    truncated(tmp_path / "dog" / "cut.png")
    (tmp_path / "dog" / ".DS_Store").write_bytes(b"\0\1junk")
    with caplog.at_level(logging.WARNING, logger="foveal"):
        data = load_path_data(tmp_path, cache_dir=tmp_path / "c")
    assert len(data.train) + len(data.val) == 8
    warned = " ".join(r.getMessage() for r in caplog.records)
    notes = "\n".join(data.notes)
    for name in ("readme.txt", "fake.png", "cut.png"):
        assert name in notes and name not in warned, "the command that loads the data reports its notes, once"
    assert ".DS_Store" not in warned + notes
    assert "skipped 3 of 11 files" in notes


def test_missing_path_and_bad_arguments(tmp_path: Path) -> None:
    assert "nope" in error(load_path_data, tmp_path / "nope")
    tree(tmp_path / "d")
    assert "val_split" in error(load_path_data, tmp_path / "d", val_split=1.5)
    assert "img_size" in error(load_path_data, tmp_path / "d", img_size=0)
    write(tmp_path / "one.png")
    assert "one.png" in error(load_path_data, tmp_path / "one.png")


def test_empty_folder_and_loose_images(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert "no images" in error(load_path_data, tmp_path / "empty")
    write(tmp_path / "flat" / "a.png")
    write(tmp_path / "flat" / "b.png")
    assert "2 loose images" in error(load_path_data, tmp_path / "flat")


def test_one_class(tmp_path: Path) -> None:
    tree(tmp_path, ("cat",))
    msg = error(load_path_data, tmp_path)
    assert "one class" in msg and "'cat'" in msg


@pytest.mark.parametrize("junk", ["notes.txt", "broken.png"])
def test_class_folder_without_usable_images(tmp_path: Path, junk: str) -> None:
    tree(tmp_path)
    bad = tmp_path / "bird" / junk
    if junk == "broken.png":
        truncated(bad)
    else:
        bad.parent.mkdir()
        bad.write_text("x")
    msg = error(load_path_data, tmp_path)
    assert "'bird'" in msg and str(tmp_path / "bird") in msg


def test_classes_differ_between_train_and_val(tmp_path: Path) -> None:
    tree(tmp_path / "train", ("cat", "dog", "fox"))
    tree(tmp_path / "val", ("cat", "dog", "owl"))
    msg = error(load_path_data, tmp_path)
    assert "classes differ" in msg and "fox" in msg and "owl" in msg


def test_csv_errors(tmp_path: Path) -> None:
    for i in range(4):
        write(tmp_path / f"{i}.png", i)
    csv = tmp_path / "labels.csv"
    csv.write_text("id\n0\n1\n")
    assert "label column" in error(load_path_data, csv)
    csv.write_text("id,label\nzz1,a\nzz2,b\n")
    msg = error(load_path_data, csv)
    assert "none of the 2 ids" in msg and "zz1" in msg
    csv.write_text("filename,label\n0,a\n1,a\n")
    assert "one label" in error(load_path_data, csv)
    csv.write_text("filename,label\n0,a\n1,\n,b\n")
    assert "no usable rows" not in error(load_path_data, csv) and "one label" in error(load_path_data, csv)
    csv.write_text("filename,label\n,a\n1,\n")
    assert "no usable rows" in error(load_path_data, csv)
    (tmp_path / "other.csv").write_text("a,b\n")
    assert "2 CSV files" in error(load_path_data, tmp_path)


def test_second_load_decodes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree(tmp_path / "d", n=5)
    (tmp_path / "d" / "cat" / "bad.txt").write_text("x")
    first = load_path_data(tmp_path / "d", cache_dir=tmp_path / "c")
    files = list((tmp_path / "c").iterdir())
    assert len(files) == 1 and files[0].suffix == ".pt"  # no temp files left behind

    def boom(*a, **k):
        raise AssertionError("decoded an image on a cache hit")

    monkeypatch.setattr(folder, "read_image", boom)
    monkeypatch.setattr(folder, "probe", boom)
    second = load_path_data(tmp_path / "d", cache_dir=tmp_path / "c")
    assert torch.equal(first.train.images, second.train.images) and torch.equal(first.val.labels, second.val.labels)
    assert first.train.paths == second.train.paths and second.classes == first.classes
    assert any("bad.txt" in n for n in second.notes) and any("cache" in n for n in second.notes)


def test_changed_files_and_arguments_invalidate_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_env: Path
) -> None:
    tree(tmp_path / "d")
    load_path_data(tmp_path / "d")
    calls = []
    real = folder.read_image
    monkeypatch.setattr(folder, "read_image", lambda *a, **k: calls.append(a) or real(*a, **k))
    load_path_data(tmp_path / "d")
    assert calls == []
    assert len(list((cache_env / "tensors").glob("*.pt"))) == 1  # $FOVEAL_CACHE/tensors
    later = os.stat(tmp_path / "d" / "cat" / "cat_0.png").st_mtime + 10
    os.utime(tmp_path / "d" / "cat" / "cat_0.png", (later, later))
    load_path_data(tmp_path / "d")
    assert len(calls) == 8
    write(tmp_path / "d" / "dog" / "new.png", 80)
    data = load_path_data(tmp_path / "d")
    assert len(data.train) + len(data.val) == 9 and len(calls) == 17
    load_path_data(tmp_path / "d", img_size=4)
    assert len(calls) == 26


def test_unreadable_cache_file_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tree(tmp_path / "d")
    load_path_data(tmp_path / "d", cache_dir=tmp_path / "c")
    (cached,) = (tmp_path / "c").iterdir()
    cached.write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING, logger="foveal"):
        data = load_path_data(tmp_path / "d", cache_dir=tmp_path / "c")
    assert len(data.train) + len(data.val) == 8
    assert any("cache" in r.getMessage() for r in caplog.records)


def test_csv_rows_that_cannot_be_used_are_reported_by_line_and_the_rest_trained_on(tmp_path: Path, monkeypatch, caplog):
    import foveal

    for i in range(12):
        write(tmp_path / f"{i}.png", 20 * i)
    rows = [f"{i},{'a' if i % 2 else 'b'}" for i in range(12)]
    rows += ["q7,a", "3,", ",b", "../escape.png,a", "5,a", "4,a", "4,b"]  # lines 14-20
    (tmp_path / "labels.csv").write_text("filename,label\n" + "\n".join(rows) + "\n")
    logger = logging.getLogger("foveal")
    monkeypatch.setattr(logger, "handlers", [caplog.handler])
    monkeypatch.setattr(logger, "propagate", False)
    with caplog.at_level(logging.INFO, logger="foveal"):
        metrics = foveal.Model("linear").train(data=str(tmp_path / "labels.csv"), epochs=1, val_split=0.25,
                                               project=str(tmp_path / "runs"), progress=False)
    said = [r.getMessage() for r in caplog.records]
    where = str(tmp_path / "labels.csv")

    def line(n: int) -> str:
        found = [m for m in said if m.startswith(f"skipped {where} line {n}:")]
        assert len(found) == 1, (n, said)
        return found[0]

    assert "'q7'" in line(14) and "no image file" in line(14)
    assert "no label" in line(15) and "no file name" in line(16)
    assert "outside the data folder" in line(17)
    assert "'5'" in line(18) and "repeats line 7" in line(18)
    assert "'4'" in line(19) and "is labelled 'a' here and 'b' on line 6; the first is kept" in line(19)
    assert "repeats line 6" in line(20)
    assert "skipped 7 of 19 rows of labels.csv" in said
    assert metrics["epochs"] == 1
    data = load_path_data(tmp_path / "labels.csv", val_split=0.25)
    labels = {Path(p).name: s.classes[int(k)] for s in (data.train, data.val) for p, k in zip(s.paths, s.labels)}
    assert len(labels) == 12 and labels["4.png"] == "b" and labels["5.png"] == "a", "each image once, first label"
