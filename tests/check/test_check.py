"""foveal check: unreadable files by path, exact and near copies within and across splits, class balance, sizes and
modes, boxes and bad labels of a YOLO set, likely label errors, and the command line."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from foveal.check.labels import label_issues, out_of_fold_probs
from foveal.check.run import check_data
from foveal.cli import app
from foveal.errors import FovealError

CLASSES = ("airplane", "cat", "ship")


@pytest.fixture(scope="module")
def planted(shared_data, tmp_path_factory):
    """cifar10-jpg: 3 classes x 20 train / 6 test photos, with faults planted in train: a truncated JPEG, text named
    .jpg, a copy of a train photo (within), a test photo copied byte for byte and one re-encoded at 1.25x (leaks),
    and one photo saved grey."""
    src = shared_data / "cifar10-jpg"
    root = tmp_path_factory.mktemp("planted") / "set"
    for split, n in (("train", 20), ("test", 6)):
        for c in CLASSES:
            (root / split / c).mkdir(parents=True)
            for f in sorted((src / split / c).iterdir())[:n]:
                shutil.copyfile(f, root / split / c / f.name)
    train_cat = sorted((root / "train" / "cat").iterdir())
    test_ship = sorted((root / "test" / "ship").iterdir())
    faults = {
        "truncated": root / "train" / "cat" / "truncated.jpg",
        "text": root / "train" / "ship" / "notes.jpg",
        "within": root / "train" / "cat" / "copy_within.jpg",
        "exact_leak": root / "train" / "ship" / "leak_exact.jpg",
        "near_leak": root / "train" / "ship" / "leak_near.jpg",
        "grey": root / "train" / "airplane" / "grey.png",
    }
    faults["truncated"].write_bytes(train_cat[0].read_bytes()[:300])
    faults["text"].write_text("not a photo")
    shutil.copyfile(train_cat[1], faults["within"])
    shutil.copyfile(test_ship[0], faults["exact_leak"])
    with Image.open(test_ship[1]) as img:
        img.resize((40, 40), Image.BICUBIC).save(faults["near_leak"], quality=70)
    with Image.open(train_cat[2]) as img:
        img.convert("L").save(faults["grey"])
    return root, faults, {"within": train_cat[1], "exact_leak": test_ship[0], "near_leak": test_ship[1],
                          "grey": train_cat[2]}


@pytest.fixture(scope="module")
def checked(planted, tmp_path_factory):
    root, _, _ = planted
    return check_data(root, out=tmp_path_factory.mktemp("report"), progress=False)


def pair_set(result, **where):
    items = result.scan.items
    return {(str(items[p.a].path), str(items[p.b].path)) for p in result.pairs
            if all(getattr(p, k) == v for k, v in where.items())}


def test_unreadable_files_are_reported_by_path(checked, planted):
    _, faults, _ = planted
    bad = {u["path"]: u["reason"] for u in checked.summary["unreadable"]}
    assert set(bad) == {str(faults["truncated"]), str(faults["text"])}
    assert "truncated" in bad[str(faults["truncated"])].lower() or "broken" in bad[str(faults["truncated"])].lower()


def test_copies_and_leaks_are_found_pair_by_pair(checked, planted):
    _, faults, originals = planted
    copies = checked.summary["copies"]
    assert copies["exact_within"] == 1 and copies["exact_across"] == 1
    exact = pair_set(checked, kind="exact")
    near = pair_set(checked, kind="near")
    for name in ("within", "exact_leak"):
        assert tuple(sorted((str(faults[name]), str(originals[name])))) in {tuple(sorted(p)) for p in exact}
    assert tuple(sorted((str(faults["near_leak"]), str(originals["near_leak"])))) in {tuple(sorted(p)) for p in near}
    assert copies["near_across"] == 1  # nothing else among 80 CIFAR photos
    # the grey copy of a training photo is one too: the perceptual hash is of the luminance
    assert copies["near_within"] == 1 and tuple(sorted((str(originals["grey"]), str(faults["grey"])))) in {tuple(sorted(p)) for p in near}
    assert (checked.folder / "leaks.png").is_file()


def test_balance_sizes_and_modes(checked):
    s = checked.summary
    assert s["images"] == {"test": 18, "train": 66}
    assert s["balance"]["train"]["counts"] == {"airplane": 21, "cat": 22, "ship": 23}  # the unreadable ones counted too
    assert s["balance"]["test"]["imbalance"] == 1.0
    assert s["sizes"]["modes"] == {"RGB": 81, "L": 1}
    assert s["sizes"]["distinct_sizes"] == 2 and s["sizes"]["width"]["max"] == 40
    md = (checked.folder / "report.md").read_text()
    assert "## Copies and leaks" in md and "truncated.jpg" in md
    assert json.loads((checked.folder / "report.json").read_text())["copies"] == s["copies"]


def test_label_errors_are_ranked_first(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 4, (3, 16))
    labels = np.repeat(np.arange(3), 100)
    features = centres[labels] + rng.normal(0, 1, (300, 16))
    flipped = rng.choice(300, 15, replace=False)
    given = labels.copy()
    given[flipped] = (labels[flipped] + 1) % 3
    probs = out_of_fold_probs(features, given, 3, folds=5)
    issues = label_issues(np.arange(300), given, probs, "test")
    top = set(issues.index[issues.ranked()[:30]].tolist())
    assert len(top & set(flipped.tolist())) >= 14
    assert issues.flagged[flipped].sum() >= 13 and issues.flagged.sum() <= 30  # cleanlab flags them, and few others


def test_folds_rank_the_training_labels_and_draw_the_suspects(planted, tmp_path):
    root, _, _ = planted
    result = check_data(root, folds=3, out=tmp_path / "r", progress=False)
    li = result.summary["label_issues"]
    assert li["checked"] == 64 and "3 folds" in li["source"]  # the readable training photos
    assert (tmp_path / "r" / "label_issues.png").is_file()
    assert {r["given"] for r in li["ranked"]} <= set(CLASSES)


def test_embeddings_are_cached_per_set_and_follow_the_set(planted, tmp_path):
    root = tmp_path / "set"
    shutil.copytree(planted[0], root)
    first = check_data(root, out=tmp_path / "r1", progress=False)
    readable = int(sum(r is None for r in first.facts.reason))
    assert first.facts.cached <= 1  # at most a copy of a photo met earlier: another folder's cache is not this one's
    again = check_data(root, out=tmp_path / "r2", progress=False)
    assert again.facts.cached == readable and again.facts.embedding_cache == first.facts.embedding_cache
    np.testing.assert_allclose(again.facts.embeddings, first.facts.embeddings, atol=1e-6)
    (root / "train" / "cat" / "copy_within.jpg").unlink()  # its pixels are another photo's: the cache keeps them
    next(p for p in sorted((root / "train" / "ship").iterdir()) if p.name.startswith("0")).unlink()
    shrunk = check_data(root, out=tmp_path / "r3", progress=False)
    assert shrunk.facts.cached == readable - 2
    with np.load(shrunk.facts.embedding_cache) as blob:
        assert len(blob["keys"]) == len(set(shrunk.facts.pixel_hash) - {None}) == readable - 3


def test_a_yolo_set_with_bad_labels(shared_data, tmp_path):
    src = shared_data / "coco128"
    names = sorted((src / "images" / "train2017").iterdir())[:6]
    for sub in ("images", "labels"):
        (tmp_path / sub / "train2017").mkdir(parents=True)
    for f in names:
        shutil.copyfile(f, tmp_path / "images" / "train2017" / f.name)
        label = src / "labels" / "train2017" / (f.stem + ".txt")
        if label.is_file():
            shutil.copyfile(label, tmp_path / "labels" / "train2017" / label.name)
    bad = tmp_path / "labels" / "train2017" / (names[0].stem + ".txt")
    bad.write_text(bad.read_text() + "99 0.5 0.5 0.1 0.1\n0 1.4 0.5 0.3 0.3\n")
    yaml_text = (src / "data.yaml").read_text()
    (tmp_path / "data.yaml").write_text(yaml_text)
    result = check_data(tmp_path / "data.yaml", embed=False, out=tmp_path / "check", progress=False)
    s = result.summary
    assert s["kind"] == "detect" and s["copies"]["same_file_in_two_splits"] == 6  # coco128's train is its val
    notes = " ".join(s["notes"])
    assert "99" in notes and str(bad.name) in notes
    assert s["objects"]["total"] > 0 and "person" in s["objects"]["per_class"]
    with pytest.raises(FovealError, match="label errors are ranked for classification data"):
        check_data(tmp_path / "data.yaml", folds=5, out=tmp_path / "c2", progress=False)


def test_command_line(planted, tmp_path):
    root, _, _ = planted
    r = CliRunner().invoke(app, ["check", str(root), "--no-embed", "--out", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    assert "leaks across splits: 1 exact" in r.output and "2 unreadable" in r.output
    r = CliRunner().invoke(app, ["check", str(tmp_path / "nothing")])
    assert r.exit_code != 0 and "data path not found" in str(r.exception)
    r = CliRunner().invoke(app, ["check", str(root), "--no-embed", "--folds", "5"])
    assert r.exit_code != 0 and "cannot go with --no-embed" in str(r.exception)


def test_a_trained_model_ranks_the_labels_and_explains_nothing_without_convolutions(planted, tmp_path):
    import foveal

    root, _, _ = planted
    model = foveal.Model("linear")
    model.train(data=str(root), epochs=2, lr=0.01, project=str(tmp_path), name="lin", progress=False)
    result = check_data(root, model=model.checkpoint, embed=False, out=tmp_path / "r", progress=False)
    li = result.summary["label_issues"]
    assert li["checked"] == 64 and li["source"].startswith("the model")
    assert sorted(r["quality"] for r in li["ranked"]) == [r["quality"] for r in li["ranked"]]
    with pytest.raises(FovealError, match="no layer with a spatial output: Grad-CAM needs a convolutional network"):
        model.explain(root / "test" / "cat", project=tmp_path, name="x")
