"""Semi-synthetic moving-ball video: a ball whose 2-D trajectory is a Gaussian process in time.

The benchmark of the GP-VAE literature (a ball moving along a GP trajectory, 30 frames of
32×32 pixels, radius 3) made exact and seeded.  A :class:`MovingBall` fixes every number:

* **Trajectory.**  ``g_x(h), g_y(h)``, ``h = 0..H-1``, are two independent draws of a
  zero-mean, unit-variance GP over frames with the squared-exponential kernel
  ``γ(m) = exp(-m²/(2ℓ²))`` (``ell`` = ℓ in frames; ``ell = 0`` gives independent frames,
  ``Γ = I``: the control).  Drawn exactly as ``U √λ₊ z`` from the eigen-decomposition of
  ``Γ_H`` (the SE Gram matrix is numerically singular, so eigenvalues below 0 are rounding
  and are set to 0; a Cholesky would need jitter).
* **Scaled GP, clipped.**  The ball centre (pixel coordinates, pixel ``i`` covers
  ``[i-½, i+½]``) is ``c = mid + sd·g`` with ``mid = (size-1)/2`` and ``sd = half/3``,
  ``half = (size-1)/2 - radius`` (so the whole ball is inside the frame when ``|g| ≤ 3``),
  then clipped to ``[mid - half, mid + half]``.  Clipping is the only non-linearity; a frame is
  clipped with probability ``P(|g| > 3) ≈ 0.27 %`` per coordinate (``sd`` can be set).
* **Rendering.**  An anti-aliased disc: pixel intensity
  ``v = clip(radius + edge/2 - ‖p - c‖, 0, edge)/edge`` (a linear ramp of width ``edge``
  pixels across the rim; its integral over the plane is ``π(radius² + edge²/12)``, the disc
  area plus the ramp's second moment), background 0, ball 1.
* **Values.**  ``scaling="standard"`` (default): ``x = (v - m)/s`` with ``m`` and ``s`` the
  mean and standard deviation over the pixels of a ball near the frame centre (averaged over
  its sub-pixel position) — the per-pixel mean and variance averaged over the frame for a ball
  anywhere inside it (no pixel falls off the frame), so values have mean ≈ 0 and variance ≈ 1 like the forward
  process's stationary law ``N(0, I)``.  ``scaling="symmetric"``: ``x = 2v - 1`` (the DDPM
  convention, values in ``[-1, 1]``).
* **Shape.**  ``(n, d, H)`` with ``d = size²`` (frame flattened row-major, ``y`` then ``x``):
  one frame is one token of the DiT.

Nothing here is a GP in pixel space: the pixel covariance over time is a non-linear function
of the trajectory covariance (two frames' pixels correlate through the overlap of the discs),
so a network trained on it has no exact score; :meth:`MovingBall.pseudo_spec` is the
:class:`~ditgp.theory.spec.GPSpec` that gives training its shape ``(d, H)``, its noise
schedule and the trajectory kernel — not the data's covariance.

>>> ball = MovingBall(frames=8, size=8, radius=1.5, ell=2.0)
>>> v = make_video(ball, 3, seed=0)
>>> v.x.shape, v.centres.shape
((3, 64, 8), (3, 2, 8))
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from ditgp.theory.errors import SpecError, require
from ditgp.theory.spec import GPSpec, Schedule

__all__ = ["SCALINGS", "CLIP_SD", "MovingBall", "Video", "make_video", "sample_trajectories",
           "trajectory_centres", "render", "to_values", "to_intensity", "detect_centres",
           "disc_mass", "DETECT_THRESHOLD"]

SCALINGS = ("standard", "symmetric")
#: default centre spread: the ball stays inside the frame while ``|g| ≤ CLIP_SD`` (per
#: coordinate and frame the clip probability is ``2Φ(-3) ≈ 0.27 %``)
CLIP_SD = 3.0
#: :func:`detect_centres` weighs pixels by ``clip((v - τ)/(1 - τ), 0, 1)`` with ``τ = ½``: the
#: interior of the disc has weight 1 and the rim is symmetric about the centre (an unbiased
#: centroid of a clean disc), while background noise below half the ball's intensity is ignored
DETECT_THRESHOLD = 0.5
#: frames rendered per chunk (bounds the temporary distance array)
_CHUNK = 4096


def _pos(name: str, value: Any, low: float = 0.0, strict: bool = True) -> float:
    ok = (isinstance(value, int | float) and not isinstance(value, bool)
          and math.isfinite(float(value)) and (float(value) > low if strict else float(value) >= low))
    require(ok, name, value, f"a finite number {'>' if strict else '≥'} {low:g}")
    return float(value)


@dataclass(frozen=True)
class MovingBall:
    """Every number of the moving-ball data (module docstring).  ``frames`` = ``H``,
    ``size`` = frame side in pixels (``d = size²``), ``radius`` and ``edge`` in pixels,
    ``ell`` the trajectory kernel's length-scale in frames (0: independent frames), ``sd``
    the centre's standard deviation in pixels (``None``: ``half/CLIP_SD``), ``scaling``
    ``standard`` or ``symmetric``."""

    frames: int = 30
    size: int = 32
    radius: float = 3.0
    ell: float = 4.0
    sd: float | None = None
    edge: float = 1.0
    scaling: str = "standard"
    _consts: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("frames", "size"):
            v = getattr(self, name)
            require(isinstance(v, int) and not isinstance(v, bool) and v >= 2, f"video.{name}",
                    v, "an integer ≥ 2")
        object.__setattr__(self, "radius", _pos("video.radius", self.radius))
        object.__setattr__(self, "ell", _pos("video.ell", self.ell, strict=False))
        object.__setattr__(self, "edge", _pos("video.edge", self.edge))
        require(self.radius + self.edge / 2 < (self.size - 1) / 2, "video.radius", self.radius,
                f"a radius with radius + edge/2 < (size-1)/2 = {(self.size - 1) / 2:g} (the ball "
                "must fit in the frame)")
        if self.sd is not None:
            object.__setattr__(self, "sd", _pos("video.sd", self.sd))
        require(self.scaling in SCALINGS, "video.scaling", self.scaling,
                "one of " + ", ".join(SCALINGS))

    # -- derived numbers ------------------------------------------------------------------
    @property
    def H(self) -> int:
        return self.frames

    @property
    def d(self) -> int:
        return self.size * self.size

    @property
    def mid(self) -> float:
        return (self.size - 1) / 2

    @property
    def half(self) -> float:
        """Half the range of centres that keeps the disc (radius) inside the frame."""
        return (self.size - 1) / 2 - self.radius

    @property
    def centre_sd(self) -> float:
        return self.sd if self.sd is not None else self.half / CLIP_SD

    def gamma(self, gaps) -> np.ndarray:
        """The trajectory kernel ``γ(m)`` (``δ_{m0}`` when ``ell = 0``)."""
        m = np.asarray(gaps, dtype=np.float64)
        if self.ell == 0:
            return (m == 0).astype(np.float64)
        return np.exp(-m * m / (2 * self.ell ** 2))

    def Gamma(self) -> np.ndarray:
        idx = np.abs(np.subtract.outer(np.arange(self.H), np.arange(self.H)))
        return self.gamma(idx)

    def value_constants(self) -> tuple[float, float]:
        """``(m, s)`` of ``scaling="standard"``: mean and standard deviation over the pixels
        of a ball rendered at the 8×8 sub-pixel offsets around the frame centre (the grid sum
        of a disc depends on its sub-pixel position by about 1 %)."""
        if "ms" not in self._consts:
            v = render(self, _subpixel_centres(self))  # (1, d, 64)
            m = float(v.mean())
            self._consts["ms"] = (m, float(np.sqrt(np.mean(v * v) - m * m)))
        return self._consts["ms"]

    def pseudo_spec(self, schedule: Schedule | None = None) -> GPSpec:
        """The :class:`GPSpec` training uses for shape ``(d, H)`` and the noise schedule:
        temporal kernel = the trajectory kernel (SE with ``ell``; a Laplace kernel of length
        ``1e-3`` — ``γ(1) = e^{-1000}`` — stands for independent frames), ``Σ = I``.  It is
        **not** the pixel covariance (module docstring)."""
        from ditgp.theory.kernels import kernel

        k = (kernel("squared-exponential", ell=self.ell) if self.ell > 0
             else kernel("laplace", ell=1e-3))
        return GPSpec(k, H=self.H, d=self.d, schedule=schedule or Schedule())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("_consts", None)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MovingBall:
        known = {"frames", "size", "radius", "ell", "sd", "edge", "scaling"}
        require(isinstance(data, dict) and set(data) <= known, "video", data,
                "a mapping of " + ", ".join(sorted(known)))
        return cls(**data)


@dataclass
class Video:
    """A drawn data set: ``x`` ``(n, d, H)`` values, ``centres`` ``(n, 2, H)`` pixel
    coordinates (x then y), ``g`` ``(n, 2, H)`` the unit-variance GP draws, ``clipped`` the
    fraction of centre coordinates that were clipped."""

    spec: MovingBall
    x: np.ndarray
    centres: np.ndarray
    g: np.ndarray
    clipped: float


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream])))


def _check_n_seed(n: Any, seed: Any) -> tuple[int, int]:
    for name, v, low in (("n", n, 1), ("seed", seed, 0)):
        require(isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= low, name,
                v, f"an integer ≥ {low}")
    return int(n), int(seed)


def sample_trajectories(spec: MovingBall, n: int, seed: int) -> np.ndarray:
    """``(n, 2, H)`` exact draws of the unit-variance trajectory GP (module docstring)."""
    n, seed = _check_n_seed(n, seed)
    lam, U = np.linalg.eigh(spec.Gamma())
    root = U * np.sqrt(np.maximum(lam, 0.0))  # Γ = root rootᵀ
    z = _rng(seed, 0x7A4A).standard_normal((n, 2, spec.H))
    return z @ root.T


def trajectory_centres(spec: MovingBall, g: np.ndarray) -> tuple[np.ndarray, float]:
    """Pixel centres ``mid + sd·g`` clipped to the frame, and the clipped fraction."""
    c = spec.mid + spec.centre_sd * np.asarray(g, dtype=np.float64)
    lo, hi = spec.mid - spec.half, spec.mid + spec.half
    clipped = float(np.mean((c < lo) | (c > hi))) if c.size else 0.0
    return np.clip(c, lo, hi), clipped


def render(spec: MovingBall, centres: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Intensities ``(n, d, H)`` in ``[0, 1]`` of balls at ``centres`` ``(n, 2, H)``."""
    c = np.asarray(centres, dtype=np.float64)
    require(c.ndim == 3 and c.shape[1] == 2, "centres", c.shape, "shape (n, 2, H)")
    n, _, H = c.shape
    px = np.arange(spec.size, dtype=np.float64)
    out = np.empty((n, H, spec.d), dtype=dtype)
    flat = c.transpose(0, 2, 1).reshape(-1, 2)  # (n·H, 2) as (x, y)
    view = out.reshape(-1, spec.d)
    for a in range(0, flat.shape[0], _CHUNK):
        cx, cy = flat[a:a + _CHUNK, 0], flat[a:a + _CHUNK, 1]
        dist = np.sqrt((px[None, None, :] - cx[:, None, None]) ** 2
                       + (px[None, :, None] - cy[:, None, None]) ** 2)  # (m, y, x)
        v = np.clip(spec.radius + spec.edge / 2 - dist, 0.0, spec.edge) / spec.edge
        view[a:a + _CHUNK] = v.reshape(v.shape[0], -1)
    return np.ascontiguousarray(out.transpose(0, 2, 1))


