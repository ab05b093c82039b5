"""Parity gates: how far an exported network's answers may stray from the eager network's, as numbers a person can
read. Tensor gates compare raw outputs on the same inputs; metric gates (each task's `export_gates`) compare the
task's metric on a validation split."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

FP32_ATOL, FP32_RTOL = 1e-4, 1e-3


@dataclass(frozen=True)
class Gate:
    """One measured figure and its limit: `value` must be at least `limit` (`at_least`) or at most it. A gate without
    a limit is reported, not enforced."""

    name: str
    value: float
    limit: float | None = None
    at_least: bool = False

    @property
    def passed(self) -> bool:
        if self.limit is None:
            return True
        return self.value >= self.limit if self.at_least else self.value <= self.limit

    def line(self) -> str:
        if self.limit is None:
            return f"{self.name}: {self.value:.6g} (reported)"
        return f"{self.name}: {self.value:.6g} ({'>=' if self.at_least else '<='} {self.limit:g}) {'PASS' if self.passed else 'FAIL'}"

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def error_ratio(got: torch.Tensor, want: torch.Tensor, atol: float = FP32_ATOL, rtol: float = FP32_RTOL) -> float:
    """The largest |got - want| / (atol + rtol * |want|) over every element: at most 1 where the two agree as
    torch.allclose(got, want, rtol, atol) would say."""
    got, want = got.double(), want.double()
    return float(((got - want).abs() / (atol + rtol * want.abs())).max())


def tensor_gates(eager, exported, batches: dict[str, torch.Tensor], int8: bool) -> list[Gate]:
    """For each named input batch, the outputs' error as a fraction of what fp32 allows (`error_ratio`), enforced
    for fp32 and reported for int8 (whose gate is the metric's). A network of one image per call (`one_image`) is
    called on each image of the batch. Outputs of different shapes (a detector that keeps another number of boxes)
    count as an infinite error."""
    gates = []
    with torch.inference_mode():
        for name, x in batches.items():
            calls = list(x.split(1)) if getattr(eager, "one_image", False) else [x]
            worst = max(_worst(_tensors(eager(c)), _tensors(exported(c))) for c in calls)
            gates.append(Gate(f"outputs at {name}: max |exported - eager| / ({FP32_ATOL:g} + {FP32_RTOL:g} |eager|)",
                              worst, None if int8 else 1.0))
    return gates


def _worst(want: list[torch.Tensor], got: list[torch.Tensor]) -> float:
    if len(want) != len(got):
        raise ValueError(f"the exported network gives {len(got)} outputs, the eager one {len(want)}")
    if any(g.shape != w.shape for g, w in zip(got, want)):
        return float("inf")
    return max((error_ratio(g.float(), w.float()) for g, w in zip(got, want) if w.numel()), default=0.0)


def _tensors(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        return list(out.values())
    return list(out)
