"""The pytest plugin works from a separate test file that only imports the strategies."""

from __future__ import annotations

import subprocess
import sys
import textwrap

USER_TEST = textwrap.dedent('''
    from hypothesis import given, settings
    from ditgp.verify.strategies import gp_specs, spd_matrices
    import numpy as np
    import pytest

    @settings(max_examples=10, deadline=None, database=None, derandomize=True)
    @given(gp_specs(max_H=4, max_d=2))
    def test_spec(spec):
        assert spec.H <= 4

    @settings(max_examples=10, deadline=None, database=None, derandomize=True)
    @given(spd_matrices(3, 10.0))
    def test_spd(m):
        assert np.linalg.eigvalsh(m)[0] > 0

    @pytest.mark.ditgp_claim("gd-contraction")
    def test_fixture(ditgp_strategies):
        assert ditgp_strategies.gp_specs is gp_specs
''')


def test_plugin_from_a_separate_file(tmp_path):
    (tmp_path / "test_user.py").write_text(USER_TEST)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q",  # the plugin comes in through its entry point
         "-p", "no:cacheprovider", "--strict-markers", "-W", "error", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 passed" in out.stdout
