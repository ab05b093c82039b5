"""The model card: what a set of weights needs to be used correctly (classes, input contract, how to build it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from foveal.errors import FovealError


@dataclass(frozen=True)
class ModelCard:
    task: str
    model: str  # registry name the weights belong to
    classes: tuple[str, ...]
    in_channels: int
    input_size: tuple[int, int]  # (height, width) the model is fed
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str = "bilinear"
    resize_size: int | None = None  # shorter side resized to this, then centre-cropped to input_size; None: resize
    augmented: bool = False  # trained with flips and shifts/crops: test-time augmentation may use them
    flipped: bool = True  # ... and mirror images among them (False: TTA shifts only)
    model_kwargs: dict[str, Any] = field(default_factory=dict)  # e.g. {"hidden": 10}
    temperature: float = 1.0  # classifiers: probabilities are softmax(logits / temperature) (fitted by --calibrate)

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "input_size", tuple(int(v) for v in self.input_size))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            raise ValueError(f"mean/std need {self.in_channels} values; got {len(self.mean)} and {len(self.std)}")
        object.__setattr__(self, "temperature", float(self.temperature))
        if not (0 < self.temperature < float("inf")):
            raise ValueError(f"temperature must be a positive finite number; got {self.temperature}")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["classes"], d["input_size"], d["mean"], d["std"] = (
            list(self.classes), list(self.input_size), list(self.mean), list(self.std),
        )
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelCard":
        """A card from its dict; one written before a field existed gets that field's default (temperature 1)."""
        try:
            return cls(**d)
        except (TypeError, ValueError) as err:
            raise FovealError(f"not a valid model card: {err}") from None

    def same_weights(self, other: "ModelCard") -> bool:
        """Whether two cards describe the same network and input: all but the temperature, which is fitted to a
        set of weights after training (best.pt may have one where last.pt has none)."""
        return replace(self, temperature=1.0) == replace(other, temperature=1.0)

    def build(self):
        """A freshly initialised model of this card's architecture."""
        from foveal.models.registry import create_model

        return create_model(
            self.model, num_classes=self.num_classes, in_channels=self.in_channels, img_size=self.input_size, **self.model_kwargs
        )
