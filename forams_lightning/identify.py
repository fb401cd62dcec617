"""Identify new specimens against a reference library: predictions.csv and review.html in the output folder.

    python -m forams_lightning.identify library=DIR images=FOLDER_OR_GLOB
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from forams_lightning.cli import entry_point

log = logging.getLogger(__name__)


def identify(cfg: DictConfig) -> Path:
    """Returns the predictions.csv path. Unreadable files get a row with their error; the rest complete."""
    from forams_lightning.atomic import atomic_write_csv
    from forams_lightning.data.specimens import find_images
    from forams_lightning.metrics.classification import genus_of
    from forams_lightning.reference.embedding import embed_files, resolve_device
    from forams_lightning.reference.library import ReferenceLibrary
    from forams_lightning.viz.review import write_review

    if cfg.vote not in ("balanced", "majority"):
        raise ValueError(f"vote={cfg.vote!r}: balanced or majority")
    library = ReferenceLibrary.load(cfg.library, resolve_device(cfg.device))
    files = find_images(cfg.images)
    exif = library.preprocessing.get("exif_transpose", True)
    emb, good, bad = embed_files(library.embedder, files, library.transform(), exif, cfg.batch_size, cfg.num_workers,
                                 cfg.device, description="specimens")
    k = int(cfg.k or library.k)
    specimens = []
    if good:
        found, novel = library.identify(emb, k, cfg.expansion.k, cfg.expansion.alpha, cfg.vote == "balanced")
        for row, i in enumerate(good):
            specimens.append({
                "file": files[i], "species": library.species[found.prediction[row]],
                "vote_share": float(found.vote_share[row]), "distance": float(found.distances[row, 0]),
                "novel": bool(novel[row]),
                "neighbours": [{"file": library.files[g], "species": library.species[lab], "distance": float(d)}
                               for g, lab, d in zip(found.ids[row], found.labels[row], found.distances[row])]})
    failures = [(files[i], error) for i, error in bad]

    out = Path(cfg.paths.output_dir)
    header = ["file", "species", "genus", "vote_share", "nearest_distance", "novel"]
    for j in range(1, k + 1):
        header += [f"neighbour_{j}_species", f"neighbour_{j}_distance", f"neighbour_{j}_file"]
    header.append("error")
    rows = {s["file"]: [s["file"], s["species"], genus_of(s["species"]), f"{s['vote_share']:.3f}",
                        f"{s['distance']:.5f}", int(s["novel"]),
                        *(v for n in s["neighbours"] for v in (n["species"], f"{n['distance']:.5f}", n["file"])),
                        *([""] * 3 * (k - len(s["neighbours"]))), ""] for s in specimens}
    rows.update({f: [f, *([""] * (len(header) - 2)), error] for f, error in failures})
    predictions = out / "predictions.csv"
    atomic_write_csv(predictions, header, [rows[f] for f in files])
    if cfg.review.enabled:
        write_review(out, specimens, failures, title=f"Review: {cfg.images}", species=library.species,
                     thumbnail_size=cfg.review.thumbnail_size, rows_per_page=cfg.review.rows_per_page,
                     exif_transpose=exif)
    log.info("%d identified (%d flagged novel), %d unreadable -> %s", len(specimens),
             sum(s["novel"] for s in specimens), len(failures), predictions)
    return predictions


@hydra.main(version_base="1.3", config_path="../conf", config_name="identify")
@entry_point
def main(cfg: DictConfig) -> None:
    identify(cfg)


if __name__ == "__main__":
    main()
