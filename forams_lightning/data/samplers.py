"""P×K class-balanced batches for metric learning."""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import TypedDict

import numpy as np
from torch.utils.data import Sampler

log = logging.getLogger(__name__)


class SamplerOptions(TypedDict, total=False):
    """`data.sampler`: the user-set arguments of `PKBatchSampler` (seed and rank come from the run)."""

    p: int
    k: int
    num_batches: int | None


class PKBatchSampler(Sampler[list[int]]):
    """Batches of P species × K images each.

    Species are drawn uniformly (not by size), which is what balances a long-tailed library; the P species of a batch
    are distinct. A species with at least K images gives K distinct images, a smaller one repeats images. Species with
    a single image cannot form a positive pair and are never drawn (they still serve as gallery entries).

    An epoch is ``num_batches`` batches per process; by default ``ceil(n_images / (P*K) / num_replicas)``, i.e. all
    processes together draw about as many images as the training split holds. With ``num_replicas > 1`` every process
    derives the same global sequence from ``seed`` and the epoch (see ``set_epoch``) and takes every R-th batch,
    so ranks see distinct batches without communicating.

    `augmentation_seeds=True` yields ``(index, seed)`` pairs instead of bare indices: the dataset draws that item's
    random augmentation from `seed`, so an epoch is a pure function of ``seed`` and the epoch number whatever the
    worker processes did before, and a run resumed from a checkpoint continues exactly as an uninterrupted one.
    """

    def __init__(
        self,
        labels: Sequence[int],
        p: int = 16,
        k: int = 4,
        num_batches: int | None = None,
        *, seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        augmentation_seeds: bool = False,
    ):
        """The batches' shape and seeds (the class docstring says how they are drawn).

        Args:
            labels: the species index of every training image.
            p: species a batch.
            k: images a species in a batch.
            num_batches: batches an epoch and process (None: about one pass over the images).
            seed: of the batches.
            num_replicas: processes under DDP.
            rank: this process.
            augmentation_seeds: yield (index, seed) pairs for reproducible augmentation.
        """
        if p < 2 or k < 2:
            raise ValueError(f"P×K sampler needs p >= 2 and k >= 2 (got p={p}, k={k}): "
                             "a batch needs positives and negatives")
        by_class = defaultdict(list)
        for i, y in enumerate(labels):
            by_class[int(y)].append(i)
        self.pools = {c: np.array(ix) for c, ix in sorted(by_class.items()) if len(ix) >= 2}
        singletons = sorted(set(by_class) - set(self.pools))
        if singletons:
            log.warning("%d species have a single training image and are never drawn as P×K classes: %s",
                        len(singletons), singletons)
        if len(self.pools) < 2:
            raise ValueError("P×K sampling needs at least two species with two or more training images each")
        if p > len(self.pools):
            log.warning("sampler P=%d exceeds the %d drawable species; using P=%d", p, len(self.pools), len(self.pools))
            p = len(self.pools)
        self.p, self.k, self.augmentation_seeds = p, k, augmentation_seeds
        self.num_replicas, self.rank, self.seed, self.epoch = num_replicas, rank, seed, 0
        self.num_batches = num_batches or max(1, math.ceil(len(labels) / (p * k) / num_replicas))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def sampler(self) -> PKBatchSampler:
        """Lightning sets the epoch through ``dataloader.batch_sampler.sampler.set_epoch``; without this a
        batch sampler would replay epoch 0's batches every epoch."""
        return self

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list]:  # indices, or (index, seed) pairs with augmentation_seeds
        rng = np.random.default_rng([self.seed, self.epoch])
        classes = np.array(list(self.pools))
        for b in range(self.num_batches * self.num_replicas):
            chosen = rng.choice(classes, size=self.p, replace=False)
            batch = []
            for c in chosen:
                pool = self.pools[c]
                batch += rng.choice(pool, size=self.k, replace=len(pool) < self.k).tolist()
            seeds = rng.integers(0, 2**31, size=len(batch))
            if b % self.num_replicas == self.rank:
                yield [(i, int(s)) for i, s in zip(batch, seeds)] if self.augmentation_seeds else batch
