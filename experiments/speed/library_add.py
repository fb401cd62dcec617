"""What `library add` costs beyond embedding the new images, on a library of 30,000 references.

    python experiments/speed/library_add.py LIBRARY NEW_IMAGES_DIR [--references 30000] [--work /tmp/library_add]

Pads a copy of LIBRARY to `--references` entries (its own embeddings repeated, so the FAISS index, references.csv
and the hashes have the real size), then, in one process: embeds the new images once with the library's embedder
(the unavoidable part), and runs `library add` of the same images (`library.editing.add_references`: hashing,
duplicate check, embedding, the new folder written and renamed into place). Prints both times and their difference:
the overhead of a growing library, which must not depend on re-embedding the existing references.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from datetime import date
from pathlib import Path

import numpy as np


def padded_copy(library_dir: Path, references: int, target: Path) -> None:
    from forams_lightning.library import load_library, save_library

    library = load_library(library_dir)
    reps = -(-references // len(library.files))
    pick = np.arange(reps * len(library.files)) % len(library.files)
    pick = pick[:references]
    padded = library.subset(np.zeros(len(library.files), bool)).with_references(
        library.embeddings[pick], [library.species[label] for label in library.labels[pick]],
        [f"{library.files[i]}#{n}" for n, i in enumerate(pick)], [f"{n:040x}" for n in range(references)])
    shutil.rmtree(target, ignore_errors=True)
    save_library(padded, target)


def main(library_dir: Path, images: Path, references: int, work: Path) -> dict:
    from forams_lightning.data.specimens import find_images
    from forams_lightning.library import Inference, add_references, load_library

    target = work / "library"
    padded_copy(library_dir, references, target)
    files = find_images(str(images))
    library = load_library(target)
    start = time.perf_counter()
    library.embed(files, Inference(64, 2, "cpu"), "embedding only")
    embedding = time.perf_counter() - start
    start = time.perf_counter()
    changed, _ = add_references(target, str(images), "new species", Inference(64, 2, "cpu"))
    add = time.perf_counter() - start
    result = {"references_before": references, "added": len(changed.files) - references,
              "embedding_only_s": round(embedding, 1), "library_add_s": round(add, 1),
              "overhead_s": round(add - embedding, 1), "date": str(date.today()),
              "machine": f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores, CPU)"}
    (work / "library_add.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library", type=Path)
    parser.add_argument("images", type=Path)
    parser.add_argument("--references", type=int, default=30_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/library_add"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(json.dumps(main(args.library, args.images, args.references, args.work), indent=2))
