"""The fixed words of the method, each spelled once: domains, score dimensions, check criteria.

Everything that lists them (the state's types, the structured-output schemas, the graph file's
checks, the prompt checks) is built from these tuples, so a new dimension or criterion is one
edit here (or, for dimensions, one graph-file setting, see ``GraphConfig.score_dimensions``)
plus the prompt files that describe it.
"""

from __future__ import annotations

from typing import Literal

DOMAINS: tuple[str, ...] = (
    "coding",
    "math",
    "qa",
    "reasoning",
    "roleplay",
    "language",
    "creative_writing",
)
"""The paper's seven domains (docs/method.md, section 1)."""

Domain = Literal[DOMAINS]  # type: ignore[valid-type]
"""A domain name, as a type (built from :data:`DOMAINS`)."""

SCORE_DIMENSIONS: tuple[str, ...] = (
    "correctness",
    "clarity",
    "completeness",
    "relevance",
    "coherence",
    "ethicality",
)
"""The paper's six response dimensions, each scored 0-10 (docs/method.md, section 4b)."""

CHECK_CRITERIA: tuple[str, ...] = ("rationality", "completeness", "clarity")
"""The paper's three pass/fail instruction criteria (docs/method.md, section 4a)."""

DIMENSION_NAME = r"^[a-z][a-z0-9_]{0,39}$"
"""What a score dimension may be called: it becomes a JSON key and a schema field."""
