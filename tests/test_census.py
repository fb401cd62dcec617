"""The census a scientist publishes: Bayesian classify-and-count against QuaPy and by coverage on seeded simulated
confusions, the flagged specimens apportioned, per-species novelty thresholds, the samples table, the wide tables
and the stratigraphic figure."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from forams_lightning.data.samples import sample_positions
from forams_lightning.identify.census import UNEXPLAINED, census, padded_confusion, sample_census
from forams_lightning.identify.census_files import wide_tables, write_census
from forams_lightning.metrics.census import census_shares, outcome_confusion, pooled_rate_prior
from forams_lightning.metrics.novelty_thresholds import reference_sparsity, species_thresholds
from forams_lightning.metrics.quantification import bayesian_shares

QUAPY_CASES = Path(__file__).parent / "data" / "quapy_bayesian_cc.json"


@pytest.mark.parametrize("case", json.loads(QUAPY_CASES.read_text())["cases"], ids=lambda c: c["name"])
def test_the_gibbs_sampler_draws_the_posterior_quapy_draws(case):
    """QuaPy 0.2.3's BayesianCC (NUTS on its own NumPyro model, flat priors), recorded by
    experiments/census/quapy_cases.py: the same model sampled by Gibbs steps agrees within Monte Carlo error."""
    posterior = bayesian_shares(case["counts"], case["confusion"], draws=20000, burn_in=1000, seed=0)
    low, high = posterior.interval()
    width = np.asarray(case["quapy"]["high_95"]) - np.asarray(case["quapy"]["low_95"])
    # seeds 0-2 measured: means within 0.013, bounds within 0.18 of the interval's width (the eight-class case's
    # long upper tail); a Dirichlet(5) confusion prior instead of QuaPy's flat one moves a mean by 0.097
    np.testing.assert_allclose(posterior.mean, case["quapy"]["mean"], atol=0.02)
    assert np.all(np.abs(low - case["quapy"]["low_95"]) <= 0.25 * width + 0.01)
    assert np.all(np.abs(high - case["quapy"]["high_95"]) <= 0.25 * width + 0.01)


def test_quapy_itself_agrees_where_it_is_installed():
    pytest.importorskip("numpyro")
    pytest.importorskip("quapy")
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "experiments" / "census"))
    from quapy_cases import quapy_posterior

    case = json.loads(QUAPY_CASES.read_text())["cases"][0]
    assert quapy_posterior(case["counts"], case["confusion"])["mean"] == pytest.approx(case["quapy"]["mean"],
                                                                                       abs=0.01)


def test_with_an_identity_confusion_the_posterior_is_the_dirichlet_of_the_counts():
    """A classifier known to be perfect (huge identity confusion): p | y ~ Dirichlet(prior + y), by hand."""
    posterior = bayesian_shares([30, 10, 0], np.eye(3) * 10**6, share_prior=1.0, draws=4000, seed=1)
    np.testing.assert_allclose(posterior.mean, np.array([31, 11, 1]) / 43, atol=0.01)
    from scipy.stats import beta

    low, high = posterior.interval()
    assert low[0] == pytest.approx(beta.ppf(0.025, 31, 12), abs=0.02)
    assert high[0] == pytest.approx(beta.ppf(0.975, 31, 12), abs=0.02)


def test_merging_the_outcomes_a_sample_never_shows_changes_nothing():
    """Four classes, two never counted (merged into one column inside): still Dirichlet(prior + counts)."""
    posterior = bayesian_shares([30, 10, 0, 0], np.eye(4) * 10**6, share_prior=1.0, draws=4000, seed=2)
    np.testing.assert_allclose(posterior.mean, np.array([31, 11, 1, 1]) / 44, atol=0.01)
    confused = np.array([[8, 2, 0, 0], [1, 9, 0, 0], [0, 0, 5, 5], [0, 0, 5, 5]])
    posterior = bayesian_shares([12, 8, 0, 0], confused, draws=4000, seed=2)
    assert posterior.mean[2] == pytest.approx(posterior.mean[3], abs=0.02)  # exchangeable classes stay so
    assert posterior.mean[:2].sum() > 0.8


def test_the_estimator_is_deterministic_for_a_seed():
    """Speed is measured by experiments/census (0.12 s a sample of 35 species), not here."""
    rng = np.random.default_rng(0)
    confusion = rng.integers(0, 3, (35, 35)) + np.diag(rng.integers(2, 30, 35))
    counts = rng.multinomial(300, rng.dirichlet(np.ones(35)))
    first = census_shares(counts[:-1], counts[-1], confusion[:, :-1][:-1], confusion[:-1, -1], seed=3)
    again = census_shares(counts[:-1], counts[-1], confusion[:, :-1][:-1], confusion[:-1, -1], seed=3)
    other = census_shares(counts[:-1], counts[-1], confusion[:, :-1][:-1], confusion[:-1, -1], seed=4)
    np.testing.assert_array_equal(first.draws, again.draws)
    assert not np.array_equal(first.draws, other.draws) and first.draws.shape == (2000, 35)


def _simulated_coverage(seed: int, samples: int = 30, size: int = 300) -> tuple[float, float, float]:
    """Coverage of present species, mean abs. error adjusted and raw, on samples drawn through a known confusion."""
    rng = np.random.default_rng(seed)
    n = 8
    rates = np.full((n, n + 1), 0.01)
    np.fill_diagonal(rates, 0.8)
    rates[:, n] = 0.06
    rates[0, 1] = rates[1, 0] = 0.12  # a pair of look-alikes
    rates /= rates.sum(1, keepdims=True)
    held = np.array([rng.multinomial(m, r) for m, r in zip([60, 40, 25, 15, 10, 6, 3, 2], rates)])
    covered, errors, raw = [], [], []
    for _ in range(samples):
        shares = np.zeros(n)
        chosen = rng.choice(n, 5, replace=False)
        shares[chosen] = rng.dirichlet(np.ones(5))
        outcome = rng.multinomial(size, shares @ rates)
        posterior = census_shares(outcome[:n], outcome[n], held[:, :n], held[:, n], seed=0)
        low, high = posterior.interval()
        covered += list(((low[:n] <= shares) & (shares <= high[:n]))[chosen])
        errors.append(np.abs(posterior.median[:n] - shares).mean())
        raw.append(np.abs(outcome[:n] / size - shares).mean())
    return float(np.mean(covered)), float(np.mean(errors)), float(np.mean(raw))


def test_intervals_hold_the_truth_on_seeded_simulated_confusions():
    coverage, adjusted, raw = _simulated_coverage(seed=11)
    assert coverage >= 0.88  # nominal 0.95; 150 cells
    assert adjusted < raw  # the confusion undone, the flags apportioned


def test_flagged_specimens_are_shared_between_their_species_and_the_unexplained():
    """By hand: species a is flagged in 1 of 2 held-out cases, b never; a sample of 10 a-votes and 10 flags is
    about 20 specimens of a (half of them flagged), nothing unexplained; the same votes with b's rates leave the
    flags unexplained."""
    confusion, flagged = np.array([[50, 0], [0, 100]]), np.array([50, 0])
    shares = census_shares(np.array([10, 0]), 10, confusion, flagged).median
    assert shares[0] == pytest.approx(1.0, abs=0.05) and shares[2] == pytest.approx(0.0, abs=0.05)
    shares = census_shares(np.array([0, 10]), 10, confusion, flagged).median
    assert shares[1] == pytest.approx(0.5, abs=0.06) and shares[2] == pytest.approx(0.5, abs=0.06)


def test_the_outcome_confusion_and_its_prior_by_hand():
    counts = outcome_confusion(np.array([[8, 1], [0, 9]]), np.array([1, 1]))
    assert counts.tolist() == [[8, 1, 1], [0, 9, 1], [0, 0, 1]]
    prior = pooled_rate_prior(counts, strength=20)
    # pooled: 17 of 20 correct, 2 of 20 flagged, 1 of 20 to the one other species
    np.testing.assert_allclose(prior[0], [20 * 0.85, 20 * 0.05, 20 * 0.1])
    assert padded_confusion(np.array([[2]]), np.array([1]), 2)[1].tolist() == [1, 0]


def test_a_sample_census_has_the_unexplained_row_the_groups_and_the_unreadable():
    prediction = np.array([0, 0, 1, 1, 1, 0, 0, 0])
    novel = np.array([0, 0, 0, 0, 0, 1, 1, 1], bool)
    rows = sample_census(prediction, novel, ["", "", "", "", "", "G2", "G1", "G1"], ["a", "b"], confusion=None,
                         confusion_flagged=None, unreadable=2)
    table = {r[1]: r for r in rows}
    assert [r[0] for r in rows] == ["species", "species", "unexplained", "novel group", "novel group", "unreadable"]
    assert table["a"][2:4] == [2, 0.25] and table["b"][2:4] == [3, 0.375] and table["G1"][2:4] == [2, 0.25]
    assert table[UNEXPLAINED][2:4] == [3, 0.375] and table[UNEXPLAINED][6] == 0.375  # no confusion: as counted
    assert table["G1"][6:] == ["", "", ""] and table["files that could not be read"][2] == 2
    # with a confusion: every share of the whole sample (posterior medians: they sum to about 1)
    adjusted = sample_census(prediction, novel, [""] * 8, ["a", "b"], confusion=np.array([[18, 2], [1, 19]]),
                             confusion_flagged=np.array([0, 0]))
    assert sum(r[6] for r in adjusted if r[0] in ("species", "unexplained")) == pytest.approx(1, abs=0.1)
    assert all(r[7] <= r[6] <= r[8] for r in adjusted if r[0] in ("species", "unexplained"))


def test_a_sample_of_one_specimen_gets_a_wide_interval():
    rows = sample_census(np.array([0]), np.array([False]), [""], ["a", "b"], confusion=np.array([[20, 1], [1, 20]]),
                         confusion_flagged=np.array([1, 1]))
    low, high = rows[0][7], rows[0][8]
    assert low < 0.5 and high > 0.9  # one specimen says little; the bootstrap's [1, 1] said it was certain


def test_census_rows_come_per_sample_in_the_order_given_and_keep_an_unreadable_sample():
    rows = census(["s2", "s1", "s2"], np.array([0, 1, 1]), np.zeros(3, bool), ["", "", ""], species=["a", "b"],
                  confusion=None, unreadable={"s3": 4}, order=["s3", "s2", "s1"])
    assert [(r[0], r[1], r[2], r[3]) for r in rows if r[1] != "unexplained"] == [
        ("s3", "unreadable", "files that could not be read", 4), ("s2", "species", "a", 1), ("s2", "species", "b", 1),
        ("s1", "species", "a", 0), ("s1", "species", "b", 1)]  # a species not seen keeps its row: its upper bound
    assert [r[6] for r in rows if r[:3] == ["s1", "species", "a"]] == [pytest.approx(0.7935, abs=1e-4)]


def test_species_thresholds_follow_the_sparsity_of_each_species_references():
    """Species whose references lie far apart score higher: their thresholds are higher, and a species without
    held-out images gets the line's threshold for its sparsity."""
    rng = np.random.default_rng(0)
    sparsity = np.log(np.array([0.1, 0.2, 0.4, 0.8]))
    labels = np.repeat(np.arange(4), [50, 30, 3, 0])
    scores = np.exp(sparsity[labels] + 0.3 * rng.standard_normal(len(labels)))
    thresholds, model = species_thresholds(scores, labels, sparsity, keep=0.95)
    assert np.all(np.diff(thresholds) > 0)
    assert model.slope == pytest.approx(1.0, abs=0.25)
    assert thresholds[3] == pytest.approx(model.threshold(sparsity[3]), rel=0.05)
    for s in (0, 1):  # each species keeps about 95% of its own
        assert np.mean(scores[labels == s] <= thresholds[s]) >= 0.88
    np.testing.assert_allclose(reference_sparsity(np.array([1.0, np.e, 1.0]), np.array([0, 0, 2]), 3),
                               [0.5, 1 / 3, 0.0])


