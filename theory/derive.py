"""``ditgp derive``: everything the theory says about one spec, at one time, for one accuracy.

:func:`derive` chains the single-purpose results of the symbolic layer — kernel and
certificate, spectral bounds, the forward process, the unrolled iterations, truncation and
the network resources they imply — into one :class:`Derivation`, rendered as a nested dict
(JSON), plain text or LaTeX.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
from ditgp.theory import iterations as it
from ditgp.theory import process
from ditgp.theory.errors import require
from ditgp.theory.spec import GPSpec
from ditgp.theory.spectral import eigenvalue_bounds, symbol, truncation_keeps_pd
from ditgp.theory.truncation import tail_bound, window, window_asymptotic

__all__ = ["Derivation", "derive", "DENSE_MAX_H", "SpectrumProvider", "dense_spectrum"]

#: Above this ``H`` derive never forms the ``H × H`` matrix ``Γ``: the exact extreme
#: eigenvalues and the Bayes floor come from a :data:`SpectrumProvider` (the CLI passes the
#: FFT/Lanczos one of ``ditgp.numerics``) or are left out with a note.
DENSE_MAX_H = 4096

#: ``provider(spec, t) -> dict`` with keys ``lambda_min``, ``lambda_max`` (estimates of the
#: exact extremes of ``Γ_H``), ``radius_min``, ``radius_max`` (an eigenvalue lies within
#: them), ``method``, ``bayes_floor``, ``bayes_floor_error_bound``, ``bayes_floor_method``.
SpectrumProvider = Callable[[GPSpec, float], dict[str, Any]]


def dense_spectrum(spec: GPSpec, t: float) -> dict[str, Any]:
    """The :data:`SpectrumProvider` by a dense eigensolve of ``Γ`` (``O(H³)``, ``H²`` memory)."""
    lam = np.linalg.eigvalsh(spec.Gamma)
    mu = np.linalg.eigvalsh(spec.Sigma)
    a2, s2 = float(spec.schedule.alpha2(t)), float(spec.schedule.sigma2(t))
    return {"lambda_min": float(lam[0]), "lambda_max": float(lam[-1]), "radius_min": 0.0,
            "radius_max": 0.0, "method": "eigvalsh (dense Γ)",
            "bayes_floor": process.bayes_floor(lam, mu, a2, s2),
            "bayes_floor_error_bound": 0.0, "bayes_floor_method": "all eigenvalues"}


@dataclass(frozen=True)
class Derivation:
    """The derivation for one spec at time ``t`` and target relative error ``eps``."""

    spec: GPSpec
    t: float
    eps: float
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def to_text(self) -> str:
        return "\n".join(_text_lines(self.data))

    def to_latex(self) -> str:
        d = self.data
        k, g, c, w = d["kernel"], d["gd"], d["chebyshev"], d["window"]
        lines = [
            r"\begin{align*}",
            rf"\gamma(m) &= {k['formula_latex']} \quad \text{{({k['decay_class']})}}\\",
            rf"\lambda(\Gamma_H) &\in [{_tex(d['spectrum']['lambda_min'])}, "
            rf"{_tex(d['spectrum']['lambda_max'])}]\\",
            rf"\kappa_t &= {_tex(d['kappa_t'])}\\",
            rf"\eta_t &= \frac{{2}}{{a_{{\min}} + a_{{\max}}}} = {_tex(g['eta'])},\quad "
            rf"\rho_t = \frac{{\kappa_t - 1}}{{\kappa_t + 1}} = {_tex(g['rho'])}\\",
            rf"K_{{\mathrm{{GD}}}}(\varepsilon) &= \left\lceil \frac{{\ln(1/\varepsilon)}}"
            rf"{{\ln(1/\rho_t)}} \right\rceil = {g['steps']}\\",
            rf"K_{{\mathrm{{Cheb}}}}(\varepsilon) &= \left\lceil \frac{{\operatorname{{arccosh}}"
            rf"(1/\varepsilon)}}{{\operatorname{{arccosh}}\sigma_t}} \right\rceil = {c['steps']}\\",
            rf"w(\varepsilon) &= {w['w']},\quad \sum_{{m>w}}|\gamma(m)| \le {_tex(w['tail_bound'])}\\",
            rf"s(X,t) &= {d['score']['matrix_form_latex']}",
            r"\end{align*}",
        ]
        return "\n".join(lines)


def _tex(x: Any) -> str:
    if isinstance(x, float):
        if math.isinf(x):
            return r"\infty"
        return sp.latex(sp.Float(x, 4))
    return str(x)


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(x)


def _text_lines(d: dict[str, Any], prefix: str = "") -> list[str]:
    lines: list[str] = []
    for key, value in d.items():
        if key.endswith("_latex"):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            lines.extend(_text_lines(value, name + "."))
        else:
            lines.append(f"{name:32s} {_fmt(value)}")
    return lines


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def derive(spec: GPSpec, t: float, eps: float, spectrum: SpectrumProvider | None = None
           ) -> Derivation:
    """Derive the score, iterations, bounds, window and resources for ``spec`` at ``t``.

    ``eps`` is the target relative error of the unrolled score and the tail level of the
    truncation window.  ``spectrum`` supplies the exact extremes of ``Γ_H`` and the Bayes
    floor; by default a dense eigensolve for ``H ≤ DENSE_MAX_H`` and nothing above (the
    fields are ``None`` with a note) — ``Γ`` is never formed above ``DENSE_MAX_H``.
    """
    require(isinstance(spec, GPSpec), "spec", spec, "a GPSpec")
    t_arr = spec.schedule.check_time(t)
    t = float(t_arr)
    require(
        isinstance(eps, int | float) and 0 < eps < 1, "eps", eps, "a relative error in (0, 1)"
    )
    eps = float(eps)
    kern = spec.kernel
    cert = kern.certificate()
    alpha2 = float(spec.schedule.alpha2(t))
    sigma2 = float(spec.schedule.sigma2(t))

    bounds = eigenvalue_bounds(kern, spec.H)
    mu = np.linalg.eigvalsh(spec.Sigma)
    if spectrum is not None:
        exact = spectrum(spec, t)
    elif spec.H <= DENSE_MAX_H:
        exact = dense_spectrum(spec, t)
    else:
        exact = {"lambda_min": None, "lambda_max": None, "radius_min": None, "radius_max": None,
                 "method": f"not computed: H={spec.H} > {DENSE_MAX_H} and no spectrum provider "
                           "(the CLI uses Lanczos on the FFT operator)",
                 "bayes_floor": None, "bayes_floor_error_bound": None, "bayes_floor_method": None}
    a_min, a_max = (float(v) for v in it.a_t_extremes(
        bounds.lower, bounds.upper, mu[0], mu[-1], alpha2, sigma2))
    kappa_t = a_max / a_min
    eta = float(it.gd_step_size(a_min, a_max))
    rho = float(it.gd_rate(a_min, a_max))
    gd_k = it.gd_steps(a_min, a_max, eps)
    cheb_k = it.chebyshev_steps(a_min, a_max, eps)
    w = window(kern, eps, spec.H)
    tail = tail_bound(kern, w, spec.H)
    sym = symbol(kern)

    data: dict[str, Any] = {
        "spec": spec.to_dict(),
        "t": t,
        "eps": eps,
        "kernel": {
            "name": kern.name,
            "description": kern.describe(),
            "formula": sp.sstr(kern.symbolic()),
            "formula_latex": sp.latex(kern.symbolic()),
            "decay_class": kern.decay_class.value,
            "valid": cert.valid,
            "certificate": cert.to_dict(),
            "symbol": None if sym is None else sp.sstr(sym),
        },
        "process": {
            "alpha2": alpha2,
            "sigma2": sigma2,
            "alpha2_formula": sp.sstr(process.ALPHA2),
            "sigma2_formula": sp.sstr(process.SIGMA2),
        },
        "spectrum": {
            "lambda_min": float(bounds.lower),
            "lambda_max": float(bounds.upper),
            "uniform_in_H": bool(bounds.uniform),
            "method_lower": bounds.method_lower,
            "method_upper": bounds.method_upper,
            "note": bounds.note,
            "exact_lambda_min": exact["lambda_min"],
            "exact_lambda_max": exact["lambda_max"],
            "exact_radius_min": exact["radius_min"],
            "exact_radius_max": exact["radius_max"],
            "exact_method": exact["method"],
            "kappa_gamma_bound": _finite(bounds.upper / bounds.lower) if bounds.lower > 0 else None,
            "mu_min": float(mu[0]),
            "mu_max": float(mu[-1]),
        },
        "a_t": {"a_min": a_min, "a_max": a_max},
        "kappa_t": kappa_t,
        "gd": {
            "eta": eta,
            "rho": rho,
            "steps": gd_k,
            "steps_approx": float((kappa_t / 2) * math.log(1 / eps)),
            "error_bound": float(rho**gd_k),
            "iteration": "V <- V - eta*(alpha2*Sigma V Gamma + sigma2*V - X)",
        },
        "chebyshev": {
            "steps": cheb_k,
            "steps_approx": float(math.sqrt(kappa_t) / 2 * math.log(2 / eps)),
            "rate": float((math.sqrt(kappa_t) - 1) / (math.sqrt(kappa_t) + 1)),
            "error_bound": it.chebyshev_error_bound(a_min, a_max, cheb_k),
            "speedup_vs_gd": gd_k / cheb_k,
        },
        "window": {
            "w": int(w),
            "delta": eps,
            "tail_bound": float(tail),
            "gap_bound": float(2 * tail),
            "keeps_pd": bool(truncation_keeps_pd(kern, w, spec.H)),
            "asymptotic": sp.sstr(window_asymptotic(kern.decay_class)),
        },
        "resources": {
            "heads_paper": 4 * (int(w) + 1),
            "heads_compact": int(w) + 1,
            "layers_gd": gd_k,
            "layers_chebyshev": cheb_k,
            "width": "D = O(d + d_e)",
            "output_bound_scale": float(math.sqrt(spec.H * spec.d) / sigma2),
            "note": "the paper gives orders only (docs/theory.md §3, §5); `ditgp construct` "
            "reports the actual D, L, M, B, R of a built network",
        },
        "score": {
            "matrix_form": "s(X, t) = -vec^{-1}((alpha_t^2 Gamma (x) Sigma + sigma_t^2 I)^{-1} vec X)",
            "matrix_form_latex": sp.latex(process.score_matrix_form()),
            "eigen_form": process.score_eigen_form(),
            "bayes_floor": exact["bayes_floor"],
            "bayes_floor_error_bound": exact["bayes_floor_error_bound"],
            "bayes_floor_method": exact["bayes_floor_method"],
            "bayes_floor_of": spec.d * spec.H,
        },
    }
    return Derivation(spec, t, eps, data)
