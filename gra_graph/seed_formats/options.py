"""How a user's columns become seed fields: ``--map``, ``--domain-map`` and ``--split``.

``--map instruction=prompt,response=completion`` reads the seed field ``instruction`` from the
column ``prompt``; a field not named reads the column of its own name, if there is one.
``--domain-map "cooking=none,code=coding"`` renames domain values that are not one of the
paper's seven (``none``: no domain, the annotating member chooses one). ``--split`` picks the
split of a ``datasets`` dataset that has several.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gra_graph.seed_formats.errors import SeedFileError
from gra_graph.state import Seed
from gra_graph.vocabulary import DOMAINS

SEED_FIELDS: tuple[str, ...] = tuple(Seed.model_fields)
"""The fields a seed has, in order: what ``--map`` may name on its left side."""

REQUIRED_FIELDS: tuple[str, ...] = tuple(n for n, f in Seed.model_fields.items() if f.is_required())
"""The fields every seed must have (``instruction``, ``response``)."""

NO_DOMAIN = "none"
"""A ``--domain-map`` target meaning "no domain": the annotating member names one."""

DEFAULT_SPLIT = "train"
"""The split read from a dataset with several when ``--split`` is not given."""


@dataclass(frozen=True)
class SeedOptions:
    """The column mapping, the domain renames and the split, checked when made.

    ``columns`` maps a seed field to the source's column; ``domain_map`` maps a domain value
    found in the source to one of the seven domains, or to ``None`` (no domain); ``split`` is
    the split of a dataset with several (``None``: ``train``; refused for a plain file).

    Raises:
        SeedFileError: a field that seeds do not have, an empty column name, or a domain
            target that is not a domain.
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    domain_map: Mapping[str, str | None] = field(default_factory=dict)
    split: str | None = None

    def __post_init__(self) -> None:
        unknown = [f for f in self.columns if f not in SEED_FIELDS]
        if unknown:
            raise SeedFileError(
                f"--map: {', '.join(repr(f) for f in unknown)} is not a seed field; seed fields "
                f"are {', '.join(SEED_FIELDS)}"
            )
        empty = [f for f, column in self.columns.items() if not column]
        if empty:
            raise SeedFileError(f"--map: no column named for {', '.join(empty)}")
        bad = {k: v for k, v in self.domain_map.items() if v is not None and v not in DOMAINS}
        if bad:
            shown = ", ".join(f"{k}={v}" for k, v in bad.items())
            raise SeedFileError(
                f"--domain-map: {shown}: a value must become one of the seven domains "
                f"({', '.join(DOMAINS)}) or {NO_DOMAIN}"
            )
        if self.split is not None and not self.split:
            raise SeedFileError("--split: give a split name")
        # frozen all the way down: a SeedOptions is shared by every pass over the seeds
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        object.__setattr__(self, "domain_map", MappingProxyType(dict(self.domain_map)))

    @property
    def mapped(self) -> bool:
        """Whether any column is renamed (then a JSON Lines row's other keys are ignored)."""
        return bool(self.columns)

    def column(self, seed_field: str) -> str:
        """The source column a seed field is read from."""
        return self.columns.get(seed_field, seed_field)

    @classmethod
    def from_text(
        cls, columns: str | None = None, domain_map: str | None = None, split: str | None = None
    ) -> SeedOptions:
        """Options from the command line's ``--map``, ``--domain-map`` and ``--split`` text."""
        return cls(
            parse_pairs(columns, "--map") if columns else {},
            {
                value: (None if target == NO_DOMAIN else target)
                for value, target in parse_pairs(domain_map, "--domain-map").items()
            }
            if domain_map
            else {},
            split,
        )


def parse_pairs(text: str, flag: str) -> dict[str, str]:
    """``a=b,c=d`` as ``{"a": "b", "c": "d"}``; spaces around names are dropped.

    Raises:
        SeedFileError: an item without ``=``, an empty left side, or a left side given twice.
    """
    pairs: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        left, eq, right = item.partition("=")
        left, right = left.strip(), right.strip()
        if not eq or not left:
            raise SeedFileError(f"{flag}: {item.strip()!r} is not NAME=VALUE")
        if left in pairs:
            raise SeedFileError(f"{flag}: {left!r} is given twice")
        pairs[left] = right
    return pairs
