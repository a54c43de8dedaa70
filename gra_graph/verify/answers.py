"""Reading and comparing final answers of math responses, numerically or with SymPy.

Pure functions; model text is never evaluated as Python. An expression is parsed by SymPy only
after it passed a whitelist (digits, one-letter variables, ``+ - * / ^ ( )``, ``pi``, ``sqrt``
and a few functions, at most :data:`MAX_EXPRESSION_CHARS` characters), and a parsed expression
with a large exponent or too many nodes is refused before anything is computed.

The rule (docs/verifiers.md): a response agrees with an independent solver when every value of
the solver's answer is a value the response states. ``final`` says it is the response's final
answer (``\\boxed{}``, "the answer is", the last ``= ...`` or the last number), ``stated``
that it appears elsewhere in the response (responses often end with a check or a unit
conversion, so the last number is not always the answer). Numbers written with decimals match
within half a unit of their last digit (31.4 matches 10π); whole numbers match exactly unless
marked approximate ("about 78", "≈ 78"). Yes/no questions compare the response's first word.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import Literal

import sympy
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication_application,
    parse_expr,
    standard_transformations,
)

MAX_EXPRESSION_CHARS = 80
MAX_ANSWER_CHARS = 120
"""A solver is asked for the final answer only: a longer answer is prose or code, not a value."""
MAX_UNIT_WORDS = 3
"""Words a lone number may carry and still be an answer ("6 cm", "about 31.4 square metres")."""
MAX_NODES = 60
MAX_EXPONENT = 50
MAX_INTEGER_DIGITS = 15
REL_TOL = 1e-9

_FUNCTIONS = {
    "sqrt": sympy.sqrt,
    "pi": sympy.pi,
    "exp": sympy.exp,
    "log": sympy.log,
    "ln": sympy.log,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "abs": sympy.Abs,
}
_TRANSFORMS = (*standard_transformations, implicit_multiplication_application, convert_xor)
_REPLACEMENTS = (
    ("×", "*"),
    ("·", "*"),
    ("÷", "/"),
    ("−", "-"),
    ("–", "-"),
    ("π", "pi"),
    ("√", "sqrt"),
    ("²", "^2"),
    ("³", "^3"),
    ("½", "(1/2)"),
    ("¼", "(1/4)"),
    ("¾", "(3/4)"),
    ("°", ""),
    ("$", ""),
    ("€", ""),
    ("£", ""),
)
_NUMBER_ONLY = re.compile(r"^-?\d+(?:\.\d+)?$")
_ALLOWED = re.compile(r"^[0-9A-Za-z+\-*/^().\s]*$")
_WORD = re.compile(r"[A-Za-z]+")
_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d,])")
_NUMBER = re.compile(
    r"(?P<sign>(?<![\w)])-)?(?P<num>\d+(?:\.\d+)?(?:\s*/\s*\d+(?!\.\d))?)"
    r"(?P<pi>\s*(?:π|pi)\b)?(?P<pct>\s*%)?"
)
_APPROX = re.compile(r"(?:≈|~|\babout|\bapproximately|\broughly|\baround|\bnearly)\s*\$?$", re.I)
_BOXED = re.compile(r"\\boxed\{")
_ANSWER_IS = re.compile(r"\banswer\s*(?:is|:|=)\s*(?P<rest>[^\n]+)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[^\d\s])\.(?:\s|$)|[.;!?](?=\s|$)|\n")
_CHECK_SENTENCE = re.compile(r"^\s*(?:check|verification|to verify|to check|verify)\b", re.I)


@dataclass(frozen=True)
class Value:
    """One answer value: a number (with how far it may be from the truth, since written
    numbers are rounded) or a symbolic expression."""

    text: str
    number: float | None = None
    tolerance: float = 0.0
    expression: sympy.Expr | None = None

    def matches(self, other: Value) -> bool:
        """Whether both values are the same answer."""
        if self.number is not None and other.number is not None:
            scale = max(abs(self.number), abs(other.number), 1.0)
            return abs(self.number - other.number) <= (
                self.tolerance + other.tolerance + REL_TOL * scale
            )
        if self.expression is not None and other.expression is not None:
            return _same_expression(self.expression, other.expression)
        return False


def _same_expression(a: sympy.Expr, b: sympy.Expr) -> bool:
    symbols = sorted(a.free_symbols | b.free_symbols, key=str)
    if {str(s) for s in a.free_symbols} != {str(s) for s in b.free_symbols}:
        return False
    rng = random.Random(0)
    for _ in range(5):
        point = {s: sympy.Rational(rng.randint(-90, 90), rng.randint(1, 9)) + 0.37 for s in symbols}
        try:
            left, right = complex(a.evalf(30, subs=point)), complex(b.evalf(30, subs=point))
        except (TypeError, ValueError, ZeroDivisionError):
            return False
        if not (math.isfinite(abs(left)) and math.isfinite(abs(right))):
            return False
        if abs(left - right) > 1e-7 * max(abs(left), abs(right), 1.0):
            return False
    return True


def _normalise(text: str) -> str:
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    return _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text).strip()


def _small_enough(expr: sympy.Basic) -> bool:
    for count, node in enumerate(sympy.preorder_traversal(expr), 1):
        if count > MAX_NODES:
            return False
        if isinstance(node, sympy.Pow):
            exponent = node.exp
            if not exponent.is_number or abs(float(exponent)) > MAX_EXPONENT:
                return False
        if isinstance(node, sympy.Integer) and len(str(abs(int(node)))) > MAX_INTEGER_DIGITS:
            return False
    return True


def parse_value(text: str, approximate: bool = False) -> Value | None:
    """``text`` as a :class:`Value`, or ``None`` when it is not a small math expression.

    >>> parse_value("25π").number
    78.53981633974483
    >>> sorted(str(s) for s in parse_value("3x^2 - 4").expression.free_symbols)
    ['x']
    >>> parse_value("import os") is None
    True
    """
    raw = text.strip().rstrip(".")
    percent = raw.endswith("%")
    source = _normalise(raw.rstrip("%").strip())
    if not source or len(source) > MAX_EXPRESSION_CHARS or not _ALLOWED.match(source):
        return None
    if re.search(r"\*\*|//|\.\.|[A-Za-z]\.", source):
        return None
    words = _WORD.findall(source)
    if any(len(w) > 1 and w not in _FUNCTIONS for w in words):
        return None
    if re.search(rf"\d{{{MAX_INTEGER_DIGITS + 1},}}", source):
        return None
    names = {w: sympy.Symbol(w) for w in words if len(w) == 1}
    try:
        expr = parse_expr(
            source,
            local_dict={**_FUNCTIONS, **names},
            transformations=_TRANSFORMS,
            evaluate=False,
        )
    except Exception:  # SymPy raises many kinds for text that is not an expression
        return None
    if not isinstance(expr, sympy.Expr) or not _small_enough(expr):
        return None
    if expr.free_symbols:
        return Value(raw, expression=expr)
    try:
        number = complex(expr.evalf(30))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if number.imag or not math.isfinite(number.real):
        return None
    decimals = re.findall(r"(\d+)\.(\d+)", source)
    if _NUMBER_ONLY.match(source):  # one written number: half a unit of its last digit
        places = max((len(d) for _, d in decimals), default=0)
        tolerance = 10.0**-places / 2 if decimals or approximate else 0.0
    elif decimals:  # a calculation with rounded inputs: as precise as its least precise one
        digits = min(len((whole + d).lstrip("0")) for whole, d in decimals)
        tolerance = abs(number.real) * 10.0 ** (1 - digits) / 2
    else:
        tolerance = 0.0
    if percent:
        return Value(raw, number.real / 100, tolerance / 100)
    return Value(raw, number.real, tolerance, expr if not decimals else None)


def _numbers(text: str) -> list[Value]:
    """Every number written in ``text`` (with 16.7% read both as 0.167 and as 16.7)."""
    text = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    values = []
    for m in _NUMBER.finditer(text):
        approximate = bool(_APPROX.search(text[: m.start()][-16:]))
        literal = (m["sign"] or "") + m["num"].replace(" ", "") + ("π" if m["pi"] else "")
        if m["pct"]:  # the plain number first, so the last value read is the percentage
            values += [v for v in (parse_value(literal, approximate),) if v is not None]
        value = parse_value(literal + ("%" if m["pct"] else ""), approximate)
        if value is not None:
            values.append(value)
    return values


_EXPRESSION = re.compile(r"(?:[\d().+\-*/^×·−]|(?<![A-Za-z])[a-z](?![A-Za-z])|[ \t])+")


def _expressions(text: str) -> list[Value]:
    """Symbolic expressions written anywhere, such as ``(x - 3)(x + 3)``: runs of digits,
    operators and one-letter variables that hold a variable and an operator."""
    values = []
    for m in _EXPRESSION.finditer(text):
        run = m.group(0).strip()
        if re.search(r"[a-z]", run) and re.search(r"[+\-*/^×·−()]", run):
            value = parse_value(run)
            if value is not None and value.expression is not None and value.number is None:
                values.append(value)
    return values


def _right_hand_sides(sentence: str) -> list[Value]:
    """The symbolic values after each ``=`` (``f'(x) = 3x^2 - 4``): the longest run of words
    after it that parses. Numeric right-hand sides are left to :func:`_numbers`: a step such
    as ``= 340 + 51`` is working, not a value the response states."""
    values = []
    for part in sentence.split("=")[1:]:
        words = part.strip().split()
        for k in range(min(len(words), 12), 0, -1):
            value = parse_value(" ".join(words[:k]).rstrip(",:"))
            if value is not None:
                if value.number is None:
                    values.append(value)
                break
    return values


def _boxed(text: str) -> list[str]:
    out = []
    for m in _BOXED.finditer(text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append(text[m.end() : i - 1])
    return out


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def final_answer(response: str) -> list[Value]:
    """The response's final answer: ``\\boxed{}``, else "the answer is ...", else the last
    sentence with a number that is not a check: its last symbolic ``= ...`` or, failing that,
    its last number. Empty when nothing reads as one."""
    for box in reversed(_boxed(response)):
        if value := parse_value(box):
            return [value]
    said = list(_ANSWER_IS.finditer(response))
    if said:
        first = _sentences(said[-1]["rest"])[:1]
        values = _right_hand_sides("= " + first[0]) if first else []
        return values or (_numbers(first[0])[-1:] if first else [])
    for sentence in reversed(_sentences(response)):
        if _CHECK_SENTENCE.match(sentence):
            continue
        values = _right_hand_sides(sentence)[-1:] or _numbers(sentence)[-1:]
        if values:
            return values
    return []


def stated_values(response: str) -> list[Value]:
    """Every value the response writes: numbers and symbolic expressions."""
    values = _numbers(response) + _expressions(response)
    for sentence in _sentences(response):
        values += _right_hand_sides(sentence)
    return values


_YES = {"yes", "true", "correct"}
_NO = {"no", "false", "incorrect", "not"}


def _yes_no(text: str) -> bool | None:
    first = re.match(r"\s*([A-Za-z]+)", text)
    word = first.group(1).lower() if first else ""
    return True if word in _YES else False if word in _NO else None


def _solver_part(part: str) -> Value | None:
    """One value of a solver's answer. In ``calculation = result`` the calculation counts
    (it is evaluated exactly; the model's own arithmetic is what goes wrong); in ``x = 4`` the
    right side does; ``3x + 7 = 22`` is an equation, not an answer."""
    sides = part.split("=")
    if len(sides) > 1:
        left = parse_value(sides[0])
        if left is not None and left.number is not None:
            return left
        if left is not None and not isinstance(left.expression, sympy.Symbol):
            return None  # "3x + 7 = 22" restates an equation; it does not answer it
    side = sides[-1]
    return parse_value(side) or (_right_hand_sides("= " + side)[:1] or [None])[0]


def solver_values(answer: str) -> list[Value]:
    """The values of a solver's answer: the whole as one expression, else its parts split at
    ``,``, ``;``, "and", "or" (see :func:`_solver_part`), else the one number it holds with at
    most :data:`MAX_UNIT_WORDS` words ("6 cm"). Anything else (prose, LaTeX, several loose
    numbers, code, an answer over several lines or longer than :data:`MAX_ANSWER_CHARS`) has no
    value: guessing one from it would compare the response with noise, such as a number the
    solver copied from the problem.

    >>> [v.text for v in solver_values("about 31.4 square centimetres")]
    ['31.4']
    >>> solver_values("])\\n```python\\nradius = 5")
    []
    """
    text = answer.strip()
    if "\n" in text or "`" in text or len(text) > MAX_ANSWER_CHARS:
        return []
    if whole := parse_value(text):
        return [whole]
    values = []
    for part in (p for p in re.split(r",|;|\band\b|\bor\b", text) if p.strip()):
        value = _solver_part(part)
        if value is None:
            values = []
            break
        values.append(value)
    if values:
        return values
    numbers = _numbers(text)
    if len(numbers) != 1 or len(_WORD.findall(text)) > MAX_UNIT_WORDS:
        return []
    return numbers


def same_answer(a: str, b: str) -> bool:
    """Whether two solver-style answers have the same values (or the same yes/no)."""
    yes_no_a, yes_no_b = _yes_no(a), _yes_no(b)
    if yes_no_a is not None or yes_no_b is not None:
        return yes_no_a == yes_no_b
    va, vb = solver_values(a), solver_values(b)
    return (
        bool(va) and len(va) == len(vb) and all(x.matches(y) for x, y in zip(va, vb, strict=True))
    )


@dataclass(frozen=True)
class Consensus:
    """What independent solutions agree on: the majority answer, or ``None`` without one."""

    answer: str | None
    votes: int
    asked: int
    groups: list[list[str]]


def consensus(answers: list[str | None]) -> Consensus:
    """Group equal answers (the same value, or the same yes/no); the answer of a group holding
    more than half of all the solutions asked for is the consensus. A solution that failed, or
    whose answer cannot be read, counts as asked but agrees with nothing.

    >>> consensus(["391", "17*23", "381"]).answer
    '391'
    >>> consensus(["391", "381", None]).answer is None
    True
    """
    groups: list[list[str]] = []
    for answer in answers:
        if answer is None or (_yes_no(answer) is None and not solver_values(answer)):
            continue
        for group in groups:
            if same_answer(group[0], answer):
                group.append(answer)
                break
        else:
            groups.append([answer])
    groups.sort(key=len, reverse=True)
    best = groups[0] if groups else []
    if len(best) * 2 > len(answers):
        return Consensus(best[0], len(best), len(answers), groups)
    return Consensus(None, len(best), len(answers), groups)


Match = Literal["final", "stated", "none", "yes_no", "unreadable"]


@dataclass(frozen=True)
class AnswerComparison:
    """How a response's answer compares with a solver's."""

    agrees: bool | None  # None: nothing to compare
    match: Match
    response_answer: str
    solver_answer: str
    detail: str


def compare_answers(response: str, solver_answer: str) -> AnswerComparison:
    """Whether ``response`` states ``solver_answer`` (see the module docstring)."""
    final = final_answer(response)
    shown = ", ".join(v.text for v in final)
    solver_stance = _yes_no(solver_answer)
    if solver_stance is not None:
        stance = _yes_no(response)
        if stance is None:
            return AnswerComparison(
                None, "yes_no", "", solver_answer, "the response does not open with yes or no"
            )
        word = "yes" if stance else "no"
        return AnswerComparison(
            stance == solver_stance, "yes_no", word, solver_answer, f"response says {word}"
        )
    wanted = solver_values(solver_answer)
    if not wanted:
        return AnswerComparison(
            None, "unreadable", shown, solver_answer, "the solver's answer is not a value"
        )
    if all(any(w.matches(v) for v in final) for w in wanted):
        return AnswerComparison(True, "final", shown, solver_answer, "the final answer agrees")
    stated = stated_values(response)
    missing = [w.text for w in wanted if not any(w.matches(v) for v in final + stated)]
    if not missing:
        return AnswerComparison(
            True, "stated", shown, solver_answer, "the response states the solver's answer"
        )
    return AnswerComparison(
        False,
        "none",
        shown,
        solver_answer,
        f"the response never states {', '.join(missing)}",
    )
