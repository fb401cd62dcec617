"""ForamsDataModule: a data catalogue (`data.catalogue`) wrapped in loaders: P×K training batches and the
gallery / query evaluation sets."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_only
from torch.utils.data import DataLoader, DistributedSampler
from torchvision.transforms import v2 as T

from forams_lightning.atomic import atomic_write_csv
from forams_lightning.data.cache import decoded_images
from forams_lightning.data.catalogue import Catalogue, build_catalogue
from forams_lightning.data.dataset import ImageDataset
from forams_lightning.data.gpu_augment import GPUAugmentation
from forams_lightning.data.layouts import ManifestColumns
from forams_lightning.data.reading import data_root, read_layout, screened
from forams_lightning.data.samplers import PKBatchSampler, SamplerOptions
from forams_lightning.data.screening import unreadable_images
from forams_lightning.data.splits import OpenSetOptions, SavedSplit, SplitOptions, save_split
from forams_lightning.data.synthetic import SyntheticSpec, generate_library
from forams_lightning.data.transforms import Augmentation, CropBorderOptions, augment_transform, prepare_transform

log = logging.getLogger(__name__)

MIN_IMAGE_SIZE = 16  # backbones downsample 32×; smaller inputs fail deep inside them


class ForamsDataModule(pl.LightningDataModule):
    """`setup` reads the source (`root`: species folders or the generated `synthetic` library; or a `manifest`),
    screens the images (`check_images`, `on_bad_image`; with `cache` the decoded-image cache does it), and builds the
    catalogue: species withheld per `open_set`, the rest split per `split` or the saved `split_file`; it writes
    split.csv (and bad_images.csv) into `output_dir`.

    Loaders: P×K training batches (`sampler`, `augment` on the CPU or with `gpu_augment` on the accelerator), and
    per stage the evaluation sets in the order of `eval_parts(stage)`: the gallery (the train split, evaluation
    transforms), the known-species queries and the species never seen in training (`unknown_val`, `unknown_test`).

    Args:
        root: a folder of species folders (or the synthetic library's folder).
        manifest: a CSV manifest of the images instead.
        manifest_columns: its column names.
        synthetic: the generated library's settings (`data.synthetic.SyntheticSpec`).
        image_size: the side the images are letterboxed to.
        crop_border: a label strip and dark frame cropped first.
        exif_transpose: images turned as their EXIF orientation says.
        check_images: screen every image before training.
        on_bad_image: ``skip`` (with one warning) or ``error``.
        split: the split options (fractions, seed, groups).
        split_file: a saved split.csv to reuse.
        open_set: which species are withheld as never seen in training.
        output_dir: where split.csv and bad_images.csv are written.
        sampler: the P×K batch options.
        cache: keep the decoded images in a memory-mapped cache.
        cache_dir: where that cache lives.
        gpu_augment: augment on the accelerator.
        augment: the augmentation's settings.
        eval_batch_size: images a batch of the evaluation loaders.
        num_workers: loader worker processes.
        pin_memory: pinned host memory (None: on where there is CUDA).
        seed: of the split and the batches.
    """

    def __init__(
        self,
        root: str | None = None,
        manifest: str | None = None,
        manifest_columns: ManifestColumns | None = None,
        synthetic: SyntheticSpec | dict | None = None,
        *, image_size: int = 224,
        crop_border: CropBorderOptions | None = None,
        exif_transpose: bool = True,
        check_images: bool = True,
        on_bad_image: str = "skip",
        split: SplitOptions | None = None,
        split_file: str | None = None,
        open_set: OpenSetOptions | None = None,
        output_dir: str | None = None,
        sampler: SamplerOptions | None = None,
        cache: bool = False,
        cache_dir: str | None = None,
        gpu_augment: bool = False,
        augment: Augmentation | dict | None = None,
        eval_batch_size: int = 128,
        num_workers: int = 2,
        pin_memory: bool | None = None,
        seed: int = 0,
    ):
        super().__init__()
        _check_options(root, manifest, image_size, eval_batch_size, num_workers=num_workers, cache=cache,
                       cache_dir=cache_dir)
        self.synthetic = SyntheticSpec(**synthetic) if synthetic and not isinstance(synthetic, SyntheticSpec) \
            else synthetic or None
        self.root, self.manifest, self.manifest_columns = data_root(root, self.synthetic), manifest, manifest_columns
        self.image_size, self.crop_border, self.exif_transpose = image_size, crop_border, exif_transpose
        self.check_images, self.on_bad_image = check_images, on_bad_image
        self.split_options, self.split_file, self.output_dir = split or {}, split_file, output_dir
        self.open_set, self.sampler_options = dict(open_set or {}), sampler or {}
        self.cache, self.cache_dir, self.gpu_augment = cache, cache_dir, gpu_augment
        self.augment = Augmentation.from_options(augment)
        self._gpu_augmentation: GPUAugmentation | None = None
        self.eval_batch_size, self.num_workers, self.pin_memory = eval_batch_size, num_workers, pin_memory
        self.seed = seed
        self.catalogue: Catalogue | None = None
        self.bad_images: dict[str, str] = {}
        self.decoded: np.ndarray | None = None
        self.rows: list[int] | None = None

    def prepare_data(self) -> None:
        if isinstance(self.synthetic, SyntheticSpec) and self.root is not None:
            generate_library(self.root, self.synthetic)

    def setup(self, stage: str | None = None) -> None:
        if self.catalogue is not None:
            return
        column = self.open_set.get("class_split_column")
        samples = read_layout(self.root, self.manifest, self.manifest_columns, str(column) if column else None)
        self.bad_images = self._unreadable([s.path for s in samples]) if self.check_images or self.cache else {}
        kept = screened(samples, self.bad_images, self.on_bad_image)
        self.rows = [i for i, s in enumerate(samples) if s.path not in self.bad_images]  # into the decoded cache
        saved = SavedSplit.read(self.split_file) if self.split_file else None
        self.catalogue = build_catalogue(kept, self.root, self.open_set, self.split_options, saved_split=saved,
                                         bad_images=len(self.bad_images))
        if self.output_dir and getattr(rank_zero_only, "rank", 0) == 0:  # DDP workers rerun the command; one writer
            save_split(Path(self.output_dir) / "split.csv", self.catalogue.relative_paths(),
                       [s.species for s in kept], self.catalogue.parts)
            if self.bad_images:
                atomic_write_csv(Path(self.output_dir) / "bad_images.csv", ["path", "error"],
                                 [[self._relative(p), e] for p, e in sorted(self.bad_images.items())])

    def _unreadable(self, paths: list[str]) -> dict[str, str]:
        """{path: error} of the files that cannot be decoded. With the decoded-image cache, building it is the
        screening (and an unchanged library is not decoded again)."""
        workers = max(2, self.num_workers)
        if not self.cache:
            return unreadable_images(paths, workers=workers)
        if self.cache_dir is None:
            raise ValueError("data.cache=true needs data.cache_dir (where the decoded images are kept)")
        self.decoded, bad = decoded_images(paths, prepare_transform(self.image_size, self.crop_border), self.image_size,
                                           {"crop_border": self.crop_border}, folder=self.cache_dir,
                                           exif_transpose=self.exif_transpose, workers=workers)
        return bad

    # The catalogue, as the callbacks and the whitening read it.
    species = property(lambda self: self.catalogue.species)
    num_classes = property(lambda self: self.catalogue.num_classes)
    labels = property(lambda self: self.catalogue.labels)
    samples = property(lambda self: self.catalogue.samples)
    parts = property(lambda self: self.catalogue.parts)
    split_report = property(lambda self: self.catalogue.report)

    def eval_parts(self, stage: str) -> list[str]:
        return self._ready().eval_parts(stage)

    def indices(self, part: str) -> list[int]:
        return self._ready().indices(part)

    def paths(self, part: str) -> list[str]:
        return self._ready().paths(part)

    def part_labels(self, part: str) -> list[int]:
        return self._ready().part_labels(part)

    def _ready(self) -> Catalogue:
        if self.catalogue is None:
            raise RuntimeError("the datamodule's setup() has not run: no catalogue of images yet")
        return self.catalogue

    def dataset(self, part: str, train: bool = False) -> ImageDataset:
        """Images as float tensors in [0, 1], or uint8 with `gpu_augment` (see `on_after_batch_transfer`)."""
        to_float = not self.gpu_augment
        augment = self.augment if train and not self.gpu_augment else None
        if self.decoded is not None and self.rows is not None:
            return ImageDataset(self.paths(part), self.part_labels(part), augment_transform(augment, to_float),
                                decoded=self.decoded, rows=[self.rows[i] for i in self.indices(part)])
        transform = T.Compose([prepare_transform(self.image_size, self.crop_border),
                               augment_transform(augment, to_float)])
        return ImageDataset(self.paths(part), self.part_labels(part), transform, self.exif_transpose)

    def as_float(self, images: torch.Tensor) -> torch.Tensor:
        """Model input from what the loaders give (uint8 images with `gpu_augment`)."""
        return images.float().div_(255) if images.dtype == torch.uint8 else images

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        if not self.gpu_augment:
            return batch
        images, *rest = batch
        images = self.as_float(images)
        if self.trainer is not None and self.trainer.training:
            if self._gpu_augmentation is None:
                self._gpu_augmentation = GPUAugmentation(self.augment).to(images.device)
            images = self._gpu_augmentation(images)
        return (images, *rest)

    def _rank(self) -> int:
        return self.trainer.global_rank if self.trainer is not None else 0

    def train_dataloader(self) -> DataLoader:
        data = self.dataset("train", train=True)
        world = self._world_size()
        sampler = PKBatchSampler(data.labels, seed=self.seed, **self.sampler_options, num_replicas=world,
                                 rank=self._rank() if world > 1 else 0, augmentation_seeds=True)
        return DataLoader(data, batch_sampler=sampler, **self._loader_options())

    def val_dataloader(self) -> list[DataLoader]:
        return self._gallery_and_queries("val")

    def test_dataloader(self) -> list[DataLoader]:
        return self._gallery_and_queries("test")

    def _gallery_and_queries(self, stage: str) -> list[DataLoader]:
        loaders, world = [], self._world_size()
        for part in self.eval_parts(stage):
            data = self.dataset(part)
            sampler: DistributedSampler | None = None
            if world > 1:  # equal shards (padded with repeats); the evaluation drops the repeats
                sampler = DistributedSampler(data, num_replicas=world, rank=self._rank(), shuffle=False)
            loaders.append(DataLoader(data, batch_size=self.eval_batch_size, sampler=sampler,
                                      **self._loader_options()))
        return loaders

    def _world_size(self) -> int:
        """Processes sharing the work: the P×K batch sampler and the evaluation shards are made here (distributed
        runs keep Lightning's own samplers out: `runs.check_distributed_sampler`)."""
        return 1 if self.trainer is None else self.trainer.world_size

    def _loader_options(self) -> dict:
        pin = torch.cuda.is_available() if self.pin_memory is None else self.pin_memory
        # Workers are forked where the OS allows (torch's own default on Linux, made explicit): in a process started
        # by joblib's loky (hydra/launcher=parallel) the default start method is 'loky', under which the workers'
        # arguments must pickle, and Lightning's do not.
        fork = self.num_workers > 0 and sys.platform.startswith("linux")
        return dict(num_workers=self.num_workers, pin_memory=pin, persistent_workers=self.num_workers > 0,
                    multiprocessing_context="fork" if fork else None)

    def _relative(self, path: str) -> str:
        return os.path.relpath(path, self.root) if self.root else path


def _check_options(root, manifest, image_size, eval_batch_size, *, num_workers, cache, cache_dir) -> None:
    if root is None and manifest is None:
        raise ValueError("set data.root (a folder of species folders) or data.manifest (a CSV)")
    for key, value, least in (("image_size", image_size, MIN_IMAGE_SIZE), ("eval_batch_size", eval_batch_size, 1),
                              ("num_workers", num_workers, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"data.{key}={value!r}: must be a whole number >= {least}")
    if cache and not cache_dir:
        raise ValueError("data.cache=true needs data.cache_dir (a folder for the decoded images)")
