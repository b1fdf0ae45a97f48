"""A backend's latency belief: time-decayed sufficient statistics of log(ms) and their Normal-Gamma posterior.

The gateway's state store turns each backend's recent observations into `LogLatencyStats` (each
observation weighted by its age and by how many newer ones followed, see
`gateway.live.latency_stats`); the policy engine, which has no clock, only reads them. Pure
functions: the only randomness is the `random.Random` passed in.

Model: log latency x ~ Normal(mu, 1/tau) with a conjugate Normal-Gamma prior on (mu, tau)
(Murphy, "Conjugate Bayesian analysis of the Gaussian distribution", 2007, section 3, eqs. 85-89:
kappa_n = kappa_0 + n, m_n = (kappa_0 m_0 + n xbar) / kappa_n, alpha_n = alpha_0 + n/2,
beta_n = beta_0 + S/2 + kappa_0 n (xbar - m_0)^2 / (2 kappa_n), with S the sum of squared
deviations). Weighted observations enter the same formulas with n = the sum of weights. exp(mu) is
the backend's median latency; `sample_log_ms` draws mu from the posterior (Thompson sampling).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["LogLatencyStats", "LatencyPrior", "PRIOR", "MIN_LATENCY_MS", "posterior_mean_log_ms", "sample_log_ms"]

MIN_LATENCY_MS = 0.01
"""Observations are floored here before the log (an emulator at 0 ms TPOT reports ~0)."""


@dataclass(frozen=True, slots=True)
class LogLatencyStats:
    """Decayed sufficient statistics of log(latency in ms): weight = effective observation count."""

    weight: float = 0.0
    sum_log_ms: float = 0.0
    sum_sq_log_ms: float = 0.0

    @classmethod
    def of(cls, weighted: list[tuple[float, float]]) -> LogLatencyStats | None:
        """From (latency_ms, weight) pairs; None when the weights add up to nothing."""
        weight = sum(w for _, w in weighted)
        if weight <= 0:
            return None
        logs = [(math.log(max(ms, MIN_LATENCY_MS)), w) for ms, w in weighted]
        return cls(weight, sum(x * w for x, w in logs), sum(x * x * w for x, w in logs))

    @classmethod
    def point(cls, latency_ms: float, weight: float) -> LogLatencyStats:
        """`weight` observations all at `latency_ms` (a figure given without its observations)."""
        x = math.log(max(latency_ms, MIN_LATENCY_MS))
        return cls(weight, x * weight, x * x * weight)

    @property
    def mean_log_ms(self) -> float:
        return self.sum_log_ms / self.weight if self.weight > 0 else 0.0

    @property
    def median_ms(self) -> float | None:
        """exp of the weighted mean log: the typical (geometric-mean) latency; None without weight."""
        return math.exp(self.mean_log_ms) if self.weight > 0 else None


    @property
    def p95_ms(self) -> float | None:
        """exp(mean + 1.645 sd) of the weighted log figures (log-normal p95); None without weight."""
        if self.weight <= 0:
            return None
        mean = self.mean_log_ms
        variance = max(0.0, self.sum_sq_log_ms / self.weight - mean * mean)
        return math.exp(mean + Z_95 * math.sqrt(variance))


Z_95 = 1.6449
"""The standard normal's 95th percentile."""


@dataclass(frozen=True, slots=True)
class LatencyPrior:
    """Normal-Gamma prior of one candidate; `mean_log_ms` is set per route (the fleet's figure)."""

    mean_log_ms: float
    kappa: float  # pseudo-observations behind the prior mean
    alpha: float
    beta: float


PRIOR_KAPPA = 0.5
"""Half an observation behind the prior mean: one real response outweighs it two to one."""
PRIOR_ALPHA = 2.0
PRIOR_LOG_SD = 0.5
"""A priori a backend's latency varies by a factor of about e^0.5 = 1.65 around its median."""
PRIOR = LatencyPrior(0.0, PRIOR_KAPPA, PRIOR_ALPHA, (PRIOR_ALPHA - 1.0) * PRIOR_LOG_SD**2)
"""With alpha 2 and beta = (alpha - 1) sd^2, the prior's expected variance is sd^2; an untried backend's
draw of mu is then the fleet figure times e^(0.5 t_4), so it wins against a backend known to be e times
faster than the fleet figure in a few percent of draws, not half of them."""


def _posterior(stats: LogLatencyStats | None, prior: LatencyPrior) -> tuple[float, float, float, float]:
    """(m_n, kappa_n, alpha_n, beta_n)."""
    if stats is None or stats.weight <= 0:
        return prior.mean_log_ms, prior.kappa, prior.alpha, prior.beta
    n = stats.weight
    mean = stats.sum_log_ms / n
    squares = max(0.0, stats.sum_sq_log_ms - n * mean * mean)
    kappa = prior.kappa + n
    m = (prior.kappa * prior.mean_log_ms + n * mean) / kappa
    alpha = prior.alpha + n / 2
    beta = prior.beta + squares / 2 + prior.kappa * n * (mean - prior.mean_log_ms) ** 2 / (2 * kappa)
    return m, kappa, alpha, beta


def posterior_mean_log_ms(stats: LogLatencyStats | None, prior: LatencyPrior) -> float:
    """The posterior mean of mu (log ms): what a greedy ranking would use."""
    return _posterior(stats, prior)[0]


def sample_log_ms(stats: LogLatencyStats | None, prior: LatencyPrior, rng: random.Random) -> float:
    """One Thompson draw of mu (log ms): tau ~ Gamma(alpha_n, rate beta_n), mu ~ Normal(m_n, 1/(kappa_n tau))."""
    m, kappa, alpha, beta = _posterior(stats, prior)
    tau = rng.gammavariate(alpha, 1.0 / beta)
    return rng.gauss(m, 1.0 / math.sqrt(kappa * max(tau, 1e-12)))
