"""Read a data source into a catalogue: the layout (species folders, a CSV manifest, the generated library), the
images screened for readability, the split. What `ForamsDataModule` and the commands that reuse a run share."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from forams_lightning.data.catalogue import Catalogue, build_catalogue
from forams_lightning.data.layouts import Sample, read_manifest, read_species_folders
from forams_lightning.data.screening import report_bad_images, unreadable_images
from forams_lightning.data.splits import SavedSplit
from forams_lightning.data.synthetic import SyntheticSpec, generate_library

log = logging.getLogger(__name__)


def data_root(root: str | None, synthetic: SyntheticSpec | Mapping | None) -> str | None:
    """Where the images are: `root`, or for the generated library its folder under `root` (one per distinct
    library)."""
    if not synthetic or root is None:
        return root
    spec = synthetic if isinstance(synthetic, SyntheticSpec) else SyntheticSpec(**synthetic)
    return str(Path(root) / f"synthetic-{spec.digest()}")


def read_layout(root: str | None, manifest: str | None = None, manifest_columns: Mapping | None = None,
                class_split_column: str | None = None) -> list[Sample]:
    """Every listed image: a CSV manifest's rows, or one folder per species under `root`.

    Args:
        root: a folder of species folders.
        manifest: a CSV manifest instead.
        manifest_columns: its column names.
        class_split_column: its column naming each species' open-set part.
    """
    if manifest:
        columns = {**(manifest_columns or {}), **({"class_split_column": class_split_column}
                                                  if class_split_column else {})}
        return read_manifest(manifest, root, **columns)
    if root is None:
        raise ValueError("data.root is not set: the folder of one sub-folder per species")
    return read_species_folders(root)


def screened(samples: list[Sample], bad: dict[str, str], on_bad_image: str = "skip") -> list[Sample]:
    """`samples` without the unreadable files in `bad` (one warning listing them, or an error per `on_bad_image`);
    a species that loses every image is said."""
    report_bad_images(bad, on_bad_image)
    if not bad:
        return samples
    kept = [s for s in samples if s.path not in bad]
    lost = sorted({s.species for s in samples} - {s.species for s in kept})
    if lost:
        log.warning("species with no readable image left, dropped: %s", lost)
    if not kept:
        raise ValueError("no readable image left in the library (see the warning above)")
    return kept


def read_catalogue(data: Mapping, split_file: str | Path | None = None, workers: int = 2) -> Catalogue:
    """The catalogue a `data` config (the options of `ForamsDataModule`, e.g. a run's saved `config.yaml`) describes,
    without loaders: generated where it is the embedded library, screened where `check_images`, split as
    `split_file` (a run's split.csv) says, else by `data.split`."""
    root = data_root(data.get("root"), data.get("synthetic"))
    if data.get("synthetic") and root is not None:
        generate_library(root, SyntheticSpec(**data["synthetic"]))
    open_set = dict(data.get("open_set") or {})
    samples = read_layout(root, data.get("manifest"), data.get("manifest_columns"), open_set.get("class_split_column"))
    checked = data.get("check_images", True) or data.get("cache", False)
    bad = unreadable_images([s.path for s in samples], workers=max(2, workers)) if checked else {}
    kept = screened(samples, bad, data.get("on_bad_image", "skip"))
    saved = SavedSplit.read(split_file) if split_file else None
    return build_catalogue(kept, root, open_set, data.get("split"), saved_split=saved, bad_images=len(bad))
