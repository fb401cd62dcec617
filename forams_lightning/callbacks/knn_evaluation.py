"""Per-epoch closed-set evaluation: identify known-species queries by a kNN vote against the gallery."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from forams_lightning.atomic import atomic_write_csv
from forams_lightning.callbacks.embeddings import EmbeddingCollector
from forams_lightning.metrics.classification import identification_scores, normalised_confusion, per_species_table
from forams_lightning.metrics.knn import knn_identify
from forams_lightning.viz.confusion import save_confusion_png

log = logging.getLogger(__name__)


class KNNEvaluation(EmbeddingCollector):
    """Logs `<stage>/knn_acc`, `<stage>/macro_f1` and `<stage>/precision_at_1` for validation and test; at test
    it also writes a per-species table and the normalised confusion matrix (CSV and PNG) to `report_dir`."""

    def __init__(self, k: int = 5, metric: str = "l2", report_dir: str | None = None):
        super().__init__()
        self.k, self.metric, self.report_dir = k, metric, report_dir

    def evaluate(self, trainer, pl_module, stage, parts):
        if "train" not in parts or stage not in parts:
            log.warning("%s: no gallery or no queries were embedded; kNN scores skipped", stage)
            return
        (gallery, gallery_labels), (queries, query_labels) = parts["train"], parts[stage]
        prediction, neighbour_labels, _ = knn_identify(gallery, gallery_labels, queries, self.k, self.metric)
        scores = identification_scores(query_labels, prediction, len(trainer.datamodule.species))
        scores["precision_at_1"] = float(np.mean(neighbour_labels[:, 0] == query_labels))
        pl_module.log_dict({f"{stage}/{k}": v for k, v in scores.items()}, prog_bar=stage == "val",
                           add_dataloader_idx=False)
        if stage == "test" and self.report_dir:
            known = trainer.datamodule.species[: trainer.datamodule.num_classes]
            self._write_reports(Path(self.report_dir), query_labels, prediction, known)

    def _write_reports(self, folder: Path, y_true, y_pred, species: list[str]) -> None:
        rows = per_species_table(y_true, y_pred, species)
        atomic_write_csv(folder / "test_per_species.csv", list(rows[0]), [list(r.values()) for r in rows])
        matrix = normalised_confusion(y_true, y_pred, len(species))
        atomic_write_csv(folder / "test_confusion_matrix.csv", ["true \\ predicted", *species],
                         [[name, *(f"{v:.4f}" for v in row)] for name, row in zip(species, matrix)])
        save_confusion_png(matrix, species, folder / "test_confusion_matrix.png")
