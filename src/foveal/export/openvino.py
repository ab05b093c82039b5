"""An ONNX file to OpenVINO's IR (.xml + .bin), with fp32 weights kept fp32; or to an int8 IR, quantised by NNCF
(OpenVINO's own post-training quantisation) with the activations' ranges calibrated on real images."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import torch

from foveal.errors import FovealError
from foveal.fileio import replace_atomic


def to_openvino(onnx_file: Path, path: Path, calibration: Iterable[torch.Tensor] | None = None) -> Path:
    """Convert `onnx_file` to `path` (.xml) and its .bin beside, each renamed into place when complete; with
    `calibration` (batches of what the network takes), quantised to int8 by NNCF on them."""
    try:
        import openvino as ov
    except ImportError:
        raise FovealError("OpenVINO export needs openvino: pip install 'foveal[openvino]'") from None
    tmp = path.with_name(f".{path.stem}.convert.tmp.xml")
    try:
        model = ov.convert_model(str(onnx_file))
        if calibration is not None:
            model = quantize_nncf(model, calibration)
        ov.save_model(model, str(tmp), compress_to_fp16=False)  # its default halves every weight
    except FovealError:
        raise
    except Exception as err:
        tmp.unlink(missing_ok=True)
        tmp.with_suffix(".bin").unlink(missing_ok=True)
        raise FovealError(f"OpenVINO could not convert {onnx_file.name}: {' '.join(str(err).split())[:300]}") from None
    replace_atomic(tmp.with_suffix(".bin"), path.with_suffix(".bin"))
    return replace_atomic(tmp, path)


def quantize_nncf(model, calibration: Iterable[torch.Tensor]):
    """NNCF's post-training int8 of an OpenVINO model (weights symmetric per channel, activations asymmetric: its
    MIXED preset; fast bias correction), calibrated on every image of `calibration`; a model of one image per call
    (its batch fixed at 1) gets them one by one. On efficientnet_lite0 fine-tuned on CIFAR-10, NNCF's default
    symmetric activations cost 1.5 points of accuracy, asymmetric ones 0.7 (docs/benchmarks.md)."""
    try:
        import nncf
    except ImportError:
        raise FovealError("OpenVINO int8 is quantised by NNCF: pip install 'foveal[openvino]'") from None
    nncf.set_log_level(logging.ERROR)  # its progress lines are not the user's
    shape = model.inputs[0].get_partial_shape()
    one_image = shape[0].is_static and shape[0].get_length() == 1
    samples = [image for x in calibration for image in x.split(1)] if one_image else list(calibration)
    arrays = [s.detach().float().cpu().numpy() for s in samples]
    try:
        from foveal.export.onnx import quiet

        with quiet():
            return nncf.quantize(model, nncf.Dataset(arrays), preset=nncf.QuantizationPreset.MIXED,
                                 subset_size=len(arrays))
    except Exception as err:
        raise FovealError(f"NNCF could not quantise the model: {' '.join(str(err).split())[:300]}") from None
