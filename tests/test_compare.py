import csv

import pytest

import foveal
from foveal.compare import compare_runs, write_comparison
from foveal.errors import FovealError


def test_compare_reports_every_column_and_writes_a_chart(tmp_path):
    runs = []
    for name in ("linear", "lenet"):
        m = foveal.Model(name)
        m.train(data="digits", epochs=1, project=str(tmp_path), name=name, progress=False)
        runs.append(m.run_dir)
    rows = compare_runs(runs)
    assert [r["name"] for r in rows] == ["linear", "lenet"]
    assert rows[0]["parameters"] < rows[1]["parameters"]
    assert all(r["inference_images_per_s"] > 0 and 0 <= r["accuracy"] <= 1 and r["train_time_s"] > 0 for r in rows)
    chart, table = write_comparison(rows, tmp_path / "c.png")
    assert chart.stat().st_size > 1000 and table.read_text().splitlines()[0].startswith("name,model,data,accuracy")


def test_compare_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(FovealError, match="no metrics.json"):
        compare_runs([tmp_path])


@pytest.fixture(scope="module")
def two_lenets(tmp_path_factory):
    """Two runs of one model in folders of one name: a/lenet and b/lenet."""
    root = tmp_path_factory.mktemp("lenets")
    runs = []
    for project in ("a", "b"):
        m = foveal.Model("lenet")
        m.train(data="digits", epochs=1, project=str(root / project), name="lenet", progress=False)
        runs.append(m.run_dir)
    return runs


def test_compare_every_task_by_its_metric_with_latency(tiny_runs, two_lenets, tmp_path, capsys):
    from foveal.cli import main

    runs = [tiny_runs["detect"], tiny_runs["segment"], *two_lenets]
    assert main(["compare", *map(str, runs), "--out", str(tmp_path / "compare.png")]) == 0
    out = capsys.readouterr().out
    with (tmp_path / "compare.csv").open() as f:
        rows = {r["name"]: r for r in csv.DictReader(f)}
    assert list(rows) == ["fcos", "lraspp", "a/lenet", "b/lenet"]  # named by folder, two lenet folders told apart
    assert float(rows["fcos"]["map50"]) >= 0 and rows["fcos"]["miou"] == "" and rows["fcos"]["accuracy"] == ""
    assert float(rows["lraspp"]["miou"]) >= 0 and rows["lraspp"]["map50"] == ""
    assert all(0 <= float(rows[n]["accuracy"]) <= 1 for n in ("a/lenet", "b/lenet"))
    assert all(float(r["latency_ms"]) > 0 and float(r["inference_images_per_s"]) > 0 for r in rows.values())
    assert "a/lenet" in out and "b/lenet" in out and "map50" in out and "miou" in out


def test_compare_never_overwrites_an_earlier_comparison(two_lenets, tmp_path):
    rows = compare_runs(two_lenets, speed=False)
    first = write_comparison(rows, tmp_path / "compare.png")
    before = [p.read_bytes() for p in first]
    second = write_comparison(rows[:1], tmp_path / "compare.png")
    assert [p.name for p in first] == ["compare.png", "compare.csv"]
    assert [p.name for p in second] == ["compare2.png", "compare2.csv"]
    assert [p.read_bytes() for p in first] == before
    (tmp_path / "compare3.csv").write_text("someone's table")  # a chart's name is free only with its table's
    assert write_comparison(rows, tmp_path / "compare.png")[0].name == "compare4.png"


def test_the_chart_shows_the_costs_beside_the_metric(two_lenets, tmp_path, monkeypatch):
    import foveal.viz.plots

    charted = []
    real = foveal.viz.plots.plot_compare
    monkeypatch.setattr(foveal.viz.plots, "plot_compare", lambda rows, path, metrics, **kw: charted.append(metrics)
                        or real(rows, path, metrics=metrics, **kw))
    write_comparison(compare_runs(two_lenets, speed=False), tmp_path / "compare.png")
    assert charted == [["accuracy", "train_time_s", "parameters", "macs"]]  # measured without speed: no latency


def test_the_same_run_twice_gets_two_names(two_lenets):
    assert [r["name"] for r in compare_runs([two_lenets[0]] * 2, speed=False)] == ["lenet", "lenet (2)"]
