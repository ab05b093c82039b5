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
