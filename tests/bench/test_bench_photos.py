"""`foveal bench train`'s photo parts: generated photos that foveal reads as a segmentation folder and as an image
folder, and the photos/s of a short run on them."""

from __future__ import annotations

from foveal.bench.photos import train_speed, write_photos


def test_generated_photos_train_a_segmenter_and_report_its_pace(tmp_path):
    from foveal.data.segmentation.dataset import load_semantic

    folder = write_photos(tmp_path / "seg", 8, (72, 96), classes=3)
    data = load_semantic(str(folder), val_split=0.25, seed=0)
    assert len(data.train) + len(data.val) == 8 and tuple(data.train.images[0].shape) == (3, 72, 96)
    assert int(max(m.max() for m in data.train.masks)) == 2  # three classes drawn
    r = train_speed(folder, str(tmp_path / "runs"), "seg", 2, task="segment", model="lraspp", pretrained=False,
                    batch_size=4)
    assert r["photos_per_s"] > 0 and r["input_size"] == [96, 96]  # 72x96 photos: 96x96 after rounding up to 32


def test_generated_photos_make_an_image_folder_of_two_classes(tmp_path):
    from foveal.data import load_data

    folder = write_photos(tmp_path / "cls", 6, (40, 50))
    data = load_data(str(folder), val_split=0.5, seed=0)
    assert data.classes == ("a", "b") and len(data.train) + len(data.val) == 6


def test_bench_train_refuses_unknown_parts():
    from foveal.cli import main

    assert main(["bench", "train", "--parts", "segment,speed"]) != 0
