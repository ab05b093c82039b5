"""The model card: its temperature (temperature scaling) and the cards of checkpoints written before it existed."""

import pytest

from foveal.errors import FovealError
from foveal.models.card import ModelCard


def card(**kw) -> ModelCard:
    return ModelCard("classify", "lenet", ("a", "b"), 1, (8, 8), (0.5,), (0.25,), **kw)


def test_a_card_without_a_temperature_loads_at_temperature_one():
    old = card().to_dict()
    del old["temperature"]
    assert ModelCard.from_dict(old).temperature == 1.0
    assert ModelCard.from_dict(card(temperature=2.5).to_dict()).temperature == 2.5


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), float("nan")])
def test_a_temperature_must_be_positive_and_finite(bad):
    with pytest.raises(FovealError, match="temperature must be a positive finite number"):
        ModelCard.from_dict({**card().to_dict(), "temperature": bad})


def test_same_weights_ignores_only_the_temperature():
    assert card().same_weights(card(temperature=1.7)) and card() != card(temperature=1.7)
    assert not card().same_weights(card(interpolation="nearest"))
