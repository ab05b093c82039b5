"""The check's report: `report.json` (every number and every pair), `report.md` (the same for people, with the
pictures), `leaks.png` (copies across splits side by side) and `label_issues.png` (the most suspect labels)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from foveal.fileio import write_text_atomic

if TYPE_CHECKING:
    from foveal.check.result import CheckResult

GRID = 16  # pictures per grid
LISTED = 200  # pairs and suspects listed in report.md (report.json has all)


def _spread(values: np.ndarray) -> dict[str, float]:
    if len(values) == 0:
        return {}
    return {"min": float(values.min()), "median": float(np.median(values)), "max": float(values.max())}


def summarise(r: CheckResult) -> dict[str, Any]:
    sc, facts = r.scan, r.facts
    ok = facts.ok
    splits = sc.splits()
    out: dict[str, Any] = {"data": sc.name, "kind": sc.kind, "classes": list(sc.classes), "seconds": round(r.seconds, 1),
                           "images": {s: sum(it.split == s for it in sc.items) for s in splits},
                           "unreadable": [{"path": str(sc.items[i].path), "reason": facts.reason[i]}
                                          for i in np.flatnonzero(~ok)],
                           "notes": sc.notes}
    out["sizes"] = {"height": _spread(facts.height[ok]), "width": _spread(facts.width[ok]),
                    "aspect": _spread(facts.width[ok] / np.maximum(facts.height[ok], 1)),
                    "distinct_sizes": len({(int(h), int(w)) for h, w in zip(facts.height[ok], facts.width[ok])}),
                    "modes": dict(Counter(m for m, good in zip(facts.modes, ok) if good))}
    if sc.kind == "classify":
        balance = {}
        for s in splits:
            counts = Counter(sc.classes[it.label] for it in sc.items if it.split == s)
            per = {c: counts.get(c, 0) for c in sc.classes}
            balance[s] = {"counts": per, "imbalance": max(per.values()) / max(1, min(per.values()))}
        out["balance"] = balance
    else:
        objects = np.array([len(it.box_labels) for it in sc.items])
        boxes = [b for it in sc.items for b in it.boxes]
        areas = np.array([(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]) if boxes else np.zeros(0)
        per_class = Counter(sc.classes[int(c)] for it in sc.items for c in it.box_labels)
        out["objects"] = {"per_image": _spread(objects), "images_without_objects": int((objects == 0).sum()),
                          "total": int(objects.sum()), "per_class": dict(per_class.most_common()),
                          "classes_without_objects": [c for c in sc.classes if c not in per_class],
                          "box_sizes_coco": {"small (< 32²)": int((areas < 32 ** 2).sum()),
                                             "medium": int(((areas >= 32 ** 2) & (areas < 96 ** 2)).sum()),
                                             "large (≥ 96²)": int((areas >= 96 ** 2).sum())}}
    same_path = {p for p in r.pairs if sc.items[p.a].path == sc.items[p.b].path}
    kinds = Counter((p.kind, "across" if sc.items[p.a].split != sc.items[p.b].split else "within")
                    for p in r.pairs if p not in same_path)
    out["copies"] = {"exact_within": kinds[("exact", "within")], "exact_across": kinds[("exact", "across")],
                     "near_within": kinds[("near", "within")], "near_across": kinds[("near", "across")],
                     "same_file_in_two_splits": len(same_path),
                     "embeddings": facts.embeddings is not None, "cached_embeddings": facts.cached}
    out["pairs"] = [{"a": str(sc.items[p.a].path), "b": str(sc.items[p.b].path), "split_a": sc.items[p.a].split,
                     "split_b": sc.items[p.b].split, "kind": p.kind, "cosine": p.cosine, "phash_bits": p.phash_bits}
                    for p in r.pairs]
    if r.labels is not None:
        li = r.labels
        order = li.ranked()
        out["label_issues"] = {"source": li.source, "checked": len(li.index), "flagged": int(li.flagged.sum()),
                               "ranked": [{"path": str(sc.items[li.index[k]].path), "given": sc.classes[li.given[k]],
                                           "likely": sc.classes[int(li.probs[k].argmax())],
                                           "quality": round(float(li.quality[k]), 6), "flagged": bool(li.flagged[k])}
                                          for k in order]}
    return out


def summary_lines(r: CheckResult) -> list[str]:
    s = r.summary
    images = ", ".join(f"{n} {split}" for split, n in s["images"].items())
    c = s["copies"]
    lines = [f"{s['data']}: {images} images; {len(s['unreadable'])} unreadable",
             f"copies: {c['exact_within']} exact and {c['near_within']} near within splits; "
             f"leaks across splits: {c['exact_across']} exact, {c['near_across']} near"
             + (f"; {c['same_file_in_two_splits']} file(s) listed in two splits" if c["same_file_in_two_splits"] else "")]
    if "balance" in s:
        worst = max(s["balance"].items(), key=lambda kv: kv[1]["imbalance"])
        lines.append(f"classes: {len(s['classes'])}; largest/smallest class in {worst[0]}: {worst[1]['imbalance']:.1f}x")
    if "objects" in s:
        o = s["objects"]
        lines.append(f"objects: {o['total']} ({o['per_image'].get('median', 0):g} per image median), "
                     f"{o['images_without_objects']} images without any; {len(s['notes'])} label problem(s)")
    if "label_issues" in s:
        li = s["label_issues"]
        lines.append(f"likely label errors: {li['flagged']} of {li['checked']} ({li['source']})")
    lines.append(f"report: {r.folder / 'report.md'} ({s['seconds']:.0f} s)")
    return lines


def _thumb(path: Path, side: int = 96):
    import torch
    import torch.nn.functional as F

    from foveal.data.images import read_image

    img = read_image(path, channels=3).float()[None]
    h, w = img.shape[-2:]
    scale = side / max(h, w)
    img = F.interpolate(img, size=(max(1, round(h * scale)), max(1, round(w * scale))), mode="bilinear",
                        antialias=True, align_corners=False)[0]
    canvas = torch.full((3, side, side), 255.0)
    top, left = (side - img.shape[1]) // 2, (side - img.shape[2]) // 2
    canvas[:, top: top + img.shape[1], left: left + img.shape[2]] = img
    return canvas.round().clamp(0, 255).to(torch.uint8)


def _grids(r: CheckResult) -> list[Path]:
    import torch

    from foveal.viz.plots import image_grid

    sc, files = r.scan, []
    leaks = r.leaks()[: GRID // 2]
    if leaks:
        thumbs, titles = [], []
        for p in leaks:
            for i in (p.a, p.b):
                thumbs.append(_thumb(sc.items[i].path))
                titles.append(f"{sc.items[i].split}: {sc.items[i].path.name[:18]}")
        files.append(image_grid(torch.stack(thumbs), titles, r.folder / "leaks.png", ncols=4))
    if r.labels is not None and len(r.labels.index):
        li = r.labels
        top = li.ranked()[:GRID]
        thumbs = torch.stack([_thumb(sc.items[li.index[k]].path) for k in top])
        titles = [f"given {sc.classes[li.given[k]]}\nlikely {sc.classes[int(li.probs[k].argmax())]}" for k in top]
        files.append(image_grid(thumbs, titles, r.folder / "label_issues.png", wrong=[True] * len(top), ncols=8))
    return files


def _cosine(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _markdown(s: dict[str, Any], pictures: list[Path]) -> str:
    kind = "classification (class folders)" if s["kind"] == "classify" else "boxes (and masks)"
    md = [f"# Data check: {s['data']}", "", f"{kind}; " + ", ".join(f"{n} {k}" for k, n in s["images"].items())
          + f" images; checked in {s['seconds']:.0f} s.", ""]
    md += ["## Unreadable files", ""] + ([f"- `{u['path']}`: {u['reason']}" for u in s["unreadable"]] or ["none"]) + [""]
    if s["notes"]:
        md += ["## Label problems found by the reader", ""] + [f"- {n}" for n in s["notes"]] + [""]
    c = s["copies"]
    md += ["## Copies and leaks", "",
           "| | within a split | across splits (leaks) |", "|---|---|---|",
           f"| exact (same decoded pixels) | {c['exact_within']} | {c['exact_across']} |",
           f"| near (perceptual hash or embedding) | {c['near_within']} | {c['near_across']} |", ""]
    if c["same_file_in_two_splits"]:
        md += [f"{c['same_file_in_two_splits']} file(s) are listed in two splits (the same path).", ""]
    if s["pairs"]:
        md += ["| a | b | kind | cosine | pHash bits |", "|---|---|---|---|---|"]
        md += [f"| {p['split_a']}: `{p['a']}` | {p['split_b']}: `{p['b']}` | {p['kind']} | {_cosine(p['cosine'])} | "
               f"{p['phash_bits']} |" for p in s["pairs"][:LISTED]]
        md += [""]
    if "balance" in s:
        md += ["## Classes", "", "| class | " + " | ".join(s["balance"]) + " |", "|---|" + "---|" * len(s["balance"])]
        md += [f"| {cls} | " + " | ".join(str(b["counts"][cls]) for b in s["balance"].values()) + " |" for cls in s["classes"]]
        md += ["", "largest / smallest class: " + ", ".join(f"{k} {b['imbalance']:.2f}x" for k, b in s["balance"].items()), ""]
    if "objects" in s:
        o = s["objects"]
        md += ["## Objects", "", f"{o['total']} objects; per image {o['per_image']}; {o['images_without_objects']} images "
               f"without any; box sizes {o['box_sizes_coco']}.", "",
               "classes without any object: " + (", ".join(o["classes_without_objects"]) or "none"), ""]
    z = s["sizes"]
    md += ["## Sizes", "", f"height {z['height']}, width {z['width']}, aspect (w/h) {z['aspect']}; "
           f"{z['distinct_sizes']} distinct sizes; modes {z['modes']}.", ""]
    if "label_issues" in s:
        li = s["label_issues"]
        md += ["## Likely label errors", "", f"{li['flagged']} of {li['checked']} labels flagged, from {li['source']}; "
               "most suspect first (quality: the probability of the given label).", "",
               "| image | given | likely | quality | flagged |", "|---|---|---|---|---|"]
        md += [f"| `{x['path']}` | {x['given']} | {x['likely']} | {x['quality']:.4f} | {'yes' if x['flagged'] else ''} |"
               for x in li["ranked"][: max(LISTED, 0)] if x["flagged"] or li["flagged"] == 0]
        md += [""]
    md += [f"![{p.stem}]({p.name})" for p in pictures]
    return "\n".join(md) + "\n"


def write_report(r: CheckResult) -> None:
    r.folder.mkdir(parents=True, exist_ok=True)
    r.summary = summarise(r)
    pictures = _grids(r)
    write_text_atomic(r.folder / "report.json", json.dumps(r.summary, indent=1))
    write_text_atomic(r.folder / "report.md", _markdown(r.summary, pictures))
