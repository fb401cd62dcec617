"""review.html: the expert's check of `identify`, and the way the expert's verdicts come back, rendered from
autoescaping Jinja templates (`identify/templates/`) with its styles and scripts as files (`identify/static/`), as
the live review's pages are.

One row per specimen, in the review order (`metrics.review_order`): its image, the references it was voted with
(their species and distances), the vote, the novelty score and flag, and a verdict (confirm the voted species,
correct it, choosing a species of the library or typing a new name, or skip). "Save verdicts" downloads
`verdicts.csv` (file, species), which `python -m forams_lightning.library add library=DIR images=verdicts.csv` adds
to the library. Verdicts persist in the browser (localStorage) across pages and reloads.

Candidate new species (`identify.groups`) get a page of their own, review-groups.html: each group's thumbnails, its
medoid first, and one field that names the group: the name becomes the verdict of every member.

A whole sample is split into pages of `rows_per_page` (review.html, review-2.html, ...); every image is a small JPEG
stored once in `review_files/` beside the pages, with the pages' styles and scripts, so the folder opens offline,
scales to tens of thousands of specimens, and can be zipped and mailed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import shutil
from pathlib import Path

import numpy as np
from jinja2 import Environment, FileSystemLoader

from forams_lightning.atomic import atomic_write_text
from forams_lightning.identify.groups import CandidateGroup
from forams_lightning.identify.identified import IdentifiedSample
from forams_lightning.viz.thumbnails import save_thumbnail

log = logging.getLogger(__name__)

FILES_DIR = "review_files"
GROUPS_PAGE = "review-groups.html"
GROUP_THUMBNAILS = 24  # shown of a group; every member is named with it
BENEFIT_MAX = 20_000  # specimens the benefit order weighs (their 10 nearest of each other: seconds)
STATIC = ("review_page.css", "review_page.js", "review_keys.js", "review_groups.js")
SUMMARY = ("{n} specimens identified, {novel} flagged novel, {unreadable} unreadable; least certain first, {rows} a "
           "page. Green frame: reference of the voted species. Neighbours in the order the vote ranked them, with the "
           "distance it ranked by (re-ranked where the library is: nearer than the plain distance to a reference "
           "close to few species). The vote is balanced: a species scores the share of its possible votes (min(k, "
           "its references)) it gets, so a species known from few references can win with fewer neighbours; 'vote' "
           "is its share of all k.")


def page_name(page: int) -> str:
    return "review.html" if page == 1 else f"review-{page}.html"


@functools.cache
def _templates() -> Environment:
    return Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
                       trim_blocks=False)


def review_order(identified: IdentifiedSample, order: str, embeddings: np.ndarray | None) -> np.ndarray:
    """The identified specimens in the review `order` (``benefit`` needs the sample's `embeddings`, and falls back
    to ``uncertainty`` beyond `BENEFIT_MAX` specimens, said once)."""
    among = identified.identified()
    if order == "benefit" and (embeddings is None or len(among) > BENEFIT_MAX):
        log.info("review order: least certain first (the benefit order weighs up to %d specimens)", BENEFIT_MAX)
        order = "uncertainty"
    return identified.review_order(order, embeddings, among)


def write_review_pages(folder: str | Path, identified: IdentifiedSample, *, title: str, order: str = "uncertainty",
                       embeddings: np.ndarray | None = None, thumbnail_size: int = 64,
                       rows_per_page: int = 200) -> list[Path]:
    """Writes the review pages into `folder` (review.html first), their thumbnails, styles and scripts into
    `folder/review_files/`; returns the pages.

    Args:
        folder: the run folder.
        identified: the sample as identified.
        title: the pages' title.
        order: the review order (`metrics.review_order.ORDERS`).
        embeddings: the sample's embeddings (rows of its files), for the ``benefit`` order.
        thumbnail_size: the thumbnails' size in pixels.
        rows_per_page: specimens a page.
    """
    folder = Path(folder)
    ranked = review_order(identified, order, embeddings)
    thumbs = _Thumbnails(folder / FILES_DIR, thumbnail_size, identified.library.preprocessing.get("exif_transpose",
                                                                                                  True))
    _copy_static(folder / FILES_DIR)
    pages = max(1, math.ceil(len(ranked) / rows_per_page))
    shared = _shared(folder, identified, title, len(ranked), pages=pages)
    summary = SUMMARY.format(n=len(ranked), novel=int(identified.novel[ranked].sum()), rows=rows_per_page,
                             unreadable=len(identified.errors))
    failures = [(identified.files[i], e) for i, e in sorted(identified.errors.items())]
    written = []
    for number in range(1, pages + 1):
        chunk = ranked[(number - 1) * rows_per_page: number * rows_per_page]
        written.append(_render(folder / page_name(number), "review_page.html", shared, label=f"{number}/{pages}",
                               script="review_keys.js", number=number, summary=summary, failures=failures,
                               specimens=[_specimen(identified, int(i), thumbs) for i in chunk]))
    if identified.groups:
        groups = [_group(identified, g, thumbs) for g in identified.groups]
        written.append(_render(folder / GROUPS_PAGE, "review_groups.html", shared, label="candidate groups",
                               script="review_groups.js", summary=_groups_summary(groups), groups=groups))
    return written


def _shared(folder: Path, identified: IdentifiedSample, title: str, n: int, *, pages: int) -> dict:
    """What every page of one review shares: the title, the id its verdicts are kept under, the toolbar's links."""
    return {"title": title, "review_id": hashlib.sha1(f"{folder.resolve()}|{title}|{n}".encode()).hexdigest()[:12],
            "species": identified.library.species, "has_groups": bool(identified.groups), "files": FILES_DIR,
            "first_page": page_name(1), "groups_page": GROUPS_PAGE, "pages": pages,
            "page_names": [page_name(p) for p in range(1, pages + 1)]}


