"""The stratigraphic census figure stays legible and bounded from one sample to hundreds."""

from __future__ import annotations

import pytest
from helpers import census_rows


@pytest.mark.parametrize("n_samples", [1, 50, 400])
def test_the_stratigraphic_figure_stays_legible_and_bounded(tmp_path, n_samples):
    from PIL import Image

    from forams_lightning.viz.census import save_census_png

    species = [f"Genus species{i}" for i in range(35)]
    path = save_census_png(census_rows(n_samples, species, adjusted=False), tmp_path / "census.png")
    width, height = Image.open(path).size
    assert height <= 2400 and width <= 3200  # MAX_HEIGHT inches at 100 dpi; 36 panels at most
    assert height >= (500 if n_samples >= 50 else 300)