def test_a_samples_table_places_samples_by_depth(tmp_path):
    listing = tmp_path / "samples.csv"
    listing.write_text("file,sample,depth\na.jpg,core-3,12.5\nb.jpg,core-1,2\nc.jpg,core-3,12.5\n")
    positions = sample_positions(str(listing))
    assert positions.axis == "depth" and positions.order() == ["core-1", "core-3"]
    listing.write_text("file,sample,depth\na.jpg,core-3,12.5\nb.jpg,core-3,13\n")
    with pytest.raises(ValueError, match=r"samples.csv:3: sample 'core-3' is at depth 13 here but 12.5 on line 2"):
        sample_positions(str(listing))
    listing.write_text("file,sample,age\na.jpg,x,old\n")
    with pytest.raises(ValueError, match=r"samples.csv:2: age='old': expected a number"):
        sample_positions(str(listing))
    assert sample_positions(str(tmp_path)) is None


def _rows(n_samples: int, species: list[str], adjusted: bool = True) -> list[list]:
    rng = np.random.default_rng(1)
    samples = np.repeat([f"s{i}" for i in range(n_samples)], 40)
    prediction = rng.integers(0, len(species), len(samples))
    novel = rng.random(len(samples)) < 0.05
    confusion = np.eye(len(species), dtype=int) * 10 if adjusted else None
    return census(samples, prediction, novel, [""] * len(samples), species=species, confusion=confusion,
                  confusion_flagged=np.ones(len(species), int), order=[f"s{i}" for i in range(n_samples)])


