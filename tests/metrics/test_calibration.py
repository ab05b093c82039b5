"""Temperature scaling and the expected calibration error, against references: scipy's bounded minimiser and a fine
grid for the fitted temperature, torchmetrics for the ECE, and scikit-learn's log loss for the NLL."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar
from sklearn.metrics import log_loss
from torchmetrics.functional.classification import multiclass_calibration_error

from foveal.errors import FovealError
from foveal.metrics.calibration import expected_calibration_error, fit_temperature, nll, scaled_probabilities
from foveal.metrics.classification import classification_metrics


def overconfident(n: int = 2000, c: int = 10, scale: float = 4.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits `scale` times those of a calibrated model (its best temperature is near `scale`): scores z with unit
    Gaussian noise, the true class's shifted by m, whose true posterior is softmax(m z)."""
    g = torch.Generator().manual_seed(seed)
    targets = torch.randint(0, c, (n,), generator=g)
    m = 1.6
    z = torch.randn(n, c, generator=g) + m * torch.nn.functional.one_hot(targets, c)
    return scale * m * z, targets


def test_nll_is_scikit_learns_log_loss_of_the_scaled_softmax():
    logits, targets = overconfident()
    for t in (2.0, 4.0, 8.0):  # (at lower ones some probabilities fall below the eps scikit-learn clips at)
        probs = torch.softmax(logits.double() / t, 1).numpy()
        assert nll(logits, targets, t) == pytest.approx(log_loss(targets.numpy(), probs, labels=range(10)), rel=1e-12)


def test_fitted_temperature_minimises_the_nll_as_scipy_and_a_grid_find():
    logits, targets = overconfident()
    t = fit_temperature(logits, targets)
    ref = minimize_scalar(lambda s: nll(logits, targets, math.exp(s)), bounds=(math.log(1e-2), math.log(1e2)),
                          method="bounded", options={"xatol": 1e-10})
    assert t == pytest.approx(math.exp(ref.x), rel=1e-5)
    assert nll(logits, targets, t) <= ref.fun + 1e-12
    grid = np.exp(np.linspace(math.log(t) - 0.5, math.log(t) + 0.5, 2001))
    assert nll(logits, targets, t) <= min(nll(logits, targets, float(g)) for g in grid) + 1e-12
    assert 3.0 < t < 5.0  # logits 4x too large want about T = 4
    assert nll(logits, targets, t) < nll(logits, targets, 1.0) - 0.1


def test_an_underconfident_model_is_sharpened_and_a_separable_one_hits_the_bound():
    logits, targets = overconfident(scale=0.25)
    assert 0.15 < fit_temperature(logits, targets) < 0.4
    separable = torch.nn.functional.one_hot(targets, 10).float() * 5
    assert fit_temperature(separable, targets) == pytest.approx(1e-2, rel=1e-6)


def test_temperature_of_tta_views_minimises_the_nll_of_their_mean_probability():
    logits, targets = overconfident(n=600)
    g = torch.Generator().manual_seed(1)
    views = torch.stack([logits, logits + 2 * torch.randn(logits.shape, generator=g), logits.roll(1, 0)])
    t = fit_temperature(views, targets)
    probs = scaled_probabilities(views.double(), t).numpy()
    assert nll(views, targets, t) == pytest.approx(log_loss(targets.numpy(), probs, labels=range(10)), rel=1e-10)
    ref = minimize_scalar(lambda s: nll(views, targets, math.exp(s)), bounds=(math.log(1e-2), math.log(1e2)),
                          method="bounded", options={"xatol": 1e-10})
    assert nll(views, targets, t) <= ref.fun + 1e-12
    assert torch.allclose(scaled_probabilities(views[:1], t), scaled_probabilities(views[0], t))


def test_fit_refuses_no_images_and_non_finite_logits():
    with pytest.raises(FovealError, match="no images"):
        fit_temperature(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    with pytest.raises(FovealError, match="NaN"):
        fit_temperature(torch.tensor([[0.0, float("nan")]]), torch.tensor([0]))


@pytest.mark.parametrize("scale", [0.3, 1.0, 4.0])
def test_ece_agrees_with_torchmetrics(scale):
    logits, targets = overconfident(scale=scale)
    probs = torch.softmax(logits, 1)
    want = float(multiclass_calibration_error(probs, targets, num_classes=10, n_bins=15, norm="l1"))
    assert expected_calibration_error(probs, targets) == pytest.approx(want, abs=1e-6)
    certain = torch.nn.functional.one_hot(targets, 10).float()  # confidence exactly 1: the bin of its own
    certain[:100] = certain[:100].roll(1, 1)
    want = float(multiclass_calibration_error(certain, targets, num_classes=10, n_bins=15, norm="l1"))
    assert expected_calibration_error(certain, targets) == pytest.approx(want, abs=1e-6) == pytest.approx(0.05)


def test_temperature_scaling_improves_the_ece_of_an_overconfident_model():
    logits, targets = overconfident()
    fit, held_out = slice(0, 1000), slice(1000, None)  # fitted on one half, judged on the other
    t = fit_temperature(logits[fit], targets[fit])
    before = expected_calibration_error(torch.softmax(logits[held_out], 1), targets[held_out])
    after = expected_calibration_error(scaled_probabilities(logits[held_out], t), targets[held_out])
    assert before > 0.15 and after < 0.05
    assert nll(logits[held_out], targets[held_out], t) < nll(logits[held_out], targets[held_out])
    metrics = classification_metrics(scaled_probabilities(logits[held_out], t), targets[held_out], list("abcdefghij"))
    assert metrics["ece"] == pytest.approx(after)
