"""The constructions (``ditgp.numerics.constructions``): transformers whose weights are written
by hand so that their forward pass is the unrolled score iteration.

:mod:`.architecture` (the family ``T(D, L, M, B, R)``, shared with the trainable theory
network), :mod:`.layout` (named channels of the residual stream), :mod:`.construct` (the
orchestrator of the passes in :mod:`.passes`), :mod:`.realise` (attention realisations),
:mod:`.ffn` and :mod:`.multiply` (feed-forward updates and the ReLU multiplication module).
docs/numerics.md and docs/theory.md §8 describe them.
"""
