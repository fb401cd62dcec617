"""The data: image layouts read into a catalogue of species and parts (`read_catalogue`), a sample's files and their
samples (`sample_images`, `find_images`), the seeded splits, P×K batches and the DataModule that serves them
(`ForamsDataModule`, reachable from YAML), and the procedural library the project embeds. Knows no model.

    from forams_lightning.data import read_catalogue
    catalogue = read_catalogue({"root": "species_folders"})
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from forams_lightning.exports import lazy_exports

_API = {
    "datamodule": ["ForamsDataModule"],
    "reading": ["read_catalogue"],
    "samples": ["sample_images", "sample_positions"],
    "specimens": ["find_images"],
}
__all__ = ["ForamsDataModule", "find_images", "read_catalogue", "sample_images", "sample_positions"]
__getattr__, __dir__ = lazy_exports(__name__, _API)

if TYPE_CHECKING:
    from forams_lightning.data.datamodule import ForamsDataModule
    from forams_lightning.data.reading import read_catalogue
    from forams_lightning.data.samples import sample_images, sample_positions
    from forams_lightning.data.specimens import find_images
