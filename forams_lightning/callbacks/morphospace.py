"""Test-time morphospace: 2-D maps of gallery, test queries and unseen species, as PNG, HTML and wandb media."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from forams_lightning.callbacks.embeddings import EmbeddingCollector
from forams_lightning.loggers import log_images
from forams_lightning.viz.morphospace import project_2d, save_morphospace_html, save_morphospace_png, subsample

log = logging.getLogger(__name__)


class Morphospace(EmbeddingCollector):
    """Writes `morphospace_<method>.png` and `.html` to `report_dir` for each of `methods` (umap, tsne), from the
    train (gallery), test and ``unknown_test`` embeddings (at most `max_points`, every species kept); species never
    seen in training are drawn hollow. With a wandb logger it also logs the PNGs and an embeddings table."""

    stages = ("test",)

    def __init__(self, report_dir: str, methods: tuple[str, ...] = ("umap", "tsne"), metric: str = "cosine",
                 max_points: int | None = 5000, *, seed: int = 0):
        """The maps' settings.

        Args:
            report_dir: where the PNG and HTML maps go.
            methods: the projections drawn (``umap``, ``tsne``).
            metric: the embedding's metric (``cosine`` or ``l2``).
            max_points: at most this many points a map, every species kept (None: all).
            seed: of the projections and the subsample.
        """
        super().__init__()
        self.report_dir, self.methods, self.metric = Path(report_dir), list(methods), metric
        self.max_points, self.seed = max_points, seed

    def evaluate(self, trainer, pl_module, stage, parts):
        dm = trainer.datamodule
        names = [p for p in ("train", "test", "unknown_test") if p in parts]
        if not names:
            return None
        emb = np.concatenate([parts[p][0] for p in names])
        labels = np.concatenate([parts[p][1] for p in names])
        files = [f for p in names for f in dm.paths(p)]
        keep = subsample(labels, self.max_points, self.seed)
        emb, labels, files = emb[keep], labels[keep], [files[i] for i in keep]
        species = [dm.species[i] for i in labels]
        seen = labels < dm.num_classes
        for method in self.methods:
            xy = project_2d(emb, method, self.metric, self.seed)
            title = f"{method.upper()} of {len(emb)} embeddings ({len(set(species))} species)"
            png = save_morphospace_png(xy, species, seen, self.report_dir / f"morphospace_{method}.png", title=title)
            save_morphospace_html(xy, species, seen, files, path=self.report_dir / f"morphospace_{method}.html",
                                  title=title)
            self._log_wandb(trainer, method, png, xy=xy, species=species, seen=seen, files=files)
        log.info("morphospace maps written to %s", self.report_dir)
        return None

    @staticmethod
    def _log_wandb(trainer, method, png, xy, *, species, seen, files) -> None:
        from pytorch_lightning.loggers import WandbLogger

        log_images(trainer, {f"morphospace/{method}": png})
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_table(key=f"morphospace/{method}_points", columns=["x", "y", "species", "seen", "file"],
                                 data=[[float(x), float(y), s, bool(k), f] for (x, y), s, k, f
                                       in zip(xy, species, seen, files)])
