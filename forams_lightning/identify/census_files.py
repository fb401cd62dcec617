"""The census as the files a palaeontologist reads and feeds on: census.csv (long form, `identify.census`),
census-wide.csv (one row per sample, its depth or age where given, one column per species: the counts, the table
transfer-function and diversity software read), census-wide-adjusted.csv (the same grid of adjusted shares) and
census.png (the stratigraphic figure, `viz.census`)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from forams_lightning.atomic import atomic_write_csv
from forams_lightning.data.samples import SamplePositions
from forams_lightning.identify.census import HEADER
from forams_lightning.identify.identified import IdentifiedSample

UNEXPLAINED_COLUMN = "unexplained"  # the wide tables' column of the share no known species explains


def wide_tables(rows: list[list], species: list[str],
                positions: SamplePositions | None = None) -> tuple[list[str], list[list], list[list]]:
    """(header, count rows, adjusted-share rows) of the long `rows`: samples in the long rows' order, every species
    of the library in its order (0 where absent), then the flagged specimens (counts) or the unexplained share,
    and the unreadable files."""
    counts: dict[str, dict[str, float]] = defaultdict(dict)
    shares: dict[str, dict[str, float]] = defaultdict(dict)
    for sample, kind, name, count, _, _, _, adjusted, *_ in rows:
        column = {"species": name, "unexplained": UNEXPLAINED_COLUMN, "unreadable": "unreadable"}.get(kind)
        if column is not None:
            counts[sample][column] = count
            shares[sample][column] = adjusted
    samples = list(dict.fromkeys(r[0] for r in rows))
    place = [positions.axis] if positions else []
    header = ["sample", *place, "specimens", *species, UNEXPLAINED_COLUMN, "unreadable"]
    count_rows, share_rows = [], []
    for sample in samples:
        where = [positions.values.get(sample, "")] if positions else []
        got, share = counts[sample], shares[sample]
        identified = sum(v for k, v in got.items() if k != "unreadable")
        count_rows.append([sample, *where, identified, *(got.get(s, 0) for s in species),
                           got.get(UNEXPLAINED_COLUMN, 0), got.get("unreadable", 0)])
        share_rows.append([sample, *where, identified, *(share.get(s, 0.0) if identified else "" for s in species),
                           share.get(UNEXPLAINED_COLUMN, "") if identified else "", got.get("unreadable", 0)])
    return header, count_rows, share_rows


def write_census(folder: Path, rows: list[list], species: list[str],
                 positions: SamplePositions | None = None) -> list[Path]:
    """census.csv, census-wide.csv, census-wide-adjusted.csv and census.png in `folder`.

    Args:
        folder: the run folder.
        rows: the census's long rows (`identify.census.HEADER`).
        species: the library's species, in its order (the wide tables' columns).
        positions: each sample's depth or age, where a samples table gives them.
    """
    from forams_lightning.viz.census import save_census_png

    atomic_write_csv(folder / "census.csv", HEADER, rows)
    header, count_rows, share_rows = wide_tables(rows, species, positions)
    atomic_write_csv(folder / "census-wide.csv", header, count_rows)
    atomic_write_csv(folder / "census-wide-adjusted.csv", header, share_rows)
    return [folder / name for name in ("census.csv", "census-wide.csv", "census-wide-adjusted.csv")] + \
        [save_census_png(rows, folder / "census.png", positions)]


def write_sample_census(run: Path, identified: IdentifiedSample, images: str = "") -> list[list] | None:
    """The census files of `identified` in `run`, its samples in the order of depth or age where `images` is a
    samples table that gives them (`data.samples.sample_positions`); returns the long rows, None (nothing written)
    where the files come as no samples."""
    from forams_lightning.data.samples import sample_positions

    positions = sample_positions(images) if images else None
    rows = identified.census(positions.order() if positions else None)
    if rows is None:
        return None
    write_census(run, rows, identified.library.species, positions)
    return rows
