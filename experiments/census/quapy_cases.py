"""QuaPy's BayesianCC (0.2.3: its own NumPyro model, sampled by NUTS) on the shared cases of
`tests/data/quapy_bayesian_cc.json`: the posterior mean and 95% interval of each case, written into that file for
`tests/test_quantification.py` to hold the package's Gibbs sampler (`metrics.quantification`) against.

Run it where QuaPy, jax and numpyro are installed (not a dependency of the package):
    pip install quapy==0.2.3 jax numpyro && python experiments/census/quapy_cases.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CASES = Path(__file__).resolve().parents[2] / "tests" / "data" / "quapy_bayesian_cc.json"


def quapy_posterior(counts: list[int], confusion: list[list[int]], seed: int = 0) -> dict:
    """QuaPy's BayesianCC posterior of one case (flat Dirichlet priors, as its default)."""
    import jax
    import numpyro
    import numpyro.distributions as dist
    import quapy.method._bayesian as bayesian

    # QuaPy gates its Bayesian methods on pystan too (used by another method); the BayesianCC model needs only these
    bayesian.jax, bayesian.numpyro, bayesian.dist, bayesian.DEPENDENCIES_INSTALLED = jax, numpyro, dist, True
    bayesian.jnp = jax.numpy
    jnp = jax.numpy
    draws = bayesian.sample_posterior(jnp.asarray(counts), jnp.asarray(confusion), num_warmup=2000,
                                      num_samples=16000, seed=seed)[bayesian.P_TEST_Y]
    draws = np.asarray(draws, float)
    return {"mean": draws.mean(0).round(4).tolist(), "low_95": np.quantile(draws, 0.025, 0).round(4).tolist(),
            "high_95": np.quantile(draws, 0.975, 0).round(4).tolist()}


def main() -> None:
    cases = json.loads(CASES.read_text())
    for case in cases["cases"]:
        case["quapy"] = quapy_posterior(case["counts"], case["confusion"])
        print(case["name"], case["quapy"])
    CASES.write_text(json.dumps(cases, indent=1) + "\n")


if __name__ == "__main__":
    main()
