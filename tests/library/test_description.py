"""library show: species and counts, provenance, calibration, the versions that built and changed it."""

from __future__ import annotations

from importlib.metadata import version

import numpy as np
from PIL import Image


def test_library_show_names_the_versions_that_built_and_changed_it(small_library, tmp_path):
    from forams_lightning.library.description import describe
    from forams_lightning.library.editing import add_references
    from forams_lightning.library.storage import load_library

    assert "built by forams-lightning an unrecorded version" in describe(load_library(small_library))
    new = tmp_path / "new"
    new.mkdir()
    Image.fromarray(np.full((24, 24, 3), 123, np.uint8)).save(new / "x.png")
    library, _ = add_references(small_library, str(new), species="Novum genus")
    assert library.info["history"][-1]["package_version"] == version("forams-lightning")
    assert f"last changed by {version('forams-lightning')}" in describe(library)
