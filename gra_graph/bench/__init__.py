"""``gra bench-review``: does the committee tell a good sample from a bad one?

A labelled pairs file (:mod:`.pairs`) is judged by the graph's own review stages on its own
members (:mod:`.judge`, cached per call in SQLite by :mod:`.cache`); the judgements are turned
into the decisions of several settings, each member alone, the committee, and the committee
with its adjudicator (:mod:`.settings`); and each setting is scored (:mod:`.metrics`) and
reported (:mod:`.report`). :mod:`.bench` ties them together.
"""
