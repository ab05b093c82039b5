"""Data: named data sets, path data (image folders, CSV), in-memory tensors and batched augmentation."""

from foveal.data.resolve import load_data
from foveal.data.named import list_datasets
from foveal.data.tensors import DataSplits, ImageSet, TensorLoader

__all__ = ["DataSplits", "ImageSet", "TensorLoader", "list_datasets", "load_data"]
