"""Run folders: `<project>/<name>/`; a new run never overwrites an old one (name, name2, name3, ...)."""

from __future__ import annotations

from pathlib import Path

from foveal.config import check_run_folder


def run_name(cfg) -> str:
    """The run's folder name: --name, else the model's name as one folder (`timm/efficientnet_lite0` ->
    `efficientnet_lite0`)."""
    return cfg.name or cfg.model.rsplit("/", 1)[-1]


def new_run_dir(project: str | Path, name: str, exist_ok: bool = False) -> Path:
    check_run_folder(project, name)
    project = Path(project)
    project.mkdir(parents=True, exist_ok=True)
    candidate, i = project / name, 2
    while True:
        try:
            candidate.mkdir(exist_ok=exist_ok)
            return candidate
        except FileExistsError:
            candidate, i = project / f"{name}{i}", i + 1


def new_file(path: str | Path, also: tuple[str, ...] = ()) -> Path:
    """A file that overwrites nothing: `path` (dir/name.ext), else dir/name2.ext, name3, ..., the first for which
    neither the file nor its siblings with the suffixes in `also` (".csv" beside a chart) exist yet. It is created
    empty, so that a second caller at the same moment gets the next name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate, i = path, 2
    while True:
        if not any(candidate.with_suffix(s).exists() for s in also):
            try:
                candidate.open("x").close()
                return candidate
            except FileExistsError:
                pass
        candidate, i = path.with_name(f"{path.stem}{i}{path.suffix}"), i + 1
