"""Input layouts: species folders (Endless Forams' naming included) and CSV manifests, their faults named."""

from pathlib import Path

import pytest
from PIL import Image

from forams_lightning.data.layouts import read_manifest, read_species_folders, species_name


def _img(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 10, 10)).save(path)


@pytest.mark.parametrize("folder,expected", [
    ("0 - Beella digitata", "Beella digitata"),
    ("7- Globigerinita glutinata", "Globigerinita glutinata"),
    ("19-Globorotalia truncatulinoides", "Globorotalia truncatulinoides"),
    ("  3 -  Globigerina falconensis ", "Globigerina falconensis"),
    ("Globigerinoides_ruber", "Globigerinoides_ruber"),
])
def test_species_name_strips_number_prefix(folder, expected):
    assert species_name(folder) == expected


def test_endless_forams_layout_with_inconsistent_spacing(tmp_path):
    _img(tmp_path / "0 - Beella digitata" / "images" / "a.jpg")
    _img(tmp_path / "7- Globigerinita glutinata" / "images" / "b.JPG")
    _img(tmp_path / "19-Globorotalia truncatulinoides" / "images" / "c.jpeg")
    (tmp_path / "19-Globorotalia truncatulinoides" / "images" / "notes.txt").write_text("x")
    samples = read_species_folders(tmp_path)
    assert sorted(s.species for s in samples) == [
        "Beella digitata", "Globigerinita glutinata", "Globorotalia truncatulinoides"]
    assert all(s.group is None for s in samples)


def test_species_folder_layout_skips_empty_species(tmp_path, caplog):
    _img(tmp_path / "Genus_a" / "1.png")
    _img(tmp_path / "Genus_a" / "2.png")
    (tmp_path / "Genus_b").mkdir()
    samples = read_species_folders(tmp_path)
    assert [s.species for s in samples] == ["Genus_a", "Genus_a"]
    assert "Genus_b" in caplog.text


def test_missing_root_names_the_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="data.root"):
        read_species_folders(tmp_path / "nope")


def test_manifest_with_paths_relative_to_root_or_label_folder(tmp_path):
    _img(tmp_path / "imgs" / "x.png")
    _img(tmp_path / "Sp_b" / "y.png")
    (tmp_path / "m.csv").write_text("file,species,scan\nimgs/x.png,Sp_a,1\ny.png,Sp_b,2\n")
    samples = read_manifest(tmp_path / "m.csv", path_column="file", label_column="species", group_column="scan")
    assert [(Path(s.path).name, s.species, s.group) for s in samples] == [("x.png", "Sp_a", "1"),
                                                                          ("y.png", "Sp_b", "2")]


def test_manifest_errors_name_file_and_column(tmp_path):
    (tmp_path / "m.csv").write_text("path,label\nmissing.png,A\n")
    with pytest.raises(FileNotFoundError, match=r"m.csv:2: image 'missing.png'"):
        read_manifest(tmp_path / "m.csv")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['species'\]"):
        read_manifest(tmp_path / "m.csv", label_column="species")
