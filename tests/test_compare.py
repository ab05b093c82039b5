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
