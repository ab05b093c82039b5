import pytest

from foveal.bench.machine import Usage, describe, hardware, measured
from foveal.cli import main


def test_hardware_names_cpu_versions_and_bf16_choice():
    hw = hardware()
    assert hw["cores"] >= 1 and hw["torch"] and isinstance(hw["bf16_autocast"], bool)
    line = describe(hw)
    assert hw["cpu"] in line and "autocast" in line and hw["torch"] in line and f"ISA: {hw['isa']}" in line


def test_measured_runs_once_when_checks_are_off_and_records_usage():
    calls = []
    r = measured(lambda: calls.append(1) or {"runner": "plain", "model": "m", "seed": 0, "time_s": 0.0}, threshold=1)
    assert calls == [1] and r["attempts"] == 1 and not r["disturbed"]
    assert {"cpu_s", "others_cpu_share", "steal_fraction"} <= set(r)
    assert 0 <= Usage().start().stop()["others_cpu_share"] <= 1


@pytest.mark.parametrize("args, message", [
    (["--recipe", "quick"], "unknown recipe 'quick'"),
    (["--seeds", "0,one"], "--seeds expects comma-separated integers"),
    (["--seeds", ","], "--seeds expects at least one seed"),
])
def test_bench_train_refuses_bad_options_in_one_line(capsys, args, message):
    assert main(["bench", "train", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
