"""Sharding that gives every sample to exactly one rank, balanced by estimated cost."""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Sequence

from torch.utils.data import Dataset, DistributedSampler, Sampler


def balanced_shards(costs: Sequence[float], world_size: int) -> list[list[int]]:
    """Split indices over ranks so that the most loaded rank carries as little cost as possible.

    Longest-processing-time first: take samples from the most to the least costly and give each to the rank
    with the least cost so far. Every index lands on exactly one rank. Within a rank the order stays from the
    most to the least costly, so a batch holds samples of similar length (little padding) and the heaviest batch
    comes first (an out-of-memory shows at once).
    """
    shards: list[list[int]] = [[] for _ in range(world_size)]
    loads = [(0.0, r) for r in range(world_size)]
    for i in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        load, rank = heapq.heappop(loads)
        shards[rank].append(i)
        heapq.heappush(loads, (load + costs[i], rank))
    return shards


def length_batches(
    indices: Sequence[int],
    costs: Sequence[float],
    batch_size: int,
    ratio: float = 2.0,
    keys: Sequence[Hashable] | None = None,
):
    """Cut a shard ordered heaviest first into batches of at most ``batch_size`` whose samples all cost within
    ``ratio`` of the batch's heaviest: a long prompt is batched with its like, never padding a batch of short
    ones (padding costs compute, and attention memory grows with the square of the longest row).

    With ``keys`` (one per sample) a batch holds samples of one key only: an editing pipeline takes one output
    size per call, so samples of another size start a batch of their own, which stays open for their like.
    """
    batches: list[list[int]] = []
    open_batch: dict[Hashable, list[int]] = {}  # the batch each key's next sample may join
    for i in indices:
        key = None if keys is None else keys[i]
        batch = open_batch.get(key)
        if batch is not None and len(batch) < batch_size and costs[batch[0]] <= ratio * costs[i]:
            batch.append(i)
        else:
            open_batch[key] = [i]
            batches.append(open_batch[key])
    return batches


class LengthBatches(Sampler):
    """``length_batches`` as the DataLoader's batch sampler."""

    def __init__(
        self,
        indices: Sequence[int],
        costs: Sequence[float],
        batch_size: int,
        keys: Sequence[Hashable] | None = None,
    ):
        self.batches = length_batches(indices, costs, batch_size, keys=keys)

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class ShardSampler(DistributedSampler):
    """A ``DistributedSampler`` without padding: every sample on exactly one rank.

    Without ``costs``, rank ``r`` of ``w`` takes indices ``r, r + w, ...`` in input order. With ``costs`` (one
    estimate per sample, e.g. its prompt tokens) the shards are balanced by cost (see ``balanced_shards``).
    The stock sampler repeats samples so that every rank gets the same count; a judge must score each sample
    once, so ranks here may get fewer samples than others, or none at all.
    """

    def __init__(
        self,
        dataset: Dataset,
        num_replicas: int | None = None,
        rank: int | None = None,
        costs: Sequence[float] | None = None,
    ):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False, drop_last=False)
        self.total_size = len(self.dataset)
        if costs is None:
            self.indices = list(range(self.rank, self.total_size, self.num_replicas))
        else:
            if len(costs) != self.total_size:
                raise ValueError(f"{len(costs)} costs for {self.total_size} samples")
            self.indices = balanced_shards(costs, self.num_replicas)[self.rank]
        self.num_samples = len(self.indices)

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return self.num_samples


class CostModel:
    """Estimated work for one sample: the prompt tokens of every judgement (its images at the size the processor
    will resize them to, plus its text) and, when generating, the tokens to decode.

    Decoding a token is counted like reading one prompt token: crude, but the same for every sample, so it only
    weighs sample counts against prompt lengths. A judgement whose prompt a benchmark chooses per item counts as its
    heaviest prompt the sample has the images for.
    """

    def __init__(self, layout, judgements, decode_tokens: int):
        self.layout = layout  # e.g. qwen_vl.PixelLayout: how many tokens an image of a given size becomes
        self.judgements = [
            [(p.images, sum(len(part.get("text", "")) for part in p.parts) // 4) for p in j.prompts] for j in judgements
        ]
        self.decode_tokens = decode_tokens

    @classmethod
    def for_judge(cls, processor, scheme, max_new_tokens: int) -> CostModel:
        from evaluator.judge.qwen_vl import PixelLayout

        return cls(PixelLayout.of(processor), scheme.judgements, 0 if scheme.mode == "logits" else max_new_tokens)

    def cost(self, sizes: dict[str, tuple[int, int]], instruction: str = "") -> float:
        """Cost of one sample from its images' (width, height) by role."""
        total = 0
        for prompts in self.judgements:
            costs = [
                sum(self.layout.image_tokens(*sizes[r]) for r in roles) + text_tokens
                for roles, text_tokens in prompts
                if all(r in sizes for r in roles)
            ]
            total += max(costs, default=0) + len(instruction) // 3 + self.decode_tokens
        return float(total)
