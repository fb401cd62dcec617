"""Test-time export of every evaluation part's embeddings, for analysis outside the run and for rescoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from forams_lightning.callbacks.embeddings import EmbeddingCollector


class EmbeddingExport(EmbeddingCollector):
    """Writes `path` (npz): ``<part>_embeddings``, ``<part>_labels`` (species indices into ``species``) and
    ``<part>_files`` for each test part (train gallery, val, test, unknown species), in dataset order; and
    ``crossfit<i>_embeddings`` / ``_labels``, the model's calibration sets (the whitening's cross-fitted species)
    where it has them, and ``crossfit_share``, the share of their species' images they hold.

    The evaluation metrics are functions of these arrays alone, so they can be recomputed with other settings
    without embedding an image again (`experiments/open_set_radiolaria/rescore.py`)."""

    stages = ("test",)

    def __init__(self, path: str):
        super().__init__()
        self.path = Path(path)

    def evaluate(self, trainer, pl_module, stage, parts):
        dm = trainer.datamodule
        arrays = {"species": np.array(dm.species)}
        for name, (emb, labels) in parts.items():
            arrays.update({f"{name}_embeddings": emb, f"{name}_labels": labels,
                           f"{name}_files": np.array(dm.paths(name))})
        calibration = getattr(pl_module, "calibration", None)
        for i, (emb, labels) in enumerate(calibration.sets if calibration else ()):
            arrays.update({f"crossfit{i}_embeddings": emb, f"crossfit{i}_labels": labels})
        if calibration and calibration.share is not None:
            arrays["crossfit_share"] = np.array(calibration.share)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(self.path)
        return None
