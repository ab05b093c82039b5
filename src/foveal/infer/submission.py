"""Kaggle submission files: one row per image, its id taken from the file name, rows sorted by id.

`id,label` by default; with `proba`, one probability column per class (`id,<class 1>,<class 2>,...`). The header's
column names can be replaced (`header=["ImageId", "Label"]`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from foveal.errors import FovealError
from foveal.fileio import write_text_atomic
from foveal.types import Classification


def image_id(source: str) -> str:
    return Path(source).stem


def id_sort_key(value: str) -> tuple[int, int | str]:
    """Numeric ids in numeric order (2 before 10), then the others alphabetically."""
    return (0, int(value)) if value.isdigit() else (1, value)


def submission_rows(results: Sequence[Classification], proba: bool = False) -> list[list[str]]:
    ids = [image_id(r.source) for r in results]
    seen: dict[str, str] = {}
    for i, r in zip(ids, results):
        if i in seen:
            raise FovealError(f"two images give the same id {i!r}: {seen[i]} and {r.source}; ids come from file names")
        seen[i] = r.source
    order = sorted(range(len(results)), key=lambda k: id_sort_key(ids[k]))
    if proba:
        return [[ids[k], *(f"{p:.6f}" for p in results[k].probs)] for k in order]
    return [[ids[k], results[k].label] for k in order]


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
    csv.writer(buf, lineterminator="\n").writerows([columns, *submission_rows(results, proba)])
    return write_text_atomic(path, buf.getvalue())


def read_submission(path: str | Path) -> dict[str, list[str]]:
    """{id: the rest of its row} from a submission file (for checking one against predictions)."""
    with Path(path).open(newline="") as f:
        rows = list(csv.reader(f))
    return {r[0]: r[1:] for r in rows[1:]}
