"""Claims 14-18: the long-sequence FFT path (Toeplitz CG, circulant embedding, Gohberg-Semencul
floor, stochastic Lanczos log-determinant).  All are ``derived``: results of this toolkit's
numerics, not of the paper.

Each check takes a :class:`~ditgp.verify.claims.base.TimedDraw` and keyword overrides that
replace one ingredient (the solver, the bound, the embedding spectrum, the log-determinant), so
tests can feed a wrong implementation just above the tolerance and watch the check fail;
:func:`examples` gives deterministic inputs besides the hypothesis strategy :func:`inputs`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from ditgp.numerics.fft.fft_oracle import SLQ_PROBES, FFTOracle
from ditgp.numerics.oracle import Oracle
from ditgp.numerics.tolerances import fft_eig_tolerance, slq_sigmas
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Spatial
from ditgp.verify import strategies as ds
from ditgp.verify import tolerances as tol
from ditgp.verify.claims.base import Claim, Outcome, TimedDraw
from hypothesis import strategies as st

__all__ = ["CLAIMS", "check_fft_equals_eig", "check_certificate", "check_floor",
           "check_embedding", "check_logdet", "examples", "inputs", "CERT_RTOL",
           "FFT_CLAIM_EXAMPLES"]

#: Examples per FFT-path claim in the default suite (each draw solves, samples or estimates at
#: H ≤ 160 on both paths; the property tests in tests/verify draw more).
FFT_CLAIM_EXAMPLES = 10

#: The certificate claim solves to this relative error, where the CG error (not rounding)
#: dominates and the stated looseness factor can be checked.
CERT_RTOL = 1e-6


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.linalg.norm(a - b, axis=(1, 2)) / np.linalg.norm(b, axis=(1, 2))))


def _draws(inp: TimedDraw, n: int = 3) -> np.ndarray:
    return Oracle.for_spec(inp.spec).sample(n, seed=inp.seed, t=inp.t)


def check_fft_equals_eig(inp: TimedDraw, *, solve_fn: Callable | None = None) -> Outcome:
    """``‖V_fft - V_eig‖/‖V_eig‖ ≤ max(1e-12, 16·u·κ_t)`` per sequence."""
    spec, t = inp.spec, inp.t
    X = _draws(inp)
    o = Oracle.for_spec(spec)
    V = (solve_fn or (lambda X, t: FFTOracle.for_spec(spec).solve_certified(
        X, t, rtol=1e-13).V))(X, t)
    diff = _rel(V, o.solve(X, t))
    bound = fft_eig_tolerance(o.kappa(t))
    return Outcome(tol.relative_margin(diff, bound), diff, bound, {"kappa_t": o.kappa(t)})


def check_certificate(inp: TimedDraw, *, bound_fn: Callable | None = None) -> Outcome:
    """At ``rtol = CERT_RTOL``: true error ≤ certified bound ≤ κ̄·true error + rounding, per
    sequence (κ̄ = (α²μ_max λ̄ + σ²)/(α²μ_min ℓ_Γ + σ²) the stated looseness factor)."""
    spec, t = inp.spec, inp.t
    X = _draws(inp)
    o, f = Oracle.for_spec(spec), FFTOracle.for_spec(spec)
    res = f.solve_certified(X, t, rtol=CERT_RTOL, use_generator=False)
    exact = o.solve(X, t)
    true = np.linalg.norm(res.V - exact, axis=(1, 2))
    bound = res.error_bound if bound_fn is None else bound_fn(res, exact)
    a2, s2 = float(spec.schedule.alpha2(t)), float(spec.schedule.sigma2(t))
    factor = (a2 * f.mu[-1] * f.bounds.upper + s2) / (a2 * f.mu[0] * f.bounds.lower + s2)
    eig_round = tol.rounding(spec.d + spec.H, o.kappa(t)) * np.linalg.norm(exact, axis=(1, 2))
    floor_round = tol.rounding(spec.H, factor) * np.linalg.norm(exact, axis=(1, 2))
    holds = min(tol.relative_margin(float(true[k]), float(bound[k] + eig_round[k]))
                for k in range(len(true)))
    tight = min(tol.relative_margin(float(bound[k]), float(factor * (true[k] + eig_round[k])
                                                           + floor_round[k]))
                for k in range(len(true)))
    k = int(np.argmax(true / np.maximum(bound, 1e-300)))
    return Outcome(min(holds, tight), float(true[k]), float(bound[k]),
                   {"factor": factor, "holds_margin": holds, "tightness_margin": tight})


def check_floor(inp: TimedDraw, *, floor_fn: Callable | None = None) -> Outcome:
    """Gohberg–Semencul Bayes floor within its rigorous bound of the all-eigenvalue floor."""
    spec, t = inp.spec, inp.t
    est = FFTOracle.for_spec(spec).bayes_floor_with_error(t)
    value = est.value if floor_fn is None else floor_fn(est)
    exact = float(Oracle.for_spec(spec).bayes_floor(t))
    dev = abs(value - exact)
    rhs = est.error_bound + tol.rounding(spec.d * spec.H) * max(exact, 1.0)
    return Outcome(tol.relative_margin(dev, rhs), dev, rhs, {"floor": exact})


def check_embedding(inp: TimedDraw, *, spectrum_fn: Callable | None = None) -> Outcome:
    """The circulant embedding's implied covariance equals ``Γ``: the first ``H`` entries of
    ``IFFT(λ₊)`` equal ``γ(0..H-1)`` within the embedding's rounding tolerance (so the
    sampler's law is exactly ``N(0, Γ)`` up to rounding).  The claim is about kernels that
    embed: a drawn kernel whose embedding is refused (a negative eigenvalue at every size tried,
    :class:`~ditgp.numerics.fft.circulant_embedding.EmbeddingError`, a documented refusal that
    sends the user to the eigen sampler) is not an input of the claim and is rejected."""
    from ditgp.numerics.fft.circulant_embedding import EmbeddingError
    from hypothesis import reject

    spec = inp.spec
    try:
        emb = FFTOracle.for_spec(spec).embedding
    except EmbeddingError:
        reject()
    lam = emb.sqrt_lam ** 2 * emb.N
    if spectrum_fn is not None:
        lam = spectrum_fn(lam)
    col = np.fft.ifft(lam).real[: spec.H]
    dev = float(np.max(np.abs(col - spec.kernel.gamma(np.arange(spec.H)))))
    rhs = 2 * emb.tolerance + tol.rounding(math.log2(emb.N))
    return Outcome(tol.relative_margin(dev, rhs), dev, rhs, {"N": emb.N})


def check_logdet(inp: TimedDraw, *, logdet_fn: Callable | None = None) -> Outcome:
    """Stochastic Lanczos quadrature ``log det A_t`` within ``slq_sigmas(SLQ_PROBES)`` standard
    errors (a Student-t quantile at a stated false-alarm rate, see
    :func:`~ditgp.numerics.tolerances.slq_sigmas`)."""
    spec, t = inp.spec, inp.t
    f = FFTOracle.for_spec(spec)
    a2, s2 = float(spec.schedule.alpha2(t)), float(spec.schedule.sigma2(t))
    val, se = f.logdet_terms(a2 * f.mu, np.full(spec.d, s2), probes=SLQ_PROBES, seed=inp.seed)
    est, stderr = float(np.sum(val)), float(np.sqrt(np.sum(se ** 2)))
    if logdet_fn is not None:
        est = logdet_fn(est, stderr)
    exact = float(np.sum(np.log(Oracle.for_spec(spec).eigenvalues(t))))
    dev = abs(est - exact)
    rhs = slq_sigmas(SLQ_PROBES) * stderr + tol.rounding(spec.d * spec.H) * abs(exact)
    return Outcome(tol.relative_margin(dev, rhs), dev, rhs, {"stderr": stderr})


@st.composite
def _long_draw(draw, min_H: int = 16, max_H: int = 160) -> TimedDraw:
    spec = draw(ds.gp_specs(min_H=min_H, max_H=max_H, max_d=3, max_condition=30.0))
    return TimedDraw(spec, draw(ds.times(spec)), draw(st.integers(0, 2**16)))


def inputs() -> st.SearchStrategy[TimedDraw]:
    """Hypothesis strategy of inputs (every kernel family, H ≤ 160 so the eig path runs)."""
    return _long_draw()


def examples() -> list[TimedDraw]:
    """Deterministic inputs: Laplace, power law (ν ≤ 1), squared exponential, a composite."""
    specs = [
        GPSpec(kernel("laplace", ell=4.0), H=128, d=2, spatial=Spatial("ar", rho=0.5)),
        GPSpec(kernel("power-law", ell=4.0, nu=0.5), H=96, d=3,
               spatial=Spatial("random", kappa=20.0, seed=2)),
        GPSpec(kernel("squared-exponential", ell=2.0), H=80, d=1),
        GPSpec(0.5 * kernel("laplace", ell=4.0) + 0.5 * kernel("matern32", ell=2.0), H=100,
               d=2),
    ]
    return [TimedDraw(s, t, i) for i, (s, t) in enumerate(zip(specs, (1e-3, 0.1, 1.0, 5.0),
                                                              strict=True))]


_LATEX = {
    "fft-equals-eig": r"\|s_{\mathrm{fft}} - s_{\mathrm{eig}}\| \le \max(10^{-12}, 16u\kappa_t)\,\|s\|",
    "fft-certificate": r"\|v - v^*\| \le \|r\|/\lambda_{\mathrm{lo}} \le \bar\kappa\,\|v - v^*\|",
    "fft-bayes-floor": r"\Big|\widehat{\mathrm{floor}} - \sum_{ij}\tfrac{\alpha_t^2\lambda_i\mu_j}"
                       r"{\alpha_t^2\lambda_i\mu_j+\sigma_t^2}\Big| \le \mathrm{bound}",
    "circulant-embedding-exact": r"\mathrm{IFFT}(\hat\lambda)_{0..H-1} = \gamma,\ \hat\lambda \ge 0",
    "slq-logdet": r"|\widehat{\log\det} A_t - \log\det A_t| \le t_{15,\,1-5\cdot10^{-7}}\,\mathrm{SE}",
}


def _claim(number: int, claim_id: str, statement: str, tolerance: str,
           check: Callable[..., Outcome]) -> Claim:
    return Claim(claim_id, number, statement, _LATEX[claim_id], "derived", tolerance, inputs, check,
                 default_examples=FFT_CLAIM_EXAMPLES)


CLAIMS: list[Claim] = [
    _claim(14, "fft-equals-eig",
           "The FFT (Toeplitz CG) score equals the eigen oracle's for every kernel family, "
           "composite and Σ.",
           "max(1e-12, 16·u·κ_t) relative, per sequence", check_fft_equals_eig),
    _claim(15, "fft-certificate",
           "The certified bound ‖r‖/λ_lo (plus rounding) is ≥ the true error and ≤ κ̄ times "
           "it, κ̄ = (α²μ_max λ̄ + σ²)/(α²μ_min ℓ_Γ + σ²).",
           "eig rounding 16(d+H)κ_t·u; tightness slack 16·H·κ̄·u", check_certificate),
    _claim(16, "fft-bayes-floor",
           "The Bayes floor from one certified column of each T_i⁻¹ (Gohberg–Semencul) equals "
           "Σ α²λμ/(α²λμ+σ²) within its rigorous error bound.",
           "the method's own error bound + 16·dH·u·floor", check_floor),
    _claim(17, "circulant-embedding-exact",
           "The circulant-embedding sampler's covariance is exactly Γ (non-negative "
           "embedding, first H entries of IFFT(λ) = γ).",
           "2× the embedding's rounding tolerance u·log₂N·Σ|c|·8", check_embedding),
    _claim(18, "slq-logdet",
           "Stochastic Lanczos quadrature on the Chan-preconditioned operator estimates "
           "log det A_t within its standard error.",
           (f"{slq_sigmas(SLQ_PROBES):.2f} standard errors (Student t, "
            f"{SLQ_PROBES - 1} dof, two-sided 1e-6)"), check_logdet),
]
