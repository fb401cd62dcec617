"""ForamsDataModule: reads a layout, splits it, and serves P×K training batches and gallery/query evaluation sets."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, DistributedSampler
from torchvision.transforms import v2 as T

from forams_lightning.atomic import atomic_write_csv
from forams_lightning.data.cache import decoded_images
from forams_lightning.data.dataset import ImageDataset
from forams_lightning.data.gpu_augment import GPUAugmentation
from forams_lightning.data.layouts import ManifestColumns, read_manifest, read_species_folders, spelling_variants
from forams_lightning.data.samplers import PKBatchSampler, SamplerOptions
from forams_lightning.data.screening import report_bad_images, unreadable_images
from forams_lightning.data.splits import (
    OpenSetOptions,
    SplitOptions,
    group_split,
    held_out_species,
    load_split,
    save_split,
    stratified_split,
)
from forams_lightning.data.synthetic import SyntheticSpec, generate_library
from forams_lightning.data.transforms import Augmentation, CropBorderOptions, augment_transform, prepare_transform
from forams_lightning.runs import is_rank_zero

log = logging.getLogger(__name__)

MIN_IMAGE_SIZE = 16  # backbones downsample 32×; smaller inputs fail deep inside them


class ForamsDataModule(pl.LightningDataModule):
    """Evaluation loaders, in the order of `eval_parts(stage)`: the gallery (the train split, evaluation
    transforms), the known-species queries (val or test split) and, in open-set runs, the images of species never
    seen in training (`unknown_val`, `unknown_test`).

    Open set (`open_set`): `unknown` (a preset such as ``paper_tail10``, or species names / indices into the sorted
    species list) or `folds` + `fold` + `seed` (species-level k-fold) withhold species from training; all their
    images go to ``unknown_test``. With `class_split_column` (manifests that come class-disjoint, such as the
    radiolaria benchmark) train classes are the known species, val classes become ``unknown_val`` (model selection
    and calibration) and test classes ``unknown_test`` (the report). Known species come first in `species`, so the
    softmax head covers exactly `num_classes` known species.
    """

    def __init__(
        self,
        root: str | None = None,
        manifest: str | None = None,
        manifest_columns: ManifestColumns | None = None,
        synthetic: SyntheticSpec | dict | None = None,
        image_size: int = 224,
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
        if root is None and manifest is None:
            raise ValueError("set data.root (a folder of species folders) or data.manifest (a CSV)")
        for key, value, least in (("image_size", image_size, MIN_IMAGE_SIZE), ("eval_batch_size", eval_batch_size, 1),
                                  ("num_workers", num_workers, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"data.{key}={value!r}: must be a whole number >= {least}")
        self.root, self.manifest, self.manifest_columns = root, manifest, manifest_columns or {}
        if synthetic and not isinstance(synthetic, SyntheticSpec):
            synthetic = SyntheticSpec(**synthetic)
        self.synthetic = synthetic or None
        if self.synthetic is not None:  # the cache holds one folder per distinct library
            self.root = str(Path(root) / f"synthetic-{self.synthetic.digest()}")
        self.image_size, self.crop_border, self.exif_transpose = image_size, crop_border, exif_transpose
        self.check_images, self.on_bad_image = check_images, on_bad_image
        self.split_options, self.split_file, self.output_dir = split or {}, split_file, output_dir
        self.open_set = dict(open_set or {})
        if self.open_set.get("class_split_column"):
            self.manifest_columns = {**self.manifest_columns, "class_split_column": self.open_set["class_split_column"]}
        self.sampler_options = sampler or {}
        if cache and not cache_dir:
            raise ValueError("data.cache=true needs data.cache_dir (a folder for the decoded images)")
        self.cache, self.cache_dir, self.gpu_augment = cache, cache_dir, gpu_augment
        self.decoded, self.rows = None, None
        self.augment = Augmentation.from_options(augment)
        self._gpu_augmentation = None
        self.eval_batch_size, self.num_workers, self.pin_memory = eval_batch_size, num_workers, pin_memory
        self.seed = seed
        self.samples = None

    def prepare_data(self) -> None:
        if self.synthetic is not None:
            generate_library(self.root, self.synthetic)

    def setup(self, stage: str | None = None) -> None:
        if self.samples is not None:
            return
        if self.manifest:
            self.samples = read_manifest(self.manifest, self.root, **self.manifest_columns)
        else:
            self.samples = read_species_folders(self.root)
        self.bad_images = self._screen() if self.check_images or self.cache else {}
        names = [s.species for s in self.samples]
        variants = spelling_variants(sorted(set(names)))
        if variants:
            log.warning("species names that differ only in case, spaces or underscores are treated as different "
                        "species; unify the labels if they are one: %s", variants)
        unknown_part = self._unknown_parts(names)
        known = sorted(set(names) - set(unknown_part))
        self.species = known + sorted(unknown_part)
        self.num_classes = len(known)
        index = {name: i for i, name in enumerate(self.species)}
        self.labels = [index[n] for n in names]
        rel_paths = [self._relative(s.path) for s in self.samples]
        if self.split_file:
            self.parts = load_split(self.split_file, rel_paths, names)
            self.split_report = {}
        else:
            self.parts = self._split(names, unknown_part)
        leaked = {names[i] for i, p in enumerate(self.parts) if p in ("train", "val") and names[i] in unknown_part}
        if leaked:
            raise RuntimeError(f"open set violated: species {sorted(leaked)} held out but present in train/val")
        if unknown_part:
            self.split_report["unknown_species"] = sorted(unknown_part)
        self.split_report["bad_images"] = len(self.bad_images)
        in_train = {names[i] for i, p in enumerate(self.parts) if p == "train"}
        orphans = sorted({names[i] for i, p in enumerate(self.parts) if p in ("val", "test")} - in_train)
        if orphans:
            log.warning("species with validation/test images but no training image (no reference to match, so "
                        "their queries count as errors): %s", orphans)
            self.split_report["species_without_references"] = orphans
        if self.output_dir and is_rank_zero():
            save_split(Path(self.output_dir) / "split.csv", rel_paths, names, self.parts)
            if self.bad_images:
                atomic_write_csv(Path(self.output_dir) / "bad_images.csv", ["path", "error"],
                                 [[self._relative(p), e] for p, e in sorted(self.bad_images.items())])

    def _screen(self) -> dict[str, str]:
        """Drop unreadable images (or fail, per `on_bad_image`); say so when a species loses all its images. With
        the decoded-image cache, building it is the screening (and an unchanged library is not decoded again)."""
        paths = [s.path for s in self.samples]
        workers = max(2, self.num_workers)
        if self.cache:
            self.decoded, bad = decoded_images(paths, prepare_transform(self.image_size, self.crop_border),
                                               self.image_size, {"crop_border": self.crop_border}, self.cache_dir,
                                               self.exif_transpose, workers)
        else:
            bad = unreadable_images(paths, workers=workers)
        report_bad_images(bad, self.on_bad_image)
        self.rows = [i for i, p in enumerate(paths) if p not in bad]
        if bad:
            before = {s.species for s in self.samples}
            self.samples = [s for s in self.samples if s.path not in bad]
            lost = sorted(before - {s.species for s in self.samples})
            if lost:
                log.warning("species with no readable image left, dropped: %s", lost)
            if not self.samples:
                raise ValueError("no readable image left in the library (see the warning above)")
        return bad

    def _unknown_parts(self, names: list[str]) -> dict[str, str]:
        """Species withheld from training, mapped to their evaluation part. A class split given by the data takes
        precedence over `unknown` / `folds` (so `+experiment=open_set data=radiolaria` uses the given split)."""
        options = {k: v for k, v in self.open_set.items() if k != "class_split_column" and v is not None}
        if self.open_set.get("class_split_column"):
            by_species = {}
            for s in self.samples:
                if by_species.setdefault(s.species, s.class_split) != s.class_split:
                    raise ValueError(f"species {s.species!r} has images in two class splits "
                                     f"({by_species[s.species]!r}, {s.class_split!r})")
            bad = {v for v in by_species.values()} - {"train", "val", "test"}
            if bad:
                raise ValueError(f"class split column values must be train/val/test (got {sorted(bad)})")
            return {sp: f"unknown_{v}" for sp, v in by_species.items() if v != "train"}
        if not options:
            return {}
        return {sp: "unknown_test" for sp in held_out_species(names, **options)}

    def _split(self, names: list[str], unknown_part: dict[str, str]) -> list[str]:
        known_ix = [i for i, n in enumerate(names) if n not in unknown_part]
        groups = [s.group for s in self.samples] if any(s.group for s in self.samples) else None
        options = dict(self.split_options)
        fixed = options.pop("groups", None)
        if fixed:
            if groups is None:
                raise ValueError("data.split.groups needs a group column (data.manifest_columns.group_column)")
            parts, self.split_report = group_split([groups[i] for i in known_ix], fixed)
        else:
            parts, self.split_report = stratified_split(
                [names[i] for i in known_ix], [groups[i] for i in known_ix] if groups else None, **options)
        if self.split_report["train_only_species"]:
            log.warning("too few images to validate/test these species; they are in the gallery only: %s",
                        self.split_report["train_only_species"])
        result = [unknown_part.get(n) for n in names]
        for i, p in zip(known_ix, parts):
            result[i] = p
        return result

    def eval_parts(self, stage: str) -> list[str]:
        """Names of the evaluation loaders of `stage` ("val" or "test"), in loader order. Open-set tests also embed
        the validation species (where the data has them): clustering cuts are calibrated there, never on test
        species."""
        wanted = ["train", stage, f"unknown_{stage}"]
        if stage == "test":
            wanted.append("unknown_val")
        present = set(self.parts)
        return [p for p in wanted if p in present]

    def indices(self, part: str) -> list[int]:
        return [i for i, p in enumerate(self.parts) if p == part]

    def paths(self, part: str) -> list[str]:
        return [self.samples[i].path for i in self.indices(part)]

    def part_labels(self, part: str) -> list[int]:
        return [self.labels[i] for i in self.indices(part)]

    def dataset(self, part: str, train: bool = False) -> ImageDataset:
        """Images as float tensors in [0, 1], or uint8 with `gpu_augment` (see `on_after_batch_transfer`)."""
        to_float = not self.gpu_augment
        augment = self.augment if train and not self.gpu_augment else None
        if self.decoded is not None:
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

    def train_dataloader(self) -> DataLoader:
        data = self.dataset("train", train=True)
        world = self._world_size()
        sampler = PKBatchSampler(data.labels, seed=self.seed, **self.sampler_options, num_replicas=world,
                                 rank=self.trainer.global_rank if world > 1 else 0, augmentation_seeds=True)
        return DataLoader(data, batch_sampler=sampler, **self._loader_options())

    def val_dataloader(self) -> list[DataLoader]:
        return self._gallery_and_queries("val")

    def test_dataloader(self) -> list[DataLoader]:
        return self._gallery_and_queries("test")

    def _gallery_and_queries(self, stage: str) -> list[DataLoader]:
        loaders, world = [], self._world_size()
        for part in self.eval_parts(stage):
            data = self.dataset(part)
            sampler = None
            if world > 1:  # equal shards (padded with repeats); the evaluation drops the repeats
                sampler = DistributedSampler(data, num_replicas=world, rank=self.trainer.global_rank, shuffle=False)
            loaders.append(DataLoader(data, batch_size=self.eval_batch_size, sampler=sampler,
                                      **self._loader_options()))
        return loaders

    def _world_size(self) -> int:
        """Processes sharing the work. The P×K batch sampler and the evaluation shards are made here, so Lightning
        must not swap in its own samplers: distributed runs need ``trainer.use_distributed_sampler=false``."""
        trainer = self.trainer
        if trainer is None or trainer.world_size == 1:
            return 1
        if trainer._accelerator_connector.use_distributed_sampler:
            raise ValueError("distributed training with forams-lightning needs trainer.use_distributed_sampler=false "
                             "(the data module shards P×K batches and evaluation sets itself); use trainer=ddp")
        return trainer.world_size

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
