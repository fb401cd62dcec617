"""The morphospace command maps a library or a checkpoint."""

from __future__ import annotations

import json

import pytest
from helpers import compose_app


@pytest.mark.parametrize("source", ["library", "ckpt"])
def test_morphospace_command_maps_a_library_or_a_checkpoint(library, trained_run, tmp_path, source):
    from forams_lightning.morphospace import morphospace

    run, metrics = trained_run
    given = f"library={library}" if source == "library" else f"ckpt={run / metrics['best_checkpoint']}"
    written = morphospace(compose_app("morphospace", [given, "methods=[tsne]", "num_workers=0"], tmp_path))
    assert [p.name for p in written] == ["morphospace_tsne.png", "morphospace_tsne.html"]
    assert written[0].read_bytes()[:4] == b"\x89PNG" and "plotly" in written[1].read_text()
    n_references = json.loads((library / "manifest.json").read_text())["n_references"]
    assert f"of {n_references} references" in written[1].read_text()
