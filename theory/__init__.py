"""ditgp.theory — the symbolic layer (sympy; never torch).

Modules: :mod:`~ditgp.theory.spec` (GP spec, schedule), :mod:`~ditgp.theory.kernels`
(catalogue, certificates), :mod:`~ditgp.theory.process` (score, Bayes floor),
:mod:`~ditgp.theory.iterations` (GD, Chebyshev), :mod:`~ditgp.theory.spectral` (symbol,
eigenvalue bounds), :mod:`~ditgp.theory.truncation` (tails, windows),
:mod:`~ditgp.theory.derive` (everything for one spec), :mod:`~ditgp.theory.bridge`
(expressions to numeric functions and LaTeX).
"""
