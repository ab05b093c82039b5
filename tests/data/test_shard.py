"""Each process's part of every global batch: together the parts are the batch, every sample once per epoch."""

from __future__ import annotations

import pytest
import torch

from foveal.data.shard import Shard
from foveal.data.tensors import ImageSet, TensorLoader


@pytest.mark.parametrize("n, batch, size", [(100, 32, 2), (97, 32, 2), (97, 32, 3), (65, 32, 2), (5, 4, 4)])
def test_the_parts_of_each_step_are_its_global_batch(n, batch, size):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    shards = [Shard(r, size) for r in range(size)]
    steps = [s.steps(order, batch) for s in shards]
    counts = [s.counts(n, batch) for s in shards]
    weights = [s.weights(n, batch) for s in shards]
    assert len({len(st) for st in steps}) == 1 == len({len(c) for c in counts})  # every rank takes every step
    for k, start in enumerate(range(0, n, batch)):
        counted = torch.cat([steps[r][k][:counts[r][k]] for r in range(size)])
        assert torch.equal(counted, order[start:start + batch])
        # the ranks' weighted mean losses average (DistributedDataParallel) to the global batch's mean
        assert sum(weights[r][k] for r in range(size)) == pytest.approx(size)
        for r in range(size):
            assert len(steps[r][k]) >= 1  # a rank with no share still takes part, with weight 0
            assert weights[r][k] == pytest.approx(counts[r][k] * size / len(order[start:start + batch]))


def test_a_short_last_batch_pads_the_ranks_without_a_share():
    order = torch.arange(5)  # steps of 4 and 1 sample(s) for 4 ranks
    assert [s.tolist() for s in Shard(0, 4).steps(order, 4)] == [[0], [4]]
    assert Shard(0, 4).counts(5, 4) == [1, 0] and Shard(0, 4).weights(5, 4) == [1.0, 0.0]
    assert Shard(3, 4).counts(5, 4) == [1, 1] and Shard(3, 4).weights(5, 4) == [1.0, 4.0]


def test_a_sharded_tensor_loader_gives_each_rank_its_part_of_the_same_batches():
    data = ImageSet(torch.arange(50, dtype=torch.uint8).view(50, 1, 1, 1).expand(50, 1, 2, 2).contiguous(),
                    torch.arange(50), tuple(str(i) for i in range(50)))
    whole = [y for _, y in TensorLoader(data, 16, shuffle=True, seed=3).epoch(2)]
    parts = []
    for rank in range(2):
        loader = TensorLoader(data, 16, shuffle=True, seed=3)
        loader.shard = Shard(rank, 2)
        parts.append([(x, y) for x, y in loader.epoch(2)])
        assert len(loader) == len(whole) and loader.samples == 50
    for k, y in enumerate(whole):
        assert torch.equal(torch.cat([parts[0][k][1], parts[1][k][1]]), y)
        assert torch.equal(parts[0][k][0][:, 0, 0, 0].long(), parts[0][k][1])  # images travel with their labels
