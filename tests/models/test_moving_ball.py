"""The moving-ball generator: trajectory covariance = the kernel (a Monte Carlo test with a
stated standard error), the disc on known cases, value ranges, determinism, detection."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ditgp.models import video as V
from ditgp.models.video import MovingBall, detect_centres, make_video, render
from ditgp.theory.errors import SpecError
from ditgp.verify.tolerances import MC_Z

#: ``render`` sums a ramp-edged disc on the pixel grid; its continuous integral is
#: ``π(r² + edge²/12)``.  The grid sum differs by the lattice-point error of the ramp, which
#: for r = 3 is measured ≈ 1 %; 3 % lets a radius off by 0.1 px (≈ 7 % of the mass) fail.
DISC_MASS_RTOL = 0.03
#: centroid of a clean disc at a non-lattice centre: the ramp-weighted pixel grid is not
#: symmetric about it; measured ≤ 0.07 px for r = 3, so 0.1 px (a tenth of a pixel)
CENTROID_ATOL = 0.1


def _gap_corr(g: np.ndarray) -> np.ndarray:
    """Σ g_h g_{h+m} averaged over sequences, coordinates and pairs (mean 0, variance 1 known)."""
    H = g.shape[-1]
    return np.array([np.mean(g[..., : H - m] * g[..., m:]) for m in range(H)])


def test_trajectory_covariance_is_the_kernel():
    """Monte Carlo: per gap the estimate's standard error is at most √((1+γ²)/(2n)) (the
    variance of one product g_h g_{h+m} of unit Gaussians with correlation γ is 1+γ², the
    average over frames only lowers it, two coordinates are independent): accept MC_Z SE."""
    ball = MovingBall(frames=12, size=16, radius=2.0, ell=3.0)
    n = 4000
    g = V.sample_trajectories(ball, n, seed=1)
    gam = ball.gamma(np.arange(12))
    se = np.sqrt((1 + gam ** 2) / (2 * n))
    assert np.all(np.abs(_gap_corr(g) - gam) <= MC_Z * se)
    # the planted bug: a length-scale 1.5x too long is caught
    wrong = MovingBall(frames=12, size=16, radius=2.0, ell=4.5)
    assert not np.all(np.abs(_gap_corr(V.sample_trajectories(wrong, n, seed=1)) - gam) <= MC_Z * se)


def test_dropped_square_root_is_caught(monkeypatch):
    ball = MovingBall(frames=12, size=16, radius=2.0, ell=3.0)
    real_eigh = np.linalg.eigh
    monkeypatch.setattr(V.np.linalg, "eigh", lambda a: (lambda lu: (lu[0] ** 2, lu[1]))(real_eigh(a)))
    g = V.sample_trajectories(ball, 4000, seed=1)
    gam = ball.gamma(np.arange(12))
    assert not np.all(np.abs(_gap_corr(g) - gam) <= MC_Z * np.sqrt((1 + gam ** 2) / 8000))


def test_independent_frames_control():
    ball = MovingBall(frames=10, size=16, radius=2.0, ell=0.0)
    g = V.sample_trajectories(ball, 4000, seed=2)
    c = _gap_corr(g)
    assert abs(c[0] - 1) <= MC_Z * math.sqrt(2 / 8000)
    assert np.all(np.abs(c[1:]) <= MC_Z * math.sqrt(1 / 8000))
    assert ball.pseudo_spec().kernel.gamma(1) < 1e-300


def test_disc_on_a_known_case():
    ball = MovingBall(frames=2, size=24, radius=3.0, ell=1.0)
    c = np.array([[[10.0, 5.0], [12.0, 9.0]]])  # frame 0 at (x=10, y=12), frame 1 at (5, 9)
    img = render(ball, c).reshape(1, 24, 24, 2)  # (n, y, x, H)
    yy, xx = np.mgrid[0:24, 0:24]
    dist = np.hypot(xx - 10, yy - 12)
    f0 = img[0, :, :, 0]
    assert np.all(f0[dist <= 2.5] == 1.0) and np.all(f0[dist >= 3.5] == 0.0)
    assert f0[12, 12] == 1.0 and f0[12, 13] == 0.5  # distance 3 sits on the rim: 0.5
    assert f0[12, 10] == 1.0 and img[0, 9, 5, 1] == 1.0 and img[0, 12, 5, 1] == 0.5
    # centroid exactly the centre (lattice-symmetric), mass the ramp disc's area
    w = f0 / f0.sum()
    assert (w * xx).sum() == pytest.approx(10.0, abs=1e-12)
    assert (w * yy).sum() == pytest.approx(12.0, abs=1e-12)
    area = math.pi * (3.0 ** 2 + 1 / 12)
    assert f0.sum() == pytest.approx(area, rel=DISC_MASS_RTOL)
    fat = render(MovingBall(frames=2, size=24, radius=3.1, ell=1.0), c)
    assert fat[..., 0].sum() != pytest.approx(area, rel=DISC_MASS_RTOL)


def test_values_ranges_and_scalings():
    ball = MovingBall(frames=8, size=16, radius=2.0, ell=2.0)
    v = make_video(ball, 300, seed=0, dtype=np.float64)
    inten = V.to_intensity(ball, v.x)
    assert inten.min() >= -1e-12 and inten.max() <= 1 + 1e-12
    # standard scaling: mean 0 and variance 1 over the pixels of a ball anywhere inside
    assert abs(v.x.mean()) < 0.02 and abs(v.x.var() - 1.0) < 0.05
    sym = make_video(MovingBall(frames=8, size=16, radius=2.0, ell=2.0, scaling="symmetric"), 20, 0)
    assert sym.x.min() >= -1 and sym.x.max() <= 1 and sym.x.max() == 1.0
    np.testing.assert_allclose(V.to_values(ball, inten), v.x, atol=1e-12)
    assert v.clipped < 0.01


def test_deterministic_and_prefix_stable():
    ball = MovingBall(frames=6, size=12, radius=2.0, ell=2.0)
    a, b = make_video(ball, 5, seed=3), make_video(ball, 9, seed=3)
    np.testing.assert_array_equal(a.x, b.x[:5])
    assert not np.array_equal(a.x, make_video(ball, 5, seed=4).x)


def test_detect_centres_recovers_the_trajectory():
    ball = MovingBall(frames=8, size=16, radius=2.5, ell=2.0)
    v = make_video(ball, 40, seed=5, dtype=np.float64)
    c, mass = detect_centres(ball, v.x)
    assert np.max(np.abs(c - v.centres)) <= CENTROID_ATOL
    assert np.all(np.abs(mass - 1) < 0.05)
    swapped = detect_centres(ball, v.x)[0][:, ::-1]  # planted: x and y exchanged
    assert np.max(np.abs(swapped - v.centres)) > CENTROID_ATOL


@pytest.mark.parametrize("kw,name", [({"frames": 1}, "video.frames"), ({"radius": 0}, "video.radius"),
                                     ({"radius": 20.0}, "video.radius"), ({"ell": -1}, "video.ell"),
                                     ({"scaling": "raw"}, "video.scaling")])
def test_bad_parameters_are_named(kw, name):
    with pytest.raises(SpecError, match=name):
        MovingBall(**kw)
    with pytest.raises(SpecError, match="seed"):
        make_video(MovingBall(), 2, seed=-1)
