"""Inter-reviewer agreement: Krippendorff's alpha over a run's reviews and instruction checks.

Alpha is computed by the ``krippendorff`` package. Here we only lay the ratings out as its
reliability matrix (one row per rater, one column per unit, NaN where a rater gave no value)
and say why alpha is undefined where the package would refuse or divide by zero: a reviewer
who abstained, or was not drawn for a unit, is a missing value, never a 0.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Literal

import krippendorff
import numpy as np
from pydantic import BaseModel

Level = Literal["nominal", "interval"]


class Agreement(BaseModel):
    """Alpha over the units that two or more raters rated (``None`` when undefined, with the
    reason), and how much it rests on."""

    alpha: float | None
    level: Level
    units: int
    """units rated by two or more raters (the only ones alpha can use)"""
    ratings: int
    """ratings within those units"""
    reason: str = ""


class RatingTable:
    """Ratings by unit and rater, collected one at a time."""

    def __init__(self) -> None:
        self._units: dict[Hashable, dict[str, float]] = {}

    def add(self, unit: Hashable, rater: str, value: float) -> None:
        """Record ``rater``'s ``value`` for ``unit`` (a second value from the same rater for
        the same unit replaces the first)."""
        self._units.setdefault(unit, {})[rater] = float(value)

    def alpha(self, level: Level) -> Agreement:
        """Krippendorff's alpha at ``level`` of measurement over the pairable units.

        >>> t = RatingTable()
        >>> for unit, (a, b) in enumerate([(1, 2), (2, 1)]):
        ...     t.add(unit, "A", a); t.add(unit, "B", b)
        >>> t.alpha("interval").alpha  # systematic disagreement: below 0
        -0.5
        """
        pairable = [unit for unit in self._units.values() if len(unit) >= 2]
        ratings = sum(len(unit) for unit in pairable)
        if not pairable:
            return Agreement(
                alpha=None,
                level=level,
                units=0,
                ratings=0,
                reason="no unit rated by two or more reviewers",
            )
        if len({v for unit in pairable for v in unit.values()}) < 2:
            return Agreement(
                alpha=None,
                level=level,
                units=len(pairable),
                ratings=ratings,
                reason="no variation: every rating is the same",
            )
        raters = sorted({r for unit in pairable for r in unit})
        row = {r: i for i, r in enumerate(raters)}
        matrix = np.full((len(raters), len(pairable)), np.nan)
        for column, unit in enumerate(pairable):
            for rater, value in unit.items():
                matrix[row[rater], column] = value
        value = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level))
        return Agreement(
            alpha=round(value, 4) if math.isfinite(value) else None,
            level=level,
            units=len(pairable),
            ratings=ratings,
            reason="" if math.isfinite(value) else "undefined (no expected disagreement)",
        )
