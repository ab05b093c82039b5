"""Ultralytics' key=value arguments (`foveal train model=lenet data=digits imgsz=16`), `foveal --version`, shell
completion."""

import json
import os
import subprocess
import sys

import yaml
from PIL import Image

import foveal
from foveal.cli import main


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_key_values_with_ultralytics_names_train_as_the_options_do(tmp_path, capsys):
    common = ["-q", "train", "--fraction", "0.3"]
    code, _, err = run(capsys, *common, "model=lenet", "data=digits", "epochs=1", "imgsz=16", "batch=64", "lr0=0.05",
                       "optimizer=SGD", "cos_lr=True", "deterministic=true", "flip=False", f"project={tmp_path}",
                       "name=kv", "--set", "momentum=0.5", "hidden=none")
    assert code == 0, err
    code, _, err = run(capsys, *common, "--model", "lenet", "--data", "digits", "--epochs", "1", "--img-size", "16",
                       "--batch-size", "64", "--lr", "0.05", "--optimizer", "sgd", "--schedule", "cosine",
                       "--deterministic", "--no-flip", "--project", tmp_path, "--name", "dashes", "--momentum", "0.5")
    assert code == 0, err
    by_keys = yaml.safe_load((tmp_path / "kv" / "config.yaml").read_text())
    by_options = yaml.safe_load((tmp_path / "dashes" / "config.yaml").read_text())
    assert by_keys.pop("name") == "kv" and by_options.pop("name") == "dashes"
    assert by_keys == by_options
    assert (by_keys["img_size"], by_keys["batch_size"], by_keys["lr"], by_keys["momentum"]) == (16, 64, 0.05, 0.5)
    assert by_keys["schedule"] == "cosine" and by_keys["deterministic"] and not by_keys["flip"]


def test_key_values_for_val_and_predict(tmp_path, capsys):
    assert main(["-q", "train", "--model", "linear", "--data", "digits", "--epochs", "1", "--project", str(tmp_path),
                 "--name", "lin"]) == 0
    capsys.readouterr()
    ckpt = tmp_path / "lin" / "best.pt"
    code, out, err = run(capsys, "val", f"model={ckpt}", "batch=32", "format=json", f"project={tmp_path}")
    assert code == 0 and "accuracy" in json.loads(out), err
    Image.new("L", (8, 8), 200).save(tmp_path / "a.png")
    code, out, err = run(capsys, "predict", f"model={ckpt}", f"source={tmp_path / 'a.png'}", "top_k=2",
                         "format=json")
    assert code == 0 and len(json.loads(out)[0]["top"]) == 2, err
    code, _, err = run(capsys, "predict", f"model={ckpt}", tmp_path / "a.png", "imgsz=320")
    assert code == 2 and err.startswith("error: foveal predict has no setting 'imgsz'; its settings: ")
    assert len(err.strip().splitlines()) == 1


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"foveal {foveal.__version__}"


def test_shell_completion_completes_verbs_and_options():
    def complete(words: str) -> list[str]:
        env = {**os.environ, "_FOVEAL_COMPLETE": "complete_bash", "COMP_WORDS": words,
               "COMP_CWORD": str(len(words.split()) - 1)}
        done = subprocess.run([sys.executable, "-m", "foveal"], env=env, capture_output=True, text=True, timeout=60)
        return done.stdout.split()

    assert complete("foveal tr") == ["train"]
    assert "--lookahead" in complete("foveal train --look")
