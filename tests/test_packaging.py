"""What the package ships and declares: the licence, the type-hint marker and the changelog."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def built_wheel(tmp_path: Path) -> zipfile.ZipFile:
    """A wheel built from a copy of the project (the checkout itself is left without build folders)."""
    src = tmp_path / "project"
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "--disable-pip-version-check", "-w", str(tmp_path / "dist"), str(src)], check=True)
    return zipfile.ZipFile(next((tmp_path / "dist").glob("foveal-*.whl")))


def test_the_wheel_ships_the_licence_and_py_typed(tmp_path):
    wheel = built_wheel(tmp_path)
    names = wheel.namelist()
    assert "foveal/py.typed" in names
    licence = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
    assert "MIT License" in wheel.read(licence).decode() and "foveal authors" in wheel.read(licence).decode()
    metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in metadata


def test_the_changelog_has_an_unreleased_section_and_the_first_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[0] == "## [Unreleased]"
    assert any(h.startswith("## [0.1.0] - ") for h in headings)
    assert "keepachangelog.com" in text


def declared() -> dict:
    """pyproject.toml's runtime requirements and those of every extra (an extra naming foveal's own, as test names
    weights, adds nothing): name -> (the range as written, its SpecifierSet)."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    reqs = [r for r in reqs if Requirement(r).name != project["name"]]
    return {Requirement(r).name: (r[len(Requirement(r).name):], Requirement(r).specifier) for r in reqs}


def test_the_test_extra_installs_the_weights_openvino_serve_tensorboard_and_mlflow_extras():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "foveal[weights,openvino,serve,tensorboard,mlflow]" in extras["test"]


def pinned() -> dict[str, str]:
    """constraints.txt: name -> the tested version."""
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_dependencies_are_ranges_and_the_tested_set_pins_a_version_inside_each():
    ranges, pins = declared(), pinned()
    assert len(ranges) == 38
    for name, (_, spec) in ranges.items():
        assert not any(s.operator in ("==", "===") for s in spec), f"{name}: declare a range, not a pin ({spec})"
        assert any(s.operator == "<" for s in spec) and any(s.operator == ">=" for s in spec), f"{name}: {spec}"
        assert name in pins, f"constraints.txt does not pin {name}"
        assert spec.contains(pins[name]), f"{name}: the tested {pins[name]} is outside the declared {spec}"
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"


def test_ci_and_the_readme_install_with_the_constraints_and_the_readme_table_is_true():
    assert '-e ".[test]" -c constraints.txt' in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set up", 1)[1].split("## ", 1)[0]
    installs = [line for line in setup.splitlines() if line.startswith("pip install")]
    assert len(installs) == 2 and all("-c constraints.txt" in line for line in installs)
    table = readme.split("## Dependencies", 1)[1].split("## ", 1)[0]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    shown = {}
    for names, ranges, versions, _ in rows:
        for name, spec, version in zip(names.strip("| ").split(" (")[0].split(", "), ranges.split("; "),
                                       versions.split(", ")):
            shown[name] = (spec.replace(" ", ""), version)
    pins = pinned()
    assert shown == {name: (raw, pins[name]) for name, (raw, _) in declared().items()}
