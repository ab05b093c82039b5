"""The plain PyTorch loop that foveal is measured against: a `torchvision.datasets` data set with `ToTensor` (and,
for a recipe, torchvision's per-image flip and crop), a `DataLoader`, the model, an optimizer, `.item()` every step,
as the classic tutorial writes it. `run_tutorial` keeps the tutorial's own settings; `run_recipe` uses a speed
recipe's model and hyperparameters, so that only the loop differs from `foveal train --recipe`."""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn as nn

# The tutorial's settings (its TinyVGG chapter): SGD lr 0.1, batch 32, 3 epochs, a test pass after every epoch.
# the seed tutorial's recipe: plain SGD at a constant lr, ToTensor's [0, 1] inputs
TUTORIAL = {"epochs": 3, "batch_size": 32, "optimizer": "sgd", "lr": 0.1, "momentum": 0.0, "weight_decay": 0.0,
            "schedule": "constant", "normalize": "unit"}
TV_CLASSES = {"fashion-mnist": "FashionMNIST", "mnist": "MNIST", "cifar10": "CIFAR10"}


def tutorial_model(name: str, channels: int = 1, size: int = 28, classes: int = 10) -> nn.Module:
    flat = channels * size * size
    if name == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(flat, 10), nn.Linear(10, classes))
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(flat, 10), nn.ReLU(), nn.Linear(10, classes), nn.ReLU())
    if name == "tinyvgg":
        h = 10
        return nn.Sequential(
            nn.Sequential(nn.Conv2d(channels, h, 3, 1, 1), nn.ReLU(), nn.Conv2d(h, h, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2)),
            nn.Sequential(nn.Conv2d(h, h, 3, 1, 1), nn.ReLU(), nn.Conv2d(h, h, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2)),
            nn.Sequential(nn.Flatten(), nn.Linear(h * (size // 4) ** 2, classes)),
        )
    raise ValueError(f"no plain tutorial model {name!r}; expected linear, mlp or tinyvgg")


def datasets(name: str, root: str | Path | None, train_transform, test_transform):
    """(train, test) torchvision data sets of the named data: torchvision's own files, or for CIFAR-10 an image-folder
    copy (ROOT/train/CLASS/*.jpg) read with ImageFolder."""
    from torchvision import datasets as tvd

    from foveal.data.named import torchvision_root

    if name == "cifar10" and root is not None and (Path(root) / "train").is_dir():
        return (tvd.ImageFolder(str(Path(root) / "train"), transform=train_transform),
                tvd.ImageFolder(str(Path(root) / "test"), transform=test_transform))
    if name not in TV_CLASSES:
        from foveal.errors import FovealError

        raise FovealError(f"the plain loop runs on {', '.join(TV_CLASSES)}; got --data {name!r}")
    cls, folder = getattr(tvd, TV_CLASSES[name]), str(torchvision_root(name, root))
    return cls(folder, train=True, download=False, transform=train_transform), \
        cls(folder, train=False, download=False, transform=test_transform)


def accuracy_fn(y_true: torch.Tensor, y_pred: torch.Tensor) -> float:
    """The tutorial's accuracy, in percent, with a `.item()` per batch."""
    return torch.eq(y_true, y_pred).sum().item() / len(y_pred) * 100


def train_step(model, data_loader, loss_fn, optimizer, scheduler=None) -> tuple[float, float]:
    train_loss, train_acc = 0.0, 0.0
    model.train()
    for X, y in data_loader:
        y_pred = model(X)
        loss = loss_fn(y_pred, y)
        train_loss += loss.item()
        train_acc += accuracy_fn(y_true=y, y_pred=y_pred.argmax(dim=1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return train_loss / len(data_loader), train_acc / len(data_loader)


def test_step(model, data_loader, loss_fn, probabilities=None) -> dict[str, float]:
    """The tutorial's test pass; besides its per-batch-mean accuracy it counts the exact one (correct / images): the
    last batch of 10,000 / 32 is a half batch, so the two differ slightly. The exact one is compared.
    `probabilities(model, X)`, when given, scores a batch instead of `model(X)` (a recipe's test-time views)."""
    test_loss, test_acc, correct, seen = 0.0, 0.0, 0, 0
    model.eval()
    with torch.inference_mode():
        for X, y in data_loader:
            if probabilities is None:
                test_pred = model(X)
                test_loss += loss_fn(test_pred, y).item()
            else:
                test_pred = probabilities(model, X)
                test_loss += nn.functional.nll_loss(test_pred.clamp_min(1e-12).log(), y).item()
            pred = test_pred.argmax(dim=1)
            test_acc += accuracy_fn(y_true=y, y_pred=pred)
            correct += int(torch.eq(y, pred).sum().item())
            seen += len(y)
    return {"loss": test_loss / len(data_loader), "batch_mean_accuracy": test_acc / len(data_loader) / 100,
            "accuracy": correct / seen}


def _result(model: str, seed: int, epochs: list[dict], elapsed: float, images: int) -> dict:
    return {"runner": "plain", "model": model, "seed": seed, "accuracy_last": epochs[-1]["val_accuracy"],
            "accuracy_best": max(e["val_accuracy"] for e in epochs if "val_accuracy" in e), "time_s": elapsed,
            "images_per_s": images / sum(e["train_s"] for e in epochs), "epochs": epochs}


def run_tutorial(name: str, seed: int, train_data, test_data, channels: int = 1, size: int = 28) -> dict:
    from torch.utils.data import DataLoader

    train_loader = DataLoader(train_data, batch_size=TUTORIAL["batch_size"], shuffle=True)
    test_loader = DataLoader(test_data, batch_size=TUTORIAL["batch_size"], shuffle=False)
    torch.manual_seed(seed)
    model = tutorial_model(name, channels, size)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(params=model.parameters(), lr=TUTORIAL["lr"])
    epochs, start = [], time.perf_counter()
    for epoch in range(1, TUTORIAL["epochs"] + 1):
        t = time.perf_counter()
        train_loss, train_acc = train_step(model, train_loader, loss_fn, optimizer)
        train_s = time.perf_counter() - t
        test = test_step(model, test_loader, loss_fn)
        epochs.append({"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_acc / 100, "train_s": train_s,
                       "val_loss": test["loss"], "val_accuracy": test["accuracy"],
                       "val_batch_mean_accuracy": test["batch_mean_accuracy"], "elapsed_s": time.perf_counter() - start})
    return _result(name, seed, epochs, time.perf_counter() - start, TUTORIAL["epochs"] * len(train_data))


def recipe_transforms(settings: dict, size: int, mean, std):
    """torchvision's per-image versions of the recipe's augmentation: a random mirror (unless the recipe turns flips
    off) and a random shift by reflect-padding then cropping, by as many pixels as foveal shifts."""
    from torchvision import transforms as T

    from foveal.data.augment import shift_pixels

    norm = [T.ToTensor(), T.Normalize(mean, std)]
    train = []
    if settings.get("augment"):
        if settings.get("flip", True):
            train.append(T.RandomHorizontalFlip())
        train.append(T.RandomCrop(size, padding=shift_pixels(size, settings.get("translate")), padding_mode="reflect"))
    return T.Compose(train + norm), T.Compose(norm)


def whitening_images(train_data, test_transform, n: int | None = None) -> torch.Tensor:
    """The first `n` training images (as many as foveal fits a whitening layer on), without augmentation."""
    from foveal.tasks.classify.task import WHITEN_IMAGES

    n = min(len(train_data), n or WHITEN_IMAGES)
    return torch.stack([test_transform(_image(train_data, i)) for i in range(n)])


OPTIMIZER_KEYS = ("optimizer", "lr", "momentum", "weight_decay", "norm_lr", "muon_lr")


def recipe_optimizer(settings: dict, model: nn.Module) -> torch.optim.Optimizer:
    """The optimizer `foveal train` builds for the recipe (its algorithm: Nesterov SGD or Muon for the filters; batch
    norm's rates scaled by norm_lr), so that the plain loop's hyperparameters are the recipe's, not a simplification."""
    from foveal.config import TrainConfig
    from foveal.engine.optim import make_optimizer

    cfg = TrainConfig(task="classify", model=settings["model"], **{k: settings[k] for k in OPTIMIZER_KEYS if k in settings})
    return make_optimizer(cfg, model, [{"params": list(model.parameters())}])


def run_recipe(seed: int, settings: dict, train_data, test_data, channels: int, size: int, classes: int,
               whiten: torch.Tensor | None = None) -> dict:
    """The recipe's model (built by foveal, a whitening layer fitted on `whiten`, the same first training images),
    optimizer (`recipe_optimizer`), one-cycle schedule (torch's OneCycleLR, each parameter group peaking at its own
    rate: the same shape as foveal's), label smoothing and test-time views, in the plain loop: fp32, channels-first,
    per-image transforms (a random mirror per image and epoch where the recipe may alternate them), a test pass at
    the end."""
    from torch.utils.data import DataLoader

    from foveal.tasks.classify.tta import tta_probabilities
    from foveal.models.registry import create_model

    torch.manual_seed(seed)
    model = create_model(settings["model"], num_classes=classes, in_channels=channels, img_size=(size, size),
                         hidden=settings["hidden"])
    if hasattr(model, "fit_whitening"):
        model.fit_whitening(whiten)
    train_loader = DataLoader(train_data, batch_size=settings["batch_size"], shuffle=True)
    test_loader = DataLoader(test_data, batch_size=settings["batch_size"], shuffle=False)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=settings["label_smoothing"])
    optimizer = recipe_optimizer(settings, model)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[g["lr"] for g in optimizer.param_groups],
                                                    cycle_momentum=False, total_steps=settings["epochs"] * len(train_loader))
    flip = settings.get("flip", True)
    views = (lambda m, X: tta_probabilities(m, X, True, flip)) if settings.get("tta") else \
        (lambda m, X: m(X).softmax(1))
    epochs, start = [], time.perf_counter()
    for epoch in range(1, settings["epochs"] + 1):
        t = time.perf_counter()
        train_loss, train_acc = train_step(model, train_loader, loss_fn, optimizer, scheduler)
        epochs.append({"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_acc / 100,
                       "train_s": time.perf_counter() - t})
    test = test_step(model, test_loader, loss_fn, views)
    epochs[-1].update({"val_loss": test["loss"], "val_accuracy": test["accuracy"]})
    return _result(settings["model"], seed, epochs, time.perf_counter() - start, settings["epochs"] * len(train_data))


def _image(ds, i: int):
    """The i-th training image as PIL, before any transform (torchvision's MNIST-style sets, ImageFolder, a Subset)."""
    if hasattr(ds, "indices"):
        return _image(ds.dataset, int(ds.indices[i]))
    if hasattr(ds, "samples"):
        return ds.loader(ds.samples[i][0])
    from PIL import Image

    img = ds.data[i]
    img = img.numpy() if hasattr(img, "numpy") else img
    return Image.fromarray(img, mode="L" if img.ndim == 2 else "RGB")
