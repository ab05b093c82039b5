"""The CSV files foveal writes: names a spreadsheet would run as formulas are neutralised (CSV injection), and
probabilities are written whole."""

import csv

import pytest
from PIL import Image

from foveal.cli import main
from foveal.outputs import cell

HOSTILE = ["=HYPERLINK(1)", "+2+3", "-cmd", "@SUM(A1)"]


def test_cell_quotes_formulas_and_keeps_numbers_and_plain_names():
    assert [cell(t) for t in HOSTILE] == ["'=HYPERLINK(1)", "'+2+3", "'-cmd", "'@SUM(A1)"]
    assert [cell(t) for t in ("-3.5", "+7", "cat", "a=b", "")] == ["-3.5", "+7", "cat", "a=b", ""]


def test_class_names_that_start_a_formula_are_neutralised_in_every_csv(tmp_path, capsys):
    data = tmp_path / "data"
    for k, name in enumerate(HOSTILE):
        (data / name).mkdir(parents=True)
        for i in range(5):
            Image.new("L", (12, 12), 40 + 50 * k + i).save(data / name / f"{i}.png")
    project = tmp_path / "runs"
    assert main(["-q", "train", "--model", "linear", "--data", str(data), "--epochs", "1", "--project", str(project),
                 "--name", "run"]) == 0
    confusion = list(csv.reader((project / "run" / "confusion_matrix.csv").open()))
    names = sorted(HOSTILE)
    assert confusion[0][1:] == ["'" + n for n in names] and [r[0] for r in confusion[1:]] == ["'" + n for n in names]
    out = tmp_path / "submission.csv"
    assert main(["-q", "predict", "--model", str(project / "run"), str(data / HOSTILE[0]), "--format", "csv",
                 "--out", str(out)]) == 0
    rows = list(csv.reader(out.open()))
    assert rows[1:] and all(r[1].startswith("'") and r[1][1:] in HOSTILE for r in rows[1:])
    assert main(["-q", "predict", "--model", str(project / "run"), str(data / HOSTILE[0]), "--format", "csv",
                 "--proba", "--out", str(out)]) == 0
    assert next(csv.reader(out.open()))[1:] == ["'" + n for n in names]
    capsys.readouterr()


def test_probability_cells_sum_to_one_at_full_precision():
    import numpy as np

    from foveal.outputs import probability_cells

    probs = np.array([0.1234567, 0.3456789, 0.5308642, 2.5e-9], dtype=np.float32)  # float32: sums to 1 only roughly
    cells = probability_cells(probs)
    back = np.array([float(c) for c in cells])
    assert abs(back.sum() - 1) <= 1e-15 and [repr(v) for v in back.tolist()] == cells
    assert np.allclose(back, probs / probs.astype(np.float64).sum(), rtol=1e-15, atol=0)
    assert cells[3] != "0.000000" and float(cells[3]) == pytest.approx(2.5e-9, rel=1e-6)
