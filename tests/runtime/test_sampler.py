import pytest

from evaluator.runtime.sampler import ShardSampler


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


@pytest.mark.parametrize("world", range(1, 7))
@pytest.mark.parametrize("n", [0, 1, 2, 5, 13, 20])
def test_balanced_shards_are_exactly_once_and_balanced(n, world):
    import random

    rng = random.Random(n * 10 + world)
    costs = [rng.choice([100, 400, 1200, 2400]) for _ in range(n)]
    shards = [list(ShardSampler(range(n), num_replicas=world, rank=r, costs=costs)) for r in range(world)]
    assert sorted(i for s in shards for i in s) == list(range(n))
    loads = [sum(costs[i] for i in s) for s in shards]
    if n:
        # Longest-processing-time first: no rank exceeds the mean by more than one sample's cost.
        assert max(loads) <= sum(loads) / world + max(costs)
    for s in shards:
        assert [costs[i] for i in s] == sorted((costs[i] for i in s), reverse=True)  # heaviest batch first


def test_balancing_beats_striding_on_skewed_costs():
    from evaluator.runtime.sampler import balanced_shards

    costs = [4000, 100, 100, 4000, 100, 100, 4000, 100, 100]  # every heavy sample lands on rank 0 when strided
    strided = [sum(costs[r::3]) for r in range(3)]
    balanced = [sum(costs[i] for i in s) for s in balanced_shards(costs, 3)]
    assert max(strided) == 12000 and max(balanced) == 4200
