"""The open-set protocol: species never seen in training, scored without and against the known gallery."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from forams_lightning.data.splits import stratified_split
from forams_lightning.evaluation.calibration import CalibrationSets
from forams_lightning.evaluation.parts import Parts, known_images
from forams_lightning.evaluation.species_count import SpeciesCount
from forams_lightning.metrics.classification import identification_scores
from forams_lightning.metrics.clustering import cluster_scores, kmeans
from forams_lightning.metrics.knn import knn_identify, leave_one_out_nearest
from forams_lightning.metrics.novelty import NoveltyScore, novelty_scores
from forams_lightning.metrics.reranking import Reranking
from forams_lightning.metrics.vectors import check_metric

log = logging.getLogger(__name__)

GROUPS = ("loo", "kmeans", "gallery_knn", "clusters", "novelty")
CHEAP = ("loo", "kmeans")  # what validation computes every epoch


@dataclass(frozen=True)
class OpenSetProtocol:
    """Scores of the unseen species of a stage (``unknown_test``; ``unknown_val`` at validation), under ``open/``
    (``open_val/``), each group of metrics in `score`'s `include`:

    - ``loo``: leave-one-out 1-NN over all unseen images (`loo_1nn_acc`, `loo_1nn_macro_f1`; works for 4-image
      species);
    - ``kmeans``: k-means with the true number of species (`kmeans_acc`, `_macro_f1`, `_nmi`, `_ari`, `_k`);
    - ``gallery_knn``: the unseen images split (stratified, seeded) into gallery and queries, `k`-NN vote (the
      paper's protocol; `knn_acc`, `knn_macro_f1`);
    - ``clusters``: hierarchical clustering with the number of species estimated (`species_count`; `agglo_*` with
      `agglo_k` beside `k_true`, `agglo_threshold`), calibrated on the first of: the calibration sets passed in,
      the validation species ``unknown_val``, every image of the known species;
    - ``novelty``: the `novelty` score against the known gallery (`novelty_auroc`, `novelty_oscr`, and at the score
      that keeps `keep_known` of the known queries: `novelty_threshold`, `novelty_acc_kept`,
      `novelty_unknown_rejected`).

    `reranking` (cosine metric): the unseen embeddings (and the calibration sets) are expanded before every group
    but novelty, and every nearest-neighbour vote ranks by CSLS where `csls_k`."""

    k: int = 5
    metric: str = "cosine"
    seed: int = 0
    keep_known: float = 0.95
    reranking: Reranking = field(default_factory=Reranking)
    species_count: SpeciesCount = field(default_factory=SpeciesCount)
    novelty: NoveltyScore = field(default_factory=NoveltyScore)

    def __post_init__(self) -> None:
        for name, cls in (("reranking", Reranking), ("species_count", SpeciesCount), ("novelty", NoveltyScore)):
            value = getattr(self, name)
            if isinstance(value, Mapping):  # from YAML: a plain mapping of the settings
                object.__setattr__(self, name, cls(**value))
        self.reranking.check(check_metric(self.metric, "open-set metric"))

    def score(self, parts: Parts, calibration: CalibrationSets | None = None, stage: str = "test",
              include: tuple[str, ...] = GROUPS) -> dict[str, float] | None:
        """The metrics of `include` for the unseen species of `stage` (None where fewer than 2 images).

        Args:
            parts: ``{part name: (embeddings, labels)}``: the gallery, the known queries and the unseen species.
            calibration: the cross-fitted sets the clustering cut is calibrated on, where the run kept them.
            stage: ``val`` or ``test`` (which unseen part, and the metrics' prefix).
            include: the groups of metrics computed (`GROUPS`).
        """
        unknown = parts.get(f"unknown_{stage}")
        if unknown is None or len(unknown[0]) < 2:
            return None
        raw, labels = unknown
        emb = self.reranking.expand(raw)  # the work every group but novelty shares, done once
        scores = {}
        if "loo" in include:
            scores.update(self._loo(emb, labels))
        if "kmeans" in include:
            clusters = kmeans(emb, len(np.unique(labels)), self.seed, self.metric)
            scores.update(_prefixed("kmeans", cluster_scores(labels, clusters)))
        if "gallery_knn" in include:
            scores.update(self._gallery_knn(emb, labels))
        sets = self.calibration_sets(parts, calibration, stage) if "clusters" in include else []
        if sets:
            scores.update(self._clusters(emb, labels, sets, self._unseen_share(parts, calibration)))
        if "novelty" in include and "train" in parts and stage in parts:
            scores.update(self._novelty(parts["train"], parts[stage], raw))
        scores["k_true"] = float(len(np.unique(labels)))
        return _prefixed("open" if stage == "test" else "open_val", scores, "/")

    def calibration_sets(self, parts: Parts, calibration: CalibrationSets | None,
                         stage: str = "test") -> list[tuple[np.ndarray, np.ndarray]]:
        """Labelled sets of more than one species to calibrate the clustering cut on (class docstring)."""
        sets: list = list(calibration.sets if calibration else ())
        source = "the whitening's cross-fitted species"
        if not sets:  # a run without cross-fitting, an ensemble, or embeddings alone
            source = "the validation species" if "unknown_val" in parts else "every image of the known species"
            sets = [parts.get("unknown_val") or known_images(parts, stage)]
        sets = [s for s in sets if s is not None and len(np.unique(s[1])) > 1]
        if sets:
            log.info("open-set clustering cut calibrated on %s (%s species)", source,
                     " + ".join(str(len(np.unique(y))) for _, y in sets))
        return sets

    def _unseen_share(self, parts: Parts, calibration: CalibrationSets | None) -> float | None:
        """The share of the unseen images that species are counted on (`SpeciesCount.match_sizes`), or None: the
        whole set. A benchmark's own val species have their own sizes, and the whole set is cut there."""
        if not (self.species_count.match_sizes and calibration and calibration.sets and "unknown_val" not in parts):
            return None
        if calibration.share is None:
            log.warning("open-set clustering: match_sizes without the calibration sets' share of their species' "
                        "images (embeddings saved before 2026-11-29); species counted on the whole unseen set")
        return calibration.share

    def _clusters(self, emb: np.ndarray, labels: np.ndarray, sets: list, share: float | None) -> dict[str, float]:
        expanded = [(self.reranking.expand(x), y) for x, y in sets]
        clusters, values = self.species_count.clusters(emb, expanded, share, self.metric, seed=self.seed)
        return {**_prefixed("agglo", values), **_prefixed("agglo", cluster_scores(labels, clusters))}

    def _loo(self, emb: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        prediction = labels[leave_one_out_nearest(emb, self.metric, self.reranking.csls_k)]
        s = identification_scores(labels, prediction, int(labels.max()) + 1)
        return {"loo_1nn_acc": s["knn_acc"], "loo_1nn_macro_f1": s["macro_f1"]}

    def _gallery_knn(self, emb: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        names, _ = stratified_split([str(v) for v in labels], val_fraction=0.0, test_fraction=0.5, seed=self.seed,
                                    min_units=2)
        parts = np.array(names)
        gallery, queries = parts == "train", parts == "test"
        prediction = knn_identify(emb[gallery], labels[gallery], emb[queries], self.k, metric=self.metric,
                                  csls_k=self.reranking.csls_k).prediction
        s = identification_scores(labels[queries], prediction, int(labels.max()) + 1)
        return {"knn_acc": s["knn_acc"], "knn_macro_f1": s["macro_f1"]}

    def _novelty(self, gallery: tuple[np.ndarray, np.ndarray], known: tuple[np.ndarray, np.ndarray],
                 unknown_emb: np.ndarray) -> dict[str, float]:
        (g, g_labels), (q, q_labels) = gallery, known
        correct = knn_identify(g, g_labels, q, self.k, metric=self.metric,
                               csls_k=self.reranking.csls_k).prediction == q_labels
        spread = self.novelty.spread(g, self.metric)  # once for both query sets
        known_d, unknown_d = (self.novelty.distances(g, x, self.metric, spread) for x in (q, unknown_emb))
        s = novelty_scores(known_d, unknown_d, correct, self.keep_known)
        return {"novelty_auroc": s["auroc"], "novelty_oscr": s["oscr"], "novelty_threshold": s["threshold"],
                "novelty_acc_kept": s["acc_at_keep"], "novelty_unknown_rejected": s["unknown_rejected"]}


def _prefixed(prefix: str, values: dict[str, float], sep: str = "_") -> dict[str, float]:
    return {f"{prefix}{sep}{k}": v for k, v in values.items()}
