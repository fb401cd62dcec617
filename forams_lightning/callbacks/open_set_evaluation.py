"""Open-set evaluation on species never seen in training: kNN with their own gallery, leave-one-out 1-NN,
clustering without labels, and novelty detection against the known gallery."""

from __future__ import annotations

import logging

import numpy as np

from forams_lightning.callbacks.embeddings import EmbeddingCollector
from forams_lightning.callbacks.whitening import cross_fitted_sets, cross_fitted_share
from forams_lightning.data.splits import stratified_split
from forams_lightning.metrics.classification import identification_scores
from forams_lightning.metrics.clustering import (
    LINKAGES,
    MAX_CALIBRATION_ITEMS,
    agglomerative,
    agglomerative_k,
    calibrate_silhouette,
    calibrate_threshold,
    cluster_scores,
    drawn_count,
    kmeans,
    silhouette_clusters,
)
from forams_lightning.metrics.knn import knn_identify, leave_one_out_nearest
from forams_lightning.metrics.novelty import local_spread, novelty_distance, novelty_scores
from forams_lightning.metrics.reranking import neighbour_expansion

log = logging.getLogger(__name__)

K_ESTIMATES = ("cut", "silhouette")
# draws of the unseen set where `match_sizes`: one draw's count varies by ~5% (sd 2.7-3.1 clusters for 56-57 species
# on the radiolaria folds), their mean of 5 by ~2%
UNSEEN_DRAWS = 5


