"""The morphospace: a 2-D map of the embeddings (UMAP or t-SNE as in the paper), coloured by species with genus
as marker shape; species never seen in training drawn hollow. PNG for papers, self-contained HTML for browsing."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from forams_lightning.atomic import atomic_write_text
from forams_lightning.metrics.classification import genus_of
from forams_lightning.viz.figures import pyplot, save_figure

METHODS = ("umap", "tsne")
MARKERS = "osD^v<>pPX*hH8d"


def project_2d(embeddings: np.ndarray, method: str = "umap", metric: str = "cosine", seed: int = 0) -> np.ndarray:
    """(n, 2) coordinates. UMAP (umap-learn) keeps more of the global layout; t-SNE is the paper's choice.

    Args:
        embeddings: the points.
        method: ``umap`` or ``tsne``.
        metric: ``cosine`` or ``l2``.
        seed: of the projection.
    """
    x = np.asarray(embeddings, dtype=np.float32)
    if method == "umap":
        import umap  # first call JIT-compiles for ~20 s

        return umap.UMAP(n_neighbors=min(15, len(x) - 1), metric=metric, random_state=seed).fit_transform(x)
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(perplexity=min(30.0, (len(x) - 1) / 3), metric=metric, init="pca",
                    random_state=seed).fit_transform(x)
    raise ValueError(f"morphospace method must be one of {METHODS} (got {method!r})")


def subsample(labels: np.ndarray, max_points: int | None, seed: int = 0) -> np.ndarray:
    """Indices of at most `max_points` items, the same share of every species (at least one each)."""
    labels = np.asarray(labels)
    if not max_points or len(labels) <= max_points:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    share = max_points / len(labels)
    keep = [rng.choice(ix, max(1, round(len(ix) * share)), replace=False)
            for ix in (np.flatnonzero(labels == c) for c in np.unique(labels))]
    return np.sort(np.concatenate(keep))


def save_morphospace_png(xy: np.ndarray, species: list[str], seen: np.ndarray, path: str | Path,
                         *, title: str = "") -> Path:
    """`species`: the name of each point; `seen`: whether its species was in training (unseen: hollow).

    Args:
        xy: the projected points.
        species: each one's species.
        seen: whether its species was in training (unseen: hollow).
        path: the PNG written.
        title: above the map.
    """
    plt = pyplot()
    names = sorted(set(species), key=lambda s: (genus_of(s), s))
    of, is_known = np.asarray(species), np.asarray(seen, bool)
    genera = sorted({genus_of(s) for s in names})
    colours = plt.get_cmap("tab20" if len(names) <= 20 else "turbo")(np.linspace(0, 1, max(len(names), 2)))
    fig, ax = plt.subplots(figsize=(10, 7.5))
    for i, name in enumerate(names):
        marker = MARKERS[genera.index(genus_of(name)) % len(MARKERS)]
        for is_seen in (True, False):
            m = (of == name) & (is_known == is_seen)
            if m.any():
                ax.scatter(xy[m, 0], xy[m, 1], s=14, marker=marker, linewidths=0.8,
                           facecolors=colours[i] if is_seen else "none", edgecolors=colours[i],
                           label=name if is_seen else f"{name} (unseen)")
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(title or "morphospace")
    if len(names) <= 60:
        ax.legend(fontsize=6, markerscale=1.2, loc="center left", bbox_to_anchor=(1.0, 0.5), ncol=1 + len(names) // 30,
                  title="species (marker = genus)", title_fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def save_morphospace_html(xy: np.ndarray, species: list[str], seen: np.ndarray, files: list[str],
                          *, path: str | Path, title: str = "") -> Path:
    """Interactive scatter (plotly, script embedded so it opens offline); hover shows species, genus and file.

    Args:
        xy: the projected points.
        species: each one's species.
        seen: whether its species was in training.
        files: each one's file (shown on hover).
        path: the HTML written.
        title: above the map.
    """
    import plotly.graph_objects as go

    names = sorted(set(species), key=lambda s: (genus_of(s), s))
    of, is_known, shown = np.asarray(species), np.asarray(seen, bool), np.asarray(files)
    fig = go.Figure()
    genera = sorted({genus_of(s) for s in names})
    symbols = ["circle", "square", "diamond", "triangle-up", "triangle-down", "cross", "x", "star", "pentagon",
               "hexagon", "star-diamond", "hourglass"]
    for name in names:
        for is_seen in (True, False):
            m = (of == name) & (is_known == is_seen)
            if not m.any():
                continue
            symbol = symbols[genera.index(genus_of(name)) % len(symbols)] + ("" if is_seen else "-open")
            fig.add_trace(go.Scattergl(
                x=xy[m, 0], y=xy[m, 1], mode="markers", name=name if is_seen else f"{name} (unseen)",
                legendgroup=genus_of(name), legendgrouptitle_text=genus_of(name), marker=dict(symbol=symbol, size=7),
                customdata=np.stack([shown[m], np.full(m.sum(), html.escape(name))], 1),
                hovertemplate="%{customdata[1]}<br>%{customdata[0]}<extra></extra>"))
    fig.update_layout(title=title or "morphospace", template="plotly_white", xaxis_visible=False, yaxis_visible=False)
    path = Path(path)
    atomic_write_text(path, fig.to_html(include_plotlyjs=True, full_html=True))
    return path
