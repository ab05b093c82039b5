from foveal.bench.train import run_foveal


def test_run_foveal_reads_back_its_epochs_with_tta_on(tmp_path):
    r = run_foveal("fast", None, 0, "digits", None, str(tmp_path), recipe="fast", epochs=2, hidden=8, batch_size=64)
    assert r["runner"] == "foveal" and r["model"] == "fastnet" and r["seed"] == 0
    assert [e["epoch"] for e in r["epochs"]] == [1, 2]
    assert r["epochs"][-1]["val_tta"] is True  # a flag column, read as a flag, not a number
    assert r["accuracy_last"] == r["epochs"][-1]["val_accuracy"] and 0.1 < r["accuracy_best"] <= 1
    assert r["time_s"] > 0 and r["images_per_s"] > 0
