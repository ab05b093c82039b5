"""Transfer learning: start from pretrained or local weights, put a new head on, and choose what trains.

- `head`: the backbone is frozen and runs once over the data (its features kept on disk); only the head trains.
- `full`: every layer trains, the backbone at `backbone_lr` times the head's learning rate.
- `gradual`: the backbone's layer groups are unfrozen from the top down, all of them by about the middle of the run
  (ULMFiT's gradual unfreezing), with the same lower backbone learning rate.

Before `full` or `gradual` moves a layer, the new head is fitted for `head_epochs` on the frozen backbone's cached
features (fastai's `fine_tune` freezes for an epoch first; Kumar et al. 2022, "LP-FT"), so the first steps do not
send a random head's gradients into the pretrained layers. With `head_epochs=0`, gradual trains the head alone in
its first epoch instead.
"""

from __future__ import annotations

import logging
import math
import time

import torch
import torch.nn as nn

from foveal.config import TrainConfig
from foveal.data.tensors import DataSplits
from foveal.errors import FovealError
from foveal.models.card import ModelCard
from foveal.models.head import backbone_groups, backbone_parameters, find_head, head, replace_head, without_head

log = logging.getLogger("foveal")


def uses_weights(cfg: TrainConfig) -> bool:
    return bool(cfg.pretrained or cfg.weights)


def finetune_mode(cfg: TrainConfig) -> str | None:
    """head, full or gradual for a classifier started from weights; None otherwise (detectors train whole)."""
    return (cfg.finetune or "full") if uses_weights(cfg) and cfg.task == "classify" else None


def transfer_card(cfg: TrainConfig, data: DataSplits) -> ModelCard:
    """The card of a fine-tuned model: the data's classes and channels with the pretrained weights' input size,
    resize/crop, mean/std and interpolation."""
    from foveal.models.pretrained import pretrained_card

    base = pretrained_card(cfg.model)
    if base is None:
        raise FovealError(f"model {cfg.model!r} has no pretrained card; --pretrained and --weights work with torchvision "
                          f"and timm models")
    ch = data.train.channels
    mean, std = (base.mean, base.std) if ch == 3 else ((sum(base.mean) / 3,) * ch, (sum(base.std) / 3,) * ch)
    size, resize = _sizes(cfg, base)
    return ModelCard(cfg.task, cfg.model, data.classes, ch, size, mean, std, base.interpolation, resize_size=resize,
                     augmented=True)  # the train view always flips


def _sizes(cfg: TrainConfig, base: ModelCard) -> tuple[tuple[int, int], int | None]:
    """(input size, resize size): the pretrained card's, or both scaled so that the input is --img-size."""
    if not cfg.img_size or base.resize_size is None:
        return ((cfg.img_size, cfg.img_size) if cfg.img_size else base.input_size), base.resize_size
    return (cfg.img_size, cfg.img_size), int(round(cfg.img_size * base.resize_size / base.input_size[0]))


def data_sizes(cfg: TrainConfig) -> dict:
    """How load_data should size the images of this run. Trained from scratch: the run's img_size. Transfer
    learning: photos of one size no larger than the card's resize size keep it (small photos are not upsampled in
    memory); others are kept as their centre square at the resize size, in the card's interpolation, so that the
    eval view of a stored photo is the card's preprocessing of its file (views.PhotoStore)."""
    if not uses_weights(cfg):
        return {"img_size": cfg.img_size}
    from foveal.models.pretrained import pretrained_card

    base = pretrained_card(cfg.model)
    if base is None or base.resize_size is None:
        return {"img_size": cfg.img_size}
    from foveal.data.views import PhotoStore

    size, resize = _sizes(cfg, base)
    return {"img_size": None, "photos": PhotoStore(resize, size, base.interpolation)}


def initial_model(cfg: TrainConfig, card: ModelCard) -> nn.Module:
    """The model a run starts from: pretrained weights with a new head, local weights, or a fresh initialisation."""
    if cfg.pretrained:
        from foveal.models.external import adapt_first_conv
        from foveal.models.pretrained import load_pretrained

        model, _ = load_pretrained(cfg.model)
        if card.in_channels != 3:
            adapt_first_conv(model, card.in_channels)
        if head(model).out_features != card.num_classes:
            replace_head(model, card.num_classes)
        model.train()
    else:
        model = card.build()
    if cfg.weights:
        from foveal.models.pretrained import load_weights_file

        kept = load_weights_file(model, cfg.weights)
        if kept:
            log.info("weights %s: %d tensor(s) left as initialised (a head for another class count): %s",
                     cfg.weights, len(kept), ", ".join(kept[:4]))
    if finetune_mode(cfg) is not None:
        find_head(model)  # a model without a Linear head cannot be fine-tuned: say so before training starts
    return model


