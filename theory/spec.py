"""The GP spec and the forward-process schedule: the immutable values every layer shares.

A :class:`GPSpec` is ``kernel × H × d × Σ × schedule``; it validates itself when built (a
bad spec cannot exist) and round-trips through JSON, which goes into every manifest and
report.  numpy is used here only to validate and materialise an explicit ``Σ``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from ditgp.theory.errors import NotPositiveDefiniteError, SpecError, require
from ditgp.theory.kernels import Kernel, kernel_from_dict

__all__ = ["Schedule", "Spatial", "GPSpec", "SPEC_FORMAT", "parse_spatial"]

#: Version tag of the JSON form of a spec.
SPEC_FORMAT = "ditgp.gpspec/1"

#: Relative tolerance on ``γ(0) = 1`` and on the symmetry of an explicit ``Σ``.
UNIT_DIAGONAL_RTOL = 1e-12
SYMMETRY_RTOL = 1e-10


def _number(field_name: str, value: Any, expected: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise SpecError(field_name, value, expected)
    v = float(value)
    require(math.isfinite(v), field_name, value, expected)
    return v


def _integer(field_name: str, value: Any, low: int) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= low
    require(ok, field_name, value, f"an integer ≥ {low}")
    return int(value)


@dataclass(frozen=True)
class Schedule:
    """Ornstein–Uhlenbeck forward process ``dX = -½X dt + dW`` on ``[t0, T]`` (docs/theory.md §2).

    ``α_t = exp(-t/2)``, ``σ_t² = 1 - exp(-t)``; reverse time runs on ``[t0, T]`` with early
    stopping ``t0 > 0``.
    """

    t0: float = 1e-3
    T: float = 10.0

    def __post_init__(self) -> None:
        t0 = _number("t0", self.t0, "a number in (0, T)")
        T = _number("T", self.T, "a finite number > t0")
        require(t0 > 0, "t0", self.t0, "a number > 0 (early stopping time)")
        require(T > t0, "T", self.T, f"a number > t0={t0:g}")
        object.__setattr__(self, "t0", t0)
        object.__setattr__(self, "T", T)

    def check_time(self, t: Any, name: str = "t") -> np.ndarray:
        """Validate diffusion time(s): each must lie in ``[t0, T]``; returns a float64 array."""
        try:
            raw = np.asarray(t)
        except (TypeError, ValueError):
            raw = np.asarray(None)
        if raw.dtype.kind not in "fiu":
            raise SpecError(name, t, f"a real time in [t0, T] = [{self.t0:g}, {self.T:g}]")
        arr = raw.astype(np.float64)
        bad = ~np.isfinite(arr) | (arr < self.t0) | (arr > self.T)
        if np.any(bad):
            value = float(arr[bad].flat[0]) if arr.ndim else float(arr)
            raise SpecError(name, value, f"a time in [t0, T] = [{self.t0:g}, {self.T:g}]")
        return arr

    def alpha2(self, t: Any) -> np.ndarray:
        """``α_t² = exp(-t)`` (float64)."""
        return np.exp(-self.check_time(t))

    def sigma2(self, t: Any) -> np.ndarray:
        """``σ_t² = 1 - exp(-t)`` (float64, via ``expm1`` for accuracy at small ``t``)."""
        return -np.expm1(-self.check_time(t))

    def to_dict(self) -> dict[str, float]:
        return {"t0": self.t0, "T": self.T}


SPATIAL_KINDS = ("identity", "ar", "random", "explicit")


@dataclass(frozen=True)
class Spatial:
    """Spatial covariance ``Σ`` (``d × d``, symmetric positive definite).

    Kinds: ``identity``; ``ar`` with ``rho`` (``Σ_ij = ρ^|i-j|``, ``|ρ| < 1``); ``random``
    with ``kappa`` and ``seed`` (a seeded random rotation of geometrically spaced
    eigenvalues from ``κ^{-1/2}`` to ``κ^{1/2}``, so ``cond(Σ) = κ`` exactly); ``explicit``
    with ``matrix`` (nested tuples).
    """

    kind: str = "identity"
    rho: float | None = None
    kappa: float | None = None
    seed: int | None = None
    matrix: tuple[tuple[float, ...], ...] | None = None

    def __post_init__(self) -> None:
        require(self.kind in SPATIAL_KINDS, "spatial", self.kind, "one of " + ", ".join(SPATIAL_KINDS))
        if self.kind == "ar":
            rho = _number("spatial.rho", self.rho, "a number in (-1, 1)")
            require(-1 < rho < 1, "spatial.rho", self.rho, "a number in (-1, 1)")
            object.__setattr__(self, "rho", rho)
        if self.kind == "random":
            kappa = _number("spatial.kappa", self.kappa, "a condition number ≥ 1")
            require(kappa >= 1, "spatial.kappa", self.kappa, "a condition number ≥ 1")
            object.__setattr__(self, "kappa", kappa)
            object.__setattr__(self, "seed", _integer("spatial.seed", self.seed, 0))
        if self.kind == "explicit":
            if self.matrix is None:
                raise SpecError("spatial.matrix", None, "a square symmetric positive definite matrix")
            mat = np.asarray(self.matrix, dtype=np.float64)
            object.__setattr__(self, "matrix", tuple(tuple(float(v) for v in row) for row in mat))
            check_spd("spatial.matrix", mat)

    def build(self, d: int) -> np.ndarray:
        """The ``d × d`` matrix ``Σ`` (float64)."""
        if self.kind == "identity":
            return np.eye(d)
        if self.kind == "ar":
            idx = np.abs(np.subtract.outer(np.arange(d), np.arange(d)))
            return float(self.rho) ** idx
        if self.kind == "random":
            rng = np.random.default_rng(self.seed)
            q, r = np.linalg.qr(rng.standard_normal((d, d)))
            q = q * np.sign(np.diag(r))
            half = 0.5 * math.log(self.kappa)
            mu = np.exp(np.linspace(half, -half, d)) if d > 1 else np.ones(1)
            sigma = (q * mu) @ q.T
            return 0.5 * (sigma + sigma.T)
        mat = np.asarray(self.matrix, dtype=np.float64)
        if mat.shape != (d, d):
            raise SpecError("spatial.matrix", mat, f"shape ({d}, {d}) to match d={d}")
        return mat

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "ar":
            out["rho"] = self.rho
        elif self.kind == "random":
            out.update(kappa=self.kappa, seed=self.seed)
        elif self.kind == "explicit":
            out["matrix"] = [list(row) for row in self.matrix]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Spatial:
        if not isinstance(data, dict) or "kind" not in data:
            raise SpecError("spatial", data, "a mapping with a 'kind' key")
        allowed = {"kind", "rho", "kappa", "seed", "matrix"}
        for key in data:
            require(key in allowed, f"spatial.{key}", data[key], "one of " + ", ".join(sorted(allowed)))
        matrix = data.get("matrix")
        if matrix is not None:
            matrix = tuple(tuple(row) for row in matrix)
        return cls(data["kind"], data.get("rho"), data.get("kappa"), data.get("seed"), matrix)

    def describe(self) -> str:
        if self.kind == "ar":
            return f"ar:{self.rho:g}"
        if self.kind == "random":
            return f"random:{self.kappa:g}:{self.seed}"
        return self.kind


def check_spd(name: str, mat: np.ndarray) -> None:
    """Refuse a matrix that is not square, symmetric and positive definite."""
    if mat.ndim != 2 or mat.shape[0] != mat.shape[1] or mat.shape[0] == 0:
        raise SpecError(name, mat, "a non-empty square matrix")
    if not np.all(np.isfinite(mat)):
        raise SpecError(name, mat, "finite entries")
    scale = max(float(np.max(np.abs(mat))), np.finfo(float).tiny)
    asym = float(np.max(np.abs(mat - mat.T)))
    if asym > SYMMETRY_RTOL * scale:
        raise SpecError(name, mat, f"a symmetric matrix (max |Σ - Σᵀ| = {asym:.3g})")
    lam_min = float(np.linalg.eigvalsh(0.5 * (mat + mat.T))[0])
    if lam_min <= 0:
        raise NotPositiveDefiniteError(
            name, mat, f"a positive definite matrix (smallest eigenvalue {lam_min:.3g} ≤ 0)"
        )


def parse_spatial(text: str) -> Spatial:
    """Parse the command-line form: ``identity``, ``ar:RHO``, ``random:KAPPA:SEED``,
    ``file:PATH.npy`` (the file is read now and stored in the spec as an explicit matrix)."""
    expected = "identity, ar:RHO, random:KAPPA:SEED or file:PATH.npy"
    parts = text.split(":", 1)
    kind = parts[0]
    try:
        if kind == "identity" and len(parts) == 1:
            return Spatial("identity")
        if kind == "ar" and len(parts) == 2:
            return Spatial("ar", rho=float(parts[1]))
        if kind == "random" and len(parts) == 2:
            kappa, seed = parts[1].split(":")
            return Spatial("random", kappa=float(kappa), seed=int(seed))
        if kind == "file" and len(parts) == 2:
            path = Path(parts[1])
            try:
                mat = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise SpecError("spatial", text, f"a readable .npy file ({exc})") from None
            return Spatial("explicit", matrix=tuple(tuple(r) for r in np.atleast_2d(mat)))
    except ValueError as exc:
        if isinstance(exc, SpecError):
            raise
        raise SpecError("spatial", text, expected) from None
    raise SpecError("spatial", text, expected)


@dataclass(frozen=True)
class GPSpec:
    """``vec X ~ N(0, Γ ⊗ Σ)`` with ``X ∈ R^{d×H}``, plus the forward-process schedule.

    >>> from ditgp.theory.kernels import kernel
    >>> spec = GPSpec(kernel("laplace", ell=4.0), H=16, d=2)
    >>> GPSpec.from_json(spec.to_json()) == spec
    True
    """

    kernel: Kernel
    H: int
    d: int
    spatial: Spatial = field(default_factory=Spatial)
    schedule: Schedule = field(default_factory=Schedule)

    def __post_init__(self) -> None:
        if not isinstance(self.kernel, Kernel):
            raise SpecError("kernel", self.kernel, "a ditgp kernel (ditgp.kernel(name, ...))")
        object.__setattr__(self, "H", _integer("H", self.H, 1))
        object.__setattr__(self, "d", _integer("d", self.d, 1))
        require(isinstance(self.spatial, Spatial), "spatial", self.spatial, "a Spatial value")
        require(isinstance(self.schedule, Schedule), "schedule", self.schedule, "a Schedule value")
        g0 = float(self.kernel.gamma(0))
        require(
            abs(g0 - 1.0) <= UNIT_DIAGONAL_RTOL,
            "kernel",
            self.kernel.describe(),
            f"a correlation kernel with γ(0) = 1 (got γ(0) = {g0:.12g}; weights of a sum must add to 1)",
        )
        self.Sigma  # noqa: B018 - materialise and validate Σ for this d

    # -- matrices ---------------------------------------------------------------------
    @cached_property
    def Sigma(self) -> np.ndarray:
        """``Σ`` (``d × d``, float64, read-only)."""
        mat = self.spatial.build(self.d)
        check_spd("spatial", mat)
        mat.setflags(write=False)
        return mat

    @cached_property
    def Gamma(self) -> np.ndarray:
        """``Γ_H`` (``H × H`` Toeplitz, float64, read-only)."""
        mat = self.kernel.matrix(self.H)
        mat.setflags(write=False)
        return mat

    # -- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SPEC_FORMAT,
            "kernel": self.kernel.to_dict(),
            "H": self.H,
            "d": self.d,
            "spatial": self.spatial.to_dict(),
            "schedule": self.schedule.to_dict(),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GPSpec:
        if not isinstance(data, dict):
            raise SpecError("spec", data, "a JSON object")
        fmt = data.get("format", SPEC_FORMAT)
        require(fmt == SPEC_FORMAT, "spec.format", fmt, f"'{SPEC_FORMAT}'")
        for key in ("kernel", "H", "d"):
            require(key in data, f"spec.{key}", None, "present")
        known = {"format", "kernel", "H", "d", "spatial", "schedule"}
        for key in data:
            require(key in known, f"spec.{key}", data[key], "one of " + ", ".join(sorted(known)))
        sched = data.get("schedule", {})
        require(isinstance(sched, dict), "spec.schedule", sched, "a mapping with t0 and T")
        return cls(
            kernel=kernel_from_dict(data["kernel"]),
            H=data["H"],
            d=data["d"],
            spatial=Spatial.from_dict(data.get("spatial", {"kind": "identity"})),
            schedule=Schedule(**{k: sched[k] for k in ("t0", "T") if k in sched}),
        )

    @classmethod
    def from_json(cls, text: str) -> GPSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError("spec", text[:40], f"valid JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> GPSpec:
        """Read a spec from a JSON file."""
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise SpecError("spec", str(path), f"a readable JSON file ({exc.strerror})") from None
        return cls.from_json(text)

    def describe(self) -> str:
        return f"{self.kernel.describe()}, H={self.H}, d={self.d}, Σ={self.spatial.describe()}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GPSpec) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.to_json(indent=None))
