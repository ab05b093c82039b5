"""Data: named data sets, path data (image folders, CSV), in-memory tensors and batched augmentation.

The names below are imported when first used, so that the catalog of named data sets (`list_datasets`) reads
without torch."""

from __future__ import annotations

__all__ = ["DataSplits", "ImageSet", "TensorLoader", "list_datasets", "load_data"]


def __getattr__(name: str):
    if name == "list_datasets":
        from foveal.data.catalog import list_datasets

        return list_datasets
    if name == "load_data":
        from foveal.data.resolve import load_data

        return load_data
    if name in ("DataSplits", "ImageSet", "TensorLoader"):
        from foveal.data import tensors

        return getattr(tensors, name)
    raise AttributeError(f"module 'foveal.data' has no attribute {name!r}")
