"""One process's share of each training batch when several train together (the equivalent of torch's
DistributedSampler for foveal's loaders).

Rules: every process draws the same permutation of the epoch (a pure function of seed and epoch); the batch size is
the global one, and each step's global batch is cut into `size` near-equal consecutive parts, part `rank` being this
process's, so every sample is seen once per epoch and the steps (hence the schedule) are those of one process. A
process whose part of a short last batch is empty takes the batch's first sample with weight 0, so that it still
joins the step's gradient exchange and changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Shard:
    rank: int = 0
    size: int = 1

    def bounds(self, m: int) -> tuple[int, int]:
        """This process's part [lo, hi) of a global batch of m samples."""
        return self.rank * m // self.size, (self.rank + 1) * m // self.size

    def steps(self, order: torch.Tensor, batch: int) -> list[torch.Tensor]:
        """This process's sample indices of each step of an epoch in `order` (a padded part holds one sample)."""
        out = []
        for start in range(0, len(order), batch):
            step = order[start:start + batch]
            lo, hi = self.bounds(len(step))
            out.append(step[lo:hi] if hi > lo else step[:1])
        return out

    def counts(self, n: int, batch: int) -> list[int]:
        """Per step, how many of this process's samples count (0 for a padded part)."""
        return [hi - lo for lo, hi in (self.bounds(min(batch, n - s)) for s in range(0, n, batch))]

    def weights(self, n: int, batch: int) -> list[float]:
        """Per step, the factor on this process's mean loss that makes the mean of all processes' gradients that of
        the whole global batch: its share of the step's samples times the number of processes (0 for padding)."""
        return [c * self.size / min(batch, n - s) for c, s in zip(self.counts(n, batch), range(0, n, batch))]


ONE = Shard()
