"""review.html: one row per identified specimen with its image, the nearest reference images, the vote and the
novelty flag, least certain first, so an expert checks the machine's work. Static, images embedded: it opens in
any browser, offline, wherever it is copied."""

from __future__ import annotations

import base64
import html
import io
from functools import lru_cache
from pathlib import Path

from forams_lightning.atomic import atomic_write_text
from forams_lightning.data.images import load_rgb

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
td, th { border-bottom: 1px solid #ddd; padding: 6px; vertical-align: top; text-align: left; font-size: 13px; }
td.refs { white-space: nowrap; }
figure { display: inline-block; margin: 0 4px; text-align: center; font-size: 11px; }
img { display: block; border: 3px solid transparent; }
.vote img { border-color: #2a8a3e; } .other img { border-color: #c44; }
.novel { background: #fff3e0; } .flag { color: #b35900; font-weight: bold; }
.missing { width: 96px; height: 96px; background: #eee; display: flex; align-items: center; justify-content: center; }
"""


def uncertainty_order(specimen: dict) -> tuple:
    """Novel specimens first, then by ascending vote share, then by descending distance to the nearest reference."""
    return (not specimen["novel"], specimen["vote_share"], -specimen["distance"])


def write_review_html(path: str | Path, specimens: list[dict], failures: list[tuple[str, str]], title: str,
                      thumbnail_size: int = 128, max_rows: int | None = 1000, exif_transpose: bool = True) -> Path:
    """`specimens`: dicts with file, species, vote_share, distance, novel, neighbours [{file, species, distance}].
    `failures`: (file, error) of the files that could not be read."""

    @lru_cache(maxsize=4096)
    def thumb(file: str) -> str:
        try:
            img = load_rgb(file, exif_transpose)
        except Exception:  # noqa: BLE001 - a moved or unreadable reference shows as a grey box, not a crash
            return '<div class="missing">not found</div>'
        img.thumbnail((thumbnail_size, thumbnail_size))
        buffer = io.BytesIO()
        img.save(buffer, format="JPEG", quality=85)
        data = base64.b64encode(buffer.getvalue()).decode()
        return f'<img src="data:image/jpeg;base64,{data}" alt="{html.escape(Path(file).name)}">'

    ordered = sorted(specimens, key=uncertainty_order)
    shown = ordered[:max_rows] if max_rows else ordered
    rows = []
    for s in shown:
        neighbours = "".join(
            f'<figure class="{"vote" if n["species"] == s["species"] else "other"}">{thumb(n["file"])}'
            f'<figcaption>{html.escape(n["species"])}<br>d = {n["distance"]:.3f}</figcaption></figure>'
            for n in s["neighbours"])
        flag = '<div class="flag">NOVEL? nearest reference beyond threshold</div>' if s["novel"] else ""
        rows.append(
            f'<tr class="specimen{" novel" if s["novel"] else ""}"><td>{thumb(s["file"])}</td>'
            f'<td><b>{html.escape(s["species"])}</b><br>vote {s["vote_share"]:.0%}<br>'
            f'nearest d = {s["distance"]:.3f}{flag}<br><small>{html.escape(s["file"])}</small></td>'
            f'<td class="refs">{neighbours}</td></tr>')
    failed = "".join(f"<li>{html.escape(f)}: {html.escape(e)}</li>" for f, e in failures)
    n_novel = sum(s["novel"] for s in specimens)
    truncated = f"; first {len(shown)} shown (all are in predictions.csv)" if len(shown) < len(ordered) else ""
    page = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{len(specimens)} specimens identified, {n_novel} flagged novel, {len(failures)} unreadable. "
        f"Least certain first{truncated}. "
        "Green frame: reference of the voted species.</p>"
        "<table><thead><tr><th>specimen</th><th>identification</th><th>nearest references</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        + (f"<h2>Unreadable files</h2><ul>{failed}</ul>" if failures else "")
        + "</body></html>")
    path = Path(path)
    atomic_write_text(path, page)
    return path
