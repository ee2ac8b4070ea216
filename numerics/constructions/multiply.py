"""The ReLU multiplication module (docs/theory.md §8, "Time dependence"): Yarotsky squaring.

For ``y ∈ [0, 1]`` let ``g(y) = 2y`` (``y ≤ ½``), ``2(1-y)`` (``y > ½``) — i.e.
``g(y) = 2ReLU(y) - 4ReLU(y-½)`` — and ``g_j = g∘…∘g`` (``j`` times).  Then

    f_m(y) = y - Σ_{j=1}^{m} g_j(y)/4^j,      0 ≤ f_m(y) - y² ≤ 4^{-(m+1)}

(Yarotsky 2017, Prop. 2; ``f_m`` is the piecewise-linear interpolant of ``y²`` on the grid
``k 2^{-m}``).  Products follow from ``ab = ((a+b)/2)² - ((a-b)/2)²`` with ``|a|, |b| ≤ 1``
and ``(·)² = f_m(|·|)``, so ``|p̃ - ab| ≤ 2·4^{-(m+1)}``.  In a block stack, the first
feed-forward layer computes ``|s|`` and ``g_1(|s|)`` directly from ``s`` (four ReLUs per
``s``), each further layer one more ``g``: depth ``m`` blocks per product, ``O(log 1/ε)``.

Here ``a = α_t²`` (a time channel) and ``b = (u - v)_i / B`` (a coordinate of the iterate
update, scaled into ``[-1, 1]`` by the data-ball bound ``B``).
"""

from __future__ import annotations

import math

from .ffn import UnitGroup, linear_pair

__all__ = ["square_error", "product_error", "depth_for", "first_groups", "saw_groups"]


def square_error(m: int) -> float:
    """``sup_{y∈[0,1]} |f_m(y) - y²| = 4^{-(m+1)}``."""
    return 4.0 ** (-(m + 1))


def product_error(m: int) -> float:
    """``sup |p̃ - ab|`` over ``|a|, |b| ≤ 1``: ``2·4^{-(m+1)}``."""
    return 2.0 * square_error(m)


def depth_for(err: float) -> int:
    """Smallest ``m ≥ 1`` with ``product_error(m) ≤ err``."""
    m = max(1, math.ceil(math.log(2.0 / err, 4) - 1))
    while product_error(m) > err:
        m += 1
    return m


def first_groups(B: float, final_outputs: dict[str, float] | None) -> list[UnitGroup]:
    """First layer: ``s_± = (α² ± (u - v)/B)/2``; units ``ReLU(±s)``, ``ReLU(±s - ½)``.

    ``|s| = ReLU(s) + ReLU(-s)`` and ``g(|s|) = 2|s| - 4ReLU(s-½) - 4ReLU(-s-½)``.  With
    ``final_outputs=None`` the units write ``saw_± += g_1`` and ``acc_± += |s| - g_1/4``;
    otherwise (depth 1) they add ``w·(±)(|s| - g_1/4)`` to each output channel with weight ``w``
    (the product estimate ``p̃ = f_1(|s_+|) - f_1(|s_-|)``).
    """
    groups: list[UnitGroup] = []
    for tag, sgn in (("P", 1.0), ("M", -1.0)):
        lin = {"u": sgn / (2 * B), "v": -sgn / (2 * B)}
        neg = {k: -a for k, a in lin.items()}
        if final_outputs is None:
            full = {f"saw{tag}": 2.0, f"acc{tag}": 0.5}
            half = {f"saw{tag}": -4.0, f"acc{tag}": 1.0}
        else:
            full = {o: sgn * w * 0.5 for o, w in final_outputs.items()}
            half = {o: sgn * w * 1.0 for o, w in final_outputs.items()}
        groups += [
            UnitGroup(f"s{tag}+", lin, full, 0.0, None, {"alpha2": 0.5}),
            UnitGroup(f"s{tag}-", neg, full, 0.0, None, {"alpha2": -0.5}),
            UnitGroup(f"s{tag}+h", lin, half, -0.5, None, {"alpha2": 0.5}),
            UnitGroup(f"s{tag}-h", neg, half, -0.5, None, {"alpha2": -0.5}),
        ]
    return groups


def saw_groups(j: int, final_outputs: dict[str, float] | None) -> list[UnitGroup]:
    """Layer ``j ≥ 2``: ``z = saw ∈ [0, 1]``, ``g(z) = 2ReLU(z) - 4ReLU(z-½)``.

    Not final: ``saw += g(z) - z``, ``acc -= g(z)/4^j``.  Final (weights ``w`` per output):
    adds ``w·(±)(acc - g(z)/4^j)`` (the product estimate) and clears ``saw`` and ``acc``.
    """
    groups: list[UnitGroup] = []
    q = 4.0 ** (-j)
    for tag, sgn in (("P", 1.0), ("M", -1.0)):
        saw, acc = f"saw{tag}", f"acc{tag}"
        if final_outputs is None:
            z_out = {saw: 1.0, acc: -2.0 * q}
            zh_out = {saw: -4.0, acc: 4.0 * q}
            groups += [UnitGroup(f"z{tag}", {saw: 1.0}, z_out),
                       UnitGroup(f"z{tag}h", {saw: 1.0}, zh_out, -0.5)]
        else:
            z_out = {saw: -1.0, **{o: -sgn * w * 2.0 * q for o, w in final_outputs.items()}}
            zh_out = {o: sgn * w * 4.0 * q for o, w in final_outputs.items()}
            acc_out = {acc: -1.0, **{o: sgn * w for o, w in final_outputs.items()}}
            groups += [UnitGroup(f"z{tag}", {saw: 1.0}, z_out),
                       UnitGroup(f"z{tag}h", {saw: 1.0}, zh_out, -0.5),
                       *linear_pair(f"a{tag}", acc, acc_out)]
    return groups
