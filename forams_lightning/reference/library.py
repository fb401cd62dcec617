"""A reference library on disk: everything `identify` needs, and nothing of the training config.

    manifest.json    format + version, species, kNN settings, novelty score and threshold, preprocessing, the embedder
                     described by plain arguments (`models.embedder.embedder_spec`), provenance (checkpoint, package
                     version, git commit, creation time)
    embedder.pt      state dict of backbone + head (of each member, `members.<i>.*`, for an ensemble)
    index.faiss      exact FAISS index over the reference embeddings
    references.csv   file, species, label, sha1 (content hash; empty where unknown) of each reference (index order)

Loading reads every file as data: the manifest is checked field by field (`reference.manifest`), the network is
built by the package's own classes from plain arguments, `embedder.pt` holds tensors only; a damaged or tampered
file is refused with one line naming it.

A library changes only by a whole new folder renamed into place (`save`): a kill leaves the old library or the new
one. The manifest's `history` lists every change (`python -m forams_lightning.library`), `calibration` says what
the novelty threshold was computed on.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from forams_lightning.atomic import atomic_write_csv
from forams_lightning.checkpoints import load_weights_only
from forams_lightning.data.transforms import build_transform
from forams_lightning.metrics.knn import Identification, knn_identify
from forams_lightning.metrics.novelty import local_spread, novelty_distance
from forams_lightning.metrics.reranking import hubness, neighbour_expansion
from forams_lightning.models.embedder import build_embedder, plain_spec
from forams_lightning.reference.manifest import FORMAT, VERSION, read_manifest

log = logging.getLogger(__name__)

PLAIN_NOVELTY = {"neighbours": 1, "scale_k": 0}  # the nearest-reference distance (libraries before novelty_score)
FILES = ("manifest.json", "embedder.pt", "index.faiss", "references.csv")


@dataclass
class ReferenceLibrary:
    embedder: torch.nn.Module  # Embedder or EmbeddingEnsemble
    embedder_spec: dict  # models.embedder.embedder_spec, or {"members": [spec, ...]}
    embeddings: np.ndarray
    labels: np.ndarray
    files: list[str]
    species: list[str]
    metric: str = "cosine"
    k: int = 5
    threshold: float = float("inf")  # novelty score above which a specimen is flagged novel
    novelty_score: dict = field(default_factory=lambda: dict(PLAIN_NOVELTY))  # metrics.novelty.novelty_distance
    preprocessing: dict = field(default_factory=dict)  # image_size, crop_border, exif_transpose
    info: dict = field(default_factory=dict)  # provenance, calibration, history
    hashes: list[str] = field(default_factory=list)  # sha1 of each reference file's bytes ("" where unknown)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)  # derived from the references alone

    def __post_init__(self):
        if not self.hashes:
            self.hashes = [""] * len(self.files)

    def transform(self):
        return build_transform(self.preprocessing["image_size"], self.preprocessing.get("crop_border"))

    def identify(self, queries: np.ndarray, k: int | None = None, expansion_k: int = 0,
                 expansion_alpha: float = 3.0, balanced: bool = True,
                 csls_k: int = 0) -> tuple[Identification, np.ndarray]:
        """kNN vote against the references and the novelty score of each query (`novelty`; flagged novel where it
        is above `threshold`).
        The vote is `balanced` (`metrics.knn.knn_vote`): a species added from a few images is not
        outvoted for lack of references; ``balanced=False`` is the evaluation's plain majority vote (the two agree
        wherever every species has at least k references).

        Re-ranking (cosine libraries), for the vote and the neighbours shown; the novelty score stays on the plain
        embeddings, the ones its threshold was calibrated on:
        - `expansion_k` > 0: query expansion: each reference averaged with its `expansion_k` nearest references and
          each query with its nearest expanded references (`metrics.reranking.neighbour_expansion`);
        - `csls_k` > 0: neighbours ranked by CSLS over `csls_k` references (`metrics.knn.knn_search`), which demotes
          references close to many species; the distances shown stay plain distances."""
        k = k or self.k
        score = self.novelty(queries)
        references = self.embeddings
        for key, value in (("expansion_k", expansion_k), ("csls_k", csls_k)):
            if value and self.metric != "cosine":
                raise ValueError(f"{key} needs a cosine library; this one uses {self.metric!r} distances")
        if expansion_k:
            references = self.expanded_references(expansion_k, expansion_alpha)
            queries = neighbour_expansion(references, expansion_k, expansion_alpha, queries=queries)
        hub = self._derived(("hubness", csls_k, expansion_k, expansion_alpha),
                            lambda: hubness(references, csls_k)) if csls_k else None
        return knn_identify(references, self.labels, queries, k, self.metric, balanced, csls_k, hub), score

    def novelty(self, queries: np.ndarray) -> np.ndarray:
        """Novelty score of each query (`novelty_score`: the mean distance to its `neighbours` nearest references,
        each in units of the reference's local spread where `scale_k` > 0; the spreads are computed once)."""
        scale_k = int(self.novelty_score.get("scale_k", 0))
        spread = None
        if scale_k:
            spread = self._derived(("spread", scale_k), lambda: local_spread(self.embeddings, scale_k, self.metric))
        return novelty_distance(self.embeddings, queries, self.metric, int(self.novelty_score.get("neighbours", 1)),
                                scale_k, spread)

    def expanded_references(self, k: int, alpha: float) -> np.ndarray:
        """The references after database-side augmentation (computed once per setting)."""
        return self._derived(("expanded", k, alpha), lambda: neighbour_expansion(self.embeddings, k, alpha))

    def _derived(self, key: tuple, compute):
        """A value derived from the references alone, computed once per key (copies start with an empty cache)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def with_references(self, embeddings: np.ndarray, species: list[str], files: list[str],
                        hashes: list[str]) -> ReferenceLibrary:
        """A copy with more references; species it does not know yet are appended to its species list."""
        names = list(self.species) + [s for s in dict.fromkeys(species) if s not in self.species]
        index = {name: i for i, name in enumerate(names)}
        return replace(self, embeddings=np.concatenate([self.embeddings, np.asarray(embeddings, np.float32)]),
                       labels=np.concatenate([self.labels, np.array([index[s] for s in species], dtype=int)]),
                       files=self.files + list(files), hashes=self.hashes + list(hashes), species=names,
                       info=json.loads(json.dumps(self.info, default=str)), _cache={})

    def subset(self, keep: np.ndarray) -> ReferenceLibrary:
        """A copy with only the references where `keep` is true (species stay in the list, with 0 references)."""
        keep = np.asarray(keep, bool)
        return replace(self, embeddings=self.embeddings[keep], labels=self.labels[keep],
                       files=[f for f, k in zip(self.files, keep) if k],
                       hashes=[h for h, k in zip(self.hashes, keep) if k],
                       info=json.loads(json.dumps(self.info, default=str)), _cache={})

    def relabelled(self, indices: list[int], species: list[str]) -> ReferenceLibrary:
        """A copy where reference `indices[i]` belongs to `species[i]` (new species are appended)."""
        names = list(self.species) + [s for s in dict.fromkeys(species) if s not in self.species]
        labels = self.labels.copy()
        labels[list(indices)] = [names.index(s) for s in species]
        return replace(self, labels=labels, species=names, info=json.loads(json.dumps(self.info, default=str)),
                       _cache={})

    def counts(self) -> dict[str, int]:
        """References per species, in species order (0 for species whose references were all removed)."""
        found = np.bincount(self.labels, minlength=len(self.species)) if len(self.labels) else [0] * len(self.species)
        return {name: int(n) for name, n in zip(self.species, found)}

    def _described(self) -> dict:
        """The manifest fields the library itself defines (everything else in a manifest is `info`)."""
        return {"format": FORMAT, "version": VERSION, "species": self.species,
                "metric": self.metric, "k": self.k,
                "novelty_threshold": self.threshold, "novelty_score": self.novelty_score,
                "preprocessing": self.preprocessing,
                "embedder": self.embedder_spec, "embedding_dim": int(self.embeddings.shape[1]),
                "n_references": len(self.labels)}

    def save(self, folder: str | Path) -> Path:
        """Written into a temporary sibling folder, then renamed into place: a kill leaves the old library or none."""
        import faiss

        folder = Path(folder)
        tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        manifest = {**self._described(), **self.info}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        torch.save(self.embedder.state_dict(), tmp / "embedder.pt")
        index = faiss.IndexFlatL2(self.embeddings.shape[1])
        index.add(np.ascontiguousarray(self.embeddings, dtype=np.float32))
        faiss.write_index(index, str(tmp / "index.faiss"))
        atomic_write_csv(tmp / "references.csv", ["file", "species", "label", "sha1"],
                         [[f, self.species[lab], int(lab), h] for f, lab, h in zip(self.files, self.labels,
                                                                                   self.hashes)])
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> ReferenceLibrary:
        folder = Path(folder)
        _recover_interrupted_save(folder)
        missing = [name for name in FILES if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(f"library={folder} is not a reference library (missing {', '.join(missing)}); "
                                    "build one with `python -m forams_lightning.export ckpt=...`")
        manifest = read_manifest(folder / "manifest.json")
        spec = manifest["embedder"]
        embedder = build_embedder(spec, f"{folder / 'manifest.json'}: embedder")  # weights from embedder.pt
        _load_weights(embedder, folder / "embedder.pt")
        embeddings = _read_index(folder / "index.faiss")
        labels, files, hashes = _read_references(folder / "references.csv", len(embeddings), len(manifest["species"]))
        library = cls(embedder=embedder.to(device).eval(), embedder_spec=plain_spec(spec), embeddings=embeddings,
                      labels=labels, files=files, hashes=hashes, species=manifest["species"],
                      metric=manifest["metric"], k=manifest["k"], threshold=float(manifest["novelty_threshold"]),
                      novelty_score=manifest.get("novelty_score", dict(PLAIN_NOVELTY)),
                      preprocessing=manifest["preprocessing"])
        library.info = {k: v for k, v in manifest.items() if k not in library._described()}
        return library


def _load_weights(embedder: torch.nn.Module, path: Path) -> None:
    """The network's weights: tensors only (`checkpoints.load_weights_only`), and exactly the described network's."""
    state = load_weights_only(path)
    try:
        embedder.load_state_dict(state)
    except Exception as error:  # noqa: BLE001 - a mismatch or a non-dict: either way not this network's weights
        raise ValueError(f"{path}: not the weights of the network manifest.json describes "
                         f"({type(error).__name__})") from None


def _read_index(path: Path) -> np.ndarray:
    import faiss

    try:
        index = faiss.read_index(str(path))
        return index.reconstruct_n(0, index.ntotal)
    except RuntimeError:
        raise ValueError(f"{path}: not a readable FAISS index (damaged or truncated)") from None


def _read_references(path: Path, n: int, n_species: int) -> tuple[np.ndarray, list[str], list[str]]:
    """Labels, files and hashes of references.csv, checked against the index and the species list."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        labels = np.array([int(r["label"]) for r in rows], dtype=int)
        files = [r["file"] for r in rows]
    except (UnicodeDecodeError, KeyError, TypeError, ValueError, csv.Error):
        raise ValueError(f"{path}: expected columns file, species, label (a whole number), sha1; the file is "
                         "damaged") from None
    if len(rows) != n:
        raise ValueError(f"{path}: {len(rows)} rows but index.faiss holds {n} vectors")
    if len(labels) and not (0 <= labels.min() and labels.max() < n_species):
        raise ValueError(f"{path}: a label outside the manifest's {n_species} species")
    return labels, files, [r.get("sha1") or "" for r in rows]


def _recover_interrupted_save(folder: Path) -> None:
    """`save` renames the old library aside, then the new one into place; a kill between the two renames leaves
    only the old one, aside: put it back."""
    if folder.exists():
        return
    aside = sorted(folder.parent.glob(f".{folder.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if aside and all((aside[-1] / name).is_file() for name in FILES):
        aside[-1].rename(folder)
        log.warning("%s: restored the library an interrupted change had moved aside (%s)", folder, aside[-1].name)
