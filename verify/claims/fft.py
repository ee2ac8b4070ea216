"""Claims 14-18: the long-sequence FFT path (Toeplitz CG, circulant embedding, Gohberg-Semencul
floor, stochastic Lanczos log-determinant), registered from :mod:`ditgp.verify.longseq`, where
the checks, their tolerances and their inputs live.  All are ``derived``: results of this
toolkit's numerics, not of the paper."""

from __future__ import annotations

from ditgp.verify import longseq
from ditgp.verify.claims.base import Claim

#: Examples per FFT-path claim in the default suite (each draw solves, samples or estimates at
#: H ≤ 160 on both paths; the property tests in tests/verify draw more).
FFT_CLAIM_EXAMPLES = 10

_LATEX = {
    "fft-equals-eig": r"\|s_{\mathrm{fft}} - s_{\mathrm{eig}}\| \le \max(10^{-12}, 16u\kappa_t)\,\|s\|",
    "fft-certificate": r"\|v - v^*\| \le \|r\|/\lambda_{\mathrm{lo}} \le \bar\kappa\,\|v - v^*\|",
    "fft-bayes-floor": r"\Big|\widehat{\mathrm{floor}} - \sum_{ij}\tfrac{\alpha_t^2\lambda_i\mu_j}"
                       r"{\alpha_t^2\lambda_i\mu_j+\sigma_t^2}\Big| \le \mathrm{bound}",
    "circulant-embedding-exact": r"\mathrm{IFFT}(\hat\lambda)_{0..H-1} = \gamma,\ \hat\lambda \ge 0",
    "slq-logdet": r"|\widehat{\log\det} A_t - \log\det A_t| \le t_{15,\,1-5\cdot10^{-7}}\,\mathrm{SE}",
}

CLAIMS: list[Claim] = [
    Claim(c.id, 14 + i, c.statement, _LATEX[c.id], c.source, c.tolerance, c.strategy, c.check,
          default_examples=FFT_CLAIM_EXAMPLES)
    for i, c in enumerate(longseq.CLAIMS)
]
