"""`foveal export`: a checkpoint to a file that runs outside foveal's Python process (ONNX for ONNX Runtime, an
OpenVINO IR for OpenVINO's CPU plugin), in fp32 or static int8, with its card file beside it and the parity gates
measured, printed and stored in that card file. An export whose gates fail leaves no file and ends in one line.

It knows no task: `task_of` gives the Task of a card (Model passes tasks.resolve_task), which says what network to
export (`export_network`), what that network takes (`export_inputs`) and how far the metric may move
(`export_gates`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from foveal.config import TrainConfig
from foveal.engine.checkpoint import load_model, resolve_checkpoint
from foveal.errors import FovealError
from foveal.export.gates import Gate, tensor_gates
from foveal.models.card import ModelCard
from foveal.runtime import card_path, is_exported, load_exported, write_card_file

log = logging.getLogger("foveal")

FORMATS = ("onnx", "openvino")
CALIBRATION_IMAGES = 256  # int8: training images whose activations set the quantisation ranges
GATE_BATCH = 8  # the tensor gate's second batch size (its first is 1)


@dataclass
class Exported:
    """What an export produced: the file, its card file, and the gates measured on it."""

    path: Path
    card_file: Path
    format: str
    int8: bool
    gates: list[Gate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        head = f"exported {self.path} ({self.format}, {'int8' if self.int8 else 'fp32'}, {_size(self.path)}) in {self.seconds:.1f}s"
        return [head, *(f"  {g.line()}" for g in self.gates), *(f"  note: {n}" for n in self.notes),
                f"card: {self.card_file}"]


def output_path(checkpoint: Path, format: str, int8: bool) -> Path:
    """best.pt -> best.onnx, best_int8.onnx, best_openvino.xml, best_int8_openvino.xml (beside the checkpoint)."""
    stem = checkpoint.stem + ("_int8" if int8 else "")
    return checkpoint.with_name(stem + (".onnx" if format == "onnx" else "_openvino.xml"))


def export_checkpoint(checkpoint: str | Path, task_of: Callable[[ModelCard], Any], *, format: str = "onnx",
                      int8: bool = False, data: str | Path | None = None, out: str | Path | None = None,
                      check: bool = True, calibration_images: int = CALIBRATION_IMAGES) -> Exported:
    """Export a checkpoint (a .pt or a run folder) to `format`, fp32 or `int8` (calibrated on the training images of
    `data`, by default the data the model was trained on); with `check`, the parity gates on the validation split."""
    start = time.perf_counter()
    if format not in FORMATS:
        raise FovealError(f"--format must be one of {', '.join(FORMATS)}; got {format!r}")
    source = resolve_checkpoint(checkpoint)
    if is_exported(source):
        raise FovealError(f"{source} is already exported; export from the checkpoint it came from (a .pt file)")
    model, card, ckpt = load_model(source)
    task_type = task_of(card)
    if not getattr(task_type, "exports", False):
        raise FovealError(f"exporting {task_type.name} models is not supported yet; classifiers, segmenters "
                          "and detectors export")
    cfg = TrainConfig.from_dict(ckpt["config"])
    if data is not None:
        cfg = cfg.replace(data=str(data), data_root=None)
    target = Path(out) if out is not None else output_path(source, format, int8)
    suffix = ".onnx" if format == "onnx" else ".xml"
    if target.suffix.lower() != suffix:
        raise FovealError(f"a {format} file is named *{suffix}; got {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    task = task_type(cfg, card, torch.device("cpu"), False)
    network = task_type.export_network(model).eval()
    splits, notes = _data(task_type, cfg, needed=int8) if check or int8 else (None, [])
    m = task_type.export_size_multiple or 1
    size = [-(-side // m) * m for side in card.input_size]
    # a network of one image per call is traced (the TorchScript exporter): its example must take the paths real
    # images take, so it is noise, not zeros
    example = (torch.rand(1, card.in_channels, *size, generator=torch.Generator().manual_seed(0))
               if getattr(network, "one_image", False) else torch.zeros(2, card.in_channels, *size))
    made: list[Path] = []
    try:
        onnx_file = target if format == "onnx" and not int8 else target.with_name(f".{target.stem}.fp32.tmp.onnx")
        from foveal.export.onnx import quantize_int8, to_onnx

        made.append(to_onnx(network, example, onnx_file, task_type.export_size_multiple))
        if int8 and format == "onnx":
            made.append(quantize_int8(onnx_file, target, task.export_inputs(splits.train, calibration_images, 16)))
        if format == "openvino":
            from foveal.export.openvino import to_openvino

            batches = task.export_inputs(splits.train, calibration_images, 16) if int8 else None
            made += [to_openvino(onnx_file, target, batches), target.with_suffix(".bin")]
        info = {"format": format, "precision": "int8" if int8 else "fp32", "source": str(source),
                "torch": torch.__version__, "opset": _opset(), "calibration_images": calibration_images if int8 else None,
                "quantiser": (("nncf" if format == "openvino" else "onnxruntime") if int8 else None)}
        card_file = write_card_file(target, card, ckpt["config"], info)
        made.append(card_file)
        result = Exported(target, card_file, format, int8, notes=notes)
        if check:
            exported, _, _ = load_exported(target)
            result.gates = _gates(task_type, task, model, network, exported, splits, int8)
            info["gates"] = [g.to_dict() for g in result.gates]
            info["notes"] = notes
            write_card_file(target, card, ckpt["config"], info)
        failed = [g for g in result.gates if not g.passed]
        if failed:
            raise FovealError(f"export of {source} failed its parity gate ({'; '.join(g.line() for g in failed)}); "
                              f"no file was kept")
    except BaseException:
        for p in made:
            if p != source:
                p.unlink(missing_ok=True)
        raise
    finally:
        for p in target.parent.glob(f".{target.stem}.*.tmp.*"):
            p.unlink(missing_ok=True)
    result.seconds = time.perf_counter() - start
    return result


def _data(task_type, cfg: TrainConfig, needed: bool):
    """The data set the gates and the int8 calibration use, or (None, [why not]) where it cannot be loaded and is
    not needed (fp32: the gates then run on the tensor check alone)."""
    try:
        return task_type.load_data(cfg), []
    except FovealError as err:
        if needed:
            raise FovealError(f"int8 calibrates on real images, and the data could not be loaded: {err} "
                              "(give --data, the data set the model was trained on)") from None
        return None, [f"no metric gate: the data could not be loaded ({err}); give --data to check the metric"]


def _gates(task_type, task, model, network, exported, splits, int8: bool) -> list[Gate]:
    """Tensor gates (`network` against `exported`) at batch 1 and GATE_BATCH on validation images (random inputs
    without data), then the task's metric gates (the eager `model` against `exported`) on the whole validation
    split."""
    card = task.card
    if splits is None:
        g = torch.Generator().manual_seed(1)  # normalised inputs are about zero-mean, unit-variance
        inputs = torch.randn(GATE_BATCH + 1, card.in_channels, *card.input_size, generator=g)
    else:
        val = task_type.eval_split(splits, card)
        inputs = torch.cat(list(task.export_inputs(val, GATE_BATCH + 1, GATE_BATCH + 1)))
    batches = {"batch 1": inputs[:1], f"batch {len(inputs) - 1}": inputs[1:]}
    gates = tensor_gates(network, exported, batches, int8)
    if splits is not None:
        val = task_type.eval_split(splits, card)
        want = task.evaluate(model, task.val_loader(val))
        got = task.evaluate(exported, task.val_loader(val))
        gates += task.export_gates(want, got, int8)
    return gates


def _opset() -> int:
    from foveal.export.onnx import OPSET

    return OPSET


def _size(path: Path) -> str:
    size = path.stat().st_size + (path.with_suffix(".bin").stat().st_size if path.suffix == ".xml" else 0)
    return f"{size / 1e6:.1f} MB"


__all__ = ["FORMATS", "Exported", "export_checkpoint", "output_path", "card_path"]
