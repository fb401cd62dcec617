"""A reference library in memory: a trained embedder, the labelled reference embeddings, how specimens are voted on
and when one is flagged novel. On disk: `library.storage`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from forams_lightning.library.embedding import Inference, embed_files
from forams_lightning.library.grouping import Grouping
from forams_lightning.library.stored_network import StoredNetwork
from forams_lightning.metrics.knn import Identification, knn_identify, knn_search
from forams_lightning.metrics.neighbour_table import NeighbourTable
from forams_lightning.metrics.novelty import NoveltyScore, floored_spread
from forams_lightning.metrics.novelty_thresholds import ThresholdModel, reference_sparsity, species_thresholds
from forams_lightning.metrics.reranking import Reranking, hubness

IDENTIFY_CSLS_K = 20  # identify's default re-ranking (conf/identify.yaml)
THUMBNAILS = "thumbnails"  # the folder of a saved library that holds a small JPEG of every reference, by content hash


@dataclass
class ReferenceLibrary:
    embedder: torch.nn.Module | StoredNetwork  # Embedder or EmbeddingEnsemble; as stored until `network()`
    embedder_spec: dict  # models.embedder.embedder_spec, or {"members": [spec, ...]}
    embeddings: np.ndarray
    labels: np.ndarray
    files: list[str]
    species: list[str]
    metric: str = "cosine"
    k: int = 5
    threshold: float = float("inf")  # pooled novelty threshold (the one of every species where none has its own)
    novelty: NoveltyScore = field(default_factory=NoveltyScore)
    preprocessing: dict = field(default_factory=dict)  # image_size, crop_border, exif_transpose
    info: dict = field(default_factory=dict)  # provenance, calibration, history
    hashes: list[str] = field(default_factory=list)  # sha1 of each reference file's bytes ("" where unknown)
    grouping: Grouping | None = None  # the clustering cut of candidate new species (`library.grouping`)
    confusion: np.ndarray | None = None  # held-out images of each species (rows) identified as each (columns)
    confusion_flagged: np.ndarray | None = None  # held-out images of each species flagged novel (not in `confusion`)
    species_thresholds: np.ndarray | None = None  # each calibrated species' own (`metrics.novelty_thresholds`)
    threshold_model: ThresholdModel | None = None  # the threshold of a species added after calibration
    folder: Path | None = field(default=None, compare=False)  # where it was loaded from (its thumbnails are there)
    neighbours: NeighbourTable | None = field(default=None, repr=False, compare=False)  # `track_neighbours`
    _cache: dict = field(default_factory=dict, repr=False, compare=False)  # derived from the references alone

    def __post_init__(self) -> None:
        if not self.hashes:
            self.hashes = [""] * len(self.files)

    def thumbnail(self, i: int) -> str | None:
        """The library's own small copy of reference `i` (`library.storage`), shown where the original is not
        at its stored path; None where there is none."""
        if self.folder is None or not self.hashes[i]:
            return None
        return str(self.folder / THUMBNAILS / f"{self.hashes[i]}.jpg")

    def network(self) -> torch.nn.Module:
        """The embedder as a module (a loaded library's is built here, the first time a file is embedded)."""
        if isinstance(self.embedder, StoredNetwork):
            self.embedder = self.embedder.build()
        return self.embedder

    def transform(self) -> Callable:
        from forams_lightning.data.transforms import build_transform  # torchvision: only when files are embedded

        return build_transform(self.preprocessing["image_size"], self.preprocessing.get("crop_border"))

    def embed(self, paths: list[str], inference: Inference = Inference(),
              description: str = "embedding") -> tuple[np.ndarray, list[int], list[tuple[int, str]]]:
        """Files embedded with the library's own network and preprocessing (`library.embedding.embed_files`)."""
        return embed_files(self.network(), paths, self.transform(), self.preprocessing.get("exif_transpose", True),
                           inference=inference, description=description, dim=self.embeddings.shape[1])

    def identify(self, queries: np.ndarray, k: int | None = None, reranking: Reranking = Reranking(),
                 balanced: bool = True) -> tuple[Identification, np.ndarray]:
        """kNN vote against the references and the novelty score of each query (`novelty`; flagged novel where it
        is above `threshold`).

        The vote is `balanced` (`metrics.knn.knn_vote`): a species added from a few images is not outvoted for lack
        of references; ``balanced=False`` is the evaluation's plain majority vote (the two agree wherever every
        species has at least k references). `reranking` (cosine libraries) changes the vote and the neighbours
        shown: the references expanded with their nearest references and each query with its nearest expanded
        references, and neighbours ranked by CSLS; the novelty score stays on the plain embeddings, the ones its
        threshold was calibrated on.

        Args:
            queries: the specimens' embeddings.
            k: the neighbours that vote (default: the library's).
            reranking: query expansion and CSLS (cosine libraries).
            balanced: the balanced vote; False: the plain majority.
        """
        score = self.novelty_scores(queries)
        reranking.check(self.metric)
        references = self.expanded_references(reranking)
        if reranking.expansion_k:
            queries = reranking.expand(references, queries)
        hub = self._derived(("hubness", reranking), lambda: self._hubness(references, reranking.csls_k)) \
            if reranking.csls_k else None
        return knn_identify(references, self.labels, queries, k or self.k, metric=self.metric, balanced=balanced,
                            csls_k=reranking.csls_k, hub=hub), score

    def novelty_scores(self, queries: np.ndarray) -> np.ndarray:
        """Novelty score of each query (`novelty`; the references' spreads are computed once)."""
        def spread() -> np.ndarray | None:
            own = self._tracked(self.novelty.scale_k)
            if own is None or not self.novelty.scale_k:
                return self.novelty.spread(self.embeddings, self.metric)
            return floored_spread(own.mean(1))

        return self.novelty.distances(self.embeddings, queries, self.metric, self._derived(("spread", self.novelty),
                                                                                           spread))

    def is_novel(self, score: np.ndarray, prediction: np.ndarray) -> np.ndarray:
        """Flagged novel: the score above the threshold of the species the specimen is identified as."""
        return np.asarray(score) > self.threshold_table()[np.asarray(prediction, int)]

    def threshold_table(self) -> np.ndarray:
        """Each species' novelty threshold: its calibrated one; for a species added since, the model's for its
        references' sparsity; the pooled one where the library has neither (exported before species had their
        own)."""
        table = np.full(len(self.species), self.threshold, float)
        own = 0 if self.species_thresholds is None else min(len(table), len(self.species_thresholds))
        if own and self.species_thresholds is not None:
            table[:own] = self.species_thresholds[:own]
        if self.threshold_model is not None and own < len(table):  # sparsity only where a species needs it
            table[own:] = [self.threshold_model.threshold(s) for s in self.sparsity()[own:]]
        # never below the pooled one: held-out images of one specimen (a micro-CT scan) are tighter than the
        # species; the pooled quantile spans species (micro-CT test scan: 23% flagged without this floor, 9% with)
        return np.maximum(table, self.threshold)

    def calibrate(self, queries: np.ndarray, labels: np.ndarray, keep_known: float) -> None:
        """Thresholds (pooled and per species) that keep `keep_known` of the held-out `queries` of known species,
        and the confusion a census adjusts for, counted on them: held-out images of each species (rows) by the
        species `identify` votes them (columns; its default vote, CSLS over 20 for a cosine library), and apart,
        per species, those flagged novel (`identify.census`: flagging is one of identification's outcomes)."""
        found, scores = self.identify(queries, reranking=self.default_reranking())
        labels, n = np.asarray(labels, int), len(self.species)
        self.threshold = float(np.quantile(scores, keep_known))
        self.species_thresholds, self.threshold_model = species_thresholds(scores, labels, self.sparsity(), keep_known)
        novel = self.is_novel(scores, found.prediction)
        self.confusion, self.confusion_flagged = np.zeros((n, n), np.int64), np.zeros(n, np.int64)
        np.add.at(self.confusion, (labels[~novel], found.prediction[~novel]), 1)
        np.add.at(self.confusion_flagged, labels[novel], 1)

    def sparsity(self) -> np.ndarray:
        """`metrics.novelty_thresholds.reference_sparsity` of every species (computed once)."""
        def compute() -> np.ndarray:
            if len(self.embeddings) < 2:
                return np.zeros(len(self.species))
            own = self._tracked(1)
            if own is None:
                own = knn_search(self.embeddings, self.embeddings, 2, self.metric)[0][:, 1:]
            nearest = own[:, 0]
            return reference_sparsity(nearest, self.labels, len(self.species))

        return self._derived(("sparsity",), compute)

    def track_neighbours(self, depth: int) -> None:
        """Keep each reference's `depth` nearest other references (`metrics.neighbour_table`) in this library and
        the copies made of it (`with_references`, `subset`): hubness, spread and sparsity are then read off the table,
        and a copy with a few more references costs a few rows of distances, not a search of every reference."""
        self.neighbours = NeighbourTable.build(self.embeddings, depth, self.metric)
        self._cache.clear()

    def _tracked(self, k: int) -> np.ndarray | None:
        """Distances of every reference to its `k` nearest other references, where the table keeps that many."""
        if self.neighbours is None or self.neighbours.depth < k:
            return None
        return self.neighbours.nearest(k)[0]

    def _hubness(self, references: np.ndarray, k: int) -> np.ndarray:
        """`metrics.reranking.hubness` of `references` (from the table where they are the plain embeddings)."""
        k_others = min(k, len(references) - 1)
        own = self._tracked(k_others) if references is self.embeddings else None
        if own is None or k_others <= 0:
            return hubness(references, k)
        return (1.0 - own).mean(1).astype(np.float32)

    def default_reranking(self) -> Reranking:
        """`identify`'s default re-ranking as this library can use it (CSLS ranks by cosine similarity)."""
        return Reranking(csls_k=IDENTIFY_CSLS_K if self.metric == "cosine" else 0)

    def expanded_references(self, reranking: Reranking) -> np.ndarray:
        """The references after database-side augmentation (computed once per setting)."""
        if not reranking.expansion_k:
            return self.embeddings
        key = ("expanded", reranking.expansion_k, reranking.expansion_alpha)
        return self._derived(key, lambda: reranking.expand(self.embeddings))

    def _derived(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """A value derived from the references alone, computed once per key (copies start with an empty cache)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def with_references(self, embeddings: np.ndarray, species: list[str], files: list[str],
                        hashes: list[str]) -> ReferenceLibrary:
        """A copy with more references; species it does not know yet are appended to its species list.

        Args:
            embeddings: the new references' embeddings.
            species: each one's species.
            files: each one's file.
            hashes: each one's content hash ("" where unknown).
        """
        names = list(self.species) + [s for s in dict.fromkeys(species) if s not in self.species]
        index = {name: i for i, name in enumerate(names)}
        added = np.asarray(embeddings, np.float32).reshape(-1, self.embeddings.shape[1])
        return self._copy(embeddings=np.concatenate([self.embeddings, added]),
                          labels=np.concatenate([self.labels, np.array([index[s] for s in species], dtype=int)]),
                          files=self.files + list(files), hashes=self.hashes + list(hashes), species=names,
                          neighbours=self.neighbours.added(added) if self.neighbours else None)

    def subset(self, keep: np.ndarray) -> ReferenceLibrary:
        """A copy with only the references where `keep` is true (species stay in the list, with 0 references)."""
        keep = np.asarray(keep, bool)
        return self._copy(embeddings=self.embeddings[keep], labels=self.labels[keep],
                          files=[f for f, k in zip(self.files, keep) if k],
                          hashes=[h for h, k in zip(self.hashes, keep) if k],
                          neighbours=self.neighbours.removed(keep) if self.neighbours else None)

    def relabelled(self, indices: list[int], species: list[str]) -> ReferenceLibrary:
        """A copy where reference `indices[i]` belongs to `species[i]` (new species are appended)."""
        names = list(self.species) + [s for s in dict.fromkeys(species) if s not in self.species]
        labels = self.labels.copy()
        labels[list(indices)] = [names.index(s) for s in species]
        return self._copy(labels=labels, species=names)

    def _copy(self, **changes: Any) -> ReferenceLibrary:
        return replace(self, info=json.loads(json.dumps(self.info, default=str)), _cache={}, **changes)

    def counts(self) -> dict[str, int]:
        """References per species, in species order (0 for species whose references were all removed)."""
        found = np.bincount(self.labels, minlength=len(self.species)) if len(self.labels) else [0] * len(self.species)
        return {name: int(n) for name, n in zip(self.species, found)}
