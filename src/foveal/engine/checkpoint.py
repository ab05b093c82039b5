"""Checkpoint I/O: written atomically (temp file + rename), read with torch.load(weights_only=True).

A checkpoint is a dict of tensors and plain values: {"format", "version", "card", "config", "state_dict", "epoch",
"optimizer", "scheduler", "rng", "history", "best_fitness", "best_epoch", "lookahead"}; nothing in it is code.
"""

from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from foveal.errors import FovealError
from foveal.fileio import save_atomic
from foveal.models.card import ModelCard
from foveal.runtime import is_exported, load_exported, read_card_file

FORMAT = "foveal-checkpoint"
VERSION = 1


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    return save_atomic({"format": FORMAT, "version": VERSION, **payload}, path)


RUN_CHECKPOINTS = ("best.pt", "last.pt")


def is_checkpoint(path: str | Path) -> bool:
    """Whether `path` is a checkpoint file or a run folder holding one (what resolve_checkpoint accepts)."""
    p = Path(path)
    return (p.is_file() and p.suffix in (".pt", ".pth")) or (p.is_dir() and any((p / n).is_file() for n in RUN_CHECKPOINTS))


def resolve_checkpoint(path: str | Path, prefer: str = "best.pt") -> Path:
    """A checkpoint file, or a run folder (its best.pt, else last.pt)."""
    p = Path(path)
    if p.is_dir():
        for name in (prefer, *RUN_CHECKPOINTS):
            if (p / name).is_file():
                return p / name
        raise FovealError(f"no checkpoint (best.pt or last.pt) in run folder {p}")
    if not p.is_file():
        raise FovealError(f"checkpoint not found: {p}")
    return p


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint's contents; for an exported model (.onnx, OpenVINO's .xml), its card file's: the card and the
    training config, without weights."""
    p = resolve_checkpoint(path)
    if is_exported(p):
        return read_card_file(p)
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols say nothing to a user
            warnings.simplefilter("ignore", UserWarning)
            ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated file, or a pickle holding code
        raise FovealError(f"cannot read checkpoint {p}: {_load_failure(err)}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise FovealError(f"{p} is not a foveal checkpoint (expected a file written by `foveal train`)")
    if ckpt.get("version", 0) > VERSION:
        raise FovealError(f"{p} was written by a newer foveal (checkpoint version {ckpt['version']} > {VERSION})")
    return ckpt


def _load_failure(err: Exception) -> str:
    """Why torch.load refused a file, in one line. A pickle holding objects other than tensors is named as such,
    without torch's advice to load it with weights_only=False: that would run the code it may hold."""
    text = " ".join(str(err).split())
    if isinstance(err, pickle.UnpicklingError) and "weights only load failed" in text.lower():
        found = re.search(r"WeightsUnpickler error: (.*?)(?: Check the documentation|$)", text)
        detail = f" ({found.group(1).strip()})" if found and found.group(1).strip() else ""
        return (f"it holds Python objects, not only tensors{detail}; foveal loads weights only and never runs code "
                "from a checkpoint")
    return str(err).strip().splitlines()[0] if text else type(err).__name__


def replace_card(path: str | Path, card: ModelCard) -> Path:
    """Rewrite a checkpoint with another card for the same weights (a temperature fitted after training),
    atomically."""
    p = resolve_checkpoint(path)
    ckpt = load_checkpoint(p)
    ckpt["card"] = card.to_dict()
    return save_checkpoint(p, ckpt)


def load_model(path: str | Path) -> tuple[torch.nn.Module, ModelCard, dict[str, Any]]:
    """The model (eval mode, on the CPU), its card and the whole checkpoint; for an exported file, its runtime
    module, card and card file."""
    if is_exported(path):
        return load_exported(resolve_checkpoint(path))
    ckpt = load_checkpoint(path)
    card = ModelCard.from_dict(ckpt["card"])
    model = card.build()
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), card, ckpt
