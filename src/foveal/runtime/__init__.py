"""Exported models at prediction time: an ONNX file run by ONNX Runtime, or an OpenVINO IR run by OpenVINO's CPU
plugin, as a torch module that the predictors and the evaluation call like the network of a checkpoint.

An exported file keeps beside it its card file (`best.onnx` -> `best.card.json`): the model card, the training
config (so `val` finds the data the model was trained on) and what the export measured. The network inside takes
the normalised float batch the eager network takes and returns its raw outputs; everything before (decoding,
resizing, normalising) and after (softmax, temperature, box decoding, NMS) is foveal's own code, the same for both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from foveal.errors import FovealError
from foveal.models.card import ModelCard

FORMAT = "foveal-export"
VERSION = 1
SUFFIXES = {".onnx": "onnx", ".xml": "openvino"}


def is_exported(path: str | Path) -> bool:
    return Path(path).suffix.lower() in SUFFIXES


def card_path(path: str | Path) -> Path:
    """Where the card of an exported file lives: beside it, its stem + .card.json."""
    p = Path(path)
    return p.with_name(p.stem + ".card.json")


def read_card_file(path: str | Path) -> dict[str, Any]:
    """The card file of an exported model: {"format", "version", "card", "config", "export"}."""
    p, where = Path(path), card_path(path)
    if not p.is_file():
        raise FovealError(f"exported model not found: {p}")
    if not where.is_file():
        raise FovealError(f"{p} has no card file beside it (expected {where.name}, written by `foveal export`): "
                          "without it the classes and preprocessing are unknown")
    try:
        info = json.loads(where.read_text())
    except (OSError, ValueError) as err:
        raise FovealError(f"cannot read {where}: {err}") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT or "card" not in info:
        raise FovealError(f"{where} is not a foveal card file (expected one written by `foveal export`)")
    if info.get("version", 0) > VERSION:
        raise FovealError(f"{where} was written by a newer foveal (card version {info['version']} > {VERSION})")
    return info


def write_card_file(path: str | Path, card: ModelCard, config: dict[str, Any], export: dict[str, Any]) -> Path:
    from foveal.fileio import write_text_atomic

    where = card_path(path)
    write_text_atomic(where, json.dumps({"format": FORMAT, "version": VERSION, "card": card.to_dict(), "config": config,
                                         "export": export}, indent=2))
    return where


def load_exported(path: str | Path, threads: int | None = None) -> tuple[nn.Module, ModelCard, dict[str, Any]]:
    """The runtime module of an exported file, its card and its card file's contents; the module is checked
    against the card (input shape, outputs) so that a file of another model ends in one line here."""
    info = read_card_file(path)
    card = ModelCard.from_dict(info["card"])
    kind = SUFFIXES[Path(path).suffix.lower()]
    module = (OnnxModule if kind == "onnx" else OpenVinoModule)(path, threads)
    module.check(card)
    return module, card, info


def default_threads() -> int:
    return max(1, torch.get_num_threads())


class ExportedModule(nn.Module):
    """A network in another runtime, called with a float (N, C, H, W) tensor; returns a tensor, or a tuple of them
    when the network has several outputs. It holds no parameters: `.to()`, `.eval()` and autocast leave it as is."""

    format = ""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.input_shape: list = []  # (N, C, H, W), None or a name where the dimension is free
        self.n_outputs = 1

    @property
    def one_image(self) -> bool:
        """Whether the file takes one image per call (its batch dimension fixed at 1: a two-stage detector)."""
        return self.input_shape[:1] == [1]

    def one_input(self, n: int) -> None:
        if n != 1:
            raise FovealError(f"{self.path} takes {n} inputs; a foveal model takes one image batch")

    def check(self, card: ModelCard) -> None:
        want = [card.in_channels, *card.input_size]
        have = self.input_shape[1:]
        if len(have) != 3 or any(isinstance(h, int) and h != w for h, w in zip(have, want)):
            shown = "x".join(str(d) if isinstance(d, int) else "?" for d in self.input_shape)
            raise FovealError(f"{self.path} takes input {shown}; its card ({card_path(self.path).name}) says "
                              f"N x {want[0]} x {want[1]} x {want[2]}: the file and the card are of different models")

    def run(self, x) -> list:
        raise NotImplementedError

    def forward(self, x: torch.Tensor):
        import numpy as np

        device = x.device
        out = self.run(np.ascontiguousarray(x.detach().float().cpu().numpy()))
        tensors = tuple(torch.from_numpy(np.asarray(o)).to(device) for o in out)
        return tensors[0] if len(tensors) == 1 else tensors


class OnnxModule(ExportedModule):
    format = "onnx"

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        super().__init__(path)
        try:
            import onnxruntime as ort
        except ImportError:
            raise FovealError("an ONNX model runs in onnxruntime: pip install onnxruntime") from None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or default_threads()
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as err:  # a truncated or foreign file: onnxruntime's own exception types
            raise FovealError(f"cannot load {path} in onnxruntime: {_first_line(err)}") from None
        inputs = self.session.get_inputs()
        self.one_input(len(inputs))
        self.input_name = inputs[0].name
        self.input_shape = list(inputs[0].shape)
        self.n_outputs = len(self.session.get_outputs())

    def run(self, x) -> list:
        return self.session.run(None, {self.input_name: x})


class OpenVinoModule(ExportedModule):
    format = "openvino"

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        super().__init__(path)
        try:
            import openvino as ov
        except ImportError:
            raise FovealError("an OpenVINO model runs in openvino: pip install 'foveal[openvino]'") from None
        core = ov.Core()
        try:
            model = core.read_model(str(path))
            # f32 unless the file itself is quantised: OpenVINO would run an fp32 model in bf16 on a CPU that has it
            config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads or default_threads()}
            self.compiled = core.compile_model(model, "CPU", config)
        except Exception as err:  # a truncated .xml, a missing .bin
            raise FovealError(f"cannot load {path} in OpenVINO: {_first_line(err)}") from None
        self.one_input(len(self.compiled.inputs))
        shape = self.compiled.inputs[0].get_partial_shape()
        self.input_shape = [d.get_length() if d.is_static else None for d in shape]
        self.n_outputs = len(self.compiled.outputs)
        self.request = self.compiled.create_infer_request()

    def run(self, x) -> list:
        result = self.request.infer({0: x})
        return [result[o] for o in self.compiled.outputs]


def _first_line(err: Exception) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text[:300]

