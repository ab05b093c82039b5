"""Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", 2017) and the expected calibration
error.

A classifier's probabilities are softmax(logits / T), with one temperature T > 0 fitted on held-out logits by
minimising their negative log-likelihood: T > 1 softens an over-confident model, T < 1 sharpens an under-confident
one, and the predicted class of a single view never changes. Logits come as (N, C), or as (V, N, C) for V
test-time-augmentation views whose probabilities are averaged; T then divides each view's logits before its softmax.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from foveal.errors import FovealError

TEMPERATURE_BOUNDS = (1e-2, 1e2)  # the search range of fit_temperature
ECE_BINS = 15  # torchmetrics' default


def _views(logits: torch.Tensor) -> torch.Tensor:
    """(V, N, C) logits from (N, C) or (V, N, C)."""
    if logits.dim() == 2:
        return logits[None]
    if logits.dim() != 3:
        raise ValueError(f"logits must be (N, C) or (V, N, C); got shape {tuple(logits.shape)}")
    return logits


def scaled_probabilities(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """(N, C) probabilities: softmax(logits / T), averaged over the views when there are several, in the logits'
    dtype."""
    return F.softmax(_views(logits) / temperature, -1).mean(0)


def _log_likelihoods(views: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
    """Each image's log-probability of its target under the views' mean probability at `temperature`."""
    logp = F.log_softmax(views / temperature, -1)
    if len(views) > 1:
        logp = torch.logsumexp(logp, 0) - math.log(len(views))
    else:
        logp = logp[0]
    return logp.gather(1, targets.long().view(-1, 1)).squeeze(1)


def nll(logits: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of `targets` under softmax(logits / T) (the mean over views), in float64."""
    return float(-_log_likelihoods(_views(logits).double(), targets, temperature).mean())


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor, bounds: tuple[float, float] = TEMPERATURE_BOUNDS,
                    tol: float = 1e-9) -> float:
    """The temperature in `bounds` that minimises `nll` on these logits: a golden-section search over log T, to `tol`
    in log T. For one view the NLL is convex in 1/T, so it has one minimum and the search finds it; a model that
    separates every image with a margin is best at the lower bound."""
    if len(targets) == 0:
        raise FovealError("cannot fit a temperature on no images")
    views = _views(logits).double()
    if not torch.isfinite(views).all():
        raise FovealError("cannot fit a temperature: the logits hold NaN or infinite values")

    def loss(log_t: float) -> float:
        return float(-_log_likelihoods(views, targets, math.exp(log_t)).mean())

    a, b = math.log(bounds[0]), math.log(bounds[1])
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = loss(c), loss(d)
    while b - a > tol:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = loss(d)
    return math.exp((a + b) / 2)


def expected_calibration_error(probs: torch.Tensor, targets: torch.Tensor, bins: int = ECE_BINS) -> float:
    """Top-label expected calibration error: images binned by their top probability into `bins` equal-width bins
    [k/bins, (k+1)/bins) (a confidence of exactly 1 in a bin of its own), and the gap between each bin's accuracy and
    its mean confidence, weighted by its share of the images. The binning of torchmetrics'
    multiclass_calibration_error(norm="l1"), in float64."""
    if len(targets) == 0:
        return 0.0
    confidence, predicted = probs.double().max(1)
    correct = (predicted == targets.to(predicted.device)).double()
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64, device=confidence.device)
    index = torch.bucketize(confidence, edges, right=True) - 1
    gap = torch.zeros(bins + 1, dtype=torch.float64, device=confidence.device)
    gap.scatter_add_(0, index, correct - confidence)  # per bin: (accuracy - confidence) x its count
    return float(gap.abs().sum() / len(targets))


def calibration_summary(metrics: dict[str, Any], where: str) -> str:
    """What a calibration on the images of `where` did, from the metrics it left: the temperature, and the log loss
    and ECE at temperature 1 and at it."""
    return (f"temperature {metrics['temperature']:.4g} fitted on the {metrics['num_images']} images of {where}: log loss "
            f"{metrics['log_loss_uncalibrated']:.4f} -> {metrics['log_loss']:.4f}, ECE "
            f"{metrics['ece_uncalibrated']:.4f} -> {metrics['ece']:.4f}")