def param_groups(cfg: TrainConfig, model: nn.Module) -> list[dict]:
    """The head at lr, the backbone at lr * backbone_lr (full, gradual) or left out (head)."""
    mode = finetune_mode(cfg)
    if mode is None:
        return [{"params": [p for p in model.parameters() if p.requires_grad]}]
    head_params = list(head(model).parameters())
    if mode == "head":
        return [{"params": head_params}]
    return [{"params": backbone_parameters(model), "lr": cfg.lr * cfg.backbone_lr}, {"params": head_params}]


def train_mode(cfg: TrainConfig, model: nn.Module) -> None:
    """model.train(), except that a fine-tuned backbone's batch norm layers keep normalising with their pretrained
    running statistics (their scale and shift still train). Re-estimated on another kind of photo they no longer
    match the features the pretrained layers expect, and a full fine-tune ends below a head on the frozen backbone
    (docs/history.md, Transfer learning on real photos); Keras's EfficientNet fine-tuning guide freezes them for the
    same reason."""
    model.train()
    if finetune_mode(cfg) in ("full", "gradual"):
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()


def set_trainable(cfg: TrainConfig, model: nn.Module, epoch: int) -> None:
    """Freeze and unfreeze for this epoch (a pure function of the epoch, so a resumed run matches)."""
    mode = finetune_mode(cfg)
    if mode is None or mode == "full":
        return
    for p in backbone_parameters(model):
        p.requires_grad_(False)
    head_alone = 0 if cfg.head_epochs else 1  # epochs of the head alone before unfreezing, if it was not fitted first
    if mode == "gradual" and epoch > head_alone:
        groups = backbone_groups(model)
        step = math.ceil(len(groups) / max(1, cfg.epochs // 2))
        n = min(len(groups), (epoch - head_alone) * step)
        for g in groups[len(groups) - n:]:
            for p in g:
                p.requires_grad_(True)
        log.info("epoch %d: training the head and the top %d of %d backbone layer groups", epoch, n, len(groups))


@torch.inference_mode()
def extract_features(model: nn.Module, loader, normalize) -> torch.Tensor:
    """The backbone's output (the head's input) for every image of a loader, in eval mode and fp32."""
    was_training = model.training
    model.eval()
    try:
        with without_head(model) as backbone:
            return torch.cat([backbone(normalize(x)).float().cpu() for x, _ in loader])
    finally:
        model.train(was_training)


def cached_features(model: nn.Module, images, loader, normalize, card: ModelCard) -> tuple[torch.Tensor, float]:
    """extract_features, kept on disk under $FOVEAL_CACHE/features keyed by the images, the backbone's weights and
    the preprocessing, so a second head run on the same photos skips the backbone. Also returns the seconds spent."""
    from foveal.data.cache import features_root, tensors_key
    from foveal.fileio import save_atomic

    start = time.perf_counter()
    with without_head(model) as backbone:
        weights = list(backbone.state_dict().values())
    key = tensors_key([images, *weights], {"card": card.to_dict() | {"classes": None}, "torch": torch.__version__,
                                           "channels_last": normalize.channels_last})
    file = features_root() / f"{card.model.replace('/', '_')}-{key}.pt"
    if file.is_file():
        try:
            feats = torch.load(file, weights_only=True)
            log.info("backbone features loaded from cache %s", file)
            return feats, time.perf_counter() - start
        except Exception as exc:  # a truncated file: compute again
            log.warning("ignoring unreadable feature cache %s: %s", file, exc)
    feats = extract_features(model, loader, normalize)
    try:
        save_atomic(feats, file)
    except (OSError, RuntimeError) as exc:
        log.warning("could not write the feature cache %s: %s", file, exc)
    return feats, time.perf_counter() - start


def fit_head(cfg: TrainConfig, model: nn.Module, loader, criterion: nn.Module) -> None:
    """Train the model's head alone on a loader of backbone features for cfg.head_epochs, with the run's optimizer,
    learning rate and schedule (the recipe of --finetune head)."""
    from foveal.engine.optim import lr_factor, make_optimizer

    head_cfg = cfg.replace(finetune="head", epochs=cfg.head_epochs)
    opt = make_optimizer(head_cfg, model, param_groups(head_cfg, model))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(head_cfg, len(loader)))
    linear = head(model)
    for epoch in range(1, cfg.head_epochs + 1):
        for x, y in loader.epoch(epoch):
            loss = criterion(linear(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
