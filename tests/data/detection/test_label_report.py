"""Every command that reads box labels reports what it skipped in the same lines: bad label lines by file:line, label
files without an image. `foveal convert` did so silently; `foveal train` reported them through the data's notes."""

from __future__ import annotations

from PIL import Image

from foveal.cli import main
from foveal.data.detection.dataset import load_detection


def yolo_with_mistakes(root):
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    for name in ("a", "b"):
        Image.new("RGB", (40, 30), (90, 90, 90)).save(root / "images" / "train" / f"{name}.jpg")
    (root / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n0 0.5 0.5 2.0 0.2\n")  # line 2: not 0-1
    (root / "labels" / "train" / "b.txt").write_text("0 0.3 0.3 0.1 0.1\n7 0.3 0.3 0.1 0.1\n")  # line 2: no class 7
    (root / "labels" / "train" / "orphan.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/train\nnames: [box]\n")
    return root / "data.yaml"


def test_convert_reports_what_train_reports(tmp_path, capsys):
    spec = yolo_with_mistakes(tmp_path / "yolo")
    train_notes = load_detection(spec).notes  # what `foveal train` prints before its first epoch
    assert any("a.txt:2" in n for n in train_notes) and any("b.txt:2" in n for n in train_notes)
    assert any("orphan.txt" in n for n in train_notes)
    for to, out in (("coco", tmp_path / "out.json"), ("voc", tmp_path / "voc"), ("yolo", tmp_path / "again")):
        assert main(["convert", str(spec), "--to", to, "--out", str(out)]) == 0
        err = capsys.readouterr().err.splitlines()
        for note in train_notes:
            assert err.count(note) == 1, (to, note, err)


def test_val_reports_what_train_reports(tmp_path, capsys):
    import foveal

    spec = yolo_with_mistakes(tmp_path / "yolo")
    m = foveal.Model("fcos", task="detect")
    m.train(data=str(spec), epochs=1, batch_size=2, project=str(tmp_path / "runs"), progress=False)
    capsys.readouterr()
    assert main(["val", "--model", str(m.run_dir), "--data", str(spec), "--project", str(tmp_path / "val")]) == 0
    err = capsys.readouterr().err.splitlines()
    for note in load_detection(spec).notes:
        assert err.count(note) == 1, (note, err)
