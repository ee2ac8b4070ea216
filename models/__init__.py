"""Trainable diffusion transformers on GP data (``ditgp.models``).

Planned layer (ARCHITECTURE.md): data generation from a GP spec, training with
checkpoints that resume bit-identically, sampling, and probes; it reuses the architecture
family of :mod:`ditgp.numerics`. Not built yet: importing it provides nothing.
"""
