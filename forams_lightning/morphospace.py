"""Morphospace maps of a reference library or a checkpoint: PNG + interactive HTML per method (UMAP, t-SNE).

    python -m forams_lightning.morphospace library=DIR [methods=[tsne]]
    python -m forams_lightning.morphospace ckpt=PATH     (the references a library of that checkpoint would hold)
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig

from forams_lightning.cli import answer_version, entry_point

log = logging.getLogger(__name__)


def morphospace(cfg: DictConfig) -> list[Path]:
    from forams_lightning.library.build import build_library
    from forams_lightning.library.embedding import Inference
    from forams_lightning.library.storage import load_library
    from forams_lightning.viz.morphospace import project_2d, save_morphospace_html, save_morphospace_png, subsample

    if cfg.get("ckpt"):
        library, _ = build_library(cfg.ckpt, inference=Inference(num_workers=cfg.num_workers))
    elif cfg.get("library"):
        library = load_library(cfg.library)
    else:
        raise ValueError("set library=DIR (a reference library) or ckpt=PATH (a training checkpoint)")
    keep = subsample(library.labels, cfg.max_points, cfg.seed)
    emb, labels = library.embeddings[keep], library.labels[keep]
    species = [library.species[i] for i in labels]
    files = [library.files[i] for i in keep]
    seen = np.ones(len(keep), bool)  # a library holds the species it was trained on
    out, written = Path(cfg.paths.output_dir), []
    for method in cfg.methods:
        xy = project_2d(emb, method, library.metric, cfg.seed)
        title = f"{method.upper()} of {len(emb)} references ({len(set(species))} species)"
        written.append(save_morphospace_png(xy, species, seen, out / f"morphospace_{method}.png", title=title))
        written.append(save_morphospace_html(xy, species, seen, files, path=out / f"morphospace_{method}.html",
                                             title=title))
    log.info("written: %s", ", ".join(map(str, written)))
    return written


@hydra.main(version_base="1.3", config_path="../conf", config_name="morphospace")
@entry_point
def main(cfg: DictConfig) -> None:
    morphospace(cfg)


if __name__ == "__main__":
    answer_version()
    main()