def test_the_wide_tables_have_one_row_a_sample_and_one_column_a_species(tmp_path):
    species = ["a b", "c d", "e f"]
    rows = _rows(3, species) + [["s3", "unreadable", "files that could not be read", 5] + [""] * 6]
    positions = sample_positions_for({"s0": 1.0, "s1": 2.0, "s2": 3.0, "s3": 4.0})
    header, counts, shares = wide_tables(rows, species, positions)
    assert header == ["sample", "depth", "specimens", "a b", "c d", "e f", "unexplained", "unreadable"]
    assert [r[0] for r in counts] == ["s0", "s1", "s2", "s3"] and all(r[2] == 40 for r in counts[:3])
    assert all(sum(r[3:7]) == 40 for r in counts[:3]) and counts[3][2:] == [0, 0, 0, 0, 0, 5]
    assert all(sum(r[3:7]) == pytest.approx(1, abs=0.06) for r in shares[:3]) and shares[3][3] == ""
    written = write_census(tmp_path, rows, species, positions)
    assert [p.name for p in written] == ["census.csv", "census-wide.csv", "census-wide-adjusted.csv", "census.png"]
    with (tmp_path / "census-wide.csv").open() as f:
        assert next(csv.reader(f)) == header


def sample_positions_for(values: dict[str, float]):
    from forams_lightning.data.samples import SamplePositions

    return SamplePositions("depth", values)


