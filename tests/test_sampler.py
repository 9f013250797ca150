import pytest

from evaluator.sampler import ShardSampler


@pytest.mark.parametrize("world", range(1, 7))
@pytest.mark.parametrize("n", range(0, 21))
def test_every_index_exactly_once(n, world):
    shards = [list(ShardSampler(range(n), num_replicas=world, rank=r)) for r in range(world)]
    flat = [i for shard in shards for i in shard]
    assert sorted(flat) == list(range(n))  # no index missing, none twice (no padding)
    assert all(len(ShardSampler(range(n), num_replicas=world, rank=r)) == len(s) for r, s in enumerate(shards))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_fewer_samples_than_ranks_leaves_ranks_idle():
    shards = [list(ShardSampler(range(2), num_replicas=3, rank=r)) for r in range(3)]
    assert shards == [[0], [1], []]
