"""A reference library on disk: everything `identify` needs, and nothing of the training config.

    manifest.json    format + version, species, kNN settings, novelty threshold, preprocessing, the embedder's
                     `_target_` spec, provenance (checkpoint, package version, git commit, creation time)
    embedder.pt      state dict of backbone + head (of each member, `members.<i>.*`, for an ensemble)
    index.faiss      exact FAISS index over the reference embeddings
    references.csv   file, species, label of each reference embedding (index order)
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from forams_lightning.atomic import atomic_write_csv
from forams_lightning.data.transforms import build_transform
from forams_lightning.metrics.knn import Identification, knn_identify
from forams_lightning.models.embedder import build_embedder

FORMAT = "forams-lightning reference library"
VERSION = 2  # 2: the embedder may be an ensemble ({"members": [...]}); single-network libraries stay 1
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
    threshold: float = float("inf")  # nearest-reference distance above which a specimen is flagged novel
    preprocessing: dict = field(default_factory=dict)  # image_size, crop_border, exif_transpose
    info: dict = field(default_factory=dict)  # provenance and calibration facts

    def transform(self):
        return build_transform(self.preprocessing["image_size"], self.preprocessing.get("crop_border"))

    def identify(self, queries: np.ndarray, k: int | None = None) -> tuple[Identification, np.ndarray]:
        """kNN vote against the references (as in evaluation) and the novelty flag of each query."""
        found = knn_identify(self.embeddings, self.labels, queries, k or self.k, self.metric)
        return found, found.distances[:, 0] > self.threshold

    def _described(self) -> dict:
        """The manifest fields the library itself defines (everything else in a manifest is `info`)."""
        return {"format": FORMAT, "version": VERSION if "members" in self.embedder_spec else 1, "species": self.species,
                "metric": self.metric, "k": self.k,
                "novelty_threshold": self.threshold, "preprocessing": self.preprocessing,
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
        atomic_write_csv(tmp / "references.csv", ["file", "species", "label"],
                         [[f, self.species[lab], int(lab)] for f, lab in zip(self.files, self.labels)])
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> ReferenceLibrary:
        import faiss

        folder = Path(folder)
        missing = [name for name in FILES if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(f"library={folder} is not a reference library (missing {', '.join(missing)}); "
                                    "build one with `python -m forams_lightning.export ckpt=...`")
        manifest = json.loads((folder / "manifest.json").read_text())
        if manifest.get("format") != FORMAT or manifest.get("version", 0) > VERSION:
            raise ValueError(f"{folder / 'manifest.json'}: format {manifest.get('format')!r} version "
                             f"{manifest.get('version')} is not a reference library this version can read "
                             f"(reads version <= {VERSION})")
        spec = manifest["embedder"]
        embedder = build_embedder(spec)  # the weights come from embedder.pt
        embedder.load_state_dict(torch.load(folder / "embedder.pt", map_location="cpu", weights_only=True))
        index = faiss.read_index(str(folder / "index.faiss"))
        with open(folder / "references.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        if len(rows) != index.ntotal:
            raise ValueError(f"{folder}: references.csv has {len(rows)} rows but index.faiss {index.ntotal} vectors")
        library = cls(embedder=embedder.to(device).eval(), embedder_spec=spec,
                      embeddings=index.reconstruct_n(0, index.ntotal),
                      labels=np.array([int(r["label"]) for r in rows]), files=[r["file"] for r in rows],
                      species=manifest["species"], metric=manifest["metric"], k=int(manifest["k"]),
                      threshold=float(manifest["novelty_threshold"]), preprocessing=manifest["preprocessing"])
        library.info = {k: v for k, v in manifest.items() if k not in library._described()}
        return library