class OpenSetEvaluation(EmbeddingCollector):
    """Logs under `open/` (test: the ``unknown_test`` species) and `open_val/` (validation: ``unknown_val``
    species, where the data has them, cheap metrics only unless `full_at_val`).

    1. `knn_*`: the unknown images split (stratified, seeded) into gallery and queries; k-NN vote (the paper).
    2. `loo_1nn_*`: leave-one-out 1-NN over all unknown images (no gallery split; works for 4-image species).
    3. `kmeans_*` (k = true number of species) and `agglo_*` (hierarchical clustering with `linkage`, k estimated:
       `agglo_k` next to `k_true`): Hungarian accuracy, macro F1, NMI, ARI, k. `k_estimate`: ``cut``: the tree cut
       at the distance where labelled calibration sets split into as many clusters as they have species (the mean
       of their cuts, `agglo_threshold`); ``silhouette``: the number of clusters with the best mean silhouette
       (`metrics.clustering.silhouette_clusters`) divided by the factor by which it over-counts the calibration sets'
       species (their geometric mean, `agglo_silhouette_ratio`). The calibration sets, first of: the whitening's
       cross-fitted sets (`callbacks.whitening.calibration_folds`: known species the embedding was not fitted on),
       the validation species ``unknown_val``, every image of the known species (gallery and known queries).
       `calibration_draws` > 0: each set is calibrated on that many seeded draws of whole species the size of the
       unseen set in images (the cut, or the over-count, averaged over them). `match_sizes` (the cut, calibrated on
       the cross-fitted sets, data without ``unknown_val`` species): the count is taken on `UNSEEN_DRAWS` seeded
       draws of the unseen images at the share of their species' images the calibration sets hold (their training
       images, ~70%), the cut calibrated at that size, and the whole set cut into the mean count
       (`agglo_share`). Without val species nothing sets the unseen species apart from the known ones, so they are
       taken to be as large; whole they split more than the calibration sets' partial species (×1.40 on the
       val-side simulation of species-level folds, ×1.14 drawn down; `experiments/open_set_radiolaria/`). A
       benchmark's own val and test species have their own sizes, and the cut is left as it is there.
    4. novelty: distance to the known gallery (`metrics.novelty.novelty_distance`: the mean over the
       `novelty_neighbours` nearest items, each distance in units of the item's local spread where `novelty_scale_k`);
       `auroc` (known test vs unknown queries), `oscr`,
       accuracy of the kept known queries (`novelty_acc_kept`) and share of unknown queries rejected
       (`novelty_unknown_rejected`) at the threshold that keeps `keep_known` (95%) of the known queries.

    `expansion_k` > 0 (cosine metric): before 1-3, every unknown embedding (and every calibration embedding) is
    replaced by its similarity^`expansion_alpha`-weighted mean with its `expansion_k` nearest neighbours in its own set
    (`metrics.reranking.neighbour_expansion`, database-side augmentation): unsupervised, it tightens species groups.
    `csls_k` > 0 (cosine metric): every nearest-neighbour vote (1, 2 and the known queries' identification in 4)
    ranks neighbours by CSLS over `csls_k` neighbours (`metrics.knn.knn_search`), which demotes hub images.
    """

    def __init__(self, k: int = 5, metric: str = "cosine", seed: int = 0, full_at_val: bool = False,
                 keep_known: float = 0.95, expansion_k: int = 0, expansion_alpha: float = 3.0,
                 linkage: str = "ward", novelty_neighbours: int = 1, novelty_scale_k: int = 0,
                 calibration_draws: int = 0, csls_k: int = 0, k_estimate: str = "cut", match_sizes: bool = False):
        super().__init__()
        for key, value, why in (("expansion_k", expansion_k, "it averages unit vectors"),
                                ("csls_k", csls_k, "it ranks by cosine similarity")):
            if value and metric != "cosine":
                raise ValueError(f"callbacks.open_set_evaluation.{key} needs metric=cosine ({why})")
        if linkage not in LINKAGES:
            raise ValueError(f"callbacks.open_set_evaluation.linkage must be one of {LINKAGES} (got {linkage!r})")
        if k_estimate not in K_ESTIMATES:
            raise ValueError(f"callbacks.open_set_evaluation.k_estimate must be one of {K_ESTIMATES} "
                             f"(got {k_estimate!r})")
        if match_sizes and k_estimate != "cut":
            raise ValueError("callbacks.open_set_evaluation.match_sizes applies to k_estimate=cut only")
        self.k, self.metric, self.seed, self.full_at_val, self.keep_known = k, metric, seed, full_at_val, keep_known
        self.expansion_k, self.expansion_alpha, self.linkage = expansion_k, expansion_alpha, linkage
        self.novelty_neighbours, self.novelty_scale_k = novelty_neighbours, novelty_scale_k
        self.calibration_draws, self.csls_k, self.k_estimate = calibration_draws, csls_k, k_estimate
        self.match_sizes = match_sizes

    def evaluate(self, trainer, pl_module, stage, parts):
        return self.scores(stage, parts, cross_fitted_sets(trainer), cross_fitted_share(trainer))

    def scores(self, stage: str, parts: dict, crossfit: list | None = None,
               crossfit_share: float | None = None) -> dict[str, float] | None:
        """The open/* (stage test) or open_val/* metrics of collected embeddings: `parts` maps split names to
        (embeddings, labels); `crossfit`, the whitening's cross-fitted calibration sets where it made them (else the
        cut is calibrated on the val species or the known species), `crossfit_share` the share of their species'
        images they hold. Also for metrics recomputed outside a run."""
        unknown = parts.get(f"unknown_{stage}")
        if unknown is None or len(unknown[0]) < 2:
            return None
        raw, labels = unknown
        emb = self._expand(raw)
        scores = self._loo(emb, labels)
        scores.update(self._clusters("kmeans", labels, kmeans(emb, len(np.unique(labels)), self.seed,
                                                              self.metric == "cosine")))
        if stage == "test" or self.full_at_val:
            scores.update(self._gallery_knn(emb, labels))
            calibration = self._calibration_sets(crossfit, parts, stage)
            if calibration:
                share = self._unseen_share(crossfit, crossfit_share, parts)
                scores.update(self._estimated_clusters(emb, labels, calibration, share))
            if "train" in parts and stage in parts:
                scores.update(self._novelty(parts["train"], parts[stage], raw))
        scores["k_true"] = float(len(np.unique(labels)))
        prefix = "open" if stage == "test" else "open_val"
        return {f"{prefix}/{k}": v for k, v in scores.items()}

    def _estimated_clusters(self, emb, labels, calibration, share) -> dict[str, float]:
        """Clustering with k estimated from the calibration sets (class docstring, 3); `share`: of the unseen
        images, counted on draws (`match_sizes`)."""
        cosine = self.metric == "cosine"
        unseen = len(emb) if share is None else max(2, round(share * len(emb)))
        # with draws: species crowd a larger set more, and a cut calibrated there over-splits a smaller unseen set
        size = min(unseen, MAX_CALIBRATION_ITEMS) if self.calibration_draws else MAX_CALIBRATION_ITEMS
        drawn = [(x, y, self.seed + d) for x, y in calibration for x in [self._expand(x)]
                 for d in range(max(1, self.calibration_draws) if len(x) > size else 1)]
        if self.k_estimate == "silhouette":
            ratio = float(np.exp(np.mean([np.log(calibrate_silhouette(x, y, cosine, self.linkage, size, seed))
                                          for x, y, seed in drawn])))
            return {"agglo_silhouette_ratio": ratio,
                    **self._clusters("agglo", labels, silhouette_clusters(emb, ratio, cosine, self.linkage))}
        threshold = float(np.mean([calibrate_threshold(x, y, cosine, self.linkage, max_items=size, seed=seed)
                                   for x, y, seed in drawn]))
        if share is None:
            return {"agglo_threshold": threshold,
                    **self._clusters("agglo", labels, agglomerative(emb, threshold, cosine, self.linkage))}
        k = max(1, round(drawn_count(emb, threshold, share, UNSEEN_DRAWS, self.seed, cosine, self.linkage)))
        return {"agglo_threshold": threshold, "agglo_share": share,
                **self._clusters("agglo", labels, agglomerative_k(emb, k, cosine, self.linkage))}

    def _unseen_share(self, crossfit, crossfit_share, parts) -> float | None:
        """The share of the unseen images that species are counted on (`match_sizes`), or None: the whole set."""
        if not (self.match_sizes and crossfit and "unknown_val" not in parts):
            return None
        if crossfit_share is None:
            log.warning("open-set clustering: match_sizes without the calibration sets' share of their species' "
                        "images (embeddings saved before 2026-11-29); species counted on the whole unseen set")
        return crossfit_share

    def _calibration_sets(self, crossfit, parts, stage) -> list[tuple[np.ndarray, np.ndarray]]:
        """Labelled sets of more than one species to calibrate the clustering cut on (class docstring, 3)."""
        sets, source = list(crossfit or ()), "the whitening's cross-fitted species"
        if not sets:  # a run without cross-fitting, an ensemble, or metrics recomputed from embeddings alone
            source = "the validation species" if "unknown_val" in parts else "every image of the known species"
            sets = [parts.get("unknown_val") or self._known(parts, stage)]
        sets = [s for s in sets if s is not None and len(np.unique(s[1])) > 1]
        if sets:
            log.info("open-set clustering cut calibrated on %s (%s species)", source,
                     " + ".join(str(len(np.unique(y))) for _, y in sets))
        return sets

    @staticmethod
    def _known(parts, stage) -> tuple[np.ndarray, np.ndarray] | None:
        """Every labelled image of the known species at hand (gallery and known queries): Ward's merge cost grows
        with cluster size, so the cut is calibrated on species as complete as the unseen ones are (the gallery
        alone holds ~70% of each species and over-splits them by half, `experiments/open_set_radiolaria/`)."""
        known = [parts[p] for p in ("train", stage) if p in parts]
        if not known:
            return None
        return np.concatenate([e for e, _ in known]), np.concatenate([y for _, y in known])

    def _expand(self, emb: np.ndarray) -> np.ndarray:
        return neighbour_expansion(emb, self.expansion_k, self.expansion_alpha) if self.expansion_k else emb

    def _loo(self, emb, labels) -> dict[str, float]:
        prediction = labels[leave_one_out_nearest(emb, self.metric, self.csls_k)]
        s = identification_scores(labels, prediction, int(labels.max()) + 1)
        return {"loo_1nn_acc": s["knn_acc"], "loo_1nn_macro_f1": s["macro_f1"]}

    def _gallery_knn(self, emb, labels) -> dict[str, float]:
        parts, _ = stratified_split([str(v) for v in labels], val_fraction=0.0, test_fraction=0.5, seed=self.seed,
                                    min_units=2)
        parts = np.array(parts)
        gallery, queries = parts == "train", parts == "test"
        prediction = knn_identify(emb[gallery], labels[gallery], emb[queries], self.k, self.metric,
                                  csls_k=self.csls_k).prediction
        s = identification_scores(labels[queries], prediction, int(labels.max()) + 1)
        return {"knn_acc": s["knn_acc"], "knn_macro_f1": s["macro_f1"]}

    @staticmethod
    def _clusters(name, labels, clusters) -> dict[str, float]:
        return {f"{name}_{k}": v for k, v in cluster_scores(labels, clusters).items()}

    def _novelty(self, gallery, known, unknown_emb) -> dict[str, float]:
        (g, g_labels), (q, q_labels) = gallery, known
        correct = knn_identify(g, g_labels, q, self.k, self.metric, csls_k=self.csls_k).prediction == q_labels
        spread = local_spread(g, self.novelty_scale_k, self.metric) if self.novelty_scale_k else None  # once
        known_d, unknown_d = (novelty_distance(g, x, self.metric, self.novelty_neighbours, self.novelty_scale_k,
                                               spread) for x in (q, unknown_emb))
        s = novelty_scores(known_d, unknown_d, correct, self.keep_known)
        return {"novelty_auroc": s["auroc"], "novelty_oscr": s["oscr"], "novelty_threshold": s["threshold"],
                "novelty_acc_kept": s["acc_at_keep"], "novelty_unknown_rejected": s["unknown_rejected"]}
