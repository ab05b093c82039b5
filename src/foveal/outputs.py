"""The CSV files of predictions (their JSON is each result type's `to_dict`, in types.py).

Kaggle submission files of a classifier: one row per image, its id taken from the file name, rows sorted by id;
`id,label` by default; with `proba`, one probability column per class (`id,<class 1>,<class 2>,...`), each row
renormalised in float64 to sum to 1 and written at full precision (`probability_cells`), so that a log loss computed
from the file is the model's. The header's column names can be replaced (`header=["ImageId", "Label"]`). Detections:
one row per box.

Every name written to a CSV file (class names, ids, file names) goes through `cell`: text that a spreadsheet would
run as a formula (it starts with = + - @, a tab or a carriage return, and is not a number) gets a leading quote,
as OWASP's advice on CSV injection says.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from foveal.errors import FovealError
from foveal.fileio import write_text_atomic
from foveal.types import Classification, Detections


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(text: str) -> str:
    """`text` as a CSV cell no spreadsheet runs as a formula: `=cmd|...` becomes `'=cmd|...`; -3.5 stays a number."""
    text = str(text)
    if not text.startswith(FORMULA_STARTS):
        return text
    try:
        float(text)
        return text
    except ValueError:
        return "'" + text


def image_id(source: str) -> str:
    return Path(source).stem


def id_sort_key(value: str) -> tuple[int, int | str]:
    """Numeric ids in numeric order (2 before 10), then the others alphabetically."""
    return (0, int(value)) if value.isdigit() else (1, value)


def probability_cells(probs: Sequence[float]) -> list[str]:
    """One row of class probabilities as CSV cells: renormalised in float64 to sum to 1, each the shortest text that
    reads back as the same float64 (repr)."""
    p = np.asarray(probs, dtype=np.float64)
    p = p / p.sum()
    return [repr(float(v)) for v in p]


def submission_rows(results: Sequence[Classification], proba: bool = False) -> list[list[str]]:
    ids = [image_id(r.source) for r in results]
    seen: dict[str, str] = {}
    for i, r in zip(ids, results):
        if i in seen:
            raise FovealError(f"two images give the same id {i!r}: {seen[i]} and {r.source}; ids come from file names")
        seen[i] = r.source
    order = sorted(range(len(results)), key=lambda k: id_sort_key(ids[k]))
    if proba:
        return [[cell(ids[k]), *probability_cells(results[k].probs)] for k in order]
    return [[cell(ids[k]), cell(results[k].label)] for k in order]


def write_submission(results: Sequence[Classification], path: str | Path, *, proba: bool = False,
                     header: Sequence[str] | None = None) -> Path:
    if not results:
        raise FovealError("no predictions to write")
    columns = ["id", *results[0].classes] if proba else ["id", "label"]
    if header is not None:
        if len(header) != len(columns):
            raise FovealError(f"--header needs {len(columns)} names ({','.join(columns[:4])}{',...' if len(columns) > 4 else ''}); "
                              f"got {len(header)}: {','.join(header)}")
        columns = list(header)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([[cell(c) for c in columns], *submission_rows(results, proba)])
    return write_text_atomic(path, buf.getvalue())


def read_submission(path: str | Path) -> dict[str, list[str]]:
    """{id: the rest of its row} from a submission file (for checking one against predictions)."""
    with Path(path).open(newline="") as f:
        rows = list(csv.reader(f))
    return {r[0]: r[1:] for r in rows[1:]}


def write_detections_csv(dets: Sequence[Detections], path: str | Path) -> Path:
    """source, frame, class, confidence, x1, y1, x2, y2: a row per box."""
    path = Path(path)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "frame", "class", "confidence", "x1", "y1", "x2", "y2"])
        for d in dets:
            frame = "" if d.frame is None else d.frame
            for (x1, y1, x2, y2), s, c in zip(d.xyxy.tolist(), d.confidence.tolist(), d.class_id.tolist()):
                w.writerow([cell(d.source), frame, cell(d.classes[c]), f"{s:.4f}", f"{x1:.1f}", f"{y1:.1f}", f"{x2:.1f}", f"{y2:.1f}"])
    return path
