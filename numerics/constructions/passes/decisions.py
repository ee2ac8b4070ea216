"""What the construction passes decide and hand to each other: the resolved choices, the
iteration plan and the multiplication module's plan."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ditgp.theory.choices import ALGORITHMS, ATTENTION_REALISATIONS, COEFFICIENTS, TIME_CONDITIONINGS
from ditgp.theory.errors import require

#: Probability mass outside the data ball ‖x‖ ≤ R_x on which multiplication bounds hold.
DATA_BALL_FAILURE = 1e-12
#: Relative headroom of the multiplication domain bound B over the iterate bound.
DOMAIN_MARGIN = 1.05
#: Number of fresh draws for the measured error.
MEASURE_SAMPLES = 16


@dataclass(frozen=True)
class Choices:
    """Construction choices (validated; a bad choice names itself)."""

    attention: str = "compact"
    algorithm: str = "chebyshev"
    time_conditioning: str = "fixed"
    eps: float = 1e-6
    t: float | None = None
    window: int | None = None
    truncation_share: float = 0.1
    multiply_share: float = 0.5
    coefficients: str = "t"
    pos_radius: float = 1.0
    measure_seed: int = 0

    def __post_init__(self) -> None:
        require(self.attention in ATTENTION_REALISATIONS, "attention", self.attention,
                "one of " + ", ".join(ATTENTION_REALISATIONS))
        require(self.algorithm in ALGORITHMS, "algorithm", self.algorithm,
                "one of " + ", ".join(ALGORITHMS))
        require(self.time_conditioning in TIME_CONDITIONINGS, "time_conditioning",
                self.time_conditioning, "one of " + ", ".join(TIME_CONDITIONINGS))
        require(isinstance(self.eps, int | float) and 0 < self.eps < 1, "eps", self.eps,
                "a relative error in (0, 1)")
        require(self.window is None or (isinstance(self.window, int) and self.window >= 0),
                "window", self.window, "an integer ≥ 0")
        require(0 < self.truncation_share < 1, "truncation_share", self.truncation_share,
                "a number in (0, 1)")
        require(0 < self.multiply_share < 1, "multiply_share", self.multiply_share,
                "a number in (0, 1)")
        require(self.coefficients in COEFFICIENTS, "coefficients", self.coefficients,
                "one of " + ", ".join(COEFFICIENTS))
        require(self.pos_radius > 0, "pos_radius", self.pos_radius, "a number > 0")
        if self.time_conditioning != "fixed":
            object.__setattr__(self, "coefficients", "all-t")

    @property
    def all_t(self) -> bool:
        return self.coefficients == "all-t"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class IterationPlan:
    """The unrolled iteration a construction realises, with its error budget."""

    algorithm: str
    K: int
    window: int
    interval: tuple[float, float]  # spectrum ends (a_min, a_max) the coefficients use
    eta: float | None
    theta: float | None
    omega: tuple[float, ...]
    iteration_bound: float
    truncation_bound: float
    tail_exact: float  # Σ_{m>w}|γ(m)| on the finite system
    tail_theory: float | None  # ditgp.theory.truncation.tail_bound, where available

    @property
    def kappa(self) -> float:
        return self.interval[1] / self.interval[0]

    @property
    def error_bound(self) -> float:
        """Relative bound ``τ + β(1+τ)`` (iteration + truncation)."""
        return self.truncation_bound + self.iteration_bound * (1 + self.truncation_bound)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["interval"] = list(self.interval)
        out["omega"] = list(self.omega)
        out["kappa"] = self.kappa
        out["error_bound"] = self.error_bound
        return out


@dataclass
class MultiplyInfo:
    """The multiplication module's parameters and bounds (``multiply`` only)."""

    depth: int
    B: float  # domain scale: |(u - v)_i| ≤ B on the data ball
    R_x: float  # data ball radius ‖x‖ ≤ R_x (probability ≥ 1 - DATA_BALL_FAILURE)
    x_norm_min: float  # relative bound stated for ‖x‖ ≥ x_norm_min
    product_error: float  # |p̃ - α²b̃| per coordinate
    abs_bound: float  # ‖out - out_exact-arith‖ over all t (spectral grid)
    rel_bound: float  # abs_bound · a_max / x_norm_min

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
