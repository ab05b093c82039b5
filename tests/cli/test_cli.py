"""The command line: every verb, bad input as one line with a non-zero exit, and a run killed with -9 resumed."""

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from foveal.cli import main
from foveal.cli.render import setup_logging
from foveal.engine.checkpoint import load_checkpoint


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    project = tmp_path_factory.mktemp("cli")
    assert main(["-q", "train", "--model", "lenet", "--data", "digits", "--epochs", "2", "--momentum", "0.9",
                 "--project", str(project), "--name", "lenet"]) == 0
    return project / "lenet"


def test_train_val_predict_compare(run_dir, tmp_path, capsys):
    code, out, _ = run(capsys, "val", "--model", run_dir / "best.pt", "--project", tmp_path, "--format", "json")
    assert code == 0 and json.loads(out)["accuracy"] == json.loads((run_dir / "metrics.json").read_text())["accuracy"]
    Image.new("L", (8, 8), 200).save(tmp_path / "a.png")
    (tmp_path / "folder").mkdir()
    Image.new("RGB", (30, 20), (0, 0, 0)).save(tmp_path / "folder" / "b.jpg")
    code, out, _ = run(capsys, "predict", "--model", run_dir, tmp_path / "a.png", tmp_path / "folder", "--save",
                       "--project", tmp_path)
    assert code == 0 and "a.png:" in out and "b.jpg:" in out and (tmp_path / "predict" / "b.png").exists()
    code, out, _ = run(capsys, "compare", run_dir, run_dir, "--out", tmp_path / "cmp.png")
    assert code == 0 and (tmp_path / "cmp.png").exists()
    row = next(line for line in out.splitlines() if "lenet" in line)
    assert "…" not in row, "the table is not truncated"
    assert (tmp_path / "cmp.csv").exists()


def test_val_says_where_it_wrote_its_results(run_dir, tmp_path, capsys):
    code, out, _ = run(capsys, "-q", "val", "--model", run_dir, "--project", tmp_path)
    assert code == 0 and out.splitlines()[-1] == f"results in {tmp_path / 'val'}"
    assert (tmp_path / "val" / "metrics.json").is_file()
    code, out, err = run(capsys, "-q", "val", "--model", run_dir, "--project", tmp_path, "--format", "json")
    assert code == 0 and json.loads(out)["accuracy"] > 0 and err.strip() == f"results in {tmp_path / 'val2'}"


def test_detection_metrics_without_objects_of_a_size_print_n_a(tiny_runs, tiny_shapes, tmp_path, capsys):
    run_dir = tiny_runs["detect"]
    code, out, _ = run(capsys, "val", "--model", run_dir, "--project", tmp_path)
    headline = out.splitlines()[0]
    assert code == 0 and "map_large n/a" in headline and "-1.0000" not in out, out
    assert json.loads((tmp_path / "val" / "metrics.json").read_text())["map_large"] == -1.0  # pycocotools' figure


def test_listings(capsys):
    code, out, _ = run(capsys, "datasets")
    assert code == 0 and "fashion-mnist" in out and "digits" in out
    code, out, _ = run(capsys, "models")
    assert code == 0 and "tinyvgg" in out and "resnet18" in out and "7,740" in out


LISTING_PROBE = """
import sys, time
from foveal.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
print(f"exit {code} torch {'torch' in sys.modules} seconds {time.perf_counter() - start:.2f}")
"""


