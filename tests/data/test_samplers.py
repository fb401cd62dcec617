from collections import Counter

import pytest

from forams_lightning.data.samplers import PKBatchSampler


def test_batches_hold_p_species_times_k_images():
    labels = [c for c in range(10) for _ in range(3 + c)]
    sampler = PKBatchSampler(labels, p=4, k=3, seed=0)
    assert len(sampler) == -(-len(labels) // 12)
    for batch in sampler:
        counts = Counter(labels[i] for i in batch)
        assert len(batch) == 12 and len(counts) == 4 and set(counts.values()) == {3}
        for c in counts:  # species with >= K images give K distinct ones
            assert len({i for i in batch if labels[i] == c}) == 3


def test_small_species_repeat_and_singletons_are_never_drawn():
    labels = [0] * 10 + [1] * 2 + [2]
    sampler = PKBatchSampler(labels, p=2, k=4, num_batches=20, seed=0)
    drawn = {labels[i] for batch in sampler for i in batch}
    assert drawn == {0, 1}


def test_p_is_capped_at_the_drawable_species():
    sampler = PKBatchSampler([0, 0, 1, 1, 2, 2], p=8, k=2)
    assert sampler.p == 3 and all(len(b) == 6 for b in sampler)


def test_epochs_differ_and_are_reproducible():
    labels = [c for c in range(6) for _ in range(10)]
    s = PKBatchSampler(labels, p=3, k=2, seed=5)
    first = list(s)
    s.set_epoch(1)
    second = list(s)
    s.set_epoch(0)
    assert list(s) == first and first != second


def test_ranks_get_distinct_batches_that_together_form_the_global_sequence():
    labels = [c for c in range(6) for _ in range(10)]
    single = list(PKBatchSampler(labels, p=3, k=2, num_batches=8, seed=1))
    ranks = [list(PKBatchSampler(labels, p=3, k=2, num_batches=4, seed=1, num_replicas=2, rank=r)) for r in (0, 1)]
    assert ranks[0] == single[0::2] and ranks[1] == single[1::2]


def test_needs_two_usable_species():
    with pytest.raises(ValueError, match="at least two species"):
        PKBatchSampler([0, 0, 1], p=2, k=2)


def test_lightning_sets_the_epoch_of_the_batch_sampler():
    from lightning_fabric.utilities.data import _set_sampler_epoch
    from torch.utils.data import DataLoader

    labels = [c for c in range(4) for _ in range(4)]
    sampler = PKBatchSampler(labels, p=2, k=2)
    _set_sampler_epoch(DataLoader(list(range(16)), batch_sampler=sampler), 3)
    assert sampler.epoch == 3


def test_augmentation_seeds_come_with_the_same_batches():
    labels = [c for c in range(6) for _ in range(10)]
    plain = list(PKBatchSampler(labels, p=3, k=2, seed=5))
    seeded = list(PKBatchSampler(labels, p=3, k=2, seed=5, augmentation_seeds=True))
    assert [[i for i, _ in b] for b in seeded] == plain
    assert len({s for b in seeded for _, s in b}) == sum(map(len, seeded))  # one seed per drawn item


def test_seeded_items_augment_reproducibly(tmp_path):
    import numpy as np
    import torch
    from PIL import Image

    from forams_lightning.data.dataset import ImageDataset
    from forams_lightning.data.transforms import Augmentation, build_transform

    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    data = ImageDataset([str(tmp_path / "a.png")], [0], build_transform(32, augment=Augmentation()))
    torch.manual_seed(1)
    a = data[(0, 7)][0]
    torch.manual_seed(2)  # the global RNG does not matter
    assert torch.equal(a, data[(0, 7)][0]) and not torch.equal(a, data[(0, 8)][0])