def to_values(spec: MovingBall, v: np.ndarray) -> np.ndarray:
    """Intensities ``[0, 1]`` → training values (``spec.scaling``)."""
    if spec.scaling == "symmetric":
        return 2.0 * v - 1.0
    m, s = spec.value_constants()
    return (v - m) / s


def to_intensity(spec: MovingBall, x: np.ndarray) -> np.ndarray:
    """Training values → intensities (the inverse of :func:`to_values`; not clipped)."""
    x = np.asarray(x, dtype=np.float64)
    if spec.scaling == "symmetric":
        return (x + 1.0) / 2.0
    m, s = spec.value_constants()
    return x * s + m


def make_video(spec: MovingBall, n: int, seed: int, dtype=np.float32) -> Video:
    """``n`` seeded sequences (a pure function of ``(spec, n, seed)``; row ``i`` does not
    depend on ``n``)."""
    g = sample_trajectories(spec, n, seed)
    c, clipped = trajectory_centres(spec, g)
    x = to_values(spec, render(spec, c)).astype(dtype, copy=False)
    return Video(spec, x, c, g, clipped)


def _subpixel_centres(spec: MovingBall) -> np.ndarray:
    """``(1, 2, 64)``: the frame centre shifted by the 8×8 sub-pixel offsets in ``[-½, ½)²``."""
    off = (np.arange(8) + 0.5) / 8 - 0.5
    ox, oy = np.meshgrid(off, off)
    return np.stack([spec.mid + ox.ravel(), spec.mid + oy.ravel()])[None]


