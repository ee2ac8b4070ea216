"""ditgp.verify — comparisons, the registry of theory claims, hypothesis strategies, reports.

Modules: :mod:`~ditgp.verify.compare` (score functions compared on the same draws, samples vs
``N(0, Γ⊗Σ)``), :mod:`~ditgp.verify.claims` (the claim registry and its runner, one module per subject),
:mod:`~ditgp.verify.strategies` (public hypothesis strategies), :mod:`~ditgp.verify.tolerances`
(every tolerance, named), :mod:`~ditgp.verify.report` (markdown/JSON reports and plots),
:mod:`~ditgp.verify.bundle_check` (checks of a weight bundle against its manifest),
:mod:`~ditgp.verify.pytest_plugin`.
"""
