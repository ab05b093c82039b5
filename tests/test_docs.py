"""docs/getting-started.md works: every `foveal ...` command and every Python block of it runs, in order, on a small
part of the real Fashion-MNIST, and the files it promises are there afterwards."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import torch
from PIL import Image

from foveal.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "getting-started.md"
FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
DATA_ROOT_LINE = re.compile(r"^DATA_ROOT = None\b.*$", re.M)
FRACTION = "0.05"  # of the 60,000 training images; the 10,000 test images stay whole


def doc_steps(text: str) -> list[tuple[str, str]]:
    """("bash", one `foveal ...` command) and ("python", one block), in the order of the document."""
    steps = []
    for lang, body in FENCE.findall(text):
        if lang == "python":
            steps.append(("python", body))
        elif lang in ("bash", "sh", "shell", "console"):
            for line in body.splitlines():
                line = line.strip()
                assert not line.endswith("\\"), f"keep each command on one line: {line}"
                if line.startswith("foveal "):
                    steps.append(("bash", line))
        else:
            pytest.fail(f"a ```{lang or '(no language)'} block in {DOC.name}: use ```bash or ```python")
    return steps


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def with_option(args: list[str], name: str, value: str) -> list[str]:
    if name in args:
        i = args.index(name)
        return args[:i + 1] + [value] + args[i + 2:]
    return args + [name, value]


def small(args: list[str], data_root: Path, runs_epochs: dict[str, int]) -> list[str]:
    """The doc's command (without the leading `foveal`) made quick: 1 epoch on a fraction of the training set (a resumed
    run gets one epoch more than it has), and the local copy of the data."""
    if args[0] == "train":
        resume = option(args, "--resume")
        if resume:
            args = with_option(args, "--epochs", str(runs_epochs[Path(resume).name] + 1))
        else:
            args = with_option(with_option(args, "--epochs", "1"), "--fraction", FRACTION)
        return with_option(args, "--data-root", str(data_root))
    if args[0] == "val":
        return with_option(args, "--data-root", str(data_root))
    return args


def small_python(code: str, data_root: Path) -> str:
    code = DATA_ROOT_LINE.sub(f"DATA_ROOT = {str(data_root)!r}", code)
    if ".train(" in code:
        assert re.search(r"\bepochs=\d+", code), "a Python train() in the doc should say how many epochs"
        code = re.sub(r"\bepochs=\d+", f"epochs=1, fraction={FRACTION}", code)
    return code


@pytest.fixture
def one_thread():
    """One torch thread: with two on a 2-core machine, any other busy process makes each small step wait on a
    descheduled thread and training gets many times slower; one thread keeps this test's time steady."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_getting_started_guide_runs_as_written(shared_data, tmp_path, monkeypatch, one_thread):
    text = DOC.read_text()
    steps = doc_steps(text)
    commands = [shlex.split(cmd)[1:] for kind, cmd in steps if kind == "bash"]

    # the tutorial's three models, with its settings, and the comparison of the three
    trained = {option(a, "--model"): a for a in commands if a[0] == "train" and "--resume" not in a}
    for model in ("linear", "mlp", "tinyvgg"):
        a = trained.get(model)
        assert a is not None, f"the doc should train --model {model}"
        assert option(a, "--data") == "fashion-mnist" and option(a, "--name") == model
        settings = {k: option(a, k) for k in ("--epochs", "--batch-size", "--optimizer", "--lr", "--seed")}
        assert settings == {"--epochs": "3", "--batch-size": "32", "--optimizer": "sgd", "--lr": "0.1", "--seed": "42"}
    assert ["compare", "runs/linear", "runs/mlp", "runs/tinyvgg"] in commands
    for verb in ("val", "predict"):
        assert any(a[0] == verb and option(a, "--model") == "runs/tinyvgg/best.pt" for a in commands), verb
    assert any(a[0] == "train" and option(a, "--resume") == "runs/tinyvgg" for a in commands)
    assert DATA_ROOT_LINE.search(text), "the doc's Python should define DATA_ROOT = None (the test points it at the data)"

    monkeypatch.chdir(tmp_path)
    for a in commands:  # the images the doc predicts on: a grey 28x28 picture each (the doc may overwrite them)
        if a[0] == "predict":
            for src in a[1:]:
                if src.lower().endswith((".png", ".jpg", ".jpeg")):
                    Image.new("L", (28, 28), 128).save(src)

    namespace: dict = {"__name__": "getting_started"}
    runs_epochs: dict[str, int] = {}
    first_metrics: dict[str, dict] = {}  # each run's metrics.json as its first training left it
    for n, (kind, step) in enumerate(steps, 1):
        if kind == "python":
            exec(compile(small_python(step, shared_data), f"{DOC.name}, step {n} (python)", "exec"), namespace)
            continue
        args = small(shlex.split(step)[1:], shared_data, runs_epochs)
        assert main(args) == 0, f"failed: {step}\n(run as: foveal {shlex.join(args)})"
        if args[0] == "train":
            resume = option(args, "--resume")
            name = Path(resume).name if resume else option(args, "--name") or option(args, "--model")
            runs_epochs[name] = int(option(args, "--epochs"))
            first_metrics.setdefault(name, json.loads(Path("runs", name, "metrics.json").read_text()))

    runs = Path("runs")
    for name in ("linear", "mlp", "tinyvgg", "linear_py"):
        for f in ("best.pt", "last.pt", "metrics.json", "results.csv", "config.yaml", "curves.png", "confusion_matrix.png",
                  "confusion_matrix_normalized.png", "confusion_matrix.csv", "samples.png", "most_wrong.png"):
            assert (runs / name / f).is_file(), f"runs/{name}/{f}"
    assert {p.name for p in runs.iterdir()} >= {"compare.png", "compare.csv", "val", "predict"}
    for val in ("val", "val2"):  # `foveal val`, then Model.val() in Python
        for f in ("metrics.json", "confusion_matrix.png", "confusion_matrix_normalized.png", "confusion_matrix.csv"):
            assert (runs / val / f).is_file(), f"runs/{val}/{f}"
    assert (runs / "predict" / "some.png").is_file()
    assert Path("samples_grid.png").is_file() and Path("some.png").is_file()
    # every output file the prose names (e.g. `runs/tinyvgg/most_wrong.png`) is there
    promised = set(re.findall(r"`(runs/[\w./-]+\.(?:png|csv|pt|json|yaml))`", text))
    assert promised, "the doc should name the files a run writes"
    missing = sorted(p for p in promised if not Path(p).is_file())
    assert not missing, f"the doc promises files that were not written: {missing}"

    # the resume continued runs/tinyvgg in place, one epoch further
    ckpt = torch.load(runs / "tinyvgg" / "last.pt", weights_only=True)
    assert ckpt["epoch"] == runs_epochs["tinyvgg"] == 2
    assert not (runs / "tinyvgg2").exists()
    assert list(ckpt["card"]["classes"]) == list(namespace["data"].classes)
    # evaluating the best weights again (`foveal val`, and Model.val() in Python) gives what training recorded for them
    recorded = first_metrics["tinyvgg"]["accuracy"]
    assert json.loads((runs / "val" / "metrics.json").read_text())["accuracy"] == pytest.approx(recorded)
    assert namespace["metrics"]["accuracy"] == pytest.approx(recorded)
