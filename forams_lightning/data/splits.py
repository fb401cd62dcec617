"""Seeded, stratified, group-aware train/val/test splits, and their save/load as CSV.

A split assigns whole *units* to one part: a unit is a group (specimen, scan) where the table has groups, else one
image. Each species is split on its own, so every part holds every species that is large enough. Species with fewer
than `min_units` units cannot give a gallery image, a validation query and a test query; they go to train only (they
still serve as gallery entries and as negatives) and are listed in the report rather than silently dropped.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np

from forams_lightning.atomic import atomic_write_csv

SPLITS = ("train", "val", "test")


class SplitOptions(TypedDict, total=False):
    """`data.split`: the seeded draw's arguments (`stratified_split`), or `groups` naming each part's groups
    (`group_split`)."""

    val_fraction: float
    test_fraction: float
    seed: int
    min_units: int
    groups: dict


def stratified_split(
    species: Sequence[str],
    groups: Sequence[str | None] | None = None,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    *, seed: int = 0,
    min_units: int = 3,
) -> tuple[list[str], dict]:
    """Return the split name of every sample and a report of what happened to small species.

    Args:
        species: the species of every sample.
        groups: each one's group (kept in one part), or None.
        val_fraction: the share of each species for validation.
        test_fraction: the share for the test.
        seed: of the split.
        min_units: a species with fewer images (or groups) goes to train only.
    """
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError(f"split fractions val={val_fraction} test={test_fraction} must be in [0, 1) and sum below 1")
    n = len(species)
    unit_of = [g if g is not None else f"#{i}" for i, g in enumerate(groups if groups is not None else [None] * n)]
    units_by_species: dict[str, set[str]] = defaultdict(set)
    species_of_unit: dict[str, str] = {}
    for s, u in zip(species, unit_of):
        if species_of_unit.setdefault(u, s) != s:
            raise ValueError(f"group {u!r} holds images of two species ({species_of_unit[u]!r}, {s!r})")
        units_by_species[s].add(u)

    rng = np.random.default_rng(seed)
    part_of_unit, train_only = {}, []
    for s in sorted(units_by_species):
        units = sorted(units_by_species[s], key=_natural_key)
        units = [units[i] for i in rng.permutation(len(units))]
        if len(units) < min_units:
            train_only.append(s)
            part_of_unit.update({u: "train" for u in units})
            continue
        n_test = max(1, round(len(units) * test_fraction)) if test_fraction > 0 else 0
        n_val = max(1, round(len(units) * val_fraction)) if val_fraction > 0 else 0
        for k, u in enumerate(units):
            part_of_unit[u] = "test" if k < n_test else "val" if k < n_test + n_val else "train"
    parts = [part_of_unit[u] for u in unit_of]
    report = {"train_only_species": train_only, **{f"n_{p}": parts.count(p) for p in SPLITS}}
    return parts, report


def group_split(groups: Sequence[str | None], parts: dict[str, Sequence]) -> tuple[list[str], dict]:
    """Split by named groups, e.g. ``{"train": [100, 200, 300], "val": [400], "test": [500]}`` for the micro-CT
    scans: a fixed, published protocol instead of a seeded draw. Every group of the data must be named once."""
    unknown_parts = set(parts) - set(SPLITS)
    if unknown_parts:
        raise ValueError(f"data.split.groups: parts must be {SPLITS} (got {sorted(unknown_parts)})")
    part_of_group: dict = {}
    for part, names in parts.items():
        for g in names:
            if part_of_group.setdefault(str(g), part) != part:
                raise ValueError(f"data.split.groups: group {g!r} is listed under {part_of_group[str(g)]!r} "
                                 f"and {part!r}")
    unlisted = sorted({str(g) for g in groups} - set(part_of_group))
    if unlisted:
        raise ValueError(f"data.split.groups does not place group(s) {unlisted[:5]} (of the data's group column); "
                         f"listed: {sorted(part_of_group)}")
    result = [part_of_group[str(g)] for g in groups]
    return result, {"train_only_species": [], **{f"n_{p}": result.count(p) for p in SPLITS}}


def _natural_key(unit: str) -> tuple[int, str]:
    return (len(unit), unit)


def save_split(path: str | Path, rel_paths: Sequence[str], species: Sequence[str], parts: Sequence[str]) -> None:
    """A split written as split.csv (path, species, split), paths relative to the data root.

    Args:
        path: the split.csv to write.
        rel_paths: each image's path relative to the data root.
        species: each one's species.
        parts: each one's part (``train``, ``val``, ``test``, ``unknown_*``).
    """
    atomic_write_csv(path, ["path", "species", "split"], zip(rel_paths, species, parts))


@dataclass(frozen=True)
class SavedSplit:
    """A run's split.csv: each image's species and part, by path relative to the data root."""

    source: str
    rows: dict[str, tuple[str, str]]

    @classmethod
    def read(cls, path: str | Path) -> SavedSplit:
        with Path(path).open(newline="") as f:
            return cls(str(path), {r["path"]: (r["species"], r["split"]) for r in csv.DictReader(f)})

    def parts_of(self, rel_paths: Sequence[str], species: Sequence[str]) -> list[str]:
        """Parts of the given samples; refuses a split that does not match the data."""
        missing = [p for p in rel_paths if p not in self.rows]
        if missing:
            raise ValueError(f"data.split_file={self.source} does not list {len(missing)} image(s) of the data, "
                             f"e.g. {missing[:3]}")
        changed = [p for p, s in zip(rel_paths, species) if self.rows[p][0] != s]
        if changed:
            raise ValueError(f"data.split_file={self.source}: species changed for {len(changed)} image(s), "
                             f"e.g. {changed[:3]}")
        gone = len(self.rows) - len(rel_paths)
        if gone:
            raise ValueError(f"data.split_file={self.source} lists {gone} image(s) that are not in the data any more")
        return [self.rows[p][1] for p in rel_paths]


def load_split(path: str | Path, rel_paths: Sequence[str], species: Sequence[str]) -> list[str]:
    """Parts of the given samples from a saved split (`SavedSplit`)."""
    return SavedSplit.read(path).parts_of(rel_paths, species)


# The paper's footnote withholds "tail classes 1, 5, 9, 14, 22, 23, 26, 29, 33 and 34": read 1-based in alphabetical
# species order (B. digitata, G. adamsi, G. uvula, G. conglomerata, G. ungulata, G. hexagonus, H. pelagica,
# N. pachyderma, T. iota, T. humilis for Endless Forams). Stored 0-based into the sorted species list.
OPEN_SET_PRESETS = {"paper_tail10": (0, 4, 8, 13, 21, 22, 25, 28, 32, 33)}


class OpenSetOptions(TypedDict, total=False):
    """`data.open_set`: the arguments of `held_out_species`, or `class_split_column` naming a manifest column that
    already assigns every species to train / val / test (class-disjoint benchmarks)."""

    unknown: str | list | None
    folds: int | None
    fold: int
    seed: int
    class_split_column: str | None


def held_out_species(
    species: Sequence[str],
    unknown: str | Sequence[str | int] | None = None,
    folds: int | None = None,
    fold: int = 0,
    *, seed: int = 0,
) -> list[str]:
    """Species withheld from training: a preset name, a list of names or indices into the sorted species, or
    fold `fold` of a seeded species-level `folds`-fold partition.

    Args:
        species: every species of the data.
        unknown: a preset name, or names or indices into the sorted species.
        folds: a species-level fold partition instead.
        fold: the fold withheld.
        seed: of the partition.
    """
    species = sorted(set(species))
    if isinstance(unknown, str):
        if unknown not in OPEN_SET_PRESETS:
            raise ValueError(f"data.open_set.unknown={unknown!r}: unknown preset; presets: {list(OPEN_SET_PRESETS)}")
        preset = OPEN_SET_PRESETS[unknown]
        if len(species) <= max(preset):
            raise ValueError(f"data.open_set.unknown={unknown} needs at least {max(preset) + 1} species "
                             f"(the data has {len(species)})")
        unknown = list(preset)
    if unknown is not None:
        chosen = []
        for item in unknown:
            if isinstance(item, int):
                if not 0 <= item < len(species):
                    raise ValueError(f"data.open_set.unknown: index {item} outside 0..{len(species) - 1}")
                chosen.append(species[item])
            elif item in species:
                chosen.append(item)
            else:
                raise ValueError(f"data.open_set.unknown: species {item!r} is not in the data")
        return sorted(set(chosen))
    if folds is None:
        return []
    if not 2 <= folds <= len(species) or not 0 <= fold < folds:
        raise ValueError(f"data.open_set: need 2 <= folds <= {len(species)} species and 0 <= fold < folds "
                         f"(got folds={folds}, fold={fold})")
    order = np.random.default_rng(seed).permutation(len(species))
    return sorted(species[i] for i in np.array_split(order, folds)[fold])
