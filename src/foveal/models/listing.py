"""The `foveal models` table: names, sources and parameter counts."""

from __future__ import annotations

from foveal.models import external
from foveal.models.registry import count_parameters, create_model, list_models


def model_table(source: str | None = None, name_filter: str | None = None):
    from rich.table import Table

    table = Table(title="models (foveal at 10 classes on 1x28x28, detectors at 10 classes; torchvision classifiers at "
                        "1,000 ImageNet classes)")
    for col in ("name", "task", "source", "parameters", "description"):
        table.add_column(col, justify="right" if col == "parameters" else "left")
    show_timm = source == "timm" or bool(name_filter)
    for spec in list_models(include_external=False):
        if _keep(spec.name, spec.source, source, name_filter):
            shape = {"in_channels": 1, "img_size": (28, 28)} if spec.task == "classify" else {"img_size": (320, 320)}
            n = count_parameters(create_model(spec.name, num_classes=10, **shape))
            table.add_row(spec.name, spec.task, spec.source, f"{n:,}", spec.description)
    for name in external.torchvision_names():
        if _keep(name, "torchvision", source, name_filter):
            n = external.torchvision_num_params(name)
            table.add_row(name, "classify", "torchvision", f"{n:,}" if n else "-", "")
    timm_names = [external.TIMM_PREFIX + n for n in external.timm_names()]
    if show_timm:
        for name in timm_names:
            if _keep(name, "timm", source, name_filter):
                table.add_row(name, "classify", "timm", "-", "")
    else:
        table.caption = f"and {len(timm_names):,} timm models: foveal models --source timm (or --filter NAME)"
    return table


def _keep(name: str, src: str, source: str | None, name_filter: str | None) -> bool:
    return (source is None or source == src) and (not name_filter or name_filter.lower() in name.lower())
