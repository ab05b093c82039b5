"""The verbs of `foveal`: each parses its options and calls the API; what they print is made in render.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from foveal.cli.options import with_config_options
from foveal.cli.render import echo_lines, setup_logging, summary_lines
from foveal.errors import FovealError

app = typer.Typer(
    help="foveal: a PyTorch computer-vision toolkit. Train, evaluate, predict and compare image models.",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=True,
    # click's plain help: a flag shows as a flag (rich help gives every option a type, `--save <bool>`)
    rich_markup_mode=None, context_settings={"max_content_width": 120},
)

Opt = typer.Option


def _version(shown: bool) -> None:
    if shown:
        from foveal import __version__

        typer.echo(f"foveal {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, Opt("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
    debug: Annotated[bool, Opt("--debug", help="Show full tracebacks.")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="Only warnings and errors.")] = False,
) -> None:
    setup_logging(quiet)


@app.command()
@with_config_options
def train(
    config: Annotated[Optional[Path], Opt(help="YAML file of settings; command-line options win.")] = None,
    set_: Annotated[Optional[list[str]], Opt("--set", help="Extra settings as key=value (dotted keys allowed).")] = None,
    resume: Annotated[Optional[str], Opt(help="Continue a run from its folder or last.pt.")] = None,
    nproc: Annotated[int, Opt(help="Train in this many processes on this machine (torchrun; gloo on CPU, NCCL on CUDA).")] = 1,
    nnodes: Annotated[int, Opt(help="With --rdzv-endpoint: machines in the job, each running this same command.")] = 1,
    rdzv_endpoint: Annotated[Optional[str], Opt(help="HOST:PORT where the job's machines meet (the first one's address).")] = None,
    **settings,
) -> None:
    """Train a model and write a run folder with checkpoints, metrics and plots."""
    from foveal.api import Model
    from foveal.config import parse_overrides
    from foveal.engine.world import launched, main_process

    if (nproc > 1 or nnodes > 1 or rdzv_endpoint) and not launched():
        import sys

        from foveal.engine.launch import launch

        launch(sys.argv[1:], nproc, nnodes, rdzv_endpoint)
        return
    model, data, task = settings.pop("model"), settings.pop("data"), settings.pop("task")
    overrides = {**parse_overrides(set_ or []), **{k: v for k, v in settings.items() if v is not None}}
    if resume:
        m = Model(resume, task=task)
        metrics = m.train(data=data, resume=resume, **overrides)
    else:
        m = Model(model, task=task, **({"pretrained": True} if overrides.get("pretrained") else {}))
        metrics = m.train(data=data, config=config, **overrides)
    if main_process():  # the other processes of a job print nothing
        echo_lines(summary_lines(metrics))
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
    device: Annotated[str, Opt(help="auto (cuda, then mps, then cpu), cpu, cuda or mps.")] = "auto",
    split: Annotated[str, Opt(help="val, or test where the data has a labelled one (test/ folders, a data.yaml's test:).")] = "val",
    calibrate: Annotated[bool, Opt("--calibrate", help="Classifiers: fit a temperature to this split's logits (temperature scaling) and save it in the checkpoint; val and predict then use it. Its figures on this split are optimistic.")] = False,
) -> None:
    """Evaluate a trained model (or an ensemble); writes metrics.json, the confusion matrix and image grids."""
    from foveal.api import Model

    m = Model(model)
    metrics = m.val(data=data, data_root=data_root, batch_size=batch_size, tta=tta, project=project, name=name,
                    ensemble=more or [], device=device, split=split, calibrate=calibrate)
    if format_ == "json":
        typer.echo(json.dumps(metrics, indent=2))
    else:
        echo_lines(summary_lines(metrics, per_class=True))
    typer.echo(f"results in {m.val_dir}", err=format_ == "json")  # stdout stays one JSON document


@app.command()
def predict(
    sources: Annotated[list[str], typer.Argument(help="Image files and folders, and video files for detectors (checkpoints among them join --model as an ensemble).")],
    model: Annotated[Optional[str], Opt(help="Checkpoint (runs/<run>/best.pt) or run folder; with --pretrained, a model name (default efficientnet_lite0).")] = None,
    pretrained: Annotated[bool, Opt("--pretrained", help="Use the named model's pretrained ImageNet weights.")] = False,
    tta: Annotated[bool, Opt("--tta", help="Classifiers: test-time augmentation, flips and shifted crops averaged.")] = False,
    save: Annotated[bool, Opt("--save", help="Write annotated images to <project>/<name>/.")] = False,
    top_k: Annotated[Optional[int], Opt("--top-k", help="Classifiers: how many labels to show per image (default 3).")] = None,
    format_: Annotated[str, Opt("--format", help="text, json or csv (a Kaggle submission).")] = "text",
    out: Annotated[Optional[Path], Opt(help="--format csv: the file to write (default submission.csv).")] = None,
    proba: Annotated[bool, Opt("--proba", help="--format csv: one probability column per class instead of the label.")] = False,
    header: Annotated[Optional[str], Opt(help="--format csv: column names, comma-separated (default id,label or id,<classes>).")] = None,
    conf: Annotated[Optional[float], Opt(help="Detectors and instance segmenters: keep objects at least this confident (default 0.25).")] = None,
    iou: Annotated[Optional[float], Opt(help="Detectors and instance segmenters: NMS overlap above which the weaker box is dropped (default 0.6).")] = None,
    classes: Annotated[Optional[str], Opt(help="Detectors: only these classes, comma-separated names or ids.")] = None,
    max_det: Annotated[Optional[int], Opt("--max-det", help="Detectors: at most this many boxes per image.")] = None,
    agnostic_nms: Annotated[bool, Opt("--agnostic-nms", help="Detectors and instance segmenters: NMS across classes too (one box per object).")] = False,
    crop: Annotated[bool, Opt("--crop", help="Detectors: save each object as crops/<class>/<image>_<n>.jpg.")] = False,
    margin: Annotated[Optional[float], Opt(help="Detectors: --crop grows each box by this fraction of its size per side.")] = None,
    cutout: Annotated[Optional[str], Opt(help="Segmenters: save <image>_<CLASS>.png with everything but CLASS transparent.")] = None,
    pixel_size: Annotated[Optional[float], Opt("--pixel-size", help="Segmenters: the side of one pixel in mm; areas are also given in mm².")] = None,
    project: Annotated[str, Opt()] = "runs",
    name: Annotated[str, Opt()] = "predict",
    device: Annotated[str, Opt(help="auto (cuda, then mps, then cpu), cpu, cuda or mps.")] = "auto",
    split: Annotated[Optional[str], Opt(help="The sources are data sets: predict the images of this split (test, val): a data.yaml's entry, or the data set's folder of that name.")] = None,
) -> None:
    """Predict what images show (classifiers), where their objects are (detectors) or the class of every pixel
    (segmenters); unreadable files are reported and skipped. Several classification checkpoints: an ensemble."""
    from foveal.api import Model
    from foveal.engine.checkpoint import is_checkpoint

    if format_ not in ("text", "json", "csv"):
        raise FovealError(f"--format must be text, json or csv; got {format_!r}")
    extra = [s for s in sources if is_checkpoint(s)]
    images = [s for s in sources if s not in extra]
    if pretrained:
        if extra:
            raise FovealError("--pretrained predicts with one named model; checkpoints cannot join it")
        m = Model(model, pretrained=True)
    elif model is None and not extra:
        raise FovealError("which model? pass --model runs/<run>/best.pt, or --pretrained for ImageNet classes")
    else:
        m = Model(model or extra.pop(0))
    options = dict(tta=tta or None, top_k=top_k, conf=conf, iou=iou, max_det=max_det, agnostic_nms=agnostic_nms or None, crop=crop or None,
                   margin=margin, cutout=cutout, pixel_size=pixel_size, ensemble=extra or None,
                   classes=[c.strip() for c in classes.split(",")] if classes else None)
    run = m.predict_run(images, save=save, project=project, name=name, device=device, split=split,
                        **{k: v for k, v in options.items() if v is not None})
    if format_ == "csv":
        csv_options = dict(proba=proba or None, header=[h.strip() for h in header.split(",")] if header else None)
        typer.echo(run.write_csv(out, **{k: v for k, v in csv_options.items() if v is not None}))
    elif format_ == "json":
        typer.echo(json.dumps(run.to_json(), indent=2))
    else:
        echo_lines(run.text())
    if run.folder is not None:
        typer.echo(f"results in {run.folder}")
    if run.failed:
        typer.echo(f"{len(run.failed)} file(s) could not be read and were skipped", err=True)


@app.command()
def check(
    data: Annotated[str, typer.Argument(help="A data set: a folder of class folders (root/<class>/* or root/train|val|test/<class>/*), a YOLO data.yaml, a COCO .json or a VOC folder.")],
    model: Annotated[Optional[str], Opt(help="A trained classifier: rank likely label errors by its probabilities.")] = None,
    folds: Annotated[Optional[int], Opt(help="Rank likely label errors by out-of-fold probabilities of a logistic regression on the pretrained embeddings, over K folds.")] = None,
    out: Annotated[str, Opt(help="Folder of the report (report.md, report.json, leaks.png, label_issues.png).")] = "check",
    embed: Annotated[bool, Opt("--embed/--no-embed", help="Compare photos by a pretrained network's embeddings too (near copies; needed by --folds).")] = True,
    cosine: Annotated[Optional[float], Opt(help="Embeddings at least this similar are near copies (default 0.95).")] = None,
    phash_bits: Annotated[Optional[int], Opt("--phash-bits", help="Perceptual hashes at most this many bits apart are near copies (default 4).")] = None,
) -> None:
    """A health report of a data set before training: unreadable files, copies and leaks between splits, class
    balance, sizes, boxes; with --folds or --model, the likely label errors."""
    from foveal.check.report import summary_lines
    from foveal.check.run import check_data

    options = {k: v for k, v in dict(cosine=cosine, phash_bits=phash_bits).items() if v is not None}
    echo_lines(summary_lines(check_data(data, model=model, folds=folds, out=out, embed=embed, **options)))


@app.command()
def explain(
    sources: Annotated[list[str], typer.Argument(help="Image files and folders.")],
    model: Annotated[Optional[str], Opt(help="Checkpoint (runs/<run>/best.pt) or run folder; with --pretrained, a model name (default efficientnet_lite0).")] = None,
    pretrained: Annotated[bool, Opt("--pretrained", help="Use the named model's pretrained ImageNet weights.")] = False,
    top_k: Annotated[Optional[int], Opt("--top-k", help="Classifiers: Grad-CAM for this many of the most likely classes (default 3).")] = None,
    classes: Annotated[Optional[str], Opt(help="Classifiers: Grad-CAM for these classes instead, comma-separated names or ids.")] = None,
    methods: Annotated[Optional[str], Opt(help="Classifiers: gradcam, integrated_gradients or both, comma-separated (default both).")] = None,
    conf: Annotated[Optional[float], Opt(help="Detectors: explain boxes at least this confident (default 0.25).")] = None,
    max_boxes: Annotated[Optional[int], Opt("--max-boxes", help="Detectors: explain at most this many boxes per image (default 6).")] = None,
    project: Annotated[str, Opt()] = "runs",
    name: Annotated[str, Opt()] = "explain",
    device: Annotated[str, Opt(help="auto (cuda, then mps, then cpu), cpu, cuda or mps.")] = "auto",
) -> None:
    """Show why a model says what it says: for a classifier, Grad-CAM and integrated gradients over each photo, what
    each stage of the network sees and its first layer's filters; for a detector, Grad-CAM of each box. Pictures
    under <project>/<name>/."""
    from foveal.api import Model

    if model is None and not pretrained:
        raise FovealError("which model? pass --model runs/<run>/best.pt, or --pretrained for ImageNet classes")
    m = Model(model, pretrained=True) if pretrained else Model(model)
    options = dict(top_k=top_k, conf=conf, max_boxes=max_boxes,
                   classes=[c.strip() for c in classes.split(",")] if classes else None,
                   methods=[x.strip() for x in methods.split(",") if x.strip()] if methods else None)
    found = m.explain(sources, project=project, name=name, device=device,
                      **{k: v for k, v in options.items() if v is not None})
    echo_lines([e.summary() for e in found])
    if found and found[0].files:
        typer.echo(f"results in {found[0].files[0].parent}")


@app.command()
def export(
    model: Annotated[str, Opt(help="Checkpoint (runs/<run>/best.pt) or run folder.")],
    format_: Annotated[str, Opt("--format", help="onnx (ONNX Runtime) or openvino (OpenVINO IR).")] = "onnx",
    int8: Annotated[bool, Opt("--int8", help="Static int8, calibrated on the training images of --data.")] = False,
    data: Annotated[Optional[str], Opt(help="Data set for the int8 calibration and the parity gates; default: the one it was trained on.")] = None,
    out: Annotated[Optional[str], Opt(help="Output file; default: beside the checkpoint (best.onnx, best_int8.onnx, best_openvino.xml).")] = None,
    check: Annotated[bool, Opt("--check/--no-check", help="Measure the parity gates (outputs and metric against the checkpoint's) and fail the export when one is missed.")] = True,
) -> None:
    """Export a trained model to a file for ONNX Runtime or OpenVINO, with its card file and parity gates."""
    from foveal.api import Model

    result = Model(model).export(format=format_, int8=int8, data=data, out=out, check=check)
    echo_lines(result.lines())


@app.command()
def benchmark(
    model: Annotated[str, Opt(help="Checkpoint (runs/<run>/best.pt) or run folder.")],
    data: Annotated[Optional[str], Opt(help="Data set for the metric and the int8 calibration; default: the one it was trained on.")] = None,
    runs: Annotated[int, Opt(help="Batch-1 timings per format, after a warm-up.")] = 50,
    project: Annotated[str, Opt()] = "runs",
    name: Annotated[str, Opt()] = "benchmark",
) -> None:
    """Every format and precision of one model: size, load time, batch-1 latency, throughput and metric."""
    from foveal.api import Model

    echo_lines(Model(model).benchmark(data=data, runs=runs, project=project, name=name).lines())


@app.command()
def serve(
    model: Annotated[list[str], Opt(help="A checkpoint, run folder or exported file (.onnx, OpenVINO .xml) to serve, as path or name=path; repeat for several.")],
    runs: Annotated[Optional[str], Opt(help="A folder of runs for the page's runs browser (only files under it are served).")] = None,
    host: Annotated[str, Opt(help="The address to listen on; 0.0.0.0 opens the server to the network.")] = "127.0.0.1",
    port: Annotated[int, Opt()] = 8000,
    api_key: Annotated[Optional[str], Opt(help="Ask every request but /healthz for this key in the X-API-Key header.")] = None,
    max_mb: Annotated[float, Opt(help="The most megabytes of images in one request.")] = 20.0,
    max_megapixels: Annotated[float, Opt(help="The most megapixels in one image (larger ones are refused from their header).")] = 40.0,
    queue: Annotated[int, Opt(help="Requests that may wait for the model; one more is answered 429 with Retry-After.")] = 64,
    batch: Annotated[int, Opt(help="Images of waiting requests run together (1: one request at a time).")] = 16,
    device: Annotated[str, Opt(help="cpu, cuda or auto.")] = "cpu",
) -> None:
    """Serve models over HTTP (an API and a web page) and browse runs: http://127.0.0.1:8000."""
    from foveal.serve import Limits, serve as run_server

    limits = Limits(max_bytes=int(max_mb * 2**20), max_pixels=int(max_megapixels * 1e6), max_queue=queue, max_batch=batch)
    typer.echo(f"serving {len(model)} model(s) at http://{host}:{port} (API at /docs; Ctrl+C stops)")
    run_server(model, runs, host=host, port=port, api_key=api_key, limits=limits, device=device)


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
    out: Annotated[Optional[Path], Opt(help="Bar chart PNG (a CSV is written beside it); taken names get a number (compare2.png).")] = None,
) -> None:
    """Compare finished runs of any task: accuracy, mAP or mIoU, train time, parameters, latency."""
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
    here: Annotated[bool, Opt("--here", help="With --recipes: what each recipe picks on this CPU, and why (measures "
                                             "its pace: a few seconds the first time, 30 s or more on a slow CPU).")]
    = False,
) -> None:
    """List the models with their parameter counts (or, with --recipes, the speed recipes)."""
    from rich.console import Console

    if recipes:
        from foveal.recipes import recipe_table

        if here:
            from foveal.tasks.classify.fit import picks_here

            Console(width=160).print(recipe_table(*picks_here()))
        else:
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
    parts: Annotated[str, Opt(help="Comma-separated: recipes (the 28x28 pairs), segment (the default segmenter and "
                                   "the U-Net on 360x480 photos), finetune (efficientnet_lite0 in full at 224 px).")]
    = "recipes,segment,finetune",
    out: Annotated[Optional[Path], Opt(help="Also write the results as JSON here.")] = None,
) -> None:
    """Train the tutorial's TinyVGG and a speed recipe both in the plain PyTorch loop and in foveal, in this process,
    and print accuracy, time, images/s and the ratios (about 10 minutes for one seed of Fashion-MNIST on 2 cores);
    then the photos/s of the default segmenter and of a full fine-tune on generated photos (about 2 minutes)."""
    from foveal.bench.train import PARTS, bench_train as run_bench
    from foveal.recipes import get_recipe

    get_recipe(recipe)  # a bad name fails now, not after the first runs
    chosen = tuple(p.strip() for p in parts.split(",") if p.strip())
    if not chosen or set(chosen) - set(PARTS):
        raise FovealError(f"--parts expects some of {', '.join(PARTS)}, comma-separated; got {parts!r}")
    try:
        seed_list = tuple(int(x) for x in seeds.split(",") if x.strip())
    except ValueError:
        raise FovealError(f"--seeds expects comma-separated integers such as 0,1,2; got {seeds!r}") from None
    if not seed_list:
        raise FovealError("--seeds expects at least one seed, such as 0")
    run_bench(data, data_root, seed_list, recipe, noise_threshold, out, echo=typer.echo, parts=chosen)
