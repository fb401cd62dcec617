"""The embeddings of an identified sample, kept in its run folder, so a live review re-identifies the sample against a
grown library without embedding its images again.

    embeddings.npy    float32, one row per file of the sample in predictions.csv order (NaN: the file was unreadable)
    embeddings.json   files, samples (or null), images (as given), library (its folder), library_embedder (sha1 of
                      the library's embedder.pt: embeddings of another network are not compared with its references)

Both are data: `np.load(allow_pickle=False)` and JSON, checked before use.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

from forams_lightning.atomic import atomic_write_json

ARRAY, META = "embeddings.npy", "embeddings.json"


def embedder_fingerprint(library_folder: str | Path) -> str:
    """sha1 of a library's `embedder.pt`: the same network embeds the same way."""
    digest = hashlib.sha1()
    with open(Path(library_folder) / "embedder.pt", "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class SampleEmbeddings:
    files: list[str]
    samples: list[str] | None
    embeddings: np.ndarray  # (len(files), dim); NaN rows: unreadable
    library: str
    library_embedder: str
    images: str = ""

    @property
    def readable(self) -> np.ndarray:
        return ~np.isnan(self.embeddings).any(1)

    def save(self, run: str | Path) -> None:
        run = Path(run)
        tmp = run / f".{ARRAY}.tmp-{os.getpid()}"
        np.save(tmp, self.embeddings.astype(np.float32), allow_pickle=False)
        os.replace(f"{tmp}.npy", run / ARRAY)
        atomic_write_json(run / META, self._meta())

    def _meta(self) -> dict:
        return {"files": self.files, "samples": self.samples, "images": self.images, "library": self.library,
                "library_embedder": self.library_embedder}


class EmbeddingWriter:
    """Rows written as `identify` embeds them, into a memory-mapped file (a sample of 500,000 specimens does not
    sit in memory), renamed into place with its description when `close` is called."""

    def __init__(self, run: Path, n: int, dim: int):
        self.run, self.tmp = run, run / f".{ARRAY}.tmp-{os.getpid()}"
        run.mkdir(parents=True, exist_ok=True)
        self.array = open_memmap(self.tmp, mode="w+", dtype=np.float32, shape=(n, dim))
        self.array[:] = np.nan

    def write(self, indices: list[int], embeddings: np.ndarray) -> None:
        self.array[indices] = embeddings

    def discard(self) -> None:
        """The partial file removed (identify failed: a hidden file of a whole sample's size would stay)."""
        del self.array
        self.tmp.unlink(missing_ok=True)

    def close(self, meta: SampleEmbeddings) -> None:
        self.array.flush()
        del self.array
        os.replace(self.tmp, self.run / ARRAY)
        atomic_write_json(self.run / META, meta._meta())


def load_sample_embeddings(run: str | Path) -> SampleEmbeddings | None:
    """The run folder's kept embeddings; None where it has none (a run folder from before they were kept). A damaged
    pair is a ValueError naming the file."""
    run = Path(run)
    if not (run / META).is_file() or not (run / ARRAY).is_file():
        return None
    try:
        meta = json.loads((run / META).read_text(encoding="utf-8"))
        embeddings = np.load(run / ARRAY, allow_pickle=False)
        files, samples = [str(f) for f in meta["files"]], meta.get("samples")
        if embeddings.ndim != 2 or len(embeddings) != len(files) or (samples is not None and
                                                                      len(samples) != len(files)):
            raise ValueError("its rows do not match the files listed")
        return SampleEmbeddings(files, samples, embeddings.astype(np.float32, copy=False), str(meta["library"]),
                                str(meta["library_embedder"]), str(meta.get("images", "")))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{run / ARRAY} / {META}: not a sample's embeddings ({error}); delete both and they are "
                         "computed again") from None
