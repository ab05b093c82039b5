"""The command line: parsing only; every verb calls the Python API. Bad input ends in one line and exit code 2
(a whole command that failed for another reason: 1); `--debug` shows the traceback."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from foveal.errors import FovealError

app = typer.Typer(
    help="foveal: a PyTorch computer-vision toolkit. Train, evaluate, predict and compare image models.",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
)
log = logging.getLogger("foveal")

Opt = typer.Option


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a message comes, not the stream of when the CLI started: a caller that
    swaps stderr (a test runner, a notebook) and closes its stream must not break foveal's logging afterwards."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it
        pass


def _setup_logging(quiet: bool = False) -> None:
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("foveal")
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    root.propagate = False


@app.callback()
def _main(
    debug: Annotated[bool, Opt("--debug", help="Show full tracebacks.")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="Only warnings and errors.")] = False,
) -> None:
    _setup_logging(quiet)


@app.command()
def train(
    model: Annotated[Optional[str], Opt(help="Model name (foveal models) or, with --resume, ignored.")] = None,
    data: Annotated[Optional[str], Opt(help="Data set name (foveal datasets) or a path: image folder, CSV.")] = None,
    data_root: Annotated[Optional[str], Opt(help="Folder with a local copy of a named data set.")] = None,
    task: Annotated[Optional[str], Opt(help="classify, detect or segment (default model: tinyvgg, fcos, unet).")] = None,
    epochs: Annotated[Optional[int], Opt()] = None,
    batch_size: Annotated[Optional[int], Opt()] = None,
    optimizer: Annotated[Optional[str], Opt(help="sgd, adam, adamw, or muon (convolution filters on Muon at --muon-lr, the rest on Nesterov SGD; for networks with batch norm after each convolution).")] = None,
    lr: Annotated[Optional[float], Opt(help="Learning rate.")] = None,
    momentum: Annotated[Optional[float], Opt()] = None,
    weight_decay: Annotated[Optional[float], Opt()] = None,
    schedule: Annotated[Optional[str], Opt(help="constant, cosine or onecycle.")] = None,
    warmup_epochs: Annotated[Optional[float], Opt()] = None,
    label_smoothing: Annotated[Optional[float], Opt()] = None,
    muon_lr: Annotated[Optional[float], Opt(help="--optimizer muon: the convolution filters' learning rate (default 0.06).")] = None,
    norm_lr: Annotated[Optional[float], Opt(help="Normalisation layers' parameters (batch norm's shifts) learn at this multiple of --lr, at 1/X the weight decay (airbench's bias scaling; default 1).")] = None,
    lookahead: Annotated[Optional[bool], Opt("--lookahead/--no-lookahead", help="Average the weights of the last steps as training ends (airbench's lookahead).")] = None,
    augment: Annotated[Optional[bool], Opt("--augment/--no-augment", help="Train-time augmentation: classify, batched flip + translate (off by default); detect, flip, crop, zoom, colour (on).")] = None,
    translate: Annotated[Optional[int], Opt(help="classify: --augment's largest random shift in pixels (default: a sixteenth of the image side).")] = None,
    flip: Annotated[Optional[bool], Opt("--flip/--no-flip", help="classify: --augment and --tta mirror images (default on; off for digits and text).")] = None,
    normalize: Annotated[Optional[str], Opt(help="unit ([0, 1], as ToTensor) or dataset (its mean/std); default: the model's.")] = None,
    hidden: Annotated[Optional[int], Opt(help="Hidden width of the seed models.")] = None,
    pretrained: Annotated[Optional[bool], Opt("--pretrained/--no-pretrained", help="Start from the model's pretrained (ImageNet) weights.")] = None,
    weights: Annotated[Optional[str], Opt(help="Start from a local state dict (.pt/.pth) or .safetensors file.")] = None,
    finetune: Annotated[Optional[str], Opt(help="With weights: head (frozen backbone, cached features), full or gradual.")] = None,
    backbone_lr: Annotated[Optional[float], Opt(help="full/gradual: the backbone's lr as a fraction of --lr (default 0.1).")] = None,
    head_epochs: Annotated[Optional[int], Opt(help="full/gradual: epochs fitting the new head on cached backbone features first (default 5; 0: none).")] = None,
    backbone: Annotated[Optional[str], Opt(help="detect/segment: the timm backbone of fcos/retinanet/fasterrcnn/unet (default efficientnet_lite0).")] = None,
    max_det: Annotated[Optional[int], Opt("--max-det", help="detect: boxes kept per image (1: single-object localisation).")] = None,
    recipe: Annotated[Optional[str], Opt(help="classify: a speed recipe picking the network and schedule for the data (fast, fast-long; foveal models --recipes).")] = None,
    time_limit: Annotated[Optional[float], Opt(help="Minutes to train: after each epoch, as many more epochs as fit, the schedule adjusted.")] = None,
    auto_augment: Annotated[Optional[str], Opt(help="Transfer learning's train policy after crop + flip: trivial, rand or none.")] = None,
    tta: Annotated[Optional[bool], Opt("--tta/--no-tta", help="Evaluate with test-time augmentation (flips and shifted crops).")] = None,
    folds: Annotated[Optional[int], Opt(help="K-fold cross-validation: K models on stratified folds, out-of-fold score.")] = None,
    img_size: Annotated[Optional[int], Opt(help="Resize images to this square size.")] = None,
    fraction: Annotated[Optional[float], Opt(help="Train on this fraction of the training images.")] = None,
    val_split: Annotated[Optional[float], Opt(help="Hold out this fraction when the data has no val split.")] = None,
    seed: Annotated[Optional[int], Opt()] = None,
    deterministic: Annotated[Optional[bool], Opt("--deterministic/--no-deterministic")] = None,
    device: Annotated[Optional[str], Opt(help="auto (cuda, then mps, then cpu), cpu, cuda, mps.")] = None,
    amp: Annotated[Optional[str], Opt(help="auto, bf16 or off.")] = None,
    patience: Annotated[Optional[int], Opt(help="Early stopping after this many evaluations without improvement.")] = None,
    val_period: Annotated[Optional[int], Opt(help="Evaluate every N epochs and the last (and the first, when N is no more than --epochs; under --time-limit the first only times a tenth of the data; default 1).")] = None,
    dice: Annotated[Optional[float], Opt(help="segment: weight of a Dice loss added to cross-entropy (default 0).")] = None,
    project: Annotated[Optional[str], Opt(help="Folder of run folders (default runs).")] = None,
    name: Annotated[Optional[str], Opt(help="Run folder name (default: the model name); never overwrites.")] = None,
    config: Annotated[Optional[Path], Opt(help="YAML file of settings; command-line options win.")] = None,
    set_: Annotated[Optional[list[str]], Opt("--set", help="Extra settings as key=value (dotted keys allowed).")] = None,
    resume: Annotated[Optional[str], Opt(help="Continue a run from its folder or last.pt.")] = None,
) -> None:
    """Train a model and write a run folder with checkpoints, metrics and plots."""
    from foveal.api import Model
    from foveal.config import parse_overrides

    overrides = {**parse_overrides(set_ or []), **{k: v for k, v in dict(
        data_root=data_root, epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, momentum=momentum,
        weight_decay=weight_decay, schedule=schedule, warmup_epochs=warmup_epochs, label_smoothing=label_smoothing, muon_lr=muon_lr, norm_lr=norm_lr, lookahead=lookahead,
        augment=augment, translate=translate, flip=flip, normalize=normalize, hidden=hidden, pretrained=pretrained, weights=weights, finetune=finetune,
        backbone_lr=backbone_lr, head_epochs=head_epochs, backbone=backbone, max_det=max_det, recipe=recipe, time_limit=time_limit, auto_augment=auto_augment, tta=tta, folds=folds, img_size=img_size, fraction=fraction, val_split=val_split, seed=seed, deterministic=deterministic,
        device=device, amp=amp, patience=patience, val_period=val_period, dice=dice, project=project,
        name=name).items() if v is not None}}
    if resume:
        m = Model(resume)
        metrics = m.train(data=data, resume=resume, **overrides)
    else:
        from foveal.models.pretrained import OFFLINE_PRETRAINED

        classify = (task or "classify") == "classify"
        m = Model(model or (OFFLINE_PRETRAINED if pretrained and classify else None), task=task or "classify")
        metrics = m.train(data=data, config=config, **overrides)
    _print_summary(metrics)
    typer.echo(f"best weights: {m.checkpoint}")


@app.command()
def val(
    model: Annotated[str, Opt(help="Checkpoint (runs/<run>/best.pt) or run folder.")],
    more: Annotated[Optional[list[str]], typer.Argument(help="More checkpoints: the models' probabilities are averaged (an ensemble).", show_default=False)] = None,
    data: Annotated[Optional[str], Opt(help="Data set name or path; default: the one it was trained on.")] = None,
    data_root: Annotated[Optional[str], Opt()] = None,
    batch_size: Annotated[Optional[int], Opt()] = None,
    tta: Annotated[Optional[bool], Opt("--tta/--no-tta", help="Test-time augmentation: flips and shifted crops averaged (default: as the run was evaluated).")] = None,
    project: Annotated[str, Opt()] = "runs",
    name: Annotated[str, Opt()] = "val",
    format_: Annotated[str, Opt("--format", help="text or json.")] = "text",
) -> None:
    """Evaluate a trained model (or an ensemble); writes metrics.json, the confusion matrix and image grids."""
    from foveal.infer.evaluate import evaluate_checkpoints

    metrics, _ = evaluate_checkpoints([model, *(more or [])], data=data, data_root=data_root, batch_size=batch_size,
                                      tta=tta, project=project, name=name)
    if format_ == "json":
        typer.echo(json.dumps(metrics, indent=2))
    else:
        _print_summary(metrics, per_class=True)


@app.command()
def predict(
    sources: Annotated[list[str], typer.Argument(help="Image files and folders, and video files for detectors (checkpoints among them join --model as an ensemble).")],
    model: Annotated[Optional[str], Opt(help="Checkpoint (runs/<run>/best.pt) or run folder; with --pretrained, a model name (default efficientnet_lite0).")] = None,
    pretrained: Annotated[bool, Opt("--pretrained", help="Use the named model's pretrained ImageNet weights.")] = False,
    tta: Annotated[bool, Opt("--tta", help="Test-time augmentation: flips and shifted crops averaged.")] = False,
    save: Annotated[bool, Opt("--save", help="Write annotated images to <project>/<name>/.")] = False,
    top_k: Annotated[int, Opt("--top-k", help="How many labels to show per image.")] = 3,
    format_: Annotated[str, Opt("--format", help="text, json or csv (a Kaggle submission).")] = "text",
    out: Annotated[Optional[Path], Opt(help="--format csv: the file to write (default submission.csv).")] = None,
    proba: Annotated[bool, Opt("--proba", help="--format csv: one probability column per class instead of the label.")] = False,
    header: Annotated[Optional[str], Opt(help="--format csv: column names, comma-separated (default id,label or id,<classes>).")] = None,
    conf: Annotated[float, Opt(help="Detectors and instance segmenters: keep objects at least this confident.")] = 0.25,
    iou: Annotated[float, Opt(help="Detectors and instance segmenters: NMS overlap above which the weaker box is dropped.")] = 0.6,
    classes: Annotated[Optional[str], Opt(help="Detectors: only these classes, comma-separated names or ids.")] = None,
    max_det: Annotated[Optional[int], Opt("--max-det", help="Detectors: at most this many boxes per image.")] = None,
    crop: Annotated[bool, Opt("--crop", help="Detectors: save each object as crops/<class>/<image>_<n>.jpg.")] = False,
    margin: Annotated[float, Opt(help="Detectors: --crop grows each box by this fraction of its size per side.")] = 0.0,
    cutout: Annotated[Optional[str], Opt(help="Segmenters: save <image>_<CLASS>.png with everything but CLASS transparent.")] = None,
    pixel_size: Annotated[Optional[float], Opt("--pixel-size", help="Segmenters: the side of one pixel in mm; areas are also given in mm².")] = None,
    project: Annotated[str, Opt()] = "runs",
    name: Annotated[str, Opt()] = "predict",
    device: Annotated[str, Opt()] = "cpu",
) -> None:
    """Predict what images show (classifiers), where their objects are (detectors) or the class of every pixel
    (segmenters); unreadable files are reported and skipped. Several classification checkpoints: an ensemble."""
    from foveal.engine.checkpoint import is_checkpoint, resolve_checkpoint
    from foveal.infer.predictor import Predictor, predict_with
    from foveal.infer.save import save_annotated

    if format_ not in ("text", "json", "csv"):
        raise FovealError(f"--format must be text, json or csv; got {format_!r}")
    extra = [s for s in sources if is_checkpoint(s)]
    images = [s for s in sources if s not in extra]
    task = _task_of(resolve_checkpoint(model)) if model and not pretrained else "classify"
    if task == "segment":
        from foveal.infer.segment_cli import predict_segmentation

        return predict_segmentation(resolve_checkpoint(model), images, format_=format_, pixel_size=pixel_size, save=save,
                                    cutout=cutout, project=project, name=name, device=device, conf=conf, iou=iou,
                                    max_det=max_det)
    if task == "detect":
        from foveal.infer.detect_cli import predict_detections

        return predict_detections(resolve_checkpoint(model), images, conf=conf, iou=iou, max_det=max_det, format_=format_,
                                  classes=[c.strip() for c in classes.split(",")] if classes else None, out=out,
                                  save=save, crop=crop, margin=margin, project=project, name=name, device=device)
    if pretrained:
        if extra:
            raise FovealError("--pretrained predicts with one named model; checkpoints cannot join it")
        from foveal.models.pretrained import OFFLINE_PRETRAINED

        predictors = [Predictor.from_pretrained(model or OFFLINE_PRETRAINED, device=device)]
    elif model is None and not extra:
        raise FovealError("which model? pass --model runs/<run>/best.pt, or --pretrained for ImageNet classes")
    else:
        predictors = [Predictor.from_checkpoint(resolve_checkpoint(m), device=device) for m in [model, *extra] if m]
    if not images:
        raise FovealError("no images given: pass image files or folders after the options")
    from foveal.infer.video import is_video

    if any(is_video(s) for s in images):
        raise FovealError(f"{next(s for s in images if is_video(s))}: video input goes to detectors and segmenters; "
                          f"a classifier takes images (extract frames first)")
    result = predict_with(predictors, images, tta=tta)
    if format_ == "csv" and result.results:
        from foveal.infer.submission import write_submission

        path = write_submission(result.results, out or Path("submission.csv"), proba=proba,
                                header=None if header is None else [h.strip() for h in header.split(",")])
        typer.echo(f"submission: {path} ({len(result.results)} rows)")
    elif format_ == "json":
        typer.echo(json.dumps([r.to_dict(top_k) for r in result.results], indent=2))
    else:
        for r in result.results:
            typer.echo(f"{r.source}: " + ", ".join(f"{label} {p:.1%}" for label, p in r.top(top_k)))
    if save and result.results:
        typer.echo(f"annotated images: {save_annotated(result, project, name, top_k)}")
    if result.failed:
        typer.echo(f"{len(result.failed)} file(s) could not be read and were skipped", err=True)
    if not result.results:
        raise FovealError("no image could be read")


def _task_of(checkpoint: Path) -> str:
    from foveal.engine.checkpoint import load_checkpoint

    return load_checkpoint(checkpoint)["card"]["task"]


@app.command()
def convert(
    source: Annotated[str, typer.Argument(help="A YOLO data.yaml, a COCO .json or a Pascal VOC folder.")],
    to: Annotated[str, Opt(help="yolo, coco or voc.")],
    out: Annotated[Path, Opt(help="Where to write: a folder (yolo, voc) or a .json file (coco).")],
    split: Annotated[Optional[str], Opt(help="Which split to convert (default: all for yolo, else train).")] = None,
) -> None:
    """Convert box labels between YOLO, COCO and Pascal VOC; images are linked, not copied."""
    from foveal.data.detection.formats import convert as convert_boxes, read_boxes

    path = convert_boxes(source, to, out, split)
    counts = {k: (len(v), v.num_boxes) for k, v in read_boxes(path).items()}
    typer.echo(f"{to}: {path} (" + ", ".join(f"{k}: {n} images, {b} boxes" for k, (n, b) in counts.items()) + ")")


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Run folders to compare.")],
    out: Annotated[Optional[Path], Opt(help="Bar chart PNG (a CSV is written beside it).")] = None,
) -> None:
    """Compare finished runs: accuracy, loss, train time, parameters, inference speed."""
    from rich.console import Console

    from foveal.compare import compare_runs, format_table, write_comparison

    rows = compare_runs(runs)
    Console(width=200).print(format_table(rows))
    chart, table = write_comparison(rows, out or runs[0].parent / "compare.png")
    typer.echo(f"chart: {chart}\ntable: {table}")


@app.command()
def demo(
    data: Annotated[str, Opt(help="Data set (digits needs no download).")] = "digits",
    data_root: Annotated[Optional[str], Opt()] = None,
    epochs: Annotated[int, Opt()] = 10,
    project: Annotated[str, Opt()] = "runs",
) -> None:
    """Train and compare the seed models offline, and write a report (under a minute on 2 cores)."""
    from foveal.demo import run_demo

    out = run_demo(data=data, data_root=data_root, epochs=epochs, project=project)
    typer.echo((out / "report.md").read_text())
    typer.echo(f"report: {out / 'report.md'}")


@app.command()
def datasets() -> None:
    """List the named data sets."""
    from rich.console import Console
    from rich.table import Table

    from foveal.data import list_datasets

    table = Table(title="data sets (or give a path: an image-folder tree, or a CSV of filename,label)")
    for col in ("name", "classes", "shape", "offline", "description"):
        table.add_column(col)
    for d in list_datasets():
        table.add_row(d.name, str(d.num_classes), d.shape, "yes" if d.offline else "download / --data-root", d.description)
    Console(width=160).print(table)


@app.command()
def models(
    source: Annotated[Optional[str], Opt(help="foveal, torchvision or timm.")] = None,
    filter_: Annotated[Optional[str], Opt("--filter", help="Only names containing this.")] = None,
    recipes: Annotated[bool, Opt("--recipes", help="List the speed recipes of `foveal train --recipe` instead.")] = False,
) -> None:
    """List the models with their parameter counts (or, with --recipes, the speed recipes)."""
    from rich.console import Console

    if recipes:
        from foveal.recipes import recipe_table

        Console(width=160).print(recipe_table())
        return
    from foveal.models.listing import model_table

    Console(width=160).print(model_table(source, filter_))


bench_app = typer.Typer(help="Benchmarks: foveal against the plain PyTorch loop on this machine.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("train")
def bench_train(
    data: Annotated[str, Opt(help="fashion-mnist, mnist or cifar10.")] = "fashion-mnist",
    data_root: Annotated[Optional[str], Opt(help="Folder holding the data set (as for foveal train).")] = None,
    seeds: Annotated[str, Opt(help="Comma-separated seeds; each runs every pair once.")] = "0",
    recipe: Annotated[str, Opt(help="The speed recipe compared (foveal models --recipes).")] = "fast",
    noise_threshold: Annotated[float, Opt(help="Redo a run during which other processes took more than this share "
                                          "of the CPU (1 turns it off).")] = 0.10,
    out: Annotated[Optional[Path], Opt(help="Also write the results as JSON here.")] = None,
) -> None:
    """Train the tutorial's TinyVGG and a speed recipe both in the plain PyTorch loop and in foveal, in this process,
    and print accuracy, time, images/s and the ratios (about 10 minutes for one seed of Fashion-MNIST on 2 cores)."""
    from foveal.bench.train import bench_train as run_bench
    from foveal.recipes import get_recipe

    get_recipe(recipe)  # a bad name fails now, not after the first runs
    try:
        seed_list = tuple(int(x) for x in seeds.split(",") if x.strip())
    except ValueError:
        raise FovealError(f"--seeds expects comma-separated integers such as 0,1,2; got {seeds!r}") from None
    if not seed_list:
        raise FovealError("--seeds expects at least one seed, such as 0")
    run_bench(data, data_root, seed_list, recipe, noise_threshold, out, echo=typer.echo)


def _print_summary(metrics: dict, per_class: bool = False) -> None:
    keys = ("accuracy", "top5_accuracy", "loss", "log_loss", "f1_macro", "miou", "pixel_accuracy", "mask_map",
            "mask_map50", "map", "map50", "map75", "map_small", "map_medium", "map_large", "mar100", "train_time_s")
    typer.echo("  ".join(f"{k} {metrics[k]:.4f}" for k in keys if isinstance(metrics.get(k), float)))
    if per_class and "per_class_ap" in metrics:  # a detector: AP@[.5:.95] per class, best first
        for name, ap in sorted(metrics["per_class_ap"].items(), key=lambda kv: -kv[1]):
            typer.echo(f"  {name:>20}  AP {ap:.3f}" if ap >= 0 else f"  {name:>20}  AP -   (no objects)")
    if per_class and "per_class" in metrics:
        for name, m in metrics["per_class"].items():
            typer.echo(f"  {name:>20}  precision {m['precision']:.3f}  recall {m['recall']:.3f}  f1 {m['f1']:.3f}  n {m['support']}")


def _usage_errors() -> tuple[type[BaseException], type[BaseException]]:
    """typer 0.29 raises the exceptions of its own vendored click, not the `click` package's."""
    try:
        from typer._click.exceptions import NoArgsIsHelpError, UsageError
    except ImportError:  # an older typer on the real click
        from click.exceptions import NoArgsIsHelpError, UsageError
    return UsageError, NoArgsIsHelpError


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; turn bad input into one line on stderr and a non-zero exit code."""
    usage_error, no_args_is_help = _usage_errors()
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        app(args=args, standalone_mode=False, prog_name="foveal")
        return 0
    except no_args_is_help:  # `foveal` alone: the help was printed
        return 0
    except FovealError as err:
        if debug:
            raise
        typer.echo(f"error: {err}", err=True)
        return 2
    except usage_error as err:
        typer.echo(f"error: {err.format_message()}", err=True)
        return 2
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("interrupted", err=True)
        return 130
    except typer.Exit as ex:
        return ex.exit_code
    except Exception as err:  # a bug, not bad input: still one line unless --debug
        if debug:
            raise
        typer.echo(f"error: {type(err).__name__}: {err} (run with --debug for the traceback)", err=True)
        return 1


def run() -> None:
    sys.exit(main())
