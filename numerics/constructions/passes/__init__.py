"""The construction passes run by :func:`ditgp.numerics.construct` (one file per pass, in
pipeline order: ``choices`` → ``window`` → ``plan`` → ``heads`` → ``weights`` →
``certificate``; ``construction`` holds the result type).  Import the public names from
:mod:`ditgp.numerics` or :mod:`ditgp.numerics.constructions.construct`."""