def disc_mass(spec: MovingBall) -> float:
    """``Σ v`` over the pixels of one ball inside the frame (averaged over sub-pixel
    positions, :meth:`MovingBall.value_constants`)."""
    return float(render(spec, _subpixel_centres(spec)).sum(axis=1).mean())


def detect_centres(spec: MovingBall, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(centres (n, 2, H), mass (n, H))`` of training values ``x`` ``(n, d, H)``: the
    centroid with weights ``clip((v - τ)/(1 - τ), 0, 1)`` (:data:`DETECT_THRESHOLD`), and the
    mass ``Σ clip(v, 0, 1)`` in units of :func:`disc_mass` (1 for one clean ball).  A frame with
    no pixel above ``τ`` gets the frame centre (and a mass near 0)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] != spec.d:
        raise SpecError("x", x.shape, f"shape (n, d, H) with d = {spec.d}")
    v = to_intensity(spec, x)
    tau = DETECT_THRESHOLD
    w = np.clip((v - tau) / (1 - tau), 0.0, 1.0).reshape(x.shape[0], spec.size, spec.size, -1)
    px = np.arange(spec.size, dtype=np.float64)
    tot = w.sum(axis=(1, 2))  # (n, H)
    safe = np.where(tot > 0, tot, 1.0)
    cx = np.where(tot > 0, np.einsum("nyxh,x->nh", w, px) / safe, spec.mid)
    cy = np.where(tot > 0, np.einsum("nyxh,y->nh", w, px) / safe, spec.mid)
    mass = np.clip(v, 0.0, 1.0).sum(axis=1) / disc_mass(spec)
    return np.stack([cx, cy], axis=1), mass
