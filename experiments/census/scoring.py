"""Scores of a census against the shares its samples were drawn with (`run.py`): interval coverage per species ×
sample and per sample, mean absolute error and interval width (raw and adjusted), and the flags' false-alarm rate
per species."""

from __future__ import annotations

import time

import numpy as np

from forams_lightning.identify import padded_confusion, sample_census
from forams_lightning.metrics.census import wilson_interval

NOMINAL_FLAGS = 0.05  # the libraries keep 95% of held-out known specimens


def flag_rates(truth: np.ndarray, novel: np.ndarray, references: np.ndarray, names: list[str]) -> dict:
    """Share of each species' specimens flagged novel (all are of known species), and by its reference count."""
    species = np.unique(truth)
    rate = np.array([novel[truth == s].mean() for s in species])
    refs = references[species]
    bins = {"refs >= 30": refs >= 30, "refs 8-29": (refs >= 8) & (refs < 30), "refs < 8": refs < 8}
    return {"overall": round(float(novel.mean()), 4), "species_mean": round(float(rate.mean()), 4),
            "species_sd": round(float(rate.std()), 4), "species_max": round(float(rate.max()), 4),
            "by_references": {k: round(float(rate[m].mean()), 4) for k, m in bins.items() if m.any()},
            "refs>=8 above 2x nominal": int(np.sum(rate[refs >= 8] > 2 * NOMINAL_FLAGS)),
            "refs>=8 species": int(np.sum(refs >= 8)),
            "above 2x nominal": {names[s]: [int(n), round(float(r), 3)] for s, n, r in zip(species, refs, rate)
                                 if r > 2 * NOMINAL_FLAGS}}


def draw_sample(rng: np.random.Generator, truth: np.ndarray, size: int, n_species: int,
                n_library: int) -> tuple[np.ndarray, np.ndarray]:
    """(specimen indices, true shares over the library's species) of one simulated sample: the shares of the
    sediment it was drawn from (the Dirichlet draw), which the census estimates, not the specimens' own mix."""
    chosen = rng.choice(np.unique(truth), min(n_species, len(np.unique(truth))), replace=False)
    shares = np.zeros(n_library)
    shares[chosen] = rng.dirichlet(np.ones(len(chosen)))
    drawn = []
    for s, count in zip(chosen, rng.multinomial(size, shares[chosen])):
        pool = np.flatnonzero(truth == s)
        drawn.append(rng.choice(pool, count, replace=count > len(pool)))
    return np.concatenate(drawn), shares


def _adjusted(rows: list[list], species: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adjusted share and interval of every species, then the unexplained share (0 where no row)."""
    values = np.zeros((len(species) + 1, 3))
    at = {name: i for i, name in enumerate(species)}
    for kind, name, _, _, _, _, share, low, high in rows:
        if kind in ("species", "unexplained"):
            values[at[name] if kind == "species" else -1] = share, low, high
    return values.T


def score_samples(library, specimens: dict, size: int, n_species: int, n_samples: int, seeds: int) -> dict:
    """Coverage, error and width of raw and adjusted shares over `n_samples` × `seeds` samples of `size`."""
    truth, prediction, novel = specimens["truth"], specimens["prediction"], specimens["novel"]
    confusion, flagged = padded_confusion(library.confusion, library.confusion_flagged, len(library.species))
    kept: dict[str, list] = {k: [] for k in ("cov_raw", "cov_adj", "present", "joint_raw", "joint_adj", "err_raw",
                                             "err_adj", "width_raw", "width_adj", "unexplained", "seconds")}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        for _ in range(n_samples):
            drawn, shares = draw_sample(rng, truth, size, n_species, len(library.species))
            start = time.perf_counter()
            rows = sample_census(prediction[drawn], novel[drawn], [""] * len(drawn), library.species,
                                 confusion=confusion, confusion_flagged=flagged)
            kept["seconds"].append(time.perf_counter() - start)
            adjusted, low, high = _adjusted(rows, library.species)
            counts = np.bincount(prediction[drawn][~novel[drawn]], minlength=len(library.species))
            w_low, w_high = wilson_interval(counts, size)
            truth_all = np.append(shares, 0.0)
            raw_ok = (np.round(w_low, 4) <= shares) & (shares <= np.round(w_high, 4))
            adj_ok = (low <= truth_all) & (truth_all <= high)
            kept["cov_raw"].append(raw_ok)
            kept["cov_adj"].append(adj_ok[:-1])
            kept["present"].append(shares > 0)
            kept["joint_raw"].append(raw_ok.all())
            kept["joint_adj"].append(adj_ok.all())
            kept["err_raw"].append(np.abs(counts / size - shares).mean())
            kept["err_adj"].append(np.abs(adjusted[:-1] - shares).mean())
            kept["width_raw"].append((w_high - w_low)[shares > 0].mean())
            kept["width_adj"].append((high - low)[:-1][shares > 0].mean())
            kept["unexplained"].append(adjusted[-1])
    return _summary(kept)


def _summary(kept: dict) -> dict:
    present = np.concatenate(kept["present"])
    cov = {k: np.concatenate(kept[k]) for k in ("cov_raw", "cov_adj")}
    mean = {k: float(np.mean(kept[k])) for k in kept if k not in ("cov_raw", "cov_adj", "present")}
    return {"samples": len(kept["seconds"]),
            "coverage_all_species": {"raw": cov["cov_raw"].mean(), "adjusted": cov["cov_adj"].mean()},
            "coverage_present_species": {"raw": cov["cov_raw"][present].mean(),
                                         "adjusted": cov["cov_adj"][present].mean()},
            "joint_coverage": {"raw": mean["joint_raw"], "adjusted": mean["joint_adj"]},
            "mae": {"raw": mean["err_raw"], "adjusted": mean["err_adj"]},
            "mean_width_present": {"raw": mean["width_raw"], "adjusted": mean["width_adj"]},
            "unexplained_share": mean["unexplained"], "census_seconds_per_sample": mean["seconds"]}