@pytest.mark.parametrize("n_samples", [1, 50, 400])
def test_the_stratigraphic_figure_stays_legible_and_bounded(tmp_path, n_samples):
    from PIL import Image

    from forams_lightning.viz.census import save_census_png

    species = [f"Genus species{i}" for i in range(35)]
    path = save_census_png(_rows(n_samples, species, adjusted=False), tmp_path / "census.png")
    width, height = Image.open(path).size
    assert height <= 2400 and width <= 3200  # MAX_HEIGHT inches at 100 dpi; 36 panels at most
    assert height >= (500 if n_samples >= 50 else 300)


def test_the_census_measurement_scores_coverage_error_and_flags():
    """experiments/census/scoring.py on a perfect classifier: the intervals hold, no error beyond sampling."""
    import sys
    from types import SimpleNamespace

    sys.path.insert(0, str(Path(__file__).parents[1] / "experiments" / "census"))
    from scoring import flag_rates, score_samples

    species = ["a", "b", "c", "d"]
    library = SimpleNamespace(species=species, confusion=np.eye(4, dtype=int) * 50, confusion_flagged=np.zeros(4))
    truth = np.repeat(np.arange(4), 30)
    specimens = {"truth": truth, "prediction": truth, "novel": np.zeros(len(truth), bool)}
    scores = score_samples(library, specimens, size=40, n_species=3, n_samples=4, seeds=1)
    assert scores["samples"] == 4 and scores["coverage_all_species"]["adjusted"] >= 0.9
    assert scores["mae"]["raw"] < 0.05 and scores["unexplained_share"] < 0.02
    flags = flag_rates(truth, truth == 0, np.array([40, 20, 5, 5]), species)
    assert flags["by_references"]["refs >= 30"] == 1.0 and flags["above 2x nominal"] == {"a": [40, 1.0]}
