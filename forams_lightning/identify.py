"""Identify new specimens against a reference library: predictions.csv and review.html in the output folder.

    python -m forams_lightning.identify library=DIR images=FOLDER_OR_GLOB
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig

from forams_lightning.atomic import AtomicCsvWriter
from forams_lightning.cli import entry_point

log = logging.getLogger(__name__)


def identify(cfg: DictConfig) -> Path:
    """Returns the predictions.csv path. Rows are written as batches are identified (memory stays flat however many
    images); unreadable files get a row with their error, the rest complete."""
    from forams_lightning.data.specimens import find_images
    from forams_lightning.reference.embedding import iter_embeddings, resolve_device
    from forams_lightning.reference.library import ReferenceLibrary
    from forams_lightning.viz.review import write_review

    if cfg.vote not in ("balanced", "majority"):
        raise ValueError(f"vote={cfg.vote!r}: balanced or majority")
    start = time.perf_counter()
    library = ReferenceLibrary.load(cfg.library, resolve_device(cfg.device))
    files = find_images(cfg.images)
    exif = library.preprocessing.get("exif_transpose", True)
    k = int(cfg.k or library.k)
    csls_k = int(cfg.csls.k) if library.metric == "cosine" else 0
    if cfg.csls.k and not csls_k:
        log.info("csls.k=%s: CSLS ranks by cosine similarity; this library uses %s distances: plain ranking",
                 cfg.csls.k, library.metric)
    out = Path(cfg.paths.output_dir)
    results = _Results(len(files), k)
    predictions = out / "predictions.csv"
    with AtomicCsvWriter(predictions, _header(k)) as writer:
        for emb, good, bad in iter_embeddings(library.embedder, files, library.transform(), exif, cfg.batch_size,
                                              cfg.num_workers, cfg.device, description="identify"):
            rows = {i: _failure_row(files[i], error, k) for i, error in bad}
            if good:
                found, score = library.identify(emb, k, cfg.expansion.k, cfg.expansion.alpha, cfg.vote == "balanced",
                                                csls_k)
                novel = score > library.threshold
                results.add(good, found, score, novel)
                rows.update({i: _row(files[i], library, found, score, novel, r) for r, i in enumerate(good)})
            writer.write([rows[i] for i in sorted(rows)])
            results.failures += [(files[i], error) for i, error in bad]
    if cfg.review.enabled:
        specimens = results.specimens(files, library)
        write_review(out, specimens, results.failures, title=f"Review: {cfg.images}", species=library.species,
                     n_novel=specimens.n_novel, thumbnail_size=cfg.review.thumbnail_size,
                     rows_per_page=cfg.review.rows_per_page, exif_transpose=exif)
    seconds = time.perf_counter() - start
    log.info("%d identified (%d flagged novel), %d unreadable in %.1f s (%.0f images/s, library load and review "
             "included) -> %s", results.n, int(results.novel[:results.n].sum()), len(results.failures), seconds,
             len(files) / max(seconds, 1e-9), predictions)
    return predictions


def _header(k: int) -> list[str]:
    header = ["file", "species", "genus", "vote_share", "nearest_distance", "novelty_score", "novel"]
    for j in range(1, k + 1):
        header += [f"neighbour_{j}_species", f"neighbour_{j}_distance", f"neighbour_{j}_file"]
    return header + ["error"]


def _row(file: str, library, found, score, novel, r: int) -> list:
    from forams_lightning.metrics.classification import genus_of

    species = library.species[found.prediction[r]]
    neighbours = [v for g, lab, d in zip(found.ids[r], found.labels[r], found.distances[r])
                  for v in (library.species[lab], f"{d:.5f}", library.files[g])]
    padding = [""] * (3 * found.ids.shape[1] - len(neighbours))
    return [file, species, genus_of(species), f"{found.vote_share[r]:.3f}", f"{found.distances[r, 0]:.5f}",
            f"{score[r]:.5f}", int(novel[r]), *neighbours, *padding, ""]


def _failure_row(file: str, error: str, k: int) -> list:
    return [file, *([""] * (len(_header(k)) - 2)), error]


class _Results:
    """What the review needs of every identified specimen, in arrays (a few dozen bytes a specimen)."""

    def __init__(self, capacity: int, k: int):
        self.index = np.zeros(capacity, np.int64)
        self.prediction = np.zeros(capacity, np.int64)
        self.share = np.zeros(capacity, np.float32)
        self.novel = np.zeros(capacity, bool)
        self.score = np.zeros(capacity, np.float32)
        self.ids = np.full((capacity, k), -1, np.int64)
        self.distances = np.zeros((capacity, k), np.float32)
        self.n, self.failures = 0, []

    def add(self, indices: list[int], found, score, novel) -> None:
        end, width = self.n + len(indices), found.ids.shape[1]
        self.index[self.n:end], self.prediction[self.n:end] = indices, found.prediction
        self.share[self.n:end], self.score[self.n:end], self.novel[self.n:end] = found.vote_share, score, novel
        self.ids[self.n:end, :width], self.distances[self.n:end, :width] = found.ids, found.distances
        self.n = end

    def specimens(self, files: list[str], library) -> "_Specimens":
        """Least certain first (`viz.review.uncertainty_order`)."""
        from forams_lightning.viz.review import uncertainty_order

        n = self.n
        return _Specimens(self, uncertainty_order(self.novel[:n], self.share[:n], self.score[:n]), files, library)


class _Specimens:
    """A sequence of review dicts built on demand, page by page (`viz.review.write_review` reads slices)."""

    def __init__(self, results: _Results, order: np.ndarray, files: list[str], library):
        self.results, self.order, self.files, self.library = results, order, files, library
        self.n_novel = int(results.novel[: results.n].sum())

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, item: slice) -> list[dict]:
        r, lib = self.results, self.library
        return [{"file": self.files[r.index[j]], "species": lib.species[r.prediction[j]],
                 "vote_share": float(r.share[j]), "novelty_score": float(r.score[j]), "novel": bool(r.novel[j]),
                 "neighbours": [{"file": lib.files[g], "species": lib.species[lib.labels[g]], "distance": float(d)}
                                for g, d in zip(r.ids[j], r.distances[j]) if g >= 0]}
                for j in self.order[item]]


@hydra.main(version_base="1.3", config_path="../conf", config_name="identify")
@entry_point
def main(cfg: DictConfig) -> None:
    identify(cfg)


if __name__ == "__main__":
    main()
