"""What `python -m forams_lightning.identify ...` (and `review library=... images=...`) does with its config: the
settings read from it, then one plain call (`identify.run_folder.identify_sample`), as a script makes it."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from forams_lightning.identify.settings import IdentifySettings
from forams_lightning.library.command import inference_settings


def identify_command(cfg: DictConfig) -> Path:
    """Returns the predictions.csv path."""
    from forams_lightning.identify.run_folder import ReviewPages, identify_sample

    pages = ReviewPages(bool(cfg.review.enabled), str(cfg.review.order), int(cfg.review.get("thumbnail_size", 64)),
                        int(cfg.review.get("rows_per_page", 200)))
    identify_sample(cfg.library, cfg.images, cfg.paths.output_dir, identify_settings(cfg),
                    inference=inference_settings(cfg), pages=pages)
    return Path(cfg.paths.output_dir) / "predictions.csv"


def identify_settings(cfg: DictConfig) -> IdentifySettings:
    """The vote, its re-ranking and the grouping, as `identify` and `review` configs give them."""
    from hydra.utils import instantiate

    return IdentifySettings(cfg.k, cfg.vote, instantiate(cfg.reranking), cfg.groups)
