"""A reference library's `manifest.json` read as data: every field checked for its type before anything is built
from it, so a truncated, mistyped or tampered manifest is refused with one line naming the file and the key."""

from __future__ import annotations

import json
import math
from pathlib import Path

from forams_lightning.metrics.clustering import LINKAGES
from forams_lightning.models.embedder import MAX_NUMBER  # the network's own bound on its dimensions

FORMAT = "forams-lightning reference library"
# 1: one network described by `_target_` specs; 2: an ensemble ({"members": [...]}); 3: the network described by
# plain arguments of the package's own classes (nothing in a manifest names code)
VERSION = 3
METRICS = ("l2", "cosine")
# Bounds checked before anything is allocated from a manifest: larger values are no library this package writes.
MAX_K = 1000
MAX_IMAGE_SIZE = 4096


def read_manifest(path: Path) -> dict:
    """The manifest's fields, checked (`embedder` in `library.stored_network`)."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text; the manifest is damaged") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON (line {error.lineno}: {error.msg}); the manifest is damaged or "
                         "truncated") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"{path}: expected a JSON object")
    version = manifest.get("version")
    if manifest.get("format") != FORMAT or not isinstance(version, int) or not _whole(version) or version > VERSION:
        raise ValueError(f"{path}: format {manifest.get('format')!r} version {version!r} is not a reference library "
                         f"this version can read (reads version <= {VERSION})")
    for key, check, expected in _FIELDS:
        if key not in manifest:
            raise ValueError(f"{path}: missing {key!r}")
        if not check(manifest[key]):
            raise ValueError(f"{path}: {key}={_shown(manifest[key])}: expected {expected}")
    _check_parts(path, manifest)
    _check_discovery(path, manifest)
    return manifest


GROUPING = {"threshold": "a number", "linkage": f"one of {list(LINKAGES)}", "share": "null or a number in (0, 1]",
            "expansion_k": "a whole number >= 0", "expansion_alpha": "a number", "source": "text"}


def _check_discovery(path: Path, manifest: dict) -> None:
    """The optional clustering cut (`grouping`) and confusion counts (`confusion`: [true, identified, count])."""
    grouping = manifest.get("grouping")
    if grouping is not None:
        if not isinstance(grouping, dict) or not set(grouping) <= set(GROUPING) or "threshold" not in grouping:
            raise ValueError(f"{path}: grouping: expected an object with threshold and some of {sorted(GROUPING)}")
        checks = {"threshold": _finite, "linkage": lambda v: v in LINKAGES, "expansion_alpha": _number,
                  "share": lambda v: v is None or (_number(v) and 0 < v <= 1), "expansion_k": _whole,
                  "source": lambda v: isinstance(v, str)}
        for key, value in grouping.items():
            if not checks[key](value):
                raise ValueError(f"{path}: grouping.{key}={_shown(value)}: expected {GROUPING[key]}")
    cells, n = manifest.get("confusion"), len(manifest["species"])
    if cells is not None and not (isinstance(cells, list) and all(
            isinstance(c, list) and len(c) == 3 and all(_whole(v) for v in c) and c[0] < n and c[1] < n
            for c in cells)):
        raise ValueError(f"{path}: confusion: expected null or [true, identified, count] triples of whole numbers "
                         f"(species indices < {n})")
    _check_census_fields(path, manifest, n)


NOVELTY_MODEL = ("intercept", "slope", "spread", "z")


def _check_census_fields(path: Path, manifest: dict, n: int) -> None:
    """The per-species novelty thresholds, the model of a later species' one, and the flagged held-out counts."""
    flagged = manifest.get("confusion_flagged")
    if flagged is not None and not (isinstance(flagged, list) and all(
            isinstance(c, list) and len(c) == 2 and all(_whole(v) for v in c) and c[0] < n for c in flagged)):
        raise ValueError(f"{path}: confusion_flagged: expected null or [species, count] pairs of whole numbers "
                         f"(species indices < {n})")
    thresholds = manifest.get("novelty_thresholds")
    if thresholds is not None and not (isinstance(thresholds, list) and len(thresholds) <= n and all(
            _finite(v) and v > 0 for v in thresholds)):
        raise ValueError(f"{path}: novelty_thresholds: expected null or at most {n} positive finite numbers "
                         "(one a species)")
    model = manifest.get("novelty_model")
    if model is not None and not (isinstance(model, dict) and set(model) == set(NOVELTY_MODEL) and all(
            _finite(v) and abs(v) <= 1e6 for v in model.values())):
        raise ValueError(f"{path}: novelty_model: expected null or an object of finite numbers "
                         f"{', '.join(NOVELTY_MODEL)}")


def _check_parts(path: Path, manifest: dict) -> None:
    """The nested objects: the novelty score's settings and the preprocessing."""
    novelty = manifest.get("novelty_score", {"neighbours": 1, "scale_k": 0})
    if not isinstance(novelty, dict) or not set(novelty) <= {"neighbours", "scale_k"}:
        raise ValueError(f"{path}: novelty_score: expected an object with neighbours and scale_k only")
    for key, least in (("neighbours", 1), ("scale_k", 0)):
        if not _whole(novelty.get(key, least), least) or novelty.get(key, least) > MAX_K:
            raise ValueError(f"{path}: novelty_score.{key}: expected a whole number from {least} to {MAX_K}")
    dim = manifest.get("embedding_dim", 1)
    if not _whole(dim, 1) or dim > MAX_NUMBER:
        raise ValueError(f"{path}: embedding_dim={_shown(dim)}: expected a whole number from 1 to {MAX_NUMBER}")
    prep = manifest["preprocessing"]
    size = prep.get("image_size")
    if not _whole(size, 16) or size > MAX_IMAGE_SIZE:
        raise ValueError(f"{path}: preprocessing.image_size={_shown(size)}: expected a whole number from 16 to "
                         f"{MAX_IMAGE_SIZE}")
    if not isinstance(prep.get("exif_transpose", True), bool):
        raise ValueError(f"{path}: preprocessing.exif_transpose: expected true or false")
    crop = prep.get("crop_border")
    if crop is not None and not (isinstance(crop, dict) and set(crop) <= {"bottom_fraction", "dark_threshold"}
                                 and all(_finite(v) for v in crop.values())):
        raise ValueError(f"{path}: preprocessing.crop_border: expected null or numbers bottom_fraction, "
                         "dark_threshold")


def _whole(value: object, least: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _finite(value: object) -> bool:
    return _number(value) and isinstance(value, (int, float)) and math.isfinite(value)


def _names(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value) \
        and len(set(value)) == len(value)


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


_FIELDS = (
    ("species", _names, "a list of distinct, non-empty species names"),
    ("metric", lambda v: v in METRICS, f"one of {list(METRICS)}"),
    ("k", lambda v: _whole(v, 1) and v <= MAX_K, f"a whole number from 1 to {MAX_K}"),
    ("novelty_threshold", _number, "a number (Infinity: nothing is flagged)"),
    ("preprocessing", lambda v: isinstance(v, dict), "an object"),
    ("embedder", lambda v: isinstance(v, dict), "an object describing the network"),
)
