"""`foveal bench train`: foveal against the plain PyTorch loop on one data set, in this one process, each pair
interleaved per seed so that machine noise hits both:

- tutorial: the classic tutorial's TinyVGG and settings (SGD lr 0.1, batch 32, 3 epochs, a test pass every epoch),
  in the tutorial's plain loop and in `foveal train`;
- recipe: a speed recipe's model and hyperparameters (`--recipe fast`) in the plain loop and in `foveal train`.

It prints per run the accuracy, training time and images/s; per pair the mean and spread over seeds and the ratios;
and foveal's recipe against the tutorial's plain TinyVGG, the time to accuracy a learner starts from. Then (bench/photos.py)
the photos/s of the default segmenter and of a full fine-tune, on this CPU in the precision it trains in here."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from foveal.bench import plain
from foveal.bench.machine import describe, foveal_source, hardware, mean_std, measured


def run_foveal(label: str, model: str | None, seed: int, data: str, root, project: str, **settings) -> dict:
    """One `foveal train` run, quiet, as the plain runners report theirs (with its epochs' records, as its last
    checkpoint holds them)."""
    import logging

    import foveal

    log = logging.getLogger("foveal")
    level = log.level
    log.setLevel(logging.WARNING)  # the bench prints one line per run, not the trainer's epoch lines
    try:
        m = foveal.Model(model, task="classify")
        metrics = m.train(data=data, data_root=root, seed=seed, project=project, name=f"{label}-{seed}",
                          progress=False, exist_ok=True, **settings)
    finally:
        log.setLevel(level)
    from foveal.engine.checkpoint import load_checkpoint

    epochs = load_checkpoint(Path(m.run_dir) / "last.pt")["history"]  # typed, unlike results.csv's text
    last = [e for e in epochs if "val_accuracy" in e][-1]
    return {"runner": "foveal", "model": metrics["model"], "seed": seed, "accuracy_last": last["val_accuracy"],
            "accuracy_best": float(metrics["accuracy"]), "best_epoch": int(metrics["best_epoch"]),
            "time_s": float(metrics["train_time_s"]), "images_per_s": float(metrics["train_images_per_s"]),
            "epochs": epochs}


def summarise(label: str, runs: list[dict]) -> dict:
    import statistics

    out = {"pair": label}
    for runner in ("plain", "foveal"):
        rs = [r for r in runs if r["runner"] == runner]
        acc, spread = mean_std([r["accuracy_last"] for r in rs])
        out[runner] = {"accuracy_mean": acc, "accuracy_std": spread, "n": len(rs),
                       "time_median_s": statistics.median(r["time_s"] for r in rs),
                       "images_per_s_median": statistics.median(r["images_per_s"] for r in rs)}
    p, f = out["plain"], out["foveal"]
    out["speedup"] = p["time_median_s"] / f["time_median_s"]  # plain time / foveal time
    out["images_per_s_ratio"] = f["images_per_s_median"] / p["images_per_s_median"]
    out["accuracy_diff"] = f["accuracy_mean"] - p["accuracy_mean"]
    return out


def _line(label: str, runner: str, s: dict) -> str:
    return (f"{label:<9} {runner:<7} {100 * s['accuracy_mean']:6.2f} ± {100 * s['accuracy_std']:4.2f}  "
            f"{s['time_median_s']:8.1f} s  {s['images_per_s_median']:8.0f} img/s  (n {s['n']})")


PARTS = ("recipes", "segment", "finetune")


def bench_train(data: str = "fashion-mnist", data_root: str | None = None, seeds: tuple[int, ...] = (0,),
                recipe: str = "fast", threshold: float = 0.10, out: str | Path | None = None, echo=print,
                parts: tuple[str, ...] = PARTS) -> dict:
    from foveal.bench.photos import bench_photos

    hw, source = hardware(), foveal_source()
    echo(describe(hw))
    echo(f"foveal {source['version']} (sources {source['source_sha256']})")
    result = {"benchmark": "bench_train", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "hardware": hw, "foveal": source}
    wall = time.perf_counter()
    if "recipes" in parts:
        result.update(_bench_recipes(data, data_root, seeds, recipe, threshold, echo))
    photo_parts = tuple(p for p in parts if p != "recipes")
    if photo_parts:
        echo("")
        echo(f"training on photos (generated), {hw['isa']}, {'bf16 autocast' if hw['bf16_autocast'] else 'fp32'}:")
        result["photos"] = bench_photos(photo_parts, echo=echo)
    result["wall_s"] = time.perf_counter() - wall
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2, default=str))
        echo(f"results written to {out}")
    return result


def _bench_recipes(data: str, data_root: str | None, seeds: tuple[int, ...], recipe: str, threshold: float,
                   echo) -> dict:
    from foveal.data import load_data
    from foveal.recipes import recipe_settings
    from foveal.tasks.classify.fit import fit_to_machine

    echo(f"data {data} from {data_root or 'the default root'}")
    splits = load_data(data, root=data_root)  # downloads a named set when online and absent; the plain loop reads it
    channels, size, classes = splits.train.channels, splits.train.size[0], len(splits.classes)
    settings, fit = fit_to_machine(recipe, recipe_settings(recipe, channels, splits.train.size, splits.name),
                                   channels=channels, size=splits.train.size, num_classes=classes,
                                   train_images=len(splits.train), val_images=len(splits.val))
    settings.pop("time_limit", None)  # both runners train the recipe's epochs (the plain loop has no time budget)
    echo(f"--recipe {recipe} here: {fit.line()}")
    chosen = {**fit.choice, "epochs": settings["epochs"]}
    mean, std = splits.train.mean_std()
    tut_train, tut_test = plain.datasets(data, data_root, _to_tensor(), _to_tensor())
    rec_train, rec_test = plain.datasets(data, data_root, *plain.recipe_transforms(settings, size, mean, std))
    whiten = plain.whitening_images(rec_train, rec_test.transform)
    pairs = {
        "tutorial": (lambda s: plain.run_tutorial("tinyvgg", s, tut_train, tut_test, channels, size),
                     lambda s, p: run_foveal("tutorial", "tinyvgg", s, data, data_root, p, **plain.TUTORIAL)),
        f"{recipe}": (lambda s: plain.run_recipe(s, settings, rec_train, rec_test, channels, size, classes, whiten),
                      lambda s, p: run_foveal(recipe, None, s, data, data_root, p, recipe=recipe, **chosen)),
    }
    runs: dict[str, list[dict]] = {k: [] for k in pairs}
    with tempfile.TemporaryDirectory(prefix="foveal-bench-") as project:
        for label, (run_plain, run_fov) in pairs.items():
            for seed in seeds:
                for runner, fn, args in (("plain", run_plain, (seed,)), ("foveal", run_fov, (seed, project))):
                    r = measured(fn, *args, threshold=threshold)
                    runs[label].append(r)
                    echo(f"  {label:<9} seed {seed:>3}  {runner:<6}  accuracy {100 * r['accuracy_last']:.2f}%  "
                         f"{r['time_s']:7.1f} s  {r['images_per_s']:7.0f} img/s"
                         f"{'  (other processes took ' + format(r['others_cpu_share'], '.0%') + ')' if r['disturbed'] else ''}")
    summaries = {label: summarise(label, rs) for label, rs in runs.items()}
    echo("")
    echo(f"{'pair':<9} {'runner':<7} {'accuracy %':>13}  {'train time':>10}  {'speed':>14}")
    for label, s in summaries.items():
        echo(_line(label, "plain", s["plain"]))
        echo(_line(label, "foveal", s["foveal"]))
        echo(f"{'':<9} foveal / plain: {s['speedup']:.2f}x faster, {s['images_per_s_ratio']:.2f}x the images/s, "
             f"accuracy {100 * s['accuracy_diff']:+.2f} points")
    tut, rec = summaries["tutorial"]["plain"], summaries[recipe]["foveal"]
    echo(f"foveal --recipe {recipe}: {100 * rec['accuracy_mean']:.2f}% in {rec['time_median_s']:.0f} s; the tutorial's "
         f"plain TinyVGG: {100 * tut['accuracy_mean']:.2f}% in {tut['time_median_s']:.0f} s")
    return {"data": data, "data_root": data_root, "seeds": list(seeds), "recipe": recipe, "recipe_settings": settings,
            "recipe_choice": fit.line(), "summary": summaries, "runs": runs}


def _to_tensor():
    from torchvision.transforms import ToTensor

    return ToTensor()
