"""Length-sorted bucketed batches: utterances of similar length batched together, batches shuffled."""
import math

import numpy as np
from torch.utils.data import Sampler


class LengthBucketSampler(Sampler[list[int]]):
    """Sort examples by length, cut into batches, shuffle the batch order each epoch.

    Equal lengths are ordered randomly per epoch, so fixed-length crops still get fresh batches.
    Under DistributedDataParallel each rank takes every `world_size`-th batch; when `pad` is on the
    batch list is padded by repeating batches so every rank gets the same number (training needs
    that for gradient synchronisation; evaluation leaves it off so nothing is counted twice).
    """

    def __init__(self, lengths, batch_size: int, shuffle: bool = True, seed: int = 0,
                 rank: int = 0, world_size: int = 1, pad: bool = True):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.lengths = np.asarray(lengths)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.rank, self.world_size, self.pad = rank, world_size, pad
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        tie_break = rng.permutation(len(self.lengths)) if self.shuffle else np.arange(len(self.lengths))
        order = tie_break[np.argsort(self.lengths[tie_break], kind="stable")]
        batches = [order[i:i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        if self.pad and self.world_size > 1:
            total = math.ceil(len(batches) / self.world_size) * self.world_size
            batches += [batches[i % len(batches)] for i in range(total - len(batches))]
        return iter(batches[self.rank::self.world_size])

    def __len__(self) -> int:
        n = math.ceil(len(self.lengths) / self.batch_size)
        if self.pad:
            return math.ceil(n / self.world_size)
        return len(range(self.rank, n, self.world_size))
