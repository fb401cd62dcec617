"""The data of a run as one table: the readable samples, the species (known first), each sample's part (train, val,
test, unknown_val, unknown_test) and the split report. Pure: built from samples already read and screened."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from forams_lightning.data.layouts import Sample, spelling_variants
from forams_lightning.data.splits import SavedSplit, group_split, held_out_species, stratified_split

log = logging.getLogger(__name__)


@dataclass
class Catalogue:
    """`labels[i]` indexes `species`; the first `num_classes` species are the known ones (the softmax head covers
    exactly them), the species withheld from training follow."""

    samples: list[Sample]
    species: list[str]
    num_classes: int
    labels: list[int]
    parts: list[str]
    report: dict = field(default_factory=dict)
    root: str | None = None

    def indices(self, part: str) -> list[int]:
        return [i for i, p in enumerate(self.parts) if p == part]

    def paths(self, part: str) -> list[str]:
        return [self.samples[i].path for i in self.indices(part)]

    def part_labels(self, part: str) -> list[int]:
        return [self.labels[i] for i in self.indices(part)]

    def relative_paths(self) -> list[str]:
        """Sample paths relative to the data root (as split.csv lists them)."""
        return [os.path.relpath(s.path, self.root) if self.root else s.path for s in self.samples]

    def eval_parts(self, stage: str) -> list[str]:
        """The evaluation parts of `stage` ("val" or "test"), in loader order: the gallery, the known queries, the
        unseen species; an open-set test also embeds the validation species (where the data has them): clustering
        cuts are calibrated there, never on test species."""
        wanted = ["train", stage, f"unknown_{stage}"] + (["unknown_val"] if stage == "test" else [])
        present = set(self.parts)
        return [p for p in wanted if p in present]


def build_catalogue(samples: list[Sample], root: str | None = None, open_set: Mapping | None = None,
                    split: Mapping | None = None, *, saved_split: SavedSplit | None = None,
                    bad_images: int = 0) -> Catalogue:
    """The catalogue of screened `samples`: species withheld per `open_set` (`unknown_parts`), the rest split per
    `split` (`data.split`) or as `saved_split` says (a run's split.csv).

    Args:
        samples: the screened samples (path, species, group).
        root: the data's root folder (paths in split.csv are relative to it).
        open_set: the open-set options (`data.open_set`: which species are withheld).
        split: the split options (`data.split`).
        saved_split: a run's saved split, used instead of `split`.
        bad_images: how many images screening left out (for the report).
    """
    names = [s.species for s in samples]
    variants = spelling_variants(sorted(set(names)))
    if variants:
        log.warning("species names that differ only in case, spaces or underscores are treated as different "
                    "species; unify the labels if they are one: %s", variants)
    unknown = unknown_parts(samples, open_set or {})
    known = sorted(set(names) - set(unknown))
    species = known + sorted(unknown)
    index = {name: i for i, name in enumerate(species)}
    catalogue = Catalogue(samples, species, len(known), [index[n] for n in names], [], {}, root)
    if saved_split is not None:
        catalogue.parts = saved_split.parts_of(catalogue.relative_paths(), names)
    else:
        catalogue.parts, catalogue.report = split_parts(samples, unknown, split or {})
    _check_and_report(catalogue, unknown, bad_images)
    return catalogue


def unknown_parts(samples: list[Sample], open_set: Mapping) -> dict[str, str]:
    """Species withheld from training, mapped to their evaluation part. A class split given by the data takes
    precedence over `unknown` / `folds` (so `+experiment=open_set data=radiolaria` uses the given split)."""
    options = {k: v for k, v in open_set.items() if k != "class_split_column" and v is not None}
    if open_set.get("class_split_column"):
        by_species: dict[str, str | None] = {}
        for s in samples:
            if by_species.setdefault(s.species, s.class_split) != s.class_split:
                raise ValueError(f"species {s.species!r} has images in two class splits "
                                 f"({by_species[s.species]!r}, {s.class_split!r})")
        bad = {str(v) for v in by_species.values() if v not in ("train", "val", "test")}
        if bad:
            raise ValueError(f"class split column values must be train/val/test (got {sorted(bad)})")
        return {sp: f"unknown_{v}" for sp, v in by_species.items() if v != "train"}
    if not options:
        return {}
    return {sp: "unknown_test" for sp in held_out_species([s.species for s in samples], **options)}


def split_parts(samples: list[Sample], unknown: dict[str, str], split: Mapping) -> tuple[list[str], dict]:
    """The part of every sample (withheld species in their unknown part, the known ones split by `split`: a seeded
    stratified draw, or `groups` naming each part's groups), and the split report."""
    names = [s.species for s in samples]
    known_ix = [i for i, n in enumerate(names) if n not in unknown]
    groups = [s.group for s in samples] if any(s.group for s in samples) else None
    options = dict(split)
    fixed = options.pop("groups", None)
    if fixed:
        if groups is None:
            raise ValueError("data.split.groups needs a group column (data.manifest_columns.group_column)")
        parts, report = group_split([groups[i] for i in known_ix], fixed)
    else:
        parts, report = stratified_split([names[i] for i in known_ix],
                                         [groups[i] for i in known_ix] if groups else None, **options)
    if report["train_only_species"]:
        log.warning("too few images to validate/test these species; they are in the gallery only: %s",
                    report["train_only_species"])
    result = [unknown.get(n, "") for n in names]  # every known one is given its part below
    for i, p in zip(known_ix, parts):
        result[i] = p
    return result, report


def _check_and_report(catalogue: Catalogue, unknown: dict[str, str], bad_images: int) -> None:
    """No withheld species in train or val; species without a reference are warned of; the report completed."""
    names, parts, report = [s.species for s in catalogue.samples], catalogue.parts, catalogue.report
    leaked = {names[i] for i, p in enumerate(parts) if p in ("train", "val") and names[i] in unknown}
    if leaked:
        raise RuntimeError(f"open set violated: species {sorted(leaked)} held out but present in train/val")
    if unknown:
        report["unknown_species"] = sorted(unknown)
    report["bad_images"] = bad_images
    in_train = {names[i] for i, p in enumerate(parts) if p == "train"}
    orphans = sorted({names[i] for i, p in enumerate(parts) if p in ("val", "test")} - in_train)
    if orphans:
        log.warning("species with validation/test images but no training image (no reference to match, so "
                    "their queries count as errors): %s", orphans)
        report["species_without_references"] = orphans
