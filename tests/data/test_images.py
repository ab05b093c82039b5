"""Decoding every Pillow mode to uint8 (C, H, W), header-only size reads, and resizing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from foveal.data.images import (
    IMAGE_EXTENSIONS,
    UnreadableImage,
    image_size,
    is_grey,
    is_image_file,
    read_image,
    resize,
)
from foveal.errors import FovealError


def save(tmp_path: Path, name: str, img: Image.Image, **kw) -> Path:
    path = tmp_path / name
    img.save(path, **kw)
    return path


def mode_of(path: Path) -> str:
    with Image.open(path) as img:
        return img.mode


def test_extensions_are_case_insensitive() -> None:
    assert {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"} == set(IMAGE_EXTENSIONS)
    assert is_image_file("a/B.JPG") and is_image_file("x.TiFf")
    assert not is_image_file("notes.txt") and not is_image_file("png")


def test_grey_l_keeps_values_and_expands_to_rgb(tmp_path: Path) -> None:
    arr = np.arange(12 * 10, dtype=np.uint8).reshape(10, 12)
    path = save(tmp_path, "g.png", Image.fromarray(arr, "L"))
    x = read_image(path)
    assert x.dtype == torch.uint8 and x.shape == (1, 10, 12)
    assert torch.equal(x[0], torch.from_numpy(arr))
    rgb = read_image(path, channels=3)
    assert rgb.shape == (3, 10, 12) and torch.equal(rgb[0], rgb[2]) and torch.equal(rgb[1], x[0])


def test_one_bit_becomes_0_or_255(tmp_path: Path) -> None:
    img = Image.new("1", (8, 8), 0)
    img.putpixel((3, 2), 1)
    x = read_image(save(tmp_path, "b.png", img))
    assert x.shape == (1, 8, 8) and x[0, 2, 3] == 255 and x.sum() == 255


def test_16_bit_png_is_scaled_by_depth_not_clipped(tmp_path: Path) -> None:
    arr = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    path = save(tmp_path, "d.png", Image.fromarray(arr))
    assert mode_of(path).startswith("I;16")
    assert read_image(path)[0, 0].tolist() == [0, 1, 128, 255]
    assert is_grey(path)


def test_32_bit_int_and_float_tiff(tmp_path: Path) -> None:
    i = save(tmp_path, "i.tif", Image.fromarray(np.array([[0, 65535]], dtype=np.int32)))
    assert mode_of(i) == "I"
    assert read_image(i)[0, 0].tolist() == [0, 255]
    f = save(tmp_path, "f.tif", Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32)))
    assert read_image(f)[0, 0].tolist() == [0, 128, 255]


def test_rgba_transparent_pixel_becomes_white(tmp_path: Path) -> None:
    img = Image.new("RGBA", (8, 8), (255, 0, 0, 255))
    img.putpixel((0, 0), (0, 0, 0, 0))
    img.putpixel((1, 0), (0, 0, 0, 128))
    x = read_image(save(tmp_path, "a.png", img))
    assert x.shape == (3, 8, 8)
    assert x[:, 0, 0].tolist() == [255, 255, 255]  # fully transparent -> white background
    assert x[:, 0, 1].tolist() == [127, 127, 127]  # half black over white
    assert x[:, 5, 5].tolist() == [255, 0, 0]


def test_palette_with_and_without_transparency(tmp_path: Path) -> None:
    img = Image.new("P", (8, 8), 1)
    img.putpalette([0, 0, 0, 0, 0, 255, 0, 200, 0] + [0] * 759)
    img.putpixel((2, 3), 0)
    img.putpixel((4, 4), 2)
    x = read_image(save(tmp_path, "t.png", img, transparency=0))
    assert x.shape == (3, 8, 8) and x[:, 3, 2].tolist() == [255, 255, 255] and x[:, 0, 0].tolist() == [0, 0, 255]
    y = read_image(save(tmp_path, "o.png", img))
    assert y[:, 3, 2].tolist() == [0, 0, 0] and y[:, 4, 4].tolist() == [0, 200, 0]
    g = read_image(save(tmp_path, "p.gif", img))
    assert g[:, 4, 4].tolist() == [0, 200, 0]


def test_la_composites_to_grey(tmp_path: Path) -> None:
    img = Image.new("LA", (8, 8), (40, 255))
    img.putpixel((0, 0), (0, 0))
    x = read_image(save(tmp_path, "la.png", img))
    assert x.shape == (1, 8, 8) and x[0, 0, 0] == 255 and x[0, 1, 1] == 40


def test_cmyk_and_rgb_to_grey(tmp_path: Path) -> None:
    x = read_image(save(tmp_path, "c.tif", Image.new("CMYK", (8, 8), (0, 0, 0, 0))))
    assert x.shape == (3, 8, 8) and bool((x == 255).all())
    assert not is_grey(tmp_path / "c.tif")
    path = save(tmp_path, "rgb.png", Image.new("RGB", (8, 8), (255, 0, 0)))
    assert read_image(path, channels=1)[0, 0, 0] == 76  # ITU-R 601-2 luma of pure red


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (16, 8), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 8, 8))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    path = save(tmp_path, "r.jpg", img, exif=exif.tobytes(), quality=95)
    x = read_image(path)
    assert x.shape == (3, 16, 8)
    assert image_size(path) == (16, 8)
    assert x[0, 2, 4] > 200 and x[2, 13, 4] > 200  # the red half is now on top


def test_image_size_reads_the_header_only(tmp_path: Path) -> None:
    path = save(tmp_path, "s.png", Image.fromarray(np.random.default_rng(0).integers(0, 255, (10, 12, 3), np.uint8)))
    assert image_size(path) == (10, 12)
    cut = tmp_path / "cut.png"
    cut.write_bytes(path.read_bytes()[:80])  # header intact, pixel data gone
    assert image_size(cut) == (10, 12)
    with pytest.raises(UnreadableImage) as err:
        read_image(cut)
    assert "cut.png" in str(err.value) and "\n" not in str(err.value)


def test_unreadable_file_names_path_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not an image\nat all")
    for fn in (read_image, image_size):
        with pytest.raises(UnreadableImage) as err:
            fn(bad)
        assert isinstance(err.value, FovealError)
        assert err.value.path == str(bad) and err.value.reason
        assert str(bad) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(UnreadableImage):
        read_image(tmp_path / "missing.png")


def test_bad_channels_argument(tmp_path: Path) -> None:
    with pytest.raises(FovealError, match="channels"):
        read_image(save(tmp_path, "g.png", Image.new("L", (8, 8))), channels=2)


def test_resize_keeps_uint8_and_values() -> None:
    x = torch.full((3, 10, 12), 77, dtype=torch.uint8)
    y = resize(x, (8, 8))
    assert y.dtype == torch.uint8 and y.shape == (3, 8, 8) and bool((y == 77).all())
    assert resize(x, (10, 12)) is x
    ramp = torch.arange(16, dtype=torch.uint8).mul(16).expand(1, 16, 16)
    z = resize(ramp, (16, 8))
    assert z.shape == (1, 16, 8) and int(z[0, 0, 0]) < int(z[0, 0, -1])


def test_a_large_jpeg_is_decoded_reduced_but_never_below_the_size_needed(tmp_path):
    import tracemalloc

    from foveal.data.images import read_image

    Image.new("RGB", (3000, 2000), (200, 100, 50)).save(tmp_path / "big.jpg", quality=90)
    tracemalloc.start()
    try:
        reduced = read_image(tmp_path / "big.jpg", reduce_to=(224, 224))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert tuple(reduced.shape) == (3, 250, 375) and peak < 2e6  # 1/8 scale: both sides still >= 224
    assert tuple(read_image(tmp_path / "big.jpg", reduce_to=(600, 400)).shape) == (3, 1000, 1500)  # 1/2: 1/4 is < 600
    assert tuple(read_image(tmp_path / "big.jpg").shape) == (3, 2000, 3000)
    Image.new("RGB", (3000, 2000)).save(tmp_path / "big.png")
    assert tuple(read_image(tmp_path / "big.png", reduce_to=(224, 224)).shape) == (3, 2000, 3000)  # JPEG only


def test_training_data_with_a_huge_photo_says_so_once_and_leaves_the_warning_filters_alone(tmp_path, monkeypatch, caplog):
    import logging
    import warnings

    from foveal.data.folder import load_path_data

    for k, name in enumerate(("cat", "dog")):
        (tmp_path / name).mkdir()
        for i in range(4):
            Image.new("L", (16, 16), 40 + 150 * k + i).save(tmp_path / name / f"{i}.png")
    Image.new("RGB", (4000, 3000), (200, 100, 50)).save(tmp_path / "dog" / "huge.jpg", quality=80)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 8_000_000)
    logger = logging.getLogger("foveal")
    monkeypatch.setattr(logger, "handlers", [caplog.handler])
    monkeypatch.setattr(logger, "propagate", False)
    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True) as raised, caplog.at_level(logging.INFO, logger="foveal"):
        warnings.simplefilter("always")
        data = load_path_data(tmp_path, img_size=16, cache_dir=tmp_path / "cache")
    assert len(data.train) + len(data.val) == 9
    said = [r.getMessage() for r in caplog.records if "huge.jpg" in r.getMessage()]
    assert said == [f"{tmp_path / 'dog' / 'huge.jpg'}: a very large image (4000x3000, 12 megapixels); decoded reduced "
                    "to 500x375"], said
    assert not [w for w in raised if issubclass(w.category, Image.DecompressionBombWarning)]
    assert warnings.filters == filters