@pytest.mark.parametrize("args, shown", [
    (["datasets"], "fashion-mnist"),
    (["models"], "7,740"),
    (["models", "--recipes"], "fast-long"),
    (["train", "--model", "lenett", "--data", "digits"], "unknown model 'lenett'; did you mean lenet"),
])
def test_listings_and_a_mistyped_model_name_answer_without_importing_torch(args, shown):
    done = subprocess.run([sys.executable, "-c", LISTING_PROBE, *args], capture_output=True, text=True, timeout=120)
    assert shown in done.stdout + done.stderr
    assert "torch False" in done.stdout, done.stdout[-300:]  # torch alone takes 2 s to import on 2 cores


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--model", "tinyvg", "--data", "digits"], "unknown model 'tinyvg'; did you mean tinyvgg"),
        (["train", "--data", "fashion_mnist"], "unknown data set 'fashion_mnist'; did you mean fashion-mnist"),
        (["train", "--data", "./no/such/folder"], "data path not found: ./no/such/folder"),
        (["train", "--data", "digits", "--optimizer", "rmsprop"], "optimizer must be one of sgd, adam, adamw"),
        (["val", "--model", "missing.pt"], "checkpoint not found: missing.pt"),
        (["train", "--data", "digits", "--device", "cuda"], "has no CUDA GPU"),
        (["train", "--data", "digits", "--epochs", "1", "--lr", "1e30", "--model", "linear"], "the training loss became"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, capsys, tmp_path):
    code, out, err = run(capsys, "-q", *args, *(["--project", tmp_path] if args[0] == "train" else []))
    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    """A detector's checkpoint, one epoch on a handful of shapes scenes."""
    import functools

    import foveal
    from foveal.data.detection import dataset

    project = tmp_path_factory.mktemp("det")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dataset, "shapes_detection", functools.partial(dataset.shapes_detection, n_train=8, n_val=4))
        m = foveal.Model("fcos", task="detect")
        m.train(data="shapes", epochs=1, batch_size=4, project=str(project), name="det", progress=False)
    return m.checkpoint


def test_bad_settings_and_options_are_one_line_exit_2_and_leave_nothing(run_dir, detector, tmp_path, capsys):
    a_file = tmp_path / "runs.txt"
    a_file.write_text("not a folder")
    image = tmp_path / "a.png"
    Image.new("L", (8, 8), 200).save(image)
    train = ["train", "--model", "lenet", "--data", "digits", "--epochs", "1"]
    cases = [
        ([*train, "--img-size", "-5", "--project", tmp_path], "img_size is the side of the square images in pixels"),
        ([*train, "--project", a_file], f"project is the folder that holds the run folders; {a_file} is a file"),
        ([*train, "--project", a_file / "sub"], f"{a_file} is a file"),
        ([*train, "--project", tmp_path, "--name", "a/b"], "name is the name of one folder inside --project"),
        (["val", "--model", run_dir / "best.pt", "--project", tmp_path, "--name", "x/y"], "name is the name of one"),
        (["predict", "--model", run_dir, image, "--top-k", "0"], "top_k is how many labels to show per image, 1 or"),
        (["predict", "--model", run_dir, image, "--top-k", "-3"], "top_k is how many labels to show per image"),
        (["predict", "--model", run_dir, image, "--conf", "0.5"], "conf: not an option of a classify model (lenet)"),
        (["predict", "--model", detector, image, "--conf", "2"], "--conf must be in [0, 1]"),
        (["train", "--resume", detector, "--task", "classify", "--data", "digits"],
         "holds a detect model (fcos); task 'classify' contradicts it"),
    ]
    before = sorted(tmp_path.rglob("*"))
    for args, message in cases:
        code, out, err = run(capsys, "-q", *args)
        lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
        assert code == 2 and len(lines) == 1 and message in lines[0], (args, err)
        assert "Traceback" not in err and out == "", args
    assert sorted(tmp_path.rglob("*")) == before and a_file.read_text() == "not a folder"


