"""A sample's files and their samples: sub-folders or a CSV column; depths and ages from a samples table."""

from __future__ import annotations

import pytest

from forams_lightning.data.samples import sample_images, sample_positions


def test_a_samples_table_places_samples_by_depth(tmp_path):
    listing = tmp_path / "samples.csv"
    listing.write_text("file,sample,depth\na.jpg,core-3,12.5\nb.jpg,core-1,2\nc.jpg,core-3,12.5\n")
    positions = sample_positions(str(listing))
    assert positions.axis == "depth" and positions.order() == ["core-1", "core-3"]
    listing.write_text("file,sample,depth\na.jpg,core-3,12.5\nb.jpg,core-3,13\n")
    with pytest.raises(ValueError, match=r"samples.csv:3: sample 'core-3' is at depth 13 here but 12.5 on line 2"):
        sample_positions(str(listing))
    listing.write_text("file,sample,age\na.jpg,x,old\n")
    with pytest.raises(ValueError, match=r"samples.csv:2: age='old': expected a number"):
        sample_positions(str(listing))
    assert sample_positions(str(tmp_path)) is None


def _image(path):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8)).save(path)
    return path


def test_samples_come_from_sub_folders_or_a_csv_column(tmp_path):
    for name in ("core1/a.png", "core1/deep/b.png", "core2/c.png", "loose.png"):
        _image(tmp_path / "sample" / name)
    files, samples = sample_images(str(tmp_path / "sample"))
    assert dict(zip([f.rsplit("/", 1)[1] for f in files], samples)) == {"a.png": "core1", "b.png": "core1",
                                                                        "c.png": "core2", "loose.png": "sample"}
    _image(tmp_path / "flat" / "x.png")
    assert sample_images(str(tmp_path / "flat"))[1] is None
    listing = tmp_path / "list.csv"
    listing.write_text("\ufefffile,sample\nsample/core1/a.png,A\nsample/core2/c.png,B\n", encoding="utf-8")
    files, samples = sample_images(str(listing))
    assert files == [str(tmp_path / "sample/core1/a.png"), str(tmp_path / "sample/core2/c.png")]
    assert samples == ["A", "B"]
    listing.write_text("path\nx.png\n")
    with pytest.raises(ValueError, match="needs a 'file' column"):
        sample_images(str(listing))
