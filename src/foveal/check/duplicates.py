"""Copies within and across splits: exact (the same decoded pixels) and near (a perceptual hash a few bits apart, or
embeddings of a pretrained network nearly parallel). A pair across splits is a leak: the model is scored on a photo
it trained on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foveal.check.facts import Facts

COSINE = 0.95  # embeddings at least this parallel: a near copy (a re-encoded, resized or slightly edited photo)
PHASH_BITS = 4  # perceptual hashes (64 bits) at most this many bits apart: a near copy
CHUNK = 1024
PER_ITEM = 10  # near partners kept per photo, the most similar: a set of near-identical scenes stays listable


@dataclass(frozen=True)
class Pair:
    a: int  # item indices, a < b
    b: int
    kind: str  # "exact" or "near"
    cosine: float | None  # None without embeddings
    phash_bits: int


def _exact(facts: Facts) -> set[tuple[int, int]]:
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(facts.pixel_hash):
        if key is not None:
            groups.setdefault(key, []).append(i)
    return {(g[0], j) for g in groups.values() for j in g[1:]}


def find_pairs(facts: Facts, cosine: float = COSINE, phash_bits: int = PHASH_BITS) -> list[Pair]:
    """Every exact pair (each copy with the first of its group) and every near pair (i < j), sorted by kind, then
    most similar first."""
    ok = np.flatnonzero(facts.ok)
    exact = _exact(facts)
    found: dict[tuple[int, int], tuple[float | None, int]] = {}
    emb = facts.embeddings[ok] if facts.embeddings is not None else None
    hashes = facts.phash[ok]
    for start in range(0, len(ok), CHUNK):
        rows = slice(start, start + CHUNK)
        bits = np.bitwise_count(hashes[rows, None] ^ hashes[None, :]).astype(np.int64)
        close = bits <= phash_bits
        cos = None
        if emb is not None:
            cos = emb[rows] @ emb.T
            close |= cos >= cosine
        close &= np.arange(len(ok))[None, :] > np.arange(start, start + len(close))[:, None]  # each pair once
        score = cos if cos is not None else -bits.astype(np.float32)
        for i in np.flatnonzero(close.any(1)):
            cols = np.flatnonzero(close[i])
            for j in cols[np.argsort(-score[i, cols], kind="stable")[:PER_ITEM]]:
                a, b = int(ok[start + i]), int(ok[j])
                found[(a, b)] = (float(cos[i, j]) if cos is not None else None, int(bits[i, j]))
    for a, b in exact:
        if (a, b) not in found:
            found[(a, b)] = (None, 0)
    pairs = [Pair(a, b, "exact" if (a, b) in exact else "near", c, h) for (a, b), (c, h) in found.items()]
    return sorted(pairs, key=lambda p: (p.kind != "exact", -(p.cosine or 1.0), p.phash_bits, p.a, p.b))
