"""Per-epoch closed-set evaluation: identify known-species queries by a kNN vote against the gallery."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from forams_lightning.atomic import atomic_write_csv
from forams_lightning.callbacks.embeddings import EmbeddingCollector
from forams_lightning.loggers import log_images
from forams_lightning.metrics.classification import (
    genus_accuracy,
    identification_scores,
    normalised_confusion,
    per_species_table,
)
from forams_lightning.metrics.knn import Identification, knn_identify
from forams_lightning.viz.confusion import save_confusion_png, save_per_species_png
from forams_lightning.viz.neighbours import save_neighbour_grid

log = logging.getLogger(__name__)


class KNNEvaluation(EmbeddingCollector):
    """Logs `<stage>/knn_acc`, `<stage>/macro_f1`, `<stage>/precision_at_1` and `<stage>/genus_acc` (predicted
    species of the right genus) for validation and test. At test it writes to `report_dir`: the per-species table
    (CSV, and a precision/recall/F1 bar chart), the normalised confusion matrix (CSV and PNG) and the
    `worst_queries` most confidently misidentified queries with their nearest references (`test_worst_queries.png`)."""

    prog_bar_stages = ("val",)

    def __init__(self, k: int = 5, metric: str = "l2", report_dir: str | None = None, worst_queries: int = 12):
        super().__init__()
        self.k, self.metric, self.report_dir, self.worst_queries = k, metric, report_dir, worst_queries

    def evaluate(self, trainer, pl_module, stage, parts):
        if "train" not in parts or stage not in parts:
            log.warning("%s: no gallery or no queries were embedded; kNN scores skipped", stage)
            return None
        (gallery, gallery_labels), (queries, query_labels) = parts["train"], parts[stage]
        found = knn_identify(gallery, gallery_labels, queries, self.k, self.metric)
        prediction = found.prediction
        scores = identification_scores(query_labels, prediction, len(trainer.datamodule.species))
        scores["precision_at_1"] = float(np.mean(found.labels[:, 0] == query_labels))
        scores["genus_acc"] = genus_accuracy(query_labels, prediction, trainer.datamodule.species)
        if stage == "test" and self.report_dir:
            known = trainer.datamodule.species[: trainer.datamodule.num_classes]
            self._write_reports(Path(self.report_dir), query_labels, prediction, known)
            self._write_worst(Path(self.report_dir) / "test_worst_queries.png", trainer.datamodule, query_labels,
                              found)
            log_images(trainer, {f"test/{name}": Path(self.report_dir) / f"test_{name}.png"
                                 for name in ("confusion_matrix", "per_species", "worst_queries")})
        return {f"{stage}/{k}": v for k, v in scores.items()}

    def _write_reports(self, folder: Path, y_true, y_pred, species: list[str]) -> None:
        rows = per_species_table(y_true, y_pred, species)
        atomic_write_csv(folder / "test_per_species.csv", list(rows[0]), [list(r.values()) for r in rows])
        save_per_species_png(rows, folder / "test_per_species.png")
        matrix = normalised_confusion(y_true, y_pred, len(species))
        atomic_write_csv(folder / "test_confusion_matrix.csv", ["true \\ predicted", *species],
                         [[name, *(f"{v:.4f}" for v in row)] for name, row in zip(species, matrix)])
        save_confusion_png(matrix, species, folder / "test_confusion_matrix.png")

    def _write_worst(self, path: Path, dm, y_true, found: Identification) -> None:
        """Misidentified queries, most confident first (highest vote share for the wrong species)."""
        wrong = np.flatnonzero(found.prediction != y_true)
        if not self.worst_queries or not len(wrong):
            return
        wrong = wrong[np.argsort(-found.vote_share[wrong], kind="stable")][: self.worst_queries]
        queries, gallery = dm.paths("test"), dm.paths("train")
        rows = [{"path": queries[q],
                 "title": f"{dm.species[y_true[q]]}\n-> {dm.species[found.prediction[q]]} ({found.vote_share[q]:.0%})",
                 "neighbours": [{"path": gallery[g], "title": f"{dm.species[lab]}\nd={d:.3f}",
                                 "match": lab == y_true[q]}
                                for g, lab, d in zip(found.ids[q], found.labels[q], found.distances[q])]}
                for q in wrong]
        save_neighbour_grid(rows, path, dm.exif_transpose)
