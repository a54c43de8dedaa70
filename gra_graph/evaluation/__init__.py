"""``gra eval``: what a run (or several, side by side) produced, and at what cost.

:mod:`.metrics` holds the pure figures (distinct-n, length spreads, pairwise similarity);
:mod:`.diversity` applies them, and the MiniLM embedder, to a set of samples; :mod:`.agreement`
computes Krippendorff's alpha over reviews and instruction checks; :mod:`.cost` adds call costs
up per role and per member; :mod:`.evaluate` streams one run directory through them; and
:mod:`.report` shows the result as terminal tables and JSON.
"""
