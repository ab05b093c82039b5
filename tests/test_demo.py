from foveal.demo import run_demo


def test_demo_trains_compares_and_reports(tmp_path):
    out = run_demo(project=str(tmp_path), epochs=2, progress=False)
    report = (out / "report.md").read_text()
    for name in ("linear", "mlp", "tinyvgg", "lenet"):
        assert f"| {name} |" in report and (out / name / "best.pt").exists()
    assert (out / "compare.png").exists() and "![comparison](compare.png)" in report
