"""An ONNX file to OpenVINO's IR (.xml + .bin), with fp32 weights kept fp32. A QDQ int8 ONNX file converts to an
int8 IR: OpenVINO turns its quantise/dequantise pairs into its own FakeQuantize and runs the layers in int8."""

from __future__ import annotations

from pathlib import Path

from foveal.errors import FovealError
from foveal.fileio import replace_atomic


def to_openvino(onnx_file: Path, path: Path) -> Path:
    """Convert `onnx_file` to `path` (.xml) and its .bin beside, each renamed into place when complete."""
    try:
        import openvino as ov
    except ImportError:
        raise FovealError("OpenVINO export needs openvino: pip install 'foveal[openvino]'") from None
    tmp = path.with_name(f".{path.stem}.convert.tmp.xml")
    try:
        model = ov.convert_model(str(onnx_file))
        ov.save_model(model, str(tmp), compress_to_fp16=False)  # its default halves every weight
    except Exception as err:
        tmp.unlink(missing_ok=True)
        tmp.with_suffix(".bin").unlink(missing_ok=True)
        raise FovealError(f"OpenVINO could not convert {onnx_file.name}: {' '.join(str(err).split())[:300]}") from None
    replace_atomic(tmp.with_suffix(".bin"), path.with_suffix(".bin"))
    return replace_atomic(tmp, path)
