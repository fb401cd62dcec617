"""The census estimators on arrays: the Bayesian classify-and-count posterior (against QuaPy's draws), the outcome
confusion, Wilson intervals, per-species thresholds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import REPO

from forams_lightning.identify.census import padded_confusion
from forams_lightning.metrics.census import census_shares, outcome_confusion, pooled_rate_prior, wilson_interval
from forams_lightning.metrics.novelty_thresholds import reference_sparsity, species_thresholds
from forams_lightning.metrics.quantification import bayesian_shares

QUAPY_CASES = REPO / "tests" / "fixtures" / "quapy_bayesian_cc.json"


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

    sys.path.insert(0, str(REPO / "experiments" / "census"))
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


def test_wilson_interval_matches_hand_computed_values():
    low, high = wilson_interval(np.array([0, 5, 10]), 10)
    # Wilson (1927): 5 of 10 -> 0.2366..0.7634; 0 of 10 -> 0..0.2775 (z = 1.95996)
    np.testing.assert_allclose(low, [0.0, 0.23659, 0.72247], atol=1e-5)
    np.testing.assert_allclose(high, [0.27753, 0.76341, 1.0], atol=1e-5)
    assert [v.tolist() for v in wilson_interval(np.array([0, 0]), 0)] == [[0, 0], [0, 0]]
