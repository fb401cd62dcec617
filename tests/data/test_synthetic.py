import json

import numpy as np
from PIL import Image

from forams_lightning.data.layouts import read_species_folders
from forams_lightning.data.synthetic import SyntheticSpec, generate_library, render, species_catalogue

TINY = SyntheticSpec(n_species=5, max_images=6, min_images=3, image_size=40, seed=7)


def test_generation_is_deterministic_and_in_download_layout(tmp_path):
    a = generate_library(tmp_path / "a", TINY)
    b = generate_library(tmp_path / "b", TINY)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*.jpg"))
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*.jpg"))
    assert len(files_a) == sum(TINY.counts())
    assert all(str(f).split("/")[1] == "images" and " - " in str(f).split("/")[0] for f in files_a)
    for f in files_a:
        assert (a / f).read_bytes() == (b / f).read_bytes()
    samples = read_species_folders(a)
    assert len({s.species for s in samples}) == 5
    assert json.loads((a / "_synthetic.json").read_text())["digest"] == TINY.digest()


def test_generate_is_idempotent_and_refuses_foreign_folder(tmp_path):
    root = generate_library(tmp_path / "lib", TINY)
    stamp = (root / "_synthetic.json").stat().st_mtime_ns
    generate_library(root, TINY)
    assert (root / "_synthetic.json").stat().st_mtime_ns == stamp
    other = SyntheticSpec(n_species=4, max_images=6, min_images=3, image_size=40)
    try:
        generate_library(root, other)
    except FileExistsError as err:
        assert "not the synthetic library" in str(err)
    else:
        raise AssertionError("a different spec must not reuse the folder")


def test_long_tail_and_look_alike_species():
    spec = SyntheticSpec()
    counts = spec.counts()
    assert counts[0] == spec.max_images and counts[-1] == spec.min_images and counts == sorted(counts, reverse=True)
    catalogue = species_catalogue(spec)
    names = [n for n, _ in catalogue]
    assert len(set(names)) == len(names)
    genera = [n.split()[0] for n in names]
    assert len(set(genera)) < len(genera)  # several species per genus


def test_parallel_generation_draws_the_same_library(tmp_path, monkeypatch):
    from forams_lightning.data import synthetic

    serial = generate_library(tmp_path / "serial", TINY)
    monkeypatch.setattr(synthetic, "PARALLEL_FROM", 0)
    parallel = generate_library(tmp_path / "parallel", TINY, workers=2)
    files = sorted(p.relative_to(serial) for p in serial.rglob("*.jpg"))
    assert files == sorted(p.relative_to(parallel) for p in parallel.rglob("*.jpg"))
    assert all((serial / f).read_bytes() == (parallel / f).read_bytes() for f in files)


def test_chamber_counts_are_fixed_and_the_aperture_shows_in_every_view():
    """Version 2: chamber counts are whole and fixed within a species, and a sister's trait is visible in every view
    (version 1 hid the aperture in spiral views and let chamber counts of sisters overlap)."""
    from dataclasses import replace

    catalogue = species_catalogue(SyntheticSpec())
    assert all(m.chambers == int(m.chambers) for _, m in catalogue)
    trochospiral = next(m for _, m in catalogue if m.coiling == "trochospiral")
    small, large = replace(trochospiral, aperture=0.05), replace(trochospiral, aperture=0.55)
    for j in range(6):  # spiral and umbilical views alike (same pose for both: same generator state)
        a = np.asarray(render(small, np.random.default_rng([0, 0, j]), 96), dtype=float)
        b = np.asarray(render(large, np.random.default_rng([0, 0, j]), 96), dtype=float)
        assert np.abs(a - b).mean() > 0.5, j


def test_specimens_vary_within_species_and_differ_between_species():
    catalogue = species_catalogue(SyntheticSpec(seed=3))
    img = lambda s, j: np.asarray(render(catalogue[s][1], np.random.default_rng([3, s, j]), 64), dtype=float)  # noqa: E731
    assert np.abs(img(0, 0) - img(0, 1)).mean() > 1  # pose, light and noise change
    assert isinstance(render(catalogue[0][1], np.random.default_rng(0), 64), Image.Image)
    shell_fraction = (img(0, 0).mean(-1) > 60).mean()
    assert 0.05 < shell_fraction < 0.9  # a shell on a dark background, not an empty or saturated frame


def test_data_module_takes_the_spec_as_mapping_or_instance(tmp_path):
    from forams_lightning.data.datamodule import ForamsDataModule

    spec = SyntheticSpec(n_species=3, max_images=5, min_images=4)
    by_instance = ForamsDataModule(root=str(tmp_path), synthetic=spec)
    by_mapping = ForamsDataModule(root=str(tmp_path), synthetic={"n_species": 3, "max_images": 5, "min_images": 4})
    assert by_instance.synthetic == by_mapping.synthetic == spec
    assert by_instance.root == by_mapping.root == str(tmp_path / f"synthetic-{spec.digest()}")
