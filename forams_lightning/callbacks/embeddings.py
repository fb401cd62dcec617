"""Base callback: collect the embeddings of each evaluation loader, in dataset order."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch


class EmbeddingCollector(pl.Callback):
    """Keeps what the module's eval steps return (``{"embeddings", "labels", "index"}``) per loader, and hands
    subclasses ``{part name: (embeddings, labels)}`` sorted by dataset index, so results do not depend on
    batching. Part names come from the datamodule's `eval_parts(stage)`. `stages`: where to collect at all."""

    stages: tuple[str, ...] = ("val", "test")

    def __init__(self):
        self._outputs: dict[int, list[dict]] = {}

    def _reset(self, *_):
        self._outputs = {}

    on_validation_epoch_start = on_test_epoch_start = _reset

    def _collect(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        if ("test" if trainer.testing else "val") not in self.stages:
            return
        self._outputs.setdefault(dataloader_idx, []).append({k: v.detach().cpu() for k, v in outputs.items()})

    on_validation_batch_end = on_test_batch_end = _collect

    def on_validation_epoch_end(self, trainer, pl_module):
        if not trainer.sanity_checking and "val" in self.stages:
            self.evaluate(trainer, pl_module, "val", self._embeddings(trainer, "val"))
        self._outputs = {}

    def on_test_epoch_end(self, trainer, pl_module):
        if "test" in self.stages:
            self.evaluate(trainer, pl_module, "test", self._embeddings(trainer, "test"))
        self._outputs = {}

    def evaluate(self, trainer, pl_module, stage: str, parts: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        raise NotImplementedError

    def _embeddings(self, trainer, stage: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        names = trainer.datamodule.eval_parts(stage)
        result = {}
        for loader, outputs in self._outputs.items():
            index = torch.cat([o["index"] for o in outputs])
            order = torch.argsort(index)
            result[names[loader]] = (torch.cat([o["embeddings"] for o in outputs])[order].numpy(),
                                     torch.cat([o["labels"] for o in outputs])[order].numpy())
        return result
