"""One source row into one :class:`Seed`: the column mapping, the domain renames, validation.

The same converter serves every format, so a parquet row, a CSV row and a JSON Lines line
holding the same values make the same seed. Domain values outside the paper's seven are not
an error at the row: :class:`SeedMaker` counts them, so a scan can refuse them all at once,
each with how many rows hold it, before any work starts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from gra_graph.seed_formats.errors import SeedFileError
from gra_graph.seed_formats.options import (
    NO_DOMAIN,
    REQUIRED_FIELDS,
    SEED_FIELDS,
    SeedOptions,
)
from gra_graph.state import Seed
from gra_graph.vocabulary import DOMAINS

MAX_LISTED_DOMAINS = 20
"""How many distinct unknown domain values are counted by name (the rest in one sum), so a
column of free text cannot grow the tally without bound."""

MAX_SHOWN_CHARS = 60
"""How much of a column name or domain value a message quotes."""


def shown(value: object) -> str:
    """A value for a message: quoted, and cut to :data:`MAX_SHOWN_CHARS`."""
    text = str(value)
    return repr(text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "...")


def listed(names: Sequence[str], limit: int = 30) -> str:
    """Column names for a message, the first ``limit`` of them."""
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(shown(n) for n in names[:limit]) + more


def resolve_columns(options: SeedOptions, available: Sequence[str], name: str) -> dict[str, str]:
    """The column each seed field is read from, for a source whose columns are known up front.

    A field the user mapped must find its column; an unmapped field reads the column of its
    own name when there is one. ``instruction`` and ``response`` must be found either way.

    Raises:
        SeedFileError: a column is missing; the message names it and lists the columns.
    """
    present = set(available)
    chosen: dict[str, str] = {}
    for seed_field in SEED_FIELDS:
        column = options.column(seed_field)
        if column in present:
            chosen[seed_field] = column
        elif seed_field in options.columns or seed_field in REQUIRED_FIELDS:
            how = (
                f"--map {seed_field}={column}"
                if seed_field in options.columns
                else f"the seed field {seed_field} (map another column with --map "
                f"{seed_field}=COLUMN)"
            )
            raise SeedFileError(
                f"{name}: no column {shown(column)}, needed for {how}; the columns are "
                f"{listed(list(available))}"
            )
    return chosen


@dataclass
class DomainTally:
    """Domain values outside the seven, each with its row count and first row."""

    unit: str = "row"
    found: dict[str, list[int]] = field(default_factory=dict)
    """value -> [rows holding it, first row]"""
    others: int = 0
    """rows whose value was past the first :data:`MAX_LISTED_DOMAINS` distinct ones"""

    def add(self, value: str, number: int) -> None:
        if value in self.found:
            self.found[value][0] += 1
        elif len(self.found) < MAX_LISTED_DOMAINS:
            self.found[value] = [1, number]
        else:
            self.others += 1

    def error(self, name: str) -> SeedFileError | None:
        """The refusal naming every value, or ``None`` when all domains were known."""
        if not self.found:
            return None
        parts = [
            f"{shown(v)} ({n} {self.unit}{'s' if n > 1 else ''}, first {self.unit} {first})"
            for v, (n, first) in sorted(self.found.items(), key=lambda kv: (-kv[1][0], kv[0]))
        ]
        if self.others:
            parts.append(f"and {self.others} {self.unit}(s) with other values")
        example = next(iter(self.found))
        return SeedFileError(
            f"{name}: domain values outside the seven domains ({', '.join(DOMAINS)}): "
            f"{', '.join(parts)}. Rename them with --domain-map, e.g. --domain-map "
            f"'{example}=qa' (or '{example}={NO_DOMAIN}' to let the annotating member choose), "
            "or fix the data"
        )


class SeedMaker:
    """Turns one source's rows into seeds, as :class:`SeedOptions` says.

    ``columns`` is the field -> column choice of a source whose columns are known up front
    (:func:`resolve_columns`); ``None`` for JSON Lines, whose keys are found per line. There,
    with no ``--map``, a line is validated as it stands, so an unknown key is refused as it
    always was; with ``--map``, only the mapped (and same-named) keys are read.

    ``text_cells``: the source's values are text (CSV): an empty cell of an optional field is
    "no value". Wherever columns are picked (every source but a JSON Lines line read as it
    stands), a ``keywords`` value that is text is read as a JSON list (``["a", "b", "c"]``),
    which is how a CSV cell or a string column holds one.
    """

    def __init__(
        self,
        options: SeedOptions,
        columns: Mapping[str, str] | None,
        *,
        unit: str = "row",
        text_cells: bool = False,
    ) -> None:
        self.options = options
        self.columns = columns
        self.text_cells = text_cells
        self.tally = DomainTally(unit)

    def seed(self, number: int, where: str, row: Mapping[str, Any]) -> Seed:
        """The seed of one row; an unknown domain is counted in :attr:`tally` and left out.

        Raises:
            SeedFileError: a missing column (JSON Lines with ``--map``) or an invalid field,
                named with ``where``.
        """
        if self.columns is None and not self.options.mapped:
            values = dict(row)  # a JSON Lines line as it stands: unknown keys are refused
        else:
            values = self._pick(where, row)
        domain = values.get("domain")
        if isinstance(domain, str):
            if domain in self.options.domain_map:
                values["domain"] = self.options.domain_map[domain]
            elif domain not in DOMAINS and not (self.text_cells and domain == ""):
                self.tally.add(domain, number)
                values["domain"] = None
        return validated(values, where)

    def _pick(self, where: str, row: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for seed_field in SEED_FIELDS:
            if self.columns is not None:
                column = self.columns.get(seed_field)
                if column is None:
                    continue
            else:
                column = self.options.column(seed_field)
                if column not in row:
                    if seed_field in self.options.columns or seed_field in REQUIRED_FIELDS:
                        raise SeedFileError(
                            f"{where}: no key {shown(column)} (the seed field {seed_field}); "
                            f"the keys are {listed(list(row))}"
                        )
                    continue
            value = row[column]
            if self.text_cells and value == "" and seed_field not in REQUIRED_FIELDS:
                value = None
            if seed_field == "keywords" and isinstance(value, str):
                value = _json_list(value)
            values[seed_field] = value
        return values


def _json_list(text: str) -> object:
    """A JSON list held as text, or the text itself (which then fails validation, named)."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    return value if isinstance(value, list) else text


def validated(values: Mapping[str, Any], where: str) -> Seed:
    """``values`` as a :class:`Seed`, or an error naming ``where`` and each bad field."""
    try:
        return Seed.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'line'}: {e['msg']}" for e in exc.errors()
        )
        raise SeedFileError(f"{where}: {problems}") from None
