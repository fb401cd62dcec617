"""Per-epoch closed-set evaluation: the adapter that runs `evaluation.closed_set.ClosedSetProtocol` on the collected
embeddings, logs its scores and writes the test report."""

from __future__ import annotations

import logging
from pathlib import Path

from forams_lightning.callbacks.embeddings import EmbeddingCollector
from forams_lightning.evaluation.closed_set import ClosedSetProtocol
from forams_lightning.loggers import log_images
from forams_lightning.viz.identification_report import save_worst_queries, write_identification_report

log = logging.getLogger(__name__)


class KNNEvaluation(EmbeddingCollector):
    """Logs the `protocol`'s scores (`<stage>/knn_acc`, `macro_f1`, `precision_at_1`, `genus_acc`) for validation
    and test. At test it writes to `report_dir` the per-species table and the normalised confusion matrix (CSV and
    PNG), and the `worst_queries` most confidently misidentified queries with their nearest references
    (`test_worst_queries.png`)."""

    prog_bar_stages = ("val",)

    def __init__(self, protocol: ClosedSetProtocol | None = None, report_dir: str | None = None,
                 worst_queries: int = 12):
        super().__init__()
        self.protocol = protocol or ClosedSetProtocol()
        self.report_dir, self.worst_queries = report_dir, worst_queries

    def evaluate(self, trainer, pl_module, stage, parts):
        dm = trainer.datamodule
        found = self.protocol.identify(parts, stage)
        if found is None:
            log.warning("%s: no gallery or no queries were embedded; kNN scores skipped", stage)
            return None
        if stage == "test" and self.report_dir:
            self._report(trainer, Path(self.report_dir), parts[stage][1], found)
        return self.protocol.score(parts, stage, dm.species, found)

    def _report(self, trainer, folder: Path, truth, found) -> None:
        dm = trainer.datamodule
        write_identification_report(folder, truth, found.prediction, dm.species[: dm.num_classes])
        save_worst_queries(folder / "test_worst_queries.png", found, truth, dm.paths("test"), gallery=dm.paths("train"),
                           species=dm.species, count=self.worst_queries, exif_transpose=dm.exif_transpose)
        log_images(trainer, {f"test/{name}": folder / f"test_{name}.png"
                             for name in ("confusion_matrix", "per_species", "worst_queries")})
