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
LEGACY_OPSET = 17  # the TorchScript-based exporter's (torchvision's detectors are tested with it up to 17)
INT8_OPS = ["Conv", "Gemm", "MatMul"]  # the layers quantised (less float_convs); the rest stays float


def to_onnx(network: nn.Module, example: torch.Tensor, path: Path, size_multiple: int | None = None) -> Path:
    """Export `network` (eval mode) called on a batch shaped like `example`, any batch size, and with
    `size_multiple`, any height and width that are multiples of it; written atomically. A network marked
    `legacy_export` (one image per call, any height and width) goes through the TorchScript-based exporter."""
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ImportError:
        raise FovealError("ONNX export needs onnx and onnxscript: pip install onnx onnxscript") from None
    network = network.eval()
    if getattr(network, "legacy_export", False):
        return _legacy(network, example, path)
    dims = {0: torch.export.Dim("batch", min=1, max=1024)}
    if size_multiple:
        dims[2] = size_multiple * torch.export.Dim("h", min=1, max=8192 // size_multiple)
        dims[3] = size_multiple * torch.export.Dim("w", min=1, max=8192 // size_multiple)
    tmp = path.with_name(f".{path.name}.export.tmp")
    try:
        with quiet():
            program = torch.onnx.export(network, (example,), dynamo=True, dynamic_shapes=(dims,),
                                        opset_version=OPSET, input_names=["images"], verbose=False)
            program.save(str(tmp))
    except Exception as err:  # the exporter's own errors: an operator or a Python branch it cannot trace
        tmp.unlink(missing_ok=True)
        text = " ".join(str(err).split())[:300]
        raise FovealError(f"torch.onnx.export could not export {type(network).__name__}: {text}") from None
    return replace_atomic(tmp, path)


def _legacy(network: nn.Module, example: torch.Tensor, path: Path) -> Path:
    """The TorchScript-based exporter, for the models torchvision exports through it (two-stage detectors): the
    batch of one, its height and width free."""
    tmp = path.with_name(f".{path.name}.export.tmp")
    try:
        with quiet(), torch.no_grad():
            torch.onnx.export(network, (example[:1],), str(tmp), dynamo=False, opset_version=LEGACY_OPSET,
                              input_names=["images"], dynamic_axes={"images": {2: "h", 3: "w"}})
    except Exception as err:
        tmp.unlink(missing_ok=True)
        text = " ".join(str(err).split())[:300]
        raise FovealError(f"torch.onnx.export could not export {type(network).__name__}: {text}") from None
    return replace_atomic(tmp, path)


def quantize_int8(source: Path, path: Path, batches: Iterable[torch.Tensor]) -> Path:
    """Static int8 (QDQ, weights per channel, activations uint8) of the ONNX file `source`, the activations'
    ranges calibrated on `batches` (normalised inputs of real images) at their 99.99th percentile; Conv, Gemm and
    MatMul only, less those `float_convs` names. The activations' histograms grow one image at a time: ONNX
    Runtime's percentile calibration would otherwise hold every activation of every image at once (a U-Net at 480 px
    on 256 images needed more than 24 GB; 16 at a time, 12 GB), and stack them, which fails where their shapes
    differ from image to image (a two-stage detector's, as many as its proposals)."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    items = [image for x in batches for image in x.split(1)]  # one image per collection

    class Reader(CalibrationDataReader):
        """The calibration batches, within the range ONNX Runtime sets for each of its collections."""

        def __init__(self) -> None:
            self.set_range(0, len(items))

        def __len__(self) -> int:
            return len(items)

        def set_range(self, start_index: int, end_index: int) -> None:
            self.it = iter(items[start_index:end_index])

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {"images": x.detach().float().cpu().numpy()}

    prepared = path.with_name(f".{path.name}.prep.tmp")
    tmp = path.with_name(f".{path.name}.quant.tmp")
    try:
        with quiet():
            quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
            quantize_static(str(prepared), str(tmp), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            op_types_to_quantize=INT8_OPS, nodes_to_exclude=float_convs(prepared),
                            calibrate_method=CalibrationMethod.Percentile,
                            extra_options={"CalibPercentile": 99.99, "CalibStridedMinMax": 1})  # (any method)
    except FovealError:
        raise
    except Exception as err:
        tmp.unlink(missing_ok=True)
        raise FovealError(f"int8 quantisation of {source.name} failed: {' '.join(str(err).split())[:300]}") from None
    finally:
        prepared.unlink(missing_ok=True)
    return replace_atomic(tmp, path)


def float_convs(path: Path) -> list[str]:
    """The convolutions int8 leaves in float: the first one (it reads the normalised pixels) and the depthwise ones
    (one filter per channel, each with its own range, under one activation scale). On efficientnet_lite0 fine-tuned
    on CIFAR-10, quantising them cost 11.5 points of accuracy; leaving them in float, 0.8 (docs/benchmarks.md)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    inputs = {i.name for i in graph.input}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    first = [n.name for n in convs if n.input and n.input[0] in inputs]
    depthwise = [n.name for n in convs if any(a.name == "group" and a.i > 1 for a in n.attribute)]
    return sorted(set(first + depthwise))


@contextlib.contextmanager
def quiet():
    """The exporter's and the quantiser's progress prints and warnings go to the debug log, not the user's screen."""
    out = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        warnings.simplefilter("ignore")
        yield
    if out.getvalue().strip():
        log.debug("%s", out.getvalue())
