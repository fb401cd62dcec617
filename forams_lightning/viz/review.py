"""review.html: the expert's check of `identify`, and the way the expert's verdicts come back.

One row per specimen, least certain first (novel, then lowest vote share, then highest novelty score): its image,
the references it was voted with (their species and distances), the vote, the novelty score and flag, and a verdict
(confirm the voted species, correct it, choosing a species of the library or typing a new name, or skip).
"Save verdicts" downloads `verdicts.csv` (file, species), which
`python -m forams_lightning.library add library=DIR images=verdicts.csv` adds to the library. Verdicts persist in the
browser (localStorage) across pages and reloads.

A whole sample is split into pages of `rows_per_page` (review.html, review-2.html, ...); every image is a small JPEG
stored once in `review_files/` beside the pages, so the folder opens offline, scales to tens of thousands of
specimens, and can be zipped and mailed.
"""

from __future__ import annotations

import hashlib
import html
import math
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from forams_lightning.atomic import atomic_write_text
from forams_lightning.viz.thumbnails import save_thumbnail

FILES_DIR = "review_files"

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
td, th { border-bottom: 1px solid #ddd; padding: 6px; vertical-align: top; text-align: left; font-size: 13px; }
td.refs { white-space: nowrap; }
figure { display: inline-block; margin: 0 4px; text-align: center; font-size: 11px; }
img { display: block; border: 3px solid transparent; }
.vote img { border-color: #2a8a3e; } .other img { border-color: #c44; }
.novel { background: #fff3e0; } .flag { color: #b35900; font-weight: bold; }
.missing { width: 64px; height: 64px; background: #eee; display: flex; align-items: center; justify-content: center; }
.verdict label { display: block; margin: 2px 0; white-space: nowrap; }
.toolbar { position: sticky; top: 0; background: #f5f5f5; padding: 8px; border: 1px solid #ddd; margin: 8px 0; }
nav a, nav b { margin-right: 6px; }
#verdicts-csv { white-space: pre; font-size: 11px; color: #555; }
"""

SCRIPT = r"""
const KEY = 'forams-review-' + document.body.dataset.review;
function loadVerdicts() { try { return JSON.parse(localStorage.getItem(KEY) || '{}'); } catch (e) { return {}; } }
function storeVerdicts() { try { localStorage.setItem(KEY, JSON.stringify(verdicts)); } catch (e) {} }
let verdicts = loadVerdicts();
function rowVerdict(row) {
  const choice = row.querySelector('input[type=radio]:checked').value;
  if (choice === 'confirm') return row.dataset.species;
  if (choice === 'correct') return row.querySelector('input.correction').value.trim() || null;
  return null;
}
function update(row) {
  const species = rowVerdict(row);
  if (species) { verdicts[row.dataset.file] = species; } else { delete verdicts[row.dataset.file]; }
  storeVerdicts();
  showCount();
}
function showCount() { document.getElementById('n-verdicts').textContent = Object.keys(verdicts).length; }
function csvCell(s) { return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; }
function verdictsCsv() {
  const rows = Object.entries(verdicts).map(([file, species]) => csvCell(file) + ',' + csvCell(species));
  return 'file,species\n' + rows.map(r => r + '\n').join('');
}
function saveVerdicts() {
  const csv = verdictsCsv();
  document.getElementById('verdicts-csv').textContent = csv;
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([csv], {type: 'text/csv'}));
  link.download = 'verdicts.csv';
  document.body.appendChild(link);
  link.click();
  link.remove();
}
// The verdict controls and the full path are built here, not written into every row: a page of a large sample
// stays about 1 KB a specimen.
const VERDICT = '<label><input type="radio" name="NAME" value="confirm"> confirm</label>' +
  '<label><input type="radio" name="NAME" value="correct"> correct: ' +
  '<input class="correction" list="species" placeholder="species" size="18"></label>' +
  '<label><input type="radio" name="NAME" value="skip" checked> skip</label>';
document.querySelectorAll('tr.specimen').forEach((row, i) => {
  row.querySelector('td.verdict').innerHTML = VERDICT.replace(/NAME/g, 'v' + i);
  const path = document.createElement('small');
  path.textContent = row.dataset.file;
  row.cells[1].append(document.createElement('br'), path);
  const saved = verdicts[row.dataset.file];
  if (saved === row.dataset.species) {
    row.querySelector('input[value=confirm]').checked = true;
  } else if (saved) {
    row.querySelector('input[value=correct]').checked = true;
    row.querySelector('input.correction').value = saved;
  }
  row.querySelectorAll('input[type=radio]').forEach(input => input.addEventListener('change', () => update(row)));
  row.querySelector('input.correction').addEventListener('input', () => {
    row.querySelector('input[value=correct]').checked = true;
    update(row);
  });
});
document.getElementById('save').addEventListener('click', saveVerdicts);
document.getElementById('clear').addEventListener('click', () => {
  if (confirm('Forget every verdict of this review?')) { verdicts = {}; storeVerdicts(); location.reload(); }
});
showCount();
"""


def uncertainty_order(novel: np.ndarray, vote_share: np.ndarray, novelty_score: np.ndarray) -> np.ndarray:
    """Indices, least certain first: novel specimens, then by ascending vote share, then by descending novelty score
    (the score the novel flag thresholds)."""
    return np.lexsort((-np.asarray(novelty_score), np.asarray(vote_share), ~np.asarray(novel, bool)))


def page_name(page: int) -> str:
    return "review.html" if page == 1 else f"review-{page}.html"


def write_review(folder: str | Path, specimens: Sequence[dict], failures: list[tuple[str, str]], title: str,
                 species: list[str], n_novel: int, thumbnail_size: int = 64, rows_per_page: int = 200,
                 exif_transpose: bool = True) -> list[Path]:
    """Writes the review pages into `folder` (review.html first) and their thumbnails into `folder/review_files/`;
    returns the pages. `specimens`: in the order to show (`uncertainty_order`), a sequence read page by page (slices)
    of dicts with file, species, vote_share, novelty_score, novel, neighbours [{file, species, distance}];
    `failures`:
    (file, error) of files that could not be read; `species`: the library's names, offered when correcting."""
    folder = Path(folder)
    thumbs = _Thumbnails(folder / FILES_DIR, thumbnail_size, exif_transpose)
    pages = max(1, math.ceil(len(specimens) / rows_per_page))
    review_id = hashlib.sha1(f"{folder.resolve()}|{title}|{len(specimens)}".encode()).hexdigest()[:12]
    summary = (f"{len(specimens)} specimens identified, {n_novel} flagged novel, "
               f"{len(failures)} unreadable; least certain first, {rows_per_page} a page. Green frame: reference of "
               "the voted species.")
    datalist = "".join(f'<option value="{html.escape(name)}">' for name in species)
    failed = "".join(f"<li>{html.escape(f)}: {html.escape(e)}</li>" for f, e in failures)
    written = []
    for page in range(1, pages + 1):
        chunk = specimens[(page - 1) * rows_per_page: page * rows_per_page]
        rows = "".join(_row(s, thumbs) for s in chunk)
        body = (
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)} ({page}/{pages})</title>'
            f'<style>{STYLE}</style></head><body data-review="{review_id}"><h1>{html.escape(title)}</h1>'
            f"<p>{summary}</p>{_navigation(page, pages)}"
            '<div class="toolbar"><button id="save">Save verdicts (CSV)</button> '
            '<span id="n-verdicts">0</span> verdicts from all pages so far, kept in this browser. '
            '<button id="clear">Forget them</button> Then: <code>python -m forams_lightning.library add '
            'library=DIR images=verdicts.csv</code></div>'
            f'<datalist id="species">{datalist}</datalist>'
            "<table><thead><tr><th>specimen</th><th>identification</th><th>nearest references</th>"
            f"<th>verdict</th></tr></thead><tbody>{rows}</tbody></table>{_navigation(page, pages)}"
            + (f"<h2>Unreadable files</h2><ul>{failed}</ul>" if failures and page == 1 else "")
            + f'<h2>Saved verdicts</h2><div id="verdicts-csv"></div><script>{SCRIPT}</script></body></html>')
        path = folder / page_name(page)
        atomic_write_text(path, body)
        written.append(path)
    return written


def _row(s: dict, thumbs: "_Thumbnails") -> str:
    neighbours = "".join(
        f'<figure class="{"vote" if nb["species"] == s["species"] else "other"}">'
        f'{thumbs.img(nb["file"], alt=False, fallback=nb.get("thumbnail"))}'
        f'<figcaption>{html.escape(nb["species"])}<br>d = {nb["distance"]:.3f}</figcaption></figure>'
        for nb in s["neighbours"])
    flag = ('<div class="flag">NOVEL? far from every reference (novelty score beyond threshold)</div>'
            if s["novel"] else "")
    species = html.escape(s["species"])
    return (
        f'<tr class="specimen{" novel" if s["novel"] else ""}" data-file="{html.escape(s["file"])}" '
        f'data-species="{species}"><td>{thumbs.img(s["file"])}</td>'
        f'<td><b>{species}</b><br>vote {s["vote_share"]:.0%}<br>novelty {s["novelty_score"]:.3f}{flag}</td>'
        f'<td class="refs">{neighbours}</td><td class="verdict"></td></tr>')  # verdict, path: SCRIPT


def _navigation(page: int, pages: int) -> str:
    if pages == 1:
        return ""
    links = [f"<b>{p}</b>" if p == page else f'<a href="{page_name(p)}">{p}</a>' for p in range(1, pages + 1)]
    return f"<nav>pages: {''.join(links)}</nav>"


class _Thumbnails:
    """One small JPEG per distinct image, named by a hash of its path, written on first use; where the image cannot
    be read (moved, or on another machine), the `fallback` thumbnail a reference library keeps of it is copied."""

    def __init__(self, folder: Path, size: int, exif_transpose: bool):
        self.folder, self.size, self.exif_transpose, self.done = folder, size, exif_transpose, {}

    def img(self, file: str, alt: bool = True, fallback: str | None = None) -> str:
        if file not in self.done:
            self.done[file] = self._write(file, fallback)
        name = self.done[file]
        if name is None:  # a moved or unreadable image shows as a grey box, not a crash
            return '<div class="missing">not found</div>'
        return f'<img src="{FILES_DIR}/{name}" alt="{html.escape(Path(file).name) if alt else ""}" loading="lazy">'

    def _write(self, file: str, fallback: str | None) -> str | None:
        name = hashlib.sha1(file.encode()).hexdigest()[:20] + ".jpg"
        if save_thumbnail(file, self.folder / name, self.size, self.exif_transpose):
            return name
        if fallback and Path(fallback).is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fallback, self.folder / name)
            return name
        return None
