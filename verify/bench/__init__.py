"""Benchmarks behind ``ditgp bench``: every figure is a ratio against a baseline measured in
the same run; the functions return numbers and the command line prints them.

* :mod:`~ditgp.verify.bench.scores`: the exact score (Kronecker-eigen oracle vs a dense
  solve), the constructions' depth, and a constructed network on a device;
* :mod:`~ditgp.verify.bench.long_sequences`: the FFT path at long ``H`` against its
  baselines;
* :mod:`~ditgp.verify.bench.training`: training steps and the data stream on a device.
"""
