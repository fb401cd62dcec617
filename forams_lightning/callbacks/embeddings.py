"""Base callback: collect the embeddings of each evaluation loader, in dataset order, across all processes."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch


class EmbeddingCollector(pl.Callback):
    """Keeps what the module's eval steps return (``{"embeddings", "labels", "index"}``) per loader, and hands
    subclasses ``{part name: (embeddings, labels)}`` sorted by dataset index, so results do not depend on
    batching. Part names come from the datamodule's `eval_parts(stage)`. `stages`: where to collect at all.

    Under DDP every process embeds its shard of each loader; the shards are gathered (`all_gather`), the duplicates
    the distributed sampler pads shards with are dropped by dataset index, and only global rank 0 computes (one
    FAISS index, one set of report files). Its metrics are broadcast and logged by every rank, so all ranks agree
    and none waits on a collective the others skip. Subclasses return their metrics from `evaluate`.

    Several collectors of one stage (kNN, open-set, morphospace, export) share one collection: the first of them
    in the trainer's callbacks keeps and gathers the outputs, the others read its parts (one copy in memory, one
    all_gather per loader under DDP).
    """

    stages: tuple[str, ...] = ("val", "test")
    prog_bar_stages: tuple[str, ...] = ()

    def __init__(self):
        self._outputs: dict[int, list[dict]] = {}
        self._parts: dict[str, tuple[np.ndarray, np.ndarray]] | None = None

    def _reset(self, *_):
        self._outputs, self._parts = {}, None

    on_validation_epoch_start = on_test_epoch_start = _reset

    @staticmethod
    def _owner(trainer, stage: str) -> EmbeddingCollector:
        """The collector that keeps the outputs of `stage`: the first one in the trainer's callbacks."""
        return next(cb for cb in trainer.callbacks if isinstance(cb, EmbeddingCollector) and stage in cb.stages)

    def _collect(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        stage = "test" if trainer.testing else "val"
        if stage not in self.stages or self._owner(trainer, stage) is not self:
            return
        self._outputs.setdefault(dataloader_idx, []).append({k: v.detach().cpu() for k, v in outputs.items()})

    on_validation_batch_end = on_test_batch_end = _collect

    def on_validation_epoch_end(self, trainer, pl_module):
        if not trainer.sanity_checking and "val" in self.stages:
            self._run(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer, pl_module):
        if "test" in self.stages:
            self._run(trainer, pl_module, "test")

    def _run(self, trainer, pl_module, stage: str) -> None:
        parts = self._owner(trainer, stage)._gathered(trainer, pl_module, stage)
        metrics = (self.evaluate(trainer, pl_module, stage, parts) or {}) if trainer.is_global_zero else None
        if trainer.world_size > 1:
            metrics = trainer.strategy.broadcast(metrics, src=0)
        if metrics:
            pl_module.log_dict(metrics, prog_bar=stage in self.prog_bar_stages, add_dataloader_idx=False)

    def evaluate(self, trainer, pl_module, stage: str,
                 parts: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, float] | None:
        """Runs on global rank 0 only; returns the metrics to log (full names, e.g. ``val/knn_acc``).

        Args:
            trainer: the Lightning trainer (its datamodule names the parts' species and files).
            pl_module: the module evaluated.
            stage: ``val`` or ``test``.
            parts: ``{part name: (embeddings, labels)}`` in dataset order (`eval_parts(stage)`).
        """
        raise NotImplementedError

    def _gathered(self, trainer, pl_module, stage: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The parts of this epoch, gathered once (the first caller; the outputs are then let go)."""
        if self._parts is None:
            self._parts, self._outputs = self._embeddings(trainer, pl_module, stage), {}
        return self._parts

    def _embeddings(self, trainer, pl_module, stage: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        names = trainer.datamodule.eval_parts(stage)
        result = {}
        for loader in range(len(names)):
            outputs = self._outputs.get(loader, [])
            if not outputs and trainer.world_size == 1:
                continue
            batch = {k: torch.cat([o[k] for o in outputs]) for k in ("embeddings", "labels", "index")}
            if trainer.world_size > 1:  # equal shard sizes: the distributed sampler pads them
                batch = {k: v.flatten(0, 1).cpu() for k, v in pl_module.all_gather(batch).items()}
            _, first = np.unique(batch["index"].numpy(), return_index=True)  # dataset order, padding repeats dropped
            result[names[loader]] = (batch["embeddings"][first].numpy(), batch["labels"][first].numpy())
        return result
