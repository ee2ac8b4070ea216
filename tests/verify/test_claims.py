"""Every claim holds on its CI budget of examples; wrong constructions and wrong bounds are
caught (more, each just above its tolerance, in test_claims_fail.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ditgp.theory.spec import GPSpec
from ditgp.verify import claims as C

#: Examples per claim in CI: 100 for the cheap claims; the symbolic kernel claims and the
#: construction claims (each example builds a network) get fewer, so that the suite stays
#: within minutes on 2 cores — ``ditgp verify`` runs each claim's own ``default_examples``.
CI_EXAMPLES = {"spectral-bounds": 30, "truncation": 40, "window-growth": 12,
               "conditioning-decay": 30, "construction-layers": 15,
               "construction-resources": 8, "attention-kernel": 12, "theorem-1": 6,
               "operator-probe": 3, "attention-test-controls": 3}


@pytest.mark.parametrize("cid", C.claim_ids())
def test_claim_holds(cid):
    c = C.claim(cid)
    reason = c.unavailable()
    if reason is not None:
        pytest.skip(reason)
    budget = CI_EXAMPLES.get(cid, 100)
    r = C.run_claim(c, examples=budget, seed=0)
    assert r.status == "pass", r.message
    assert r.examples >= budget
    assert r.worst_margin >= 0


def test_perturbed_gd_step_is_caught_with_a_shrunk_spec():
    r = C.run_claim(C.claim("gd-contraction"), examples=50, seed=0,
                    overrides={"eta_scale": 1.3})
    assert r.status == "fail" and r.worst_margin < 0
    spec = GPSpec.from_dict(r.counterexample["spec"])  # JSON that `ditgp derive` accepts
    assert spec.H <= 2 and spec.d <= 2


def test_wrong_chebyshev_coefficients_are_caught():
    r = C.run_claim(C.claim("chebyshev-bound"), examples=50, seed=0,
                    overrides={"interval_scale": 3.0})
    assert r.status == "fail"


def test_a_too_tight_gd_bound_is_caught():
    r = C.run_claim(C.claim("gd-contraction"), examples=50, seed=0,
                    overrides={"bound_scale": 0.5})
    assert r.status == "fail"


def test_a_wrong_spectral_bound_is_caught():
    from dataclasses import replace

    from ditgp.theory.spectral import eigenvalue_bounds

    def shrunk(k, H):  # claim the spectrum is narrower than it is
        b = eigenvalue_bounds(k, H)
        return replace(b, lower=b.lower + 0.3 * (b.upper - b.lower))

    r = C.run_claim(C.claim("spectral-bounds"), examples=50, seed=0,
                    overrides={"bounds": shrunk})
    assert r.status == "fail"


def test_a_wrong_tail_bound_is_caught():
    from ditgp.theory.truncation import tail_bound

    r = C.run_claim(C.claim("truncation"), examples=50, seed=0,
                    overrides={"tail": lambda k, w, H: 0.25 * tail_bound(k, w, H)})
    assert r.status == "fail"


def test_a_wrong_bayes_floor_is_caught():
    from ditgp.theory.process import bayes_floor

    r = C.run_claim(C.claim("bayes-floor"), examples=30, seed=0,
                    overrides={"floor_fn": lambda *a: 1.5 * bayes_floor(*a) + 0.05})
    assert r.status == "fail"


def test_select_by_number_and_id():
    assert [c.id for c in C.select("2,gd-contraction,11")] == ["gd-contraction",
                                                               "score-log-density"]
    assert [c.number for c in C.REGISTRY.values()] == list(range(1, len(C.REGISTRY) + 1))


def test_counterexample_is_accepted_by_derive(tmp_path):
    r = C.run_claim(C.claim("gd-contraction"), examples=20, seed=0,
                    overrides={"eta_scale": 1.3})
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(r.counterexample["spec"]))
    out = subprocess.run([sys.executable, "-m", "ditgp", "derive", "--spec", str(path),
                          "--json"], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr


def _wrong_value_matrix(req):
    """A construction whose first head's value matrix is off by 1%."""
    import torch

    c = req.build()
    with torch.no_grad():
        c.module.blocks[0].attn.W_v[0] *= 1.01
    return c


def _wrong_update_step(req):
    """A construction whose first feed-forward update is off by 0.1% (a perturbed step)."""
    import torch

    c = req.build()
    with torch.no_grad():
        c.module.blocks[0].ffn.W_2 *= 1.001
    return c


def test_a_wrong_value_matrix_is_caught_by_the_attention_claim():
    r = C.run_claim(C.claim("attention-kernel"), examples=10, seed=0,
                    overrides={"build": _wrong_value_matrix})
    assert r.status == "fail" and r.worst_margin < 0


def test_a_perturbed_construction_step_is_caught_layer_by_layer():
    r = C.run_claim(C.claim("construction-layers"), examples=10, seed=0,
                    overrides={"build": _wrong_update_step})
    assert r.status == "fail" and r.worst_margin < 0
