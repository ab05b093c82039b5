"""`foveal check DATA`: scan, read every file once, find copies and leaks, summarise the classes, sizes and boxes,
rank likely label errors (with `--folds K` or `--model`), and write the report."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from foveal.check.duplicates import COSINE, PHASH_BITS, find_pairs
from foveal.check.facts import read_facts
from foveal.check.labels import label_issues, out_of_fold_probs
from foveal.check.report import write_report
from foveal.check.result import CheckResult
from foveal.check.scan import Scan, scan
from foveal.errors import FovealError

log = logging.getLogger("foveal")


def _label_split(sc: Scan) -> str | None:
    """The split whose labels are checked: train where the set has one, else its only split."""
    splits = sc.splits()
    return "train" if "train" in splits else splits[0] if len(splits) == 1 else None


def model_probs(model: str | Path, sc: Scan, chosen: np.ndarray, device: str = "auto") -> np.ndarray:
    """A trained classifier's probabilities for the chosen items, its classes matched to the data set's by name."""
    from foveal.engine.checkpoint import resolve_checkpoint
    from foveal.tasks.classify.predict import Predictor

    predictor = Predictor.from_checkpoint(resolve_checkpoint(model), device=device)
    missing = sorted(set(sc.classes) - set(predictor.card.classes))
    if missing:
        raise FovealError(f"the model's classes do not cover the data set's: it lacks {', '.join(missing[:5])}")
    found = predictor.predict([sc.items[i].path for i in chosen])
    columns = [predictor.card.classes.index(c) for c in sc.classes]
    return np.stack([np.asarray(r.probs)[columns] for r in found.results])


def check_data(data: str | Path, *, model: str | Path | None = None, folds: int | None = None,
               out: str | Path = "check", embed: bool = True, cosine: float = COSINE, phash_bits: int = PHASH_BITS,
               progress: bool = True, device: str = "auto") -> CheckResult:
    if folds is not None and folds < 2:
        raise FovealError(f"folds must be at least 2; got {folds}")
    if folds is not None and not embed:
        raise FovealError("--folds ranks label errors from the embeddings; it cannot go with --no-embed")
    start = time.perf_counter()
    sc = scan(data)
    if not sc.items:
        raise FovealError(f"no images found in {data}")
    if (model or folds) and sc.kind != "classify":
        raise FovealError("label errors are ranked for classification data (class folders); this is a box data set")
    log.info("checking %s: %d images in %s", sc.name, len(sc.items), ", ".join(sc.splits()))
    facts = read_facts(sc, embed=embed, progress=progress)
    pairs = find_pairs(facts, cosine, phash_bits)
    issues = None
    split = _label_split(sc)
    if (folds or model) and split is not None:
        chosen = np.array([i for i, it in enumerate(sc.items) if it.split == split and facts.ok[i]])
        given = np.array([sc.items[i].label for i in chosen])
        if model is not None:
            probs, source = model_probs(model, sc, chosen, device), f"the model {model}"
        else:
            probs = out_of_fold_probs(facts.embeddings[chosen], given, len(sc.classes), folds)
            source = f"a logistic regression on the embeddings, out of {folds} folds"
        issues = label_issues(chosen, given, probs, source)
    result = CheckResult(sc, facts, pairs, issues, Path(out), time.perf_counter() - start)
    write_report(result)
    return result
