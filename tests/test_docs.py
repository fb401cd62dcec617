"""Every script example in the README and the guides imports only from a package's public API and runs, in a folder
laid out as the examples' paths say (a library, a sample of specimens, an identified run folder, species folders)."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _examples(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


DOCUMENTED = [p for p in DOCS if _examples(p)]


def test_the_guides_show_script_examples():
    assert {p.name for p in DOCUMENTED} >= {"reference_library.md", "data_and_configuration.md", "open_set.md"}


@pytest.mark.parametrize("doc", DOCUMENTED, ids=lambda p: p.name)
def test_examples_import_only_names_a_package_exports(doc):
    for example in _examples(doc):
        for node in ast.walk(ast.parse(example)):
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("forams_lightning") for a in node.names), ast.unparse(node)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("forams_lightning"):
                package = importlib.import_module(node.module)
                assert hasattr(package, "__path__"), f"{doc.name}: {node.module} is a module, not a package"
                assert {a.name for a in node.names} <= set(package.__all__), ast.unparse(node)


def _image(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(value).integers(0, 60, (32, 32, 3)) + np.array([value, 90, 200 - value])
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Path:
    """The examples' paths: runs/forams/library (2 species, the tiny network), specimens/core_12, runs/sample1 (it
    identified), new_species/ and species_folders/ (2 species of 8 images)."""
    from helpers import TINY_NETWORK

    from forams_lightning.identify import identify_sample
    from forams_lightning.library import ReferenceLibrary, save_library
    from forams_lightning.models.embedder import build_embedder

    root = tmp_path_factory.mktemp("examples")
    for i in range(8):
        _image(root / "references" / f"{i}.png", 20 if i % 2 else 180)
        _image(root / "species_folders" / ("Globigerina bulloides" if i % 2 else "Orbulina universa") / f"{i}.png",
               20 if i % 2 else 180)
        _image(root / "species_folders" / ("Globigerina bulloides" if i % 2 else "Orbulina universa") / f"b{i}.png",
               25 if i % 2 else 175)
    for i in range(4):
        _image(root / "specimens" / "core_12" / f"{i}.png", 30 + 40 * i)
        _image(root / "new_species" / f"{i}.png", 100 + i)
    library = ReferenceLibrary(embedder=build_embedder(TINY_NETWORK), embedder_spec=TINY_NETWORK,
                               embeddings=np.zeros((0, 8), np.float32), labels=np.zeros(0, int), files=[],
                               species=["Globigerina bulloides", "Orbulina universa"], threshold=10.0,
                               preprocessing={"image_size": 32, "crop_border": None, "exif_transpose": True})
    files = [str(root / "references" / f"{i}.png") for i in range(8)]
    embeddings, _, _ = library.embed(files)
    library = library.with_references(embeddings, [library.species[1 - i % 2] for i in range(8)], files, [""] * 8)
    save_library(library, root / "runs" / "forams" / "library")
    identify_sample(root / "runs" / "forams" / "library", str(root / "specimens" / "core_12"),
                    root / "runs" / "sample1")
    return root


@pytest.mark.parametrize("doc", DOCUMENTED, ids=lambda p: p.name)
def test_every_example_runs(doc, sandbox, monkeypatch):
    monkeypatch.chdir(sandbox)
    namespace: dict = {}
    for example in _examples(doc):
        exec(compile(example, f"{doc.name} example", "exec"), namespace)  # noqa: S102 - the docs' own code
