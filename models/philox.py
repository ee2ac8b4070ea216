"""Philox4x32-10, vectorised in torch: counter-based random words on any device.

Philox (Salmon, Moraes, Dror and Shaw, *Parallel random numbers: as easy as 1, 2, 3*, SC 2011)
maps a 128-bit **counter** ``(c0, c1, c2, c3)`` and a 64-bit **key** ``(k0, k1)`` to four
32-bit words by ten rounds of

    (c0, c1, c2, c3) ← (hi(M1·c2) ⊕ c1 ⊕ k0,  lo(M1·c2),  hi(M0·c0) ⊕ c3 ⊕ k1,  lo(M0·c0))
    (k0, k1) ← (k0 + W0, k1 + W1)  mod 2³²

(``hi``/``lo``: the upper/lower 32 bits of the 64-bit product).  There is no state: the words
of a counter are a pure function of (counter, key), so any element of a stream can be computed
on its own, in any order, on any device — what a data stream needs whose row ``i`` of batch
``k`` must not depend on which process draws it.

**Implementation.**  Words live in ``int64`` tensors (values in ``[0, 2³²)``).  A 32×32-bit
product fits in 64 bits; where it exceeds ``2⁶³`` the ``int64`` product wraps, which leaves its
bit pattern — the unsigned product — unchanged, and the arithmetic shift plus a mask reads the
upper word.  Each round is ten in-place element-wise operations on preallocated buffers (no
allocation per operation: on a CPU a fresh 200 kB tensor per operation costs more than the
arithmetic).  Integer operations are exact, so the words are bit-identical on every device.
The known-answer vectors of the Random123 distribution are checked in the tests.

:func:`normals` turns words into standard normals by Box–Muller: each normal consumes exactly
one 32-bit word (pairs of words give ``r cos θ`` and ``r sin θ``), so the normal at position
``m`` of a stream is a pure function of its counter too.  ``u = (w + ½)·2⁻³²`` is never 0, so
``|z| ≤ √(2·33·ln 2) ≈ 6.77``: the tail beyond 6.77σ (probability 1.3·10⁻¹¹) is cut.
"""

from __future__ import annotations

import math

import torch

__all__ = ["philox4x32", "Philox4x32Block", "uniform53", "box_muller", "ROUNDS", "MASK32", "MAX_NORMAL"]

#: rounds of Philox4x32 (10 is the Random123 default: three more than the fewest that pass
#: BigCrush)
ROUNDS = 10
MASK32 = 0xFFFFFFFF
#: the largest ``|z|`` :func:`box_muller` returns: ``√(−2 ln 2⁻³³)`` (smallest ``u`` is ``2⁻³³``)
MAX_NORMAL = math.sqrt(66.0 * math.log(2.0))
_M0, _M1 = 0xD2511F53, 0xCD9E8D57  # round multipliers
_W0, _W1 = 0x9E3779B9, 0xBB67AE85  # Weyl key increments (golden ratio, √3 − 1)


