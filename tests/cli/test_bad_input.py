"""Bad input to the command line that must fail before anything is written: one line, exit 2."""

import pytest

from foveal.cli import main


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_a_learning_rate_that_is_not_finite_is_refused_before_a_run_folder_is_made(value, tmp_path, capsys):
    project = tmp_path / "runs"
    code = main(["-q", "train", "--model", "lenet", "--data", "digits", "--epochs", "1", f"--lr={value}",
                 "--project", str(project)])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "lr must be a positive finite number" in lines[0], err
    assert not project.exists() or not any(project.iterdir()), "no run folder is left behind"
