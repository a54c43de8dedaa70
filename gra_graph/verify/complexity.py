"""Reading and comparing complexity answers: the Big-O classes a prose answer states.

A coding question such as "What is the time complexity of binary search?" has no code to run,
but its answer is a value that can be checked: a growth class. Independent members answer the
question (stage ``solve_complexity``), and the response must state the class they agree on.

Pure functions; model text is never evaluated as Python. The inside of ``O(...)`` (also
``Θ(...)``, ``\\mathcal{O}(...)``) is normalised (``log n``, ``lg n``, ``log₂ n`` -> ``log(n)``;
``n²`` -> ``n^2``; ``n!`` -> ``factorial(n)``; letters lower-cased, so ``O(N)`` is ``O(n)``),
checked against a whitelist, and only then parsed by SymPy. Two classes are the same when the
ratio of their functions tends to a finite, non-zero limit (so ``O(2n + 1)`` is ``O(n)`` and the
base of a logarithm does not matter); a class of one variable matches one of another single
variable after renaming (``O(k)`` and ``O(n)``).

The rule (docs/verifiers.md): every class of the consensus must be one the response states
somewhere, since answers often name other classes too ("unlike linear search's O(n), binary
search takes O(log n)"); a response that never states it fails.

Example:
    >>> [g.text for g in growths("Binary search runs in O(log N) time and O(1) space.")]
    ['log(n)', '1']
    >>> same_growth(parse_growth("n log2 n + n"), parse_growth("n lg n"))
    True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import sympy
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication_application,
    parse_expr,
    standard_transformations,
)

MAX_GROWTH_CHARS = 40
"""The longest inside of an ``O(...)`` that is read (a longer one is prose, not a class)."""
MAX_VARIABLES = 3

_ASKS = re.compile(r"\bcomplexity\b|\bbig[- ]?o\b|\bbig[- ]?theta\b|\bO\(", re.IGNORECASE)
_OPEN = re.compile(r"(?:\\mathcal\{O\}|\\Theta|\\Omega|(?<![A-Za-z])O|Θ|Ω|\bTheta)\s*\(")
_REPLACEMENTS = (
    ("²", "^2"),
    ("³", "^3"),
    ("×", "*"),
    ("·", "*"),
    ("⋅", "*"),
    ("√", "sqrt"),
    ("−", "-"),
    ("\\log", "log"),
    ("\\sqrt", "sqrt"),
    ("\\cdot", "*"),
    ("\\times", "*"),
    ("{", "("),
    ("}", ")"),
)
_LOG_BASE = re.compile(r"\b(?:log_?\(?\d+\)?|log₂|log₁₀|lg|ln)(?![a-z])")
_LOG_POWER = re.compile(r"\blog\^(\d)\s*\(?\s*([a-z])\s*\)?")
_LOG_BARE = re.compile(r"\blog\s*([a-z])\b")
_FACTORIAL = re.compile(r"\b([a-z])!")
_GLUED_LOG = re.compile(r"(?<![a-z])([a-z])log")
_SQRT_BARE = re.compile(r"\bsqrt\s*([a-z0-9]+)\b")
_ALLOWED = re.compile(r"^[a-z0-9+*/^().\s]*$")
_NAMES = {"log": sympy.log, "sqrt": sympy.sqrt, "factorial": sympy.factorial, "exp": sympy.exp}
_TRANSFORMS = (*standard_transformations, implicit_multiplication_application, convert_xor)


def asks_complexity(instruction: str) -> bool:
    """Whether an instruction asks about a complexity (time, space, Big-O)."""
    return bool(_ASKS.search(instruction))


@dataclass(frozen=True)
class Growth:
    """One growth class: the function inside the ``O(...)``, as normalised text and as SymPy."""

    text: str
    function: sympy.Expr


def _inside(text: str, start: int) -> str | None:
    """The text between the parenthesis opened just before ``start`` and its match."""
    depth = 1
    for i in range(start, min(len(text), start + MAX_GROWTH_CHARS + 1)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    return None


def _normalise(inner: str) -> str:
    text = inner
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    text = text.lower().strip()
    text = _GLUED_LOG.sub(r"\1 log", text)
    text = _LOG_BASE.sub("log", text)
    text = _SQRT_BARE.sub(r"sqrt(\1)", text)
    text = _LOG_POWER.sub(r"log(\2)^\1", text)
    text = _LOG_BARE.sub(r"log(\1)", text)
    return _FACTORIAL.sub(r"factorial(\1)", text)


def parse_growth(inner: str) -> Growth | None:
    """The class written inside an ``O(...)``, or ``None`` when it is not one that reads."""
    text = _normalise(inner)
    if not text or len(text) > MAX_GROWTH_CHARS or not _ALLOWED.match(text):
        return None
    words = set(re.findall(r"[a-z]+", text))
    if not words <= set(_NAMES) | set("abcdefghijklmnopqrstuvwxyz"):
        return None  # "O(number of edges)": prose, not a formula
    local = {name: sympy.Symbol(name, positive=True) for name in words if len(name) == 1}
    try:
        function = parse_expr(text, local_dict=local | _NAMES, transformations=_TRANSFORMS)
    except (SyntaxError, TypeError, ValueError, AttributeError, sympy.SympifyError):
        return None
    if not isinstance(function, sympy.Expr) or len(function.free_symbols) > MAX_VARIABLES:
        return None
    if function.is_number and not (function.is_finite and function.is_positive):
        return None
    return Growth(str(function), function)


def growths(text: str) -> list[Growth]:
    """Every growth class ``text`` writes as ``O(...)`` (or ``Θ``/``Ω``), in order."""
    found = []
    for match in _OPEN.finditer(text):
        inner = _inside(text, match.end())
        if inner is not None and (growth := parse_growth(inner)) is not None:
            found.append(growth)
    return found


def same_growth(a: Growth | None, b: Growth | None) -> bool:
    """Whether two classes are the same (see the module docstring)."""
    if a is None or b is None:
        return False
    f, g = a.function, b.function
    sa, sb = f.free_symbols, g.free_symbols
    if len(sa) == 1 and len(sb) == 1 and sa != sb:
        g = g.subs(next(iter(sb)), next(iter(sa)))
        sb = sa
    if sa != sb:
        return False
    if not sa:
        return True  # two constants: O(1)
    if len(sa) > 1:
        order = [(s, sympy.oo) for s in sorted(sa, key=str)]
        return bool(sympy.Order(f, *order) == sympy.Order(g, *order))
    (x,) = sa
    try:
        ratio = sympy.limit(f / g, x, sympy.oo)
    except (NotImplementedError, ValueError, TypeError, RecursionError):
        return False
    return bool(ratio.is_finite and ratio.is_positive)


def same_classes(a: Sequence[Growth], b: Sequence[Growth]) -> bool:
    """Whether two answers name the same classes (each of one is among the other's)."""
    return (
        bool(a)
        and all(any(same_growth(x, y) for y in b) for x in a)
        and all(any(same_growth(x, y) for x in a) for y in b)
    )


@dataclass(frozen=True)
class ComplexityConsensus:
    """The classes more than half of the independent answers name, or ``None``."""

    answer: str | None
    classes: tuple[Growth, ...]
    votes: int
    asked: int


def complexity_consensus(answers: Sequence[str | None]) -> ComplexityConsensus:
    """Group the answers that name the same classes; a group holding more than half of all
    the answers asked for is the consensus. An answer that failed or names no class counts as
    asked and agrees with nothing.

    >>> complexity_consensus(["O(log n)", "O(lg N)", "O(n)"]).answer
    'O(log n)'
    """
    groups: list[tuple[list[Growth], list[str]]] = []
    for answer in answers:
        classes = _answer_classes(answer) if answer else []
        if not classes:
            continue
        for named, members in groups:
            if same_classes(named, classes):
                members.append(answer)  # type: ignore[arg-type]
                break
        else:
            groups.append((classes, [answer]))  # type: ignore[list-item]
    groups.sort(key=lambda g: len(g[1]), reverse=True)
    if groups and len(groups[0][1]) * 2 > len(answers):
        classes, members = groups[0]
        return ComplexityConsensus(members[0], tuple(classes), len(members), len(answers))
    return ComplexityConsensus(None, (), len(groups[0][1]) if groups else 0, len(answers))


def _answer_classes(answer: str) -> list[Growth]:
    """A solver's classes: those it writes as ``O(...)``, else the whole answer as one
    (``n log n``)."""
    return growths(answer) or [g for g in (parse_growth(answer.strip()),) if g is not None]


def missing_classes(stated: Sequence[Growth], classes: Sequence[Growth]) -> list[str]:
    """The consensus ``classes`` not among those a response ``stated`` (empty: it states them
    all)."""
    return [f"O({c.text})" for c in classes if not any(same_growth(c, s) for s in stated)]
