"""MetricLearningModule: backbone + embedding head (+ softmax head) trained with a miner and a metric loss."""

from __future__ import annotations

import functools

import pytorch_lightning as pl
import torch
from torch import nn

from forams_lightning.evaluation.calibration import CalibrationSets
from forams_lightning.losses.combined import MetricLearningLoss
from forams_lightning.models.backbones import Backbone
from forams_lightning.models.embedder import rotation_average
from forams_lightning.models.feature_memo import FeatureMemo


class MetricLearningModule(pl.LightningModule):
    """`forward` returns the embedding that training optimised; evaluation and export use exactly that path.

    `head` is a partial (its input size comes from the backbone). `loss.metric` may be a partial too: PML's
    classification losses (ArcFace, NormalizedSoftmax, ...) receive `num_classes` and `embedding_size` here.
    `optimizer` and `scheduler` are partials; `backbone_lr_scale` multiplies the learning rate of the backbone.
    `freeze`: ``none``, ``batchnorm`` (BatchNorm statistics and affine parameters fixed at their pretrained values;
    small fine-tuning sets otherwise drag them), ``backbone`` (train the heads only) or ``auto`` (``batchnorm``
    where the backbone starts from pretrained weights, ``none`` from random ones).
    `tta_rotations`: evaluation embeds each image at that many quarter turns and averages (shells and skeletons
    have no canonical orientation); training is unaffected. `inference_precision`: ``32``, or ``bf16`` (autocast of
    the passes that only embed: validation, test and the whitening fit; faster on a CPU with AVX-512 BF16).
    With ``freeze=backbone`` the features that `features(..., remember=True)` computed (the whitening fit's training
    images) are served again to evaluation for the same images (`FeatureMemo`) instead of being recomputed, until the
    end of the test.
    `cross_rank_mining` (DDP only): mine pairs and compute the metric loss over the batches of all processes
    (PML's DistributedMinerWrapper / DistributedLossWrapper) instead of within each process's P×K batch: more
    negatives per anchor, one all_gather per step. Cross-entropy stays per process.
    """

    def __init__(
        self,
        backbone: Backbone,
        head: functools.partial,
        loss: MetricLearningLoss,
        optimizer: functools.partial,
        *, num_classes: int,
        miner: nn.Module | None = None,
        scheduler: functools.partial | None = None,
        backbone_lr_scale: float = 1.0,
        freeze: str = "auto",
        tta_rotations: int = 1,
        compile: bool = False,
        cross_rank_mining: bool = False,
        inference_precision: str = "32",
    ):
        """The parts of the model and its training (the class docstring says what each does).

        Args:
            backbone: the feature extractor.
            head: a partial of the embedding head (its input size comes from the backbone).
            loss: the metric loss and cross-entropy.
            optimizer: a partial of the optimiser.
            num_classes: the training species.
            miner: the pair or triplet miner, or None.
            scheduler: a partial of the learning-rate schedule, or None.
            backbone_lr_scale: multiplies the backbone's learning rate.
            freeze: ``auto``, ``none``, ``batchnorm`` or ``backbone``.
            tta_rotations: quarter turns averaged in evaluation.
            compile: torch.compile the backbone.
            cross_rank_mining: mine across the DDP processes' batches.
            inference_precision: ``32`` or ``bf16`` for the passes that only embed.
        """
        super().__init__()
        self.backbone = backbone
        self.head = head(in_features=backbone.num_features)
        if isinstance(loss.metric, functools.partial):
            loss.metric = loss.metric(num_classes=num_classes, embedding_size=self.head.embedding_dim)
        self.loss, self.miner = loss, miner
        self.classifier = nn.Linear(self.head.trunk_features, num_classes) if loss.ce_weight > 0 else None
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.backbone_lr_scale, self.num_classes = backbone_lr_scale, num_classes
        self.compile_backbone, self.cross_rank_mining = compile, cross_rank_mining
        self._backbone_compiled = False
        self._across_ranks: tuple[nn.Module | None, nn.Module | None] = (None, None)
        if freeze not in ("auto", "none", "batchnorm", "backbone"):
            raise ValueError(f"model.freeze must be auto, none, batchnorm or backbone (got {freeze!r})")
        if freeze == "auto":
            freeze = "batchnorm" if backbone.has_pretrained_weights else "none"
        if not 1 <= tta_rotations <= 4:
            raise ValueError(f"model.tta_rotations must be 1..4 quarter turns (got {tta_rotations})")
        self.freeze_mode, self.tta_rotations = freeze, tta_rotations  # not `freeze`: LightningModule's method
        for module in self._frozen_modules():
            module.requires_grad_(False)
        self.feature_memo = FeatureMemo() if freeze == "backbone" else None
        if inference_precision not in ("32", "bf16"):
            raise ValueError(f"model.inference_precision must be 32 or bf16 (got {inference_precision!r})")
        self.inference_precision = inference_precision
        self.calibration: CalibrationSets | None = None  # set by callbacks.whitening; kept in the checkpoint

    def _frozen_modules(self) -> list[nn.Module]:
        if self.freeze_mode == "backbone":
            return [self.backbone]
        if self.freeze_mode == "batchnorm":
            return [m for m in self.backbone.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        return []

    def on_train_epoch_start(self) -> None:
        for module in self._frozen_modules():  # Lightning puts everything in train mode before each epoch
            module.eval()

    def setup(self, stage: str) -> None:
        self.backbone.resolve_channels_last()
        if self.compile_backbone and stage == "fit" and not self._backbone_compiled:
            self.backbone.compile()  # once per module: a second fit (benchmark repeats) reuses the compiled code
            self._backbone_compiled = True
        if self.cross_rank_mining and stage == "fit" and self.trainer.world_size > 1 and self.loss.metric is not None:
            from pytorch_metric_learning.utils.distributed import DistributedLossWrapper, DistributedMinerWrapper

            # A plain tuple, not submodules: the wrappers share the loss's parameters and the checkpoint keys stay
            # those of a single-process run.
            self._across_ranks = (DistributedMinerWrapper(self.miner) if self.miner is not None else None,
                                  DistributedLossWrapper(self.loss.metric))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))[0]

    def features(self, images: torch.Tensor, remember: bool = False) -> torch.Tensor:
        """The backbone's features; a frozen backbone keeps those computed with `remember` for later calls."""
        if self.feature_memo is None:
            return self.backbone(images)
        if remember:
            features = self.backbone(images)
            self.feature_memo.remember(images, features)
            return features
        return self.feature_memo(self.backbone, images)

    def on_test_end(self) -> None:
        if self.feature_memo is not None:  # its work is done: the fit's features are not held for the module's life
            self.feature_memo.clear()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.calibration is not None:
            checkpoint["calibration"] = self.calibration.state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.calibration = CalibrationSets.from_checkpoint(checkpoint)
        # Called before the checkpoint's weights replace the backbone's: remembered features survive only a
        # checkpoint of the same backbone (the test pass of the run that fitted them).
        if self.feature_memo:
            current = self.backbone.state_dict(prefix="backbone.")
            saved = checkpoint.get("state_dict", {})
            if any(k not in saved or not torch.equal(saved[k].to(v.device), v) for k, v in current.items()):
                self.feature_memo.clear()

    def training_step(self, batch, batch_idx):
        images, labels, _ = batch
        embeddings, trunk = self.head(self.backbone(images))
        logits = self.classifier(trunk) if self.classifier is not None else None
        miner, metric = self._across_ranks
        miner = miner or self.miner
        indices = miner(embeddings, labels) if miner is not None else None
        losses = self.loss(embeddings, labels, indices, logits, metric=metric)
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, prog_bar=True, on_step=True, on_epoch=True,
                      batch_size=len(labels))
        if indices is not None:
            self.log("train/mined", float(len(indices[0])), on_step=True, on_epoch=False, batch_size=len(labels))
        return losses["loss"]

    def validation_step(self, batch, batch_idx, dataloader_idx: int = 0):
        return self._embed_batch(batch)

    def test_step(self, batch, batch_idx, dataloader_idx: int = 0):
        return self._embed_batch(batch)

    def predict_step(self, batch, batch_idx, dataloader_idx: int = 0):
        return self._embed_batch(batch)

    def inference_autocast(self, device: torch.device):
        """The precision of the passes that only embed (validation, test, the whitening fit)."""
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.inference_precision == "bf16")

    def _embed_batch(self, batch) -> dict[str, torch.Tensor]:
        images, labels, index = batch
        with self.inference_autocast(images.device):
            embeddings = rotation_average(self, images, self.tta_rotations)
        return {"embeddings": embeddings.float(), "labels": labels, "index": index}

    def configure_optimizers(self):
        backbone = list(self.backbone.parameters())
        backbone_ids = {id(p) for p in backbone}
        rest = [p for p in self.parameters() if id(p) not in backbone_ids]
        lr = self.optimizer_factory.keywords.get("lr", 1e-3)
        groups = [{"params": [p for p in backbone if p.requires_grad], "lr": lr * self.backbone_lr_scale},
                  {"params": rest, "lr": lr}]
        groups = [g for g in groups if g["params"]]
        if not groups:
            if self.trainer.max_epochs == 0:
                return None  # features scored as they are (a frozen baseline): nothing to optimise, no epoch to run
            raise ValueError("nothing to train: model.freeze=backbone with model.head.embedding_dim=null leaves no "
                             "trainable parameter (trainer.max_epochs=0 scores the features as they are)")
        optimizer = self.optimizer_factory(params=groups)
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer=optimizer),
                                                         "interval": "epoch"}}
