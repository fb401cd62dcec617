"""A library's manifest read as data: damaged or absurd fields refused naming the key."""

from __future__ import annotations

import json

import pytest

from forams_lightning.library.manifest import read_manifest


@pytest.mark.parametrize("key, value, message", [
    ("grouping", {"threshold": 0.3, "linkage": "single"}, "grouping.linkage"),
    ("grouping", {"linkage": "average"}, "grouping: expected an object with threshold"),
    ("grouping", {"threshold": 0.3, "share": 1.5}, "grouping.share"),
    ("confusion", [[0, 5, 3]], "confusion: expected null or"),
    ("confusion", [[0, 1]], "confusion: expected null or"),
    ("novelty_thresholds", [0.2, "x"], "novelty_thresholds: expected null or at most"),
    ("novelty_thresholds", [0.2] * 99, "novelty_thresholds: expected null or at most"),
    ("novelty_model", {"intercept": 1, "slope": 1, "spread": 1}, "novelty_model: expected null or an object"),
    ("novelty_model", {"intercept": float("nan"), "slope": 1, "spread": 1, "z": 1}, "novelty_model"),
    ("confusion_flagged", [[0, -1]], "confusion_flagged: expected null or"),
    ("confusion_flagged", [[999, 1]], "confusion_flagged: expected null or"),
])
def test_a_damaged_grouping_confusion_or_threshold_is_refused_naming_the_key(small_library, key, value, message):
    path = small_library / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest[key] = value
    path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=message) as error:
        read_manifest(path)
    assert "\n" not in str(error.value)
