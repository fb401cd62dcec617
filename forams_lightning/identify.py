"""Identify new specimens against a reference library: predictions.csv, groups.csv (candidate new species),
census.csv/.png (where the images come as samples), review.html and the sample's embeddings in the run folder.

    python -m forams_lightning.identify library=DIR images=FOLDER_OR_GLOB_OR_CSV

What it does: `identifying.identify` (the same for `review`).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from forams_lightning.cli import answer_version, entry_point
from forams_lightning.identifying import identify

__all__ = ["identify", "main"]


@hydra.main(version_base="1.3", config_path="../conf", config_name="identify")
@entry_point
def main(cfg: DictConfig) -> None:
    identify(cfg)


if __name__ == "__main__":
    answer_version()
    main()
