"""The `foveal models` table: names, tasks, sources and parameter counts, read from the catalog (models/catalog.py)
without torch; `python -m foveal.models.listing` measures the real models and rewrites the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from foveal.models import catalog

LISTING_SHAPES = {"classify": {"in_channels": 1, "img_size": (28, 28)}, "other": {"img_size": (320, 320)}}


def measure() -> dict[str, Any]:
    """What the catalog holds, from the real models: each registered model built at 10 classes (classifiers on
    1x28x28, the others at 320x320) and counted, torchvision's classifiers' counts from their weights' metadata, timm's
    names, and the versions they came from (imports torch, torchvision and timm; a minute on 2 cores)."""
    from importlib.metadata import version

    from foveal.models import external
    from foveal.models.registry import count_parameters, create_model, list_models

    registered = {}
    for spec in list_models(include_external=False):
        shape = LISTING_SHAPES["classify" if spec.task == "classify" else "other"]
        n = count_parameters(create_model(spec.name, num_classes=10, **shape))
        registered[spec.name] = (spec.task, spec.source, n, spec.description)
    return {
        "VERSIONS": {"torchvision": version("torchvision"), "timm": version("timm")},
        "REGISTERED": registered,
        "TORCHVISION": {name: external.torchvision_num_params(name) for name in external.torchvision_names()},
        "TIMM": tuple(external.timm_names()),
    }


def tables() -> dict[str, Any]:
    """The catalog's tables when they were made from the installed torchvision and timm, else the real ones."""
    if catalog.is_current():
        return {"VERSIONS": catalog.VERSIONS, "REGISTERED": catalog.REGISTERED, "TORCHVISION": catalog.TORCHVISION,
                "TIMM": catalog.TIMM}
    return measure()


def model_table(source: str | None = None, name_filter: str | None = None):
    from rich.table import Table

    table = Table(title="models (foveal at 10 classes on 1x28x28, detectors at 10 classes; torchvision classifiers at "
                        "1,000 ImageNet classes)")
    for col in ("name", "task", "source", "parameters", "description"):
        table.add_column(col, justify="right" if col == "parameters" else "left")
    known = tables()
    rows = [(name, task, src, n, text) for name, (task, src, n, text) in known["REGISTERED"].items()]
    rows += [(name, "classify", "torchvision", n, "") for name, n in known["TORCHVISION"].items()]
    show_timm = source == "timm" or bool(name_filter)
    if show_timm:
        rows += [(catalog.TIMM_PREFIX + name, "classify", "timm", None, "") for name in known["TIMM"]]
    else:
        table.caption = f"and {len(known['TIMM']):,} timm models: foveal models --source timm (or --filter NAME)"
    for name, task, src, n, text in rows:
        if (source is None or source == src) and (not name_filter or name_filter.lower() in name.lower()):
            table.add_row(name, task, src, f"{n:,}" if n else "-", text)
    return table


def write_catalog(path: Path = Path(catalog.__file__)) -> None:
    """Rewrite models/catalog.py's tables from the real models, keeping its text above the tables."""
    text = path.read_text()
    head = text[:text.index(catalog.TABLES_START) + len(catalog.TABLES_START)]
    real = measure()
    lines = [head.rstrip("\n"), f"VERSIONS = {real['VERSIONS']!r}", "", "# name: (task, source, parameters at the listing's shape, description)",
             "REGISTERED = {"]
    lines += [f"    {name!r}: {value!r}," for name, value in real["REGISTERED"].items()]
    lines += ["}", "", "# torchvision's classifiers: name: parameters at 1,000 ImageNet classes (None: no weights to read it from)",
              "TORCHVISION = {"]
    lines += [f"    {name!r}: {n!r}," for name, n in real["TORCHVISION"].items()]
    lines += ["}", "", "# timm's model names (each also as timm/<name>)", "TIMM = ("]
    lines += [f"    {name!r}," for name in real["TIMM"]]
    lines += [")", ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    write_catalog()
