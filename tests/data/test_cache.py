"""The decoded-image cache: the prepared pixels once, rebuilt only when files change, the same tensors as decoding; GPU
augmentation after the transfer."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from forams_lightning.data.cache import decoded_images
from forams_lightning.data.datamodule import ForamsDataModule
from forams_lightning.data.transforms import prepare_transform


def _files(folder: Path, n: int = 4) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"{i}.png"
        Image.fromarray(rng.integers(0, 255, (20 + i, 30, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def _cache(paths, folder, size=16):
    return decoded_images(paths, prepare_transform(size), size, {"crop_border": None}, folder=folder, workers=2)


def test_cache_holds_the_prepared_pixels_and_is_rebuilt_only_when_files_change(tmp_path):
    paths = _files(tmp_path / "img")
    pixels, bad = _cache(paths, tmp_path / "c")
    assert pixels.shape == (4, 16, 16, 3) and pixels.dtype == np.uint8 and bad == {}
    assert np.array_equal(pixels[2], np.asarray(prepare_transform(16)(Image.open(paths[2]).convert("RGB"))))
    assert len(list((tmp_path / "c").glob("*.npy"))) == 1
    _cache(paths, tmp_path / "c")
    assert len(list((tmp_path / "c").glob("*.npy"))) == 1  # unchanged library: reused
    _cache(paths, tmp_path / "c", size=8)
    assert len(list((tmp_path / "c").glob("*.npy"))) == 2  # another image size
    Image.fromarray(np.full((20, 30, 3), 200, np.uint8)).save(paths[0])
    os.utime(paths[0], ns=(1, 1))  # a changed file, even one with an old timestamp
    changed, _ = _cache(paths, tmp_path / "c")
    assert len(list((tmp_path / "c").glob("*.npy"))) == 3 and changed[0].max() == 200
    assert not np.array_equal(changed[0], pixels[0])


def test_cached_datamodule_serves_the_same_tensors_as_decoding(tmp_path, cache_dir):
    options = dict(root=str(cache_dir), synthetic=dict(n_species=6, max_images=16, min_images=5, image_size=48),
                   image_size=32, num_workers=0, sampler={"p": 4, "k": 2})
    plain = ForamsDataModule(**options)
    cached = ForamsDataModule(**options, cache=True, cache_dir=str(tmp_path / "decoded"))
    for dm in (plain, cached):
        dm.prepare_data()
        dm.setup("fit")
    assert cached.decoded is not None
    for train in (False, True):
        a, b = plain.dataset("val", train), cached.dataset("val", train)
        for key in [(0, 7), (3, 11)]:  # (index, augmentation seed): identical random draws
            assert torch.equal(a[key][0], b[key][0])


def test_gpu_augment_ships_uint8_and_augments_after_transfer_in_training_only(tmp_path, cache_dir):
    dm = ForamsDataModule(root=str(cache_dir), synthetic=dict(n_species=6, max_images=16, min_images=5,
                                                              image_size=48),
                          image_size=32, num_workers=0, sampler={"p": 4, "k": 2}, gpu_augment=True)
    dm.prepare_data()
    dm.setup("fit")
    images, labels, index = next(iter(dm.val_dataloader()[1]))
    assert images.dtype == torch.uint8

    class Trainer:
        training = False

    dm.trainer = Trainer()
    evaluated = dm.on_after_batch_transfer((images, labels, index), 0)[0]
    assert evaluated.dtype == torch.float32 and torch.equal(evaluated, images.float() / 255)
    Trainer.training = True
    torch.manual_seed(0)
    augmented = dm.on_after_batch_transfer((images, labels, index), 0)[0]
    assert augmented.shape == evaluated.shape and not torch.equal(augmented, evaluated)
    assert 0 <= augmented.min() and augmented.max() <= 1
