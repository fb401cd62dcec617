"""Image grid: queries with their nearest reference images (the worst-identified test queries, for review)."""

from __future__ import annotations

from pathlib import Path

from forams_lightning.data.images import load_rgb
from forams_lightning.viz.figures import pyplot, save_figure


def save_neighbour_grid(rows: list[dict], path: str | Path, exif_transpose: bool = True) -> Path:
    """One row per query: ``{"path", "title", "neighbours": [{"path", "title", "match"}]}``; a neighbour of the
    query's true species gets a green frame, others red."""
    plt = pyplot()
    columns = 1 + max((len(r["neighbours"]) for r in rows), default=0)
    fig, axes = plt.subplots(max(1, len(rows)), columns, figsize=(1.9 * columns, 2.1 * max(1, len(rows))),
                             squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for row, ax_row in zip(rows, axes):
        cells = [(row["path"], row["title"], None), *((n["path"], n["title"], n["match"]) for n in row["neighbours"])]
        for ax, (image, title, match) in zip(ax_row, cells):
            ax.imshow(load_rgb(image, exif_transpose))
            ax.set_title(title, fontsize=6)
            if match is not None:
                ax.set_axis_on()
                ax.set_xticks([]), ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_color("tab:green" if match else "tab:red")
                    spine.set_linewidth(3)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)
