"""A network to an ONNX file through the dynamo exporter (torch.export), its batch dimension free; and static int8
quantisation of that file by ONNX Runtime, calibrated on real images."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn as nn

from foveal.errors import FovealError
from foveal.fileio import replace_atomic

log = logging.getLogger("foveal")

OPSET = 18
INT8_OPS = ["Conv", "Gemm", "MatMul"]  # the layers whose weights are quantised; the rest stays float


def to_onnx(network: nn.Module, example: torch.Tensor, path: Path) -> Path:
    """Export `network` (eval mode) called on a batch shaped like `example`, any batch size; written atomically."""
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ImportError:
        raise FovealError("ONNX export needs onnx and onnxscript: pip install onnx onnxscript") from None
    network = network.eval()
    batch = torch.export.Dim("batch", min=1, max=1024)
    tmp = path.with_name(f".{path.name}.export.tmp")
    try:
        with _quiet():
            program = torch.onnx.export(network, (example,), dynamo=True, dynamic_shapes=({0: batch},),
                                        opset_version=OPSET, input_names=["images"], verbose=False)
            program.save(str(tmp))
    except Exception as err:  # the exporter's own errors: an operator or a Python branch it cannot trace
        tmp.unlink(missing_ok=True)
        text = " ".join(str(err).split())[:300]
        raise FovealError(f"torch.onnx.export could not export {type(network).__name__}: {text}") from None
    return replace_atomic(tmp, path)


def quantize_int8(source: Path, path: Path, batches: Iterable[torch.Tensor]) -> Path:
    """Static int8 (QDQ, weights per channel, activations uint8) of the ONNX file `source`, the activations'
    ranges calibrated on `batches` (normalised inputs of real images); Conv, Gemm and MatMul only."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(batches)

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {"images": x.detach().float().cpu().numpy()}

    prepared = path.with_name(f".{path.name}.prep.tmp")
    tmp = path.with_name(f".{path.name}.quant.tmp")
    try:
        with _quiet():
            quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
            quantize_static(str(prepared), str(tmp), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            op_types_to_quantize=INT8_OPS, calibrate_method=CalibrationMethod.MinMax)
    except FovealError:
        raise
    except Exception as err:
        tmp.unlink(missing_ok=True)
        raise FovealError(f"int8 quantisation of {source.name} failed: {' '.join(str(err).split())[:300]}") from None
    finally:
        prepared.unlink(missing_ok=True)
    return replace_atomic(tmp, path)


@contextlib.contextmanager
def _quiet():
    """The exporter's and the quantiser's progress prints and warnings go to the debug log, not the user's screen."""
    out = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        warnings.simplefilter("ignore")
        yield
    if out.getvalue().strip():
        log.debug("%s", out.getvalue())
