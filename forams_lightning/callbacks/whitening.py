"""Initialise the embedding layer as the learned whitening of the backbone's features on the training species."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader

from forams_lightning.console import progress
from forams_lightning.evaluation.calibration import CalibrationSets, image_share
from forams_lightning.models.whitening import cross_fitted_embeddings, fit_whitening

log = logging.getLogger(__name__)

FITTABLE_PARTS = ("train", "val", "unknown_val")  # never a test part: the report must stay unseen


class WhiteningInit(pl.Callback):
    """At the start of fit, embed the training images with the backbone (evaluation transforms, each view one
    sample), fit `fit_whitening` and write it into the head's projection: embedding = normalise((f - mean) @ P).
    With ``trainer.max_epochs=0`` that is the whole training; with more epochs the head fine-tunes from there. A
    frozen backbone remembers these features, so the test pass does not embed the training images again.
    Skipped when fit resumes from a checkpoint (the weights come from it).

    Args:
        shrinkage: of the within-species covariance (`models.whitening.fit_whitening`).
        rotations: quarter turns of every image, each one view.
        supervised: learned with species labels; False: PCA whitening.
        batch_size: images a batch while embedding.
        parts: the data parts fitted, of ``train``, ``val`` and ``unknown_val`` (species withheld for validation:
            `open_val/` and its cut are then on fitted species). On radiolaria, fitting the val species too tied on
            them and lost on the test species (`experiments/open_set_radiolaria/`).
        calibration_folds: >= 2: the fitted species also split into that many seeded groups, each embedded by a
            whitening fitted without it (`cross_fitted_embeddings`): species the embedding was not fitted on, for
            the open-set evaluation to calibrate its cut on (a cut calibrated on fitted species over-splits unseen
            ones). They become the model's `calibration` (`evaluation.calibration.CalibrationSets`), kept in the
            checkpoint, so `forams_lightning.eval` calibrates as the run did. 0: off.
        seed: of the groups.
    """

    def __init__(self, shrinkage: float = 0.5, rotations: int = 4, supervised: bool = True, batch_size: int = 64,
                 *, parts: Sequence[str] = ("train",), calibration_folds: int = 0, seed: int = 0):
        bad = [p for p in parts if p not in FITTABLE_PARTS]
        if bad or not parts:
            raise ValueError(f"callbacks.whitening.parts={list(parts)}: choose from {list(FITTABLE_PARTS)}")
        if calibration_folds == 1 or calibration_folds < 0:
            raise ValueError(f"callbacks.whitening.calibration_folds must be 0 (off) or >= 2 (got {calibration_folds})")
        self.shrinkage, self.rotations, self.supervised, self.batch_size = shrinkage, rotations, supervised, batch_size
        self.parts, self.calibration_folds, self.seed = list(parts), calibration_folds, seed

    def on_fit_start(self, trainer, pl_module) -> None:
        if trainer.ckpt_path:
            return
        project = getattr(pl_module.head, "project", None)
        if not isinstance(project, nn.Linear):
            raise ValueError("WhiteningInit needs a linear embedding layer: set model.head.embedding_dim")
        dm = trainer.datamodule
        parts = [p for p in self.parts if dm.indices(p)]
        views, labels = self._views(pl_module, dm, parts)  # (images, rotations, D), (images,)
        features = views.reshape(-1, views.shape[-1])
        mean, projection = fit_whitening(features, np.repeat(labels, self.rotations) if self.supervised else None,
                                         project.out_features, self.shrinkage)
        if projection.shape[1] < project.out_features:
            raise ValueError(f"model.head.embedding_dim={project.out_features} exceeds the backbone's "
                             f"{projection.shape[0]} features")
        with torch.no_grad():
            weight = torch.from_numpy(projection.T.copy()).to(project.weight)
            project.weight.copy_(weight)
            project.bias.copy_(-weight @ torch.from_numpy(mean).to(weight))
        log.info("embedding layer set to the %s whitening of %d views of %s (%d species)",
                 "learned" if self.supervised else "PCA", len(features), "+".join(parts), len(np.unique(labels)))
        if self.calibration_folds:
            sets = self._cross_fit(views, labels, project.out_features, getattr(pl_module.head, "normalize", True))
            pl_module.calibration = CalibrationSets(tuple(sets), image_share(labels, dm.labels)) if sets else None

    def _views(self, pl_module, dm, parts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Backbone features of every image of `parts` at each quarter turn, and the images' species."""
        dataset: ConcatDataset = ConcatDataset([dm.dataset(p) for p in parts])
        loader: DataLoader = DataLoader(dataset, batch_size=self.batch_size, num_workers=dm.num_workers)
        features, labels = [], []
        was_training = pl_module.training
        pl_module.eval()
        with torch.inference_mode(), pl_module.inference_autocast(pl_module.device), \
                progress(f"whitening: {'+'.join(parts)} images", len(dataset)) as advance:
            for images, y, _ in loader:
                images = dm.as_float(images.to(pl_module.device))
                # test reuses the remembered features
                features.append(torch.stack([pl_module.features(torch.rot90(images, k, (2, 3)), remember=True)
                                             for k in range(self.rotations)], 1).float().cpu().numpy())
                labels.append(y.numpy())
                advance(len(y))
        pl_module.train(was_training)
        return np.concatenate(features), np.concatenate(labels)

    def _cross_fit(self, views, labels, dim, normalize) -> list[tuple[np.ndarray, np.ndarray]]:
        try:
            sets = cross_fitted_embeddings(views, labels, self.calibration_folds, dim, shrinkage=self.shrinkage,
                                           supervised=self.supervised, normalize=normalize, seed=self.seed)
        except ValueError as error:  # too few species: the evaluation falls back to other calibration species
            log.warning("callbacks.whitening.calibration_folds: %s; no cross-fitted calibration sets", error)
            return []
        log.info("cross-fitted calibration sets: %s species, each embedded by a whitening fitted without them",
                 " + ".join(str(len(np.unique(y))) for _, y in sets))
        return sets
