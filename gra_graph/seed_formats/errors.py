"""The one error every seeds reader raises."""

from __future__ import annotations


class SeedFileError(ValueError):
    """Seeds that cannot be used; the message names the source and the line or row."""
