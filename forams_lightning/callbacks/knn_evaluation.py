"""Per-epoch closed-set evaluation: embed gallery and queries, identify queries by a kNN vote, log the scores."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from forams_lightning.atomic import atomic_write_csv
from forams_lightning.metrics.classification import identification_scores, normalised_confusion, per_species_table
from forams_lightning.metrics.knn import knn_search, knn_vote

log = logging.getLogger(__name__)


class KNNEvaluation(pl.Callback):
    """Scores `<stage>/knn_acc`, `<stage>/macro_f1` and `<stage>/precision_at_1` for validation and test.

    Expects the datamodule's paired evaluation loaders (0: gallery = train split, 1: queries) and a module whose
    eval steps return ``{"embeddings", "labels", "index"}``. Embeddings are kept by dataset index, so their order
    does not depend on batching. At test time it also writes a per-species table and the normalised confusion matrix
    to `report_dir`.
    """

    def __init__(self, k: int = 5, metric: str = "l2", report_dir: str | None = None):
        self.k, self.metric, self.report_dir = k, metric, report_dir
        self._outputs: dict[int, list[dict]] = {}

    def _reset(self, *_):
        self._outputs = {0: [], 1: []}

    on_validation_epoch_start = on_test_epoch_start = _reset

    def _collect(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self._outputs[dataloader_idx].append({k: v.detach().cpu() for k, v in outputs.items()})

    on_validation_batch_end = on_test_batch_end = _collect

    def on_validation_epoch_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self._score(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer, pl_module):
        self._score(trainer, pl_module, "test")

    def _stack(self, loader: int) -> tuple[np.ndarray, np.ndarray]:
        parts = self._outputs[loader]
        index = torch.cat([p["index"] for p in parts])
        order = torch.argsort(index)
        emb = torch.cat([p["embeddings"] for p in parts])[order].numpy()
        labels = torch.cat([p["labels"] for p in parts])[order].numpy()
        return emb, labels

    def _score(self, trainer, pl_module, stage: str) -> None:
        if not self._outputs.get(0) or not self._outputs.get(1):
            log.warning("%s: no gallery or no queries were embedded; kNN scores skipped", stage)
            return
        gallery, gallery_labels = self._stack(0)
        queries, query_labels = self._stack(1)
        _, ids = knn_search(gallery, queries, self.k, self.metric)
        neighbour_labels = gallery_labels[ids]
        num_classes = pl_module.num_classes
        prediction, _ = knn_vote(neighbour_labels, num_classes)
        scores = identification_scores(query_labels, prediction, num_classes)
        scores["precision_at_1"] = float(np.mean(neighbour_labels[:, 0] == query_labels))
        pl_module.log_dict({f"{stage}/{k}": v for k, v in scores.items()}, prog_bar=stage == "val", add_dataloader_idx=False)
        if stage == "test" and self.report_dir:
            species = getattr(trainer.datamodule, "species", [str(c) for c in range(num_classes)])
            self._write_reports(Path(self.report_dir), query_labels, prediction, species)
        self._outputs = {}

    def _write_reports(self, folder: Path, y_true, y_pred, species: list[str]) -> None:
        rows = per_species_table(y_true, y_pred, species)
        atomic_write_csv(folder / "test_per_species.csv", list(rows[0]), [list(r.values()) for r in rows])
        matrix = normalised_confusion(y_true, y_pred, len(species))
        atomic_write_csv(folder / "test_confusion_matrix.csv", ["true \\ predicted", *species],
                         [[name, *(f"{v:.4f}" for v in row)] for name, row in zip(species, matrix)])
