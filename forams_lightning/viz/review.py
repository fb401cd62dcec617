"""review.html: the expert's check of `identify`, and the way the expert's verdicts come back.

One row per specimen, least certain first (novel, then lowest vote share, then highest novelty score): its image,
the references it was voted with (their species and distances), the vote, the novelty score and flag, and a verdict
(confirm the voted species, correct it, choosing a species of the library or typing a new name, or skip).
"Save verdicts" downloads `verdicts.csv` (file, species), which
`python -m forams_lightning.library add library=DIR images=verdicts.csv` adds to the library. Verdicts persist in the
browser (localStorage) across pages and reloads.

Candidate new species (`reference.novel_groups`) get a page of their own, review-groups.html: each group's
thumbnails, its medoid first, and one field that names the group: the name becomes the verdict of every member.

A whole sample is split into pages of `rows_per_page` (review.html, review-2.html, ...); every image is a small JPEG
stored once in `review_files/` beside the pages, so the folder opens offline, scales to tens of thousands of
specimens, and can be zipped and mailed.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import shutil
from collections.abc import Sequence
from pathlib import Path

from forams_lightning.atomic import atomic_write_text
from forams_lightning.viz.thumbnails import save_thumbnail

FILES_DIR = "review_files"
GROUPS_PAGE = "review-groups.html"
GROUP_THUMBNAILS = 24  # shown of a group; every member is named with it

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
.group { border-bottom: 1px solid #ddd; padding: 8px 0; } .group h3 { font-size: 14px; margin: 4px 0; }
tr.current { outline: 3px solid #2a6fd6; } tr.current[data-chosen]::after { content: attr(data-chosen); }
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

# The live review's keys on a static page: a current row (j/k, arrows), 1-9 its n-th candidate species (the species
# of its neighbours, the voted one first), Enter confirms the chosen one, n types a name, s skips, u undoes, ? keys.
KEYS_SCRIPT = r"""
(() => {
const rows = Array.from(document.querySelectorAll('tr.specimen'));
let at = 0, chosen = 0;
const undoStack = [];
function candidates(row) {
  const names = Array.from(row.querySelectorAll('td.refs figcaption')).map(c => c.childNodes[0].textContent);
  return Array.from(new Set([row.dataset.species, ...names]));
}
function focusRow(i) {
  if (!rows.length) return;
  rows[at].classList.remove('current');
  at = Math.max(0, Math.min(i, rows.length - 1)); chosen = 0;
  rows[at].classList.add('current');
  rows[at].scrollIntoView({block: 'center'});
}
function setVerdict(row, species) {
  undoStack.push([row, verdicts[row.dataset.file]]);
  const confirm = species === row.dataset.species;
  const choice = confirm ? 'confirm' : (species ? 'correct' : 'skip');
  row.querySelector(`input[value=${choice}]`).checked = true;
  if (!confirm && species) row.querySelector('input.correction').value = species;
  update(row);
}
document.addEventListener('keydown', event => {
  if (event.target.tagName === 'INPUT' || event.ctrlKey || event.metaKey || event.altKey || !rows.length) return;
  const key = event.key, row = rows[at];
  if (/^[1-9]$/.test(key)) { chosen = Number(key) - 1; row.dataset.chosen = candidates(row)[chosen] || ''; }
  else if (key === 'Enter') { const c = candidates(row)[chosen]; if (c) { setVerdict(row, c); focusRow(at + 1); } }
  else if (key === 'n') {
    event.preventDefault();
    undoStack.push([row, verdicts[row.dataset.file]]);
    row.querySelector('input[value=correct]').checked = true;
    row.querySelector('input.correction').focus();
  }
  else if (key === 's') { setVerdict(row, null); focusRow(at + 1); }
  else if (key === 'u' && undoStack.length) {
    const [back, previous] = undoStack.pop();
    if (previous) { verdicts[back.dataset.file] = previous; } else { delete verdicts[back.dataset.file]; }
    storeVerdicts(); location.reload();
  }
  else if (key === 'j' || key === 'ArrowDown') focusRow(at + 1);
  else if (key === 'k' || key === 'ArrowUp') focusRow(at - 1);
  else if (key === '?') { const help = document.getElementById('keys'); help.hidden = !help.hidden; }
  else return;
  event.preventDefault();
});
rows.forEach((row, i) => row.querySelector('input.correction').addEventListener('keydown', event => {
  if (event.key !== 'Enter' && event.key !== 'Escape') return;
  event.target.blur();
  if (event.key === 'Enter') focusRow(i + 1);
}));
focusRow(0);
})();
"""


# A group's name is the verdict of every member: one entry per file in the verdicts every page shares.
GROUP_SCRIPT = r"""
document.querySelectorAll('div.group').forEach(group => {
  const files = JSON.parse(group.dataset.files);
  const input = group.querySelector('input.group-name');
  const names = new Set(files.map(f => verdicts[f]));
  if (names.size === 1 && verdicts[files[0]]) { input.value = verdicts[files[0]]; }
  input.addEventListener('input', () => {
    const name = input.value.trim();
    files.forEach(f => { if (name) { verdicts[f] = name; } else { delete verdicts[f]; } });
    storeVerdicts();
    showCount();
  });
});
"""


KEYS_HELP = ("Keys: j/k or arrows move, 1-9 choose the n-th candidate species, Enter confirms it (the vote unless "
             "another is chosen), n types a name, s skips, u undoes, ? this help. <code>python -m "
             "forams_lightning.review run=THIS_FOLDER</code> opens the live review, where every verdict "
             "re-identifies the rest.")


def page_name(page: int) -> str:
    return "review.html" if page == 1 else f"review-{page}.html"


def write_review(folder: str | Path, specimens: Sequence[dict], failures: list[tuple[str, str]], title: str,
                 species: list[str], n_novel: int, thumbnail_size: int = 64, rows_per_page: int = 200,
                 exif_transpose: bool = True, groups: Sequence[tuple[str, list[str], str, float]] = ()) -> list[Path]:
    """Writes the review pages into `folder` (review.html first) and their thumbnails into `folder/review_files/`;
    returns the pages. `specimens`: in the order to show (`metrics.review_order`), a sequence read page by page (slices)
    of dicts with file, species, vote_share, novelty_score, novel, neighbours [{file, species, distance}];
    `failures`: (file, error) of files that could not be read; `species`: the library's names, offered when
    correcting; `groups`: candidate new species (name, member files with the medoid first, nearest known species,
    its distance), shown on review-groups.html with one field that names every member."""
    folder = Path(folder)
    thumbs = _Thumbnails(folder / FILES_DIR, thumbnail_size, exif_transpose)
    pages = max(1, math.ceil(len(specimens) / rows_per_page))
    page = _Page(title, hashlib.sha1(f"{folder.resolve()}|{title}|{len(specimens)}".encode()).hexdigest()[:12],
                 species, bool(groups))
    summary = (f"{len(specimens)} specimens identified, {n_novel} flagged novel, "
               f"{len(failures)} unreadable; least certain first, {rows_per_page} a page. Green frame: reference of "
               "the voted species. Neighbours in the order the vote ranked them, with the distance it ranked by "
               "(re-ranked where the library is: nearer than the plain distance to a reference close to few "
               "species). The vote is balanced: a species scores the share of its possible votes (min(k, its "
               "references)) it gets, so a species known from few references can win with fewer neighbours; "
               "'vote' is its share of all k.")
    failed = "".join(f"<li>{html.escape(f)}: {html.escape(e)}</li>" for f, e in failures)
    written = []
    for number in range(1, pages + 1):
        chunk = specimens[(number - 1) * rows_per_page: number * rows_per_page]
        rows = "".join(_row(s, thumbs) for s in chunk)
        content = ("<table><thead><tr><th>specimen</th><th>identification</th><th>nearest references</th>"
                   f"<th>verdict</th></tr></thead><tbody>{rows}</tbody></table>{_navigation(number, pages)}"
                   + (f"<h2>Unreadable files</h2><ul>{failed}</ul>" if failures and number == 1 else ""))
        written.append(page.write(folder / page_name(number), f"{number}/{pages}",
                                  f"<p>{summary}</p>{_navigation(number, pages)}", content))
    if groups:
        written.append(page.write(folder / GROUPS_PAGE, "candidate groups", f"<p>{_groups_summary(groups)}</p>",
                                  "".join(_group(g, thumbs) for g in groups), GROUP_SCRIPT))
    return written


class _Page:
    """What every page of one review shares: the title, the id its verdicts are kept under, the toolbar."""

    def __init__(self, title: str, review_id: str, species: list[str], has_groups: bool):
        self.title, self.review_id, self.has_groups = title, review_id, has_groups
        self.datalist = "".join(f'<option value="{html.escape(name)}">' for name in species)

    def write(self, path: Path, label: str, intro: str, content: str, script: str = "") -> Path:
        links = (f' <a href="{page_name(1)}">specimens</a> | <a href="{GROUPS_PAGE}">candidate groups</a>'
                 if self.has_groups else "")
        body = (
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(self.title)} ({label})</title>'
            f'<style>{STYLE}</style></head><body data-review="{self.review_id}"><h1>{html.escape(self.title)}</h1>'
            f'{intro}<div class="toolbar"><button id="save">Save verdicts (CSV)</button> '
            '<span id="n-verdicts">0</span> verdicts from all pages so far, kept in this browser. '
            '<button id="clear">Forget them</button> <kbd>?</kbd> keys. Then: <code>'
            'python -m forams_lightning.library add '
            f'library=DIR images=verdicts.csv</code>{links}</div><datalist id="species">{self.datalist}</datalist>'
            f'{content}<h2>Saved verdicts</h2><div id="verdicts-csv"></div><div id="keys" hidden>{KEYS_HELP}</div>'
            f'<script>{SCRIPT}{script or KEYS_SCRIPT}</script>'
            "</body></html>")
        atomic_write_text(path, body)
        return path


def _groups_summary(groups) -> str:
    sizes = [len(members) for _, members, _, _ in groups]
    return (f"{len(groups)} candidate groups of {sum(sizes)} specimens ({sum(s == 1 for s in sizes)} alone), largest "
            "first, each with its medoid first. A name given to a group (a new species, or a known one) is the "
            "verdict of every member; clear it to take them back.")


def _group(group: tuple[str, list[str], str, float], thumbs: "_Thumbnails") -> str:
    name, members, nearest, distance = group
    shown = "".join(f"<figure>{thumbs.img(f)}</figure>" for f in members[:GROUP_THUMBNAILS])
    more = f" and {len(members) - GROUP_THUMBNAILS} more" if len(members) > GROUP_THUMBNAILS else ""
    files = html.escape(json.dumps(members))
    return (f'<div class="group" data-group="{html.escape(name)}" data-files="{files}"><h3>{html.escape(name)}: '
            f"{len(members)} specimen{'s' if len(members) > 1 else ''}{more}; nearest known species "
            f"{html.escape(nearest)} (d = {distance:.3f})</h3>{shown}<div><label>name this group: <input "
            f'class="group-name" list="species" placeholder="species" size="24"></label></div></div>')


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
        self.folder, self.size, self.exif_transpose = folder, size, exif_transpose
        self.done: dict[str, str | None] = {}

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
