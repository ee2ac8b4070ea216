"""The long-sequence path (``ditgp.numerics.fft``): the exact score at large ``H`` without an
``O(H³)`` eigendecomposition.

:mod:`.fft_oracle` (:class:`FFTOracle`, certified Toeplitz solves, sampling, Bayes floor,
log-determinant) over :mod:`.toeplitz` and :mod:`.toeplitz_operator` (FFT products),
:mod:`.toeplitz_solve` (preconditioned CG with a certificate), :mod:`.circulant` (Chan
preconditioners), :mod:`.circulant_embedding` (exact sampling), :mod:`.split_toeplitz` and
:mod:`.gohberg_semencul` (inverse generators), :mod:`.lanczos` (extreme eigenvalues and
stochastic Lanczos quadrature).  ``docs/long-sequences.md`` describes the path.
"""
