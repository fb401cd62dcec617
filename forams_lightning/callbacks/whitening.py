"""Initialise the embedding layer as the learned whitening of the backbone's features on the training species."""

from __future__ import annotations

import logging

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader

from forams_lightning.console import progress
from forams_lightning.models.whitening import fit_whitening

log = logging.getLogger(__name__)


class WhiteningInit(pl.Callback):
    """At the start of fit, embed the training images with the backbone (evaluation transforms, each at
    `rotations` quarter turns, each view one sample), fit `fit_whitening` (learned with species labels when
    `supervised`, else PCA) and write it into the head's projection: embedding = normalise((f - mean) @ P).
    With ``trainer.max_epochs=0`` that is the whole training; with more epochs the head fine-tunes from there.
    Skipped when fit resumes from a checkpoint (the weights come from it)."""

    def __init__(self, shrinkage: float = 0.5, rotations: int = 4, supervised: bool = True, batch_size: int = 64):
        self.shrinkage, self.rotations, self.supervised, self.batch_size = shrinkage, rotations, supervised, batch_size

    def on_fit_start(self, trainer, pl_module) -> None:
        if trainer.ckpt_path:
            return
        project = getattr(pl_module.head, "project", None)
        if not isinstance(project, nn.Linear):
            raise ValueError("WhiteningInit needs a linear embedding layer: set model.head.embedding_dim")
        dm = trainer.datamodule
        loader = DataLoader(dm.dataset("train"), batch_size=self.batch_size, num_workers=dm.num_workers)
        features, labels = [], []
        was_training = pl_module.training
        pl_module.eval()
        with torch.inference_mode(), progress("whitening: training images", len(loader.dataset)) as advance:
            for images, y, _ in loader:
                images = dm.as_float(images.to(pl_module.device))
                for k in range(self.rotations):
                    features.append(pl_module.backbone(torch.rot90(images, k, (2, 3))).float().cpu().numpy())
                    labels.append(y.numpy())
                advance(len(y))
        pl_module.train(was_training)
        features, labels = np.concatenate(features), np.concatenate(labels)
        mean, projection = fit_whitening(features, labels if self.supervised else None, project.out_features,
                                         self.shrinkage)
        if projection.shape[1] < project.out_features:
            raise ValueError(f"model.head.embedding_dim={project.out_features} exceeds the backbone's "
                             f"{projection.shape[0]} features")
        with torch.no_grad():
            weight = torch.from_numpy(projection.T.copy()).to(project.weight)
            project.weight.copy_(weight)
            project.bias.copy_(-weight @ torch.from_numpy(mean).to(weight))
        log.info("embedding layer set to the %s whitening of %d training views (%d species)",
                 "learned" if self.supervised else "PCA", len(features), len(np.unique(labels)))
