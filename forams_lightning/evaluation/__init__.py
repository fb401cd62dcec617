"""Evaluation protocols as pure code: a settings dataclass and ``score(parts, ...) -> dict`` over embeddings that
were already computed, so a Lightning callback, `python -m forams_lightning.eval`, a rescoring script and the tests
all score the same way. No Lightning here, and nothing that reads or writes files.

- `closed_set.ClosedSetProtocol`: known-species queries identified by a k-NN vote against the training gallery;
- `open_set.OpenSetProtocol`: species never seen in training (leave-one-out, k-means, clustering with the number
  of species estimated, novelty against the known gallery);
- `calibration.CalibrationSets`: labelled species the embedding was not fitted on, that calibrate the clustering
  cut (a run's whitening makes them; the checkpoint keeps them).

`parts` maps split names (``train`` the gallery, ``val`` / ``test`` the known queries, ``unknown_val`` /
``unknown_test`` species withheld from training) to (embeddings, species indices).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from forams_lightning.exports import lazy_exports

_API = {
    "calibration": ["CalibrationSets"],
    "closed_set": ["ClosedSetProtocol"],
    "open_set": ["OpenSetProtocol"],
    "species_count": ["SpeciesCount"],
}
__all__ = ["CalibrationSets", "ClosedSetProtocol", "OpenSetProtocol", "SpeciesCount"]
__getattr__, __dir__ = lazy_exports(__name__, _API)

if TYPE_CHECKING:
    from forams_lightning.evaluation.calibration import CalibrationSets
    from forams_lightning.evaluation.closed_set import ClosedSetProtocol
    from forams_lightning.evaluation.open_set import OpenSetProtocol
    from forams_lightning.evaluation.species_count import SpeciesCount
