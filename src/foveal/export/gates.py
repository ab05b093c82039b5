"""Parity gates: how far an exported network's answers may stray from the eager network's, as numbers a person can
read. Tensor gates compare raw outputs on the same inputs; metric gates (each task's `export_gates`) compare the
task's metric on a validation split."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

FP32_ATOL, FP32_RTOL = 1e-4, 1e-3
MASK_SHARE, MASK_ATOL = 1e-3, 0.05  # fp32 masks: at most this share of pixels off eager's by more than MASK_ATOL


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
    count as an infinite error. A network of `detections` (outputs of one row per object, boxes first) is compared
    object by object, each eager object with the exported one nearest its box: objects of near-equal scores may come
    out in either order. Its masks (output `masks_at`, probabilities pasted into the image) by the share of pixels
    off eager's by more than MASK_ATOL, a pixel being off where its value lies outside the values of eager's pixel
    and its 8 neighbours: a box edge that crosses a pixel boundary moves a pasted mask's border by a whole pixel. The
    masks of boxes under a pixel wide or high are left out (OpenVINO pastes them otherwise than torchvision); the
    boxes themselves are still compared."""
    gates = []
    masks_at = getattr(eager, "masks_at", None)
    with torch.inference_mode():
        for name, x in batches.items():
            calls = list(x.split(1)) if getattr(eager, "one_image", False) else [x]
            pairs = [(_tensors(eager(c)), _tensors(exported(c))) for c in calls]
            if getattr(eager, "detections", False):
                pairs = [(want, _matched(want, got)) for want, got in pairs]
            worst = max(_worst(want, got, skip=masks_at) for want, got in pairs)
            gates.append(Gate(f"outputs at {name}: max |exported - eager| / ({FP32_ATOL:g} + {FP32_RTOL:g} |eager|)",
                              worst, None if int8 else 1.0))
            if masks_at is not None:
                share = max(_mask_share(want[masks_at], got[masks_at], want[0]) for want, got in pairs)
                gates.append(Gate(f"mask pixels at {name} off eager's 3x3 neighbourhood by > {MASK_ATOL:g} (share)",
                                  share, None if int8 else MASK_SHARE))
    return gates


def _worst(want: list[torch.Tensor], got: list[torch.Tensor], skip: int | None = None) -> float:
    if len(want) != len(got):
        raise ValueError(f"the exported network gives {len(got)} outputs, the eager one {len(want)}")
    if any(g.shape != w.shape for g, w in zip(got, want)):
        return float("inf")
    return max((error_ratio(g.float(), w.float()) for i, (g, w) in enumerate(zip(got, want)) if w.numel() and i != skip),
               default=0.0)


def _matched(want: list[torch.Tensor], got: list[torch.Tensor]) -> list[torch.Tensor]:
    """`got`'s objects in the order of `want`'s, each the one nearest its box (largest coordinate difference); as
    they came where the numbers differ or the nearest boxes are not one each."""
    if got[0].shape != want[0].shape or not len(want[0]):
        return got
    order = torch.cdist(want[0].double(), got[0].double(), p=float("inf")).argmin(1)
    if len(order.unique()) != len(order):
        return got
    return [g[order] for g in got]


def _mask_share(want: torch.Tensor, got: torch.Tensor, boxes: torch.Tensor) -> float:
    """The share of (k, 1, H, W) mask pixels whose value lies outside the values around the same pixel of `want`,
    over the objects whose (k, 4) `boxes` are a pixel wide and high or more."""
    if want.shape != got.shape:
        return 1.0
    sized = ((boxes[:, 2:] - boxes[:, :2]) >= 1).all(1)
    want, got = want[sized].float(), got[sized].float()
    if not want.numel():
        return 0.0
    high = torch.nn.functional.max_pool2d(want, 3, stride=1, padding=1)
    low = -torch.nn.functional.max_pool2d(-want, 3, stride=1, padding=1)
    return float(((got > high + MASK_ATOL) | (got < low - MASK_ATOL)).float().mean())


def _tensors(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        return list(out.values())
    return list(out)
