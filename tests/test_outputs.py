"""The CSV files foveal writes: names a spreadsheet would run as formulas are neutralised (CSV injection)."""

import csv

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
