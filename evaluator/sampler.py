"""Sharding that gives every sample to exactly one rank."""

from __future__ import annotations

from torch.utils.data import Dataset, DistributedSampler


class ShardSampler(DistributedSampler):
    """A ``DistributedSampler`` without padding: rank ``r`` of ``w`` takes indices ``r, r + w, r + 2w, ...``.

    The stock sampler repeats samples so that every rank gets the same count; a judge must score each sample
    once, so ranks here may get one sample fewer than others, or none at all.
    """

    def __init__(self, dataset: Dataset, num_replicas: int | None = None, rank: int | None = None):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False, drop_last=False)
        self.total_size = len(self.dataset)
        self.num_samples = len(range(self.rank, self.total_size, self.num_replicas))

    def __iter__(self):
        return iter(range(self.rank, self.total_size, self.num_replicas))

    def __len__(self) -> int:
        return self.num_samples