def test_unreadable_image_is_reported_and_the_rest_predicted(run_dir, tmp_path, capsys):
    Image.new("L", (8, 8), 10).save(tmp_path / "ok.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    code, out, err = run(capsys, "predict", "--model", run_dir / "best.pt", tmp_path / "ok.png", tmp_path / "bad.png")
    assert code == 0 and "ok.png:" in out and "bad.png" in err
    code, out, err = run(capsys, "predict", "--model", run_dir / "best.pt", tmp_path / "bad.png")
    assert code == 2 and "no image could be read" in err
    (tmp_path / "clip.mp4").write_bytes(b"")
    code, out, err = run(capsys, "predict", "--model", run_dir / "best.pt", tmp_path / "ok.png", tmp_path / "clip.mp4")
    assert code == 2 and "clip.mp4: video input goes to detectors and segmenters" in err


@pytest.mark.parametrize("args, message", [
    (["models", "--sorce", "foveal"], "No such option: --sorce"),
    (["val"], "Missing option '--model'"),
    (["trian"], "No such command 'trian'"),
])
def test_usage_mistakes_are_one_line_and_exit_2(args, message, capsys):
    code, _, err = run(capsys, *args)
    assert code == 2 and err.strip().startswith("error:") and message in err and len(err.strip().splitlines()) == 1, err


def test_no_arguments_shows_help(capsys):
    code, out, err = run(capsys)
    assert code == 0 and "train" in out and "error" not in err


def test_logging_follows_stderr_after_a_caller_closes_its_stream(monkeypatch):
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    setup_logging()
    first.close()  # what a test runner does to its captured stream once the CLI call is over
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("foveal").info("after the swap")
    assert second.getvalue() == "after the swap\n"


def test_debug_shows_the_traceback():
    with pytest.raises(Exception, match="unknown model"):
        main(["--debug", "train", "--model", "nope"])


def test_kill_9_mid_epoch_then_resume_matches_an_uninterrupted_run(shared_data, tmp_path):
    base = [sys.executable, "-m", "foveal", "-q", "train", "--model", "mlp", "--data", "fashion-mnist",
            "--data-root", str(shared_data), "--epochs", "3", "--schedule", "cosine", "--project", str(tmp_path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    subprocess.run([*base, "--name", "full"], check=True, env=env, capture_output=True)
    proc = subprocess.Popen([*base, "--name", "killed"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = tmp_path / "killed" / "last.pt"
    deadline = time.time() + 120
    while not last.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert load_checkpoint(last)["epoch"] == 1, "killed during epoch 2"
    subprocess.run([sys.executable, "-m", "foveal", "-q", "train", "--resume", str(tmp_path / "killed")],
                   check=True, env=env, capture_output=True)
    full, resumed = load_checkpoint(tmp_path / "full" / "last.pt"), load_checkpoint(last)
    assert resumed["epoch"] == 3
    assert all(torch.equal(full["state_dict"][k], resumed["state_dict"][k]) for k in full["state_dict"])
    assert json.loads((tmp_path / "full" / "metrics.json").read_text())["accuracy"] == \
        json.loads((tmp_path / "killed" / "metrics.json").read_text())["accuracy"]


def test_val_on_the_test_split_and_on_any_device(tmp_path, capsys):
    """`foveal val --split test` scores the labelled test/ folder; `--device` is an option of val and predict, `auto`
    by default; data without a test split is one line."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("val", 4), ("test", 6)):
        for c, name in enumerate(("dark", "light")):
            for i in range(n):
                value = 40 + 150 * c + int(rng.integers(0, 20))
                (tmp_path / "d" / split / name).mkdir(parents=True, exist_ok=True)
                Image.new("L", (8, 8), value).save(tmp_path / "d" / split / name / f"{i}.png")
    assert main(["-q", "train", "--model", "linear", "--data", str(tmp_path / "d"), "--epochs", "2",
                 "--project", str(tmp_path), "--name", "lin"]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "val", "--model", tmp_path / "lin", "--split", "test", "--device", "cpu",
                       "--project", tmp_path, "--format", "json")
    metrics = json.loads(out)
    assert code == 0 and metrics["split"] == "test"
    assert sum(c["support"] for c in metrics["per_class"].values()) == 12  # the 12 test images, not the 8 of val
    code, out, _ = run(capsys, "val", "--model", tmp_path / "lin", "--project", tmp_path, "--format", "json")
    assert sum(c["support"] for c in json.loads(out)["per_class"].values()) == 8
    code, _, err = run(capsys, "val", "--model", tmp_path / "lin", "--data", "digits", "--split", "test")
    assert code == 2 and "digits has no labelled test split" in err
    code, _, err = run(capsys, "predict", "--model", tmp_path / "lin", str(tmp_path / "d" / "test"), "--device", "tpu")
    assert code == 2 and "device must be" in err
    # predict on a data set's test split: its 12 test images, not every image under d/
    code, out, _ = run(capsys, "predict", "--model", tmp_path / "lin", str(tmp_path / "d"), "--split", "test",
                       "--format", "json")
    sources = [r["source"] for r in json.loads(out[:out.rindex("]") + 1])]
    assert code == 0 and len(sources) == 12 and all("/d/test/" in s for s in sources)
    (tmp_path / "data.yaml").write_text(f"path: {tmp_path / 'd'}\ntrain: train\nval: val\ntest: test\nnames: [a]\n")
    code, out, _ = run(capsys, "predict", "--model", tmp_path / "lin", str(tmp_path / "data.yaml"), "--split", "val",
                       "--format", "json")
    assert code == 0 and len(json.loads(out[:out.rindex("]") + 1])) == 8
    code, _, err = run(capsys, "predict", "--model", tmp_path / "lin", str(tmp_path / "d" / "test"), "--split", "test")
    assert code == 2 and "--split test takes data sets" in err
