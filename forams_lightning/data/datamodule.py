"""ForamsDataModule: reads a layout, splits it, and serves P×K training batches and gallery/query evaluation sets."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from forams_lightning.data.dataset import ImageDataset
from forams_lightning.data.layouts import read_manifest, read_species_folders
from forams_lightning.data.samplers import PKBatchSampler
from forams_lightning.data.splits import load_split, save_split, stratified_split
from forams_lightning.data.synthetic import SyntheticSpec, generate_library
from forams_lightning.data.transforms import build_transform

log = logging.getLogger(__name__)


class ForamsDataModule(pl.LightningDataModule):
    """Evaluation loaders come in pairs: index 0 is the gallery (the train split, evaluation transforms), index 1
    the queries (val or test split). A query is identified by its nearest gallery images."""

    def __init__(
        self,
        root: str | None = None,
        manifest: str | None = None,
        manifest_columns: dict | None = None,
        synthetic: dict | None = None,
        image_size: int = 224,
        crop_border: dict | None = None,
        split: dict | None = None,
        split_file: str | None = None,
        output_dir: str | None = None,
        sampler: dict | None = None,
        eval_batch_size: int = 128,
        num_workers: int = 2,
        pin_memory: bool = False,
        seed: int = 0,
    ):
        super().__init__()
        if root is None and manifest is None:
            raise ValueError("set data.root (a folder of species folders) or data.manifest (a CSV)")
        self.root, self.manifest, self.manifest_columns = root, manifest, manifest_columns or {}
        self.synthetic = SyntheticSpec(**synthetic) if synthetic else None
        if self.synthetic is not None:  # the cache holds one folder per distinct library
            self.root = str(Path(root) / f"synthetic-{self.synthetic.digest()}")
        self.image_size, self.crop_border = image_size, crop_border
        self.split_options, self.split_file, self.output_dir = split or {}, split_file, output_dir
        self.sampler_options = sampler or {}
        self.eval_batch_size, self.num_workers, self.pin_memory, self.seed = eval_batch_size, num_workers, pin_memory, seed
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
        self.species = sorted({s.species for s in self.samples})
        index = {name: i for i, name in enumerate(self.species)}
        self.labels = [index[s.species] for s in self.samples]
        rel_paths = [self._relative(s.path) for s in self.samples]
        names = [s.species for s in self.samples]
        if self.split_file:
            self.parts = load_split(self.split_file, rel_paths, names)
            self.split_report = {}
        else:
            groups = [s.group for s in self.samples] if any(s.group for s in self.samples) else None
            self.parts, self.split_report = stratified_split(names, groups, **self.split_options)
            if self.split_report["train_only_species"]:
                log.warning("too few images to validate/test these species; they are in the gallery only: %s",
                            self.split_report["train_only_species"])
        if self.output_dir:
            save_split(Path(self.output_dir) / "split.csv", rel_paths, names, self.parts)

    @property
    def num_classes(self) -> int:
        return len(self.species)

    def indices(self, part: str) -> list[int]:
        return [i for i, p in enumerate(self.parts) if p == part]

    def dataset(self, part: str, train: bool = False) -> ImageDataset:
        ix = self.indices(part)
        return ImageDataset([self.samples[i].path for i in ix], [self.labels[i] for i in ix],
                            build_transform(self.image_size, train, self.crop_border))

    def train_dataloader(self) -> DataLoader:
        data = self.dataset("train", train=True)
        trainer = self.trainer
        sampler = PKBatchSampler(
            data.labels, seed=self.seed, **self.sampler_options,
            num_replicas=trainer.world_size if trainer else 1, rank=trainer.global_rank if trainer else 0,
        )
        return DataLoader(data, batch_sampler=sampler, **self._loader_options())

    def val_dataloader(self) -> list[DataLoader]:
        return self._gallery_and_queries("val")

    def test_dataloader(self) -> list[DataLoader]:
        return self._gallery_and_queries("test")

    def _gallery_and_queries(self, part: str) -> list[DataLoader]:
        return [DataLoader(self.dataset(p), batch_size=self.eval_batch_size, shuffle=False, **self._loader_options())
                for p in ("train", part)]

    def _loader_options(self) -> dict:
        return dict(num_workers=self.num_workers, pin_memory=self.pin_memory,
                    persistent_workers=self.num_workers > 0)

    def _relative(self, path: str) -> str:
        return os.path.relpath(path, self.root) if self.root else path
