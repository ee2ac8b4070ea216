"""The registry of claims, in one place: every subject module's ``CLAIMS``, by number.

A new subject (e.g. trained-model claims) is a module with a ``CLAIMS`` list, added to
:data:`SUBJECTS`."""

from __future__ import annotations

from ditgp.verify.claims import constructions, fft, iterations, probes, spectra, statistics
from ditgp.verify.claims import trained as trained_claims
from ditgp.verify.claims.base import Claim

#: The subject modules whose ``CLAIMS`` make up the registry.
SUBJECTS = (iterations, spectra, constructions, statistics, fft, probes)

REGISTRY: dict[str, Claim] = {
    c.id: c for c in sorted((c for m in SUBJECTS for c in m.CLAIMS), key=lambda c: c.number)
}

#: Claims about a trained run (numbers 101+): run only by ``ditgp verify --run RUN``, never in
#: the default selection (their checks need the run's networks through ``overrides["ctx"]``).
TRAINED: dict[str, Claim] = {c.id: c for c in trained_claims.CLAIMS}


def claim_ids() -> list[str]:
    return list(REGISTRY)


def claim(key: str | int) -> Claim:
    """A claim by id (``"gd-contraction"``) or number (``2`` or ``"2"``)."""
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        for c in REGISTRY.values():
            if c.number == int(key):
                return c
    elif key in REGISTRY:
        return REGISTRY[key]
    from ditgp.theory.errors import SpecError

    raise SpecError("claim", key, "one of " + ", ".join(REGISTRY) + f" (or its number 1-{len(REGISTRY)})")


def select(keys: str | list[str] | None) -> list[Claim]:
    """Claims named by a comma-separated string or a list (``None``: all, in order)."""
    if keys is None:
        return list(REGISTRY.values())
    if isinstance(keys, str):
        keys = [k.strip() for k in keys.split(",") if k.strip()]
    out: list[Claim] = []
    for k in keys:
        c = claim(k)
        if c not in out:
            out.append(c)
    return out