def _rounds(x0: torch.Tensor, x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor, k0: int,
            k1: int, rounds: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``rounds`` Philox rounds in place on the word tensors (``x0``, ``x2`` clean 32-bit
    values; ``x1``, ``x3`` may carry garbage above bit 32), keys ``(k0, k1)`` of the first."""
    p0, p1 = torch.empty_like(x0), torch.empty_like(x0)
    for _ in range(rounds):
        torch.mul(x0, _M0, out=p0)  # the 64-bit product (wrapped: same bits as unsigned)
        torch.mul(x2, _M1, out=p1)
        # x0 ← hi(p1) ⊕ x1 ⊕ k0 (x1 may carry garbage above bit 32: masked here)
        torch.bitwise_right_shift(p1, 32, out=x0)
        x0.bitwise_xor_(x1).bitwise_xor_(k0).bitwise_and_(MASK32)
        torch.bitwise_right_shift(p0, 32, out=x2)
        x2.bitwise_xor_(x3).bitwise_xor_(k1).bitwise_and_(MASK32)
        # x1 ← lo(p1), x3 ← lo(p0): the products themselves (upper bits masked when used)
        x1, p1 = p1, x1
        x3, p0 = p0, x3
        k0 = (k0 + _W0) & MASK32
        k1 = (k1 + _W1) & MASK32
    x1.bitwise_and_(MASK32)
    x3.bitwise_and_(MASK32)
    return x0, x1, x2, x3


def _key(key: tuple[int, int]) -> tuple[int, int]:
    k0, k1 = (int(k) for k in key)
    if not (0 <= k0 <= MASK32 and 0 <= k1 <= MASK32):
        raise ValueError(f"key words must be in [0, 2^32), got {key}")
    return k0, k1


def philox4x32(c0: torch.Tensor, c1: torch.Tensor, c2: torch.Tensor, c3: torch.Tensor,
               key: tuple[int, int], rounds: int = ROUNDS
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The four output words of Philox4x32-``rounds`` for counters ``(c0, c1, c2, c3)``
    (``int64`` tensors of one shape and device, values in ``[0, 2³²)``; not modified) and
    ``key = (k0, k1)`` (integers in ``[0, 2³²)``).  Returns four ``int64`` tensors of words."""
    k0, k1 = _key(key)
    x0, x1, x2, x3 = (c.to(torch.int64, copy=True) for c in (c0, c1, c2, c3))
    return _rounds(x0, x1, x2, x3, k0, k1, rounds)


class Philox4x32Block:
    """Philox4x32-10 over fixed counter words ``c0, c1, c3`` (tensors) and ``key``, with word
    ``c2`` one integer per call — a batch index.  Rounds 1 and 2 are mostly independent of
    ``c2`` (round 1 multiplies ``c0`` and the scalar ``c2``; round 2 multiplies round 1's
    ``x2 = hi(M0·c0) ⊕ c3 ⊕ k1``, fixed), so that work is done once here: a call costs eight
    full rounds and a few operations.  ``block(c2)`` equals
    ``philox4x32(c0, c1, full(c2), c3, key)`` (tested)."""

    def __init__(self, c0: torch.Tensor, c1: torch.Tensor, c3: torch.Tensor,
                 key: tuple[int, int]):
        k0, k1 = _key(key)
        self._k = (k0, k1)
        p0 = c0.to(torch.int64) * _M0
        x2 = (torch.bitwise_right_shift(p0, 32) ^ c3 ^ k1) & MASK32  # round 1, fixed
        self._c1 = c1.to(torch.int64, copy=True)
        self._x3 = p0 & MASK32  # round 1's x3 = lo(M0·c0)
        q1 = x2 * _M1  # round 2's second product: fixed
        self._hi = torch.bitwise_right_shift(q1, 32) & MASK32
        self._lo = q1 & MASK32

    def __call__(self, c2: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        c2 = int(c2)
        if not 0 <= c2 <= MASK32:
            raise ValueError(f"counter word 2 must be in [0, 2^32), got {c2}")
        k0, k1 = self._k
        p1 = c2 * _M1  # round 1's first product (a Python integer: exact)
        x0 = self._c1 ^ (((p1 >> 32) ^ k0) & MASK32)  # round 1: x0 = hi ⊕ c1 ⊕ k0
        x1_r1 = p1 & MASK32  # round 1: x1 = lo, a scalar
        k0, k1 = (k0 + _W0) & MASK32, (k1 + _W1) & MASK32  # round 2
        p0 = x0.mul_(_M0)
        x2 = torch.bitwise_right_shift(p0, 32).bitwise_xor_(self._x3).bitwise_xor_(k1)
        x2.bitwise_and_(MASK32)
        x0 = self._hi ^ ((x1_r1 ^ k0) & MASK32)
        x1 = self._lo.clone()
        x3 = p0  # lo(p0), masked by the rounds when used
        k0, k1 = (k0 + _W0) & MASK32, (k1 + _W1) & MASK32
        return _rounds(x0, x1, x2, x3, k0, k1, ROUNDS - 2)


def uniform53(w0: torch.Tensor, w1: torch.Tensor) -> torch.Tensor:
    """Float64 uniforms on ``[0, 1)`` with 53 random bits from two words each:
    ``(⌊w0/2⁵⌋·2²⁶ + ⌊w1/2⁶⌋)·2⁻⁵³`` (exact)."""
    bits = torch.bitwise_left_shift(torch.bitwise_right_shift(w0, 5), 26)
    bits.bitwise_or_(torch.bitwise_right_shift(w1, 6))
    return bits.to(torch.float64).mul_(2.0 ** -53)


def box_muller(w_r: torch.Tensor, w_theta: torch.Tensor, out: tuple[torch.Tensor, torch.Tensor]
               | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Two standard normals ``(r cos θ, r sin θ)`` (float64) per pair of words:
    ``r = √(−2 ln u)``, ``u = (w_r + ½)·2⁻³² ∈ (0, 1)``; ``θ = 2π·w_θ·2⁻³²``.  ``out``: two
    float64 tensors (views allowed) of the words' number of elements to write into."""
    u = w_r.to(torch.float64).add_(0.5).mul_(2.0 ** -32)
    r = u.log_().mul_(-2.0).sqrt_()
    theta = w_theta.to(torch.float64).mul_(2.0 * math.pi * 2.0 ** -32)
    if out is None:
        out = (torch.empty_like(r), torch.empty_like(r))
    shape = out[0].shape
    torch.mul(r.view(shape), torch.cos(theta).view(shape), out=out[0])
    torch.mul(r.view(shape), theta.sin_().view(shape), out=out[1])
    return out