def _render(path: Path, template: str, shared: dict, **values: object) -> Path:
    atomic_write_text(path, _templates().get_template(template).render(**shared, **values))
    return path


def _copy_static(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in STATIC:
        shutil.copyfile(Path(__file__).parent / "static" / name, target / name)


def _specimen(identified: IdentifiedSample, i: int, thumbs: _Thumbnails) -> dict:
    """A row's values, formatted as the page shows them."""
    s = identified.specimen(i)
    return {**s, "name": Path(s["file"]).name, "image": thumbs.name(s["file"]), "vote": f"{s['vote_share']:.0%}",
            "novelty": f"{s['novelty_score']:.3f}",
            "neighbours": [{"species": nb["species"], "distance": f"{nb['distance']:.3f}",
                            "image": thumbs.name(nb["file"], nb["thumbnail"])} for nb in s["neighbours"]]}


def _group(identified: IdentifiedSample, group: CandidateGroup, thumbs: _Thumbnails) -> dict:
    files = [identified.files[m] for m in group.members]
    return {"name": group.name, "size": len(files), "files": json.dumps(files),
            "images": [thumbs.name(f) for f in files[:GROUP_THUMBNAILS]],
            "nearest": identified.library.species[group.nearest_species],
            "distance": f"{group.nearest_distance:.3f}"}


def _groups_summary(groups: list[dict]) -> str:
    sizes = [g["size"] for g in groups]
    return (f"{len(groups)} candidate groups of {sum(sizes)} specimens ({sum(s == 1 for s in sizes)} alone), largest "
            "first, each with its medoid first. A name given to a group (a new species, or a known one) is the "
            "verdict of every member; clear it to take them back.")


class _Thumbnails:
    """One small JPEG per distinct image, named by a hash of its path, written on first use; where the image cannot
    be read (moved, or on another machine), the `fallback` thumbnail a reference library keeps of it is copied."""

    def __init__(self, folder: Path, size: int, exif_transpose: bool):
        self.folder, self.size, self.exif_transpose = folder, size, exif_transpose
        self.done: dict[str, str | None] = {}

    def name(self, file: str, fallback: str | None = None) -> str | None:
        """The thumbnail's file name in `folder`, None where there is none (a grey box on the page)."""
        if file not in self.done:
            self.done[file] = self._write(file, fallback)
        return self.done[file]

    def _write(self, file: str, fallback: str | None) -> str | None:
        name = hashlib.sha1(file.encode()).hexdigest()[:20] + ".jpg"
        if save_thumbnail(file, self.folder / name, self.size, self.exif_transpose):
            return name
        if fallback and Path(fallback).is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fallback, self.folder / name)
            return name
        return None
