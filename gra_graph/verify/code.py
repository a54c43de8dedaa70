"""Finding the Python in a response, and the tests an instruction already states.

Pure text functions, no model and no execution (execution is :mod:`gra_graph.verify.sandbox`).

- :func:`extract_code`: fenced Python blocks; else the whole text if it parses; else the runs
  of lines that start like Python definitions (``def``, ``class``, ``import``) and parse.
  Python-looking text that never parses is returned with its syntax error, because code that
  does not compile is itself a finding.
- :func:`definitions_only`: the imports, functions, classes and constant assignments of the
  code, without top-level statements (example calls, ``print``, ``input()``, file reads) that
  would run, and could fail, before any test.
- :func:`instruction_tests`: asserts from the examples an instruction gives, ``>>>`` doctests,
  ``f(2) -> 4`` / ``f(2) returns 4`` / ``f(2) == 4`` and ``Input: ... Output: ...`` pairs.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

MAX_CODE_CHARS = 20_000
MAX_TESTS = 12

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON_LABELS = {"python", "py", "python3", "py3", ""}
_STARTS_PYTHON = re.compile(
    r"^(?:(?:async\s+)?def\s+\w+\s*\(|class\s+\w+\s*[(:]|@\w"
    r"|import\s+[\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*\s*$"
    r"|from\s+[.\w]+\s+import\s)"
)


@dataclass(frozen=True)
class FoundCode:
    """Python code found in a response. ``error`` is the syntax error of code that looks like
    Python but does not parse (``code`` is then what was tried)."""

    code: str
    source: str  # "fence", "whole" or "lines"
    error: str | None = None

    @property
    def parses(self) -> bool:
        return self.error is None


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def _syntax_error(text: str) -> str:
    try:
        ast.parse(text)
    except SyntaxError as exc:
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    except ValueError as exc:
        return f"ValueError: {exc}"
    return ""


def _defines_something(text: str) -> bool:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        for node in tree.body
    )


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """The Markdown code fences of ``text`` as (label, body) pairs; an unclosed last fence
    runs to the end (an answer cut at its budget).

    >>> fenced_blocks("Run:\\n```sql\\nSELECT 1;\\n```\\nand\\n```\\nx = 1")
    [('sql', 'SELECT 1;\\n'), ('', 'x = 1')]
    """
    return _FENCE.findall(text)


def _from_fences(text: str) -> FoundCode | None:
    blocks = [body for label, body in fenced_blocks(text) if label.lower() in _PYTHON_LABELS]
    blocks = [b for b in blocks if b.strip() and (_parses(b) or _STARTS_PYTHON.match(b.lstrip()))]
    if not blocks:
        return None
    code = "\n\n".join(b.strip("\n") for b in blocks)
    return FoundCode(code, "fence", None if _parses(code) else _syntax_error(code))


def _paragraph_end(lines: list[str], start: int) -> int:
    """The index after the code paragraph that begins at ``start``: it runs to the first blank
    line that is followed by an unindented line, or to the end."""
    for j in range(start + 1, len(lines)):
        if not lines[j].strip() and (j + 1 >= len(lines) or not lines[j + 1][:1].isspace()):
            return j
    return len(lines)


def _from_lines(text: str) -> FoundCode | None:
    lines = text.splitlines()
    spans: list[str] = []
    unparsed: str | None = None
    i = 0
    while i < len(lines):
        if not _STARTS_PYTHON.match(lines[i]):
            i += 1
            continue
        end = next((j for j in range(len(lines), i, -1) if _parses("\n".join(lines[i:j]))), None)
        # a parsing prefix followed by indented lines stopped inside a block: the code is cut
        if end is None or (end < len(lines) and lines[end][:1].isspace() and lines[end].strip()):
            stop = _paragraph_end(lines, i)
            unparsed = unparsed or "\n".join(lines[i:stop]).strip("\n")
            i = stop
            continue
        spans.append("\n".join(lines[i:end]).strip("\n"))
        i = end
    if spans:
        return FoundCode("\n\n".join(spans), "lines")
    if unparsed is not None:
        return FoundCode(unparsed, "lines", _syntax_error(unparsed))
    return None


def extract_code(response: str) -> FoundCode | None:
    """The response's Python code, or ``None`` when it has none (prose, another language).

    >>> extract_code("def f(x):\\n    return x + 1\\n\\nIt adds one.").code
    'def f(x):\\n    return x + 1'
    >>> extract_code("Use a list comprehension.") is None
    True
    """
    text = response[:MAX_CODE_CHARS]
    fenced = _from_fences(text)
    if fenced is not None:
        return fenced
    if "```" not in text and _parses(text) and _defines_something(text):
        return FoundCode(text.strip("\n"), "whole")
    return _from_lines(text)


def definitions_only(code: str) -> str:
    """The top-level imports, definitions and constant assignments of parseable ``code``."""
    tree = ast.parse(code)
    lines = code.splitlines()
    kept = []
    for node in tree.body:
        keep = isinstance(
            node,
            ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
        ) or (
            isinstance(node, ast.Assign | ast.AnnAssign)
            and not any(isinstance(n, ast.Call) for n in ast.walk(node))
        )
        if keep:
            start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            kept.append("\n".join(lines[start - 1 : node.end_lineno]))
    return "\n".join(kept)


@dataclass(frozen=True)
class Signature:
    """A top-level function the tests can call: its name and its parameter list as written."""

    name: str
    params: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(self.params)})"


def signatures(code: str) -> list[Signature]:
    """The public top-level functions of parseable ``code`` (classes' names as constructors)."""
    out = []
    for node in ast.parse(code).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith(
            "_"
        ):
            params = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
            if node.args.vararg:
                params.append("*" + node.args.vararg.arg)
            params += [a.arg for a in node.args.kwonlyargs]
            out.append(Signature(node.name, tuple(params)))
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            out.append(Signature(node.name, ("...",)))
    return out


# ---- tests written in the instruction

_DOCTEST = re.compile(r"^\s*>>>\s?(.+)\n\s*([^\s>].*)$", re.MULTILINE)
_ARROW = re.compile(
    r"(?P<call>\b[A-Za-z_]\w*\((?:[^()]|\([^()]*\))*\))\s*"
    r"(?:->|=>|==|→|should\s+return|returns|gives|is)\s+"
    r"(?P<value>[^\s,;][^;\n]*?)(?=\s*(?:[;\n]|,\s|\.\s|\.$|$|\s+and\s))"
)
_INPUT_OUTPUT = re.compile(
    r"Input\s*:\s*(?P<input>[^\n]+?)\s*(?:\n\s*|[,;]\s*)Output\s*:\s*(?P<output>[^\n]+)",
    re.IGNORECASE,
)


def _expression(text: str) -> str | None:
    text = text.strip().rstrip(".")
    for candidate in (text, text.replace("true", "True").replace("false", "False")):
        try:
            node = ast.parse(candidate, mode="eval")
        except (SyntaxError, ValueError):
            continue
        if not any(isinstance(n, ast.Lambda | ast.NamedExpr) for n in ast.walk(node)):
            return candidate
    return None


def _assert_equal(call: str, value: str) -> str | None:
    left, right = _expression(call), _expression(value)
    if left is None or right is None:
        return None
    return f"assert {left} == {right}"


def _call_from_input(text: str, target: Signature) -> str | None:
    text = text.strip().rstrip(".")
    try:  # "nums = [1, 2], k = 3" reads as keyword arguments, "[1, 2], 3" as positional ones
        call = ast.parse(f"_f({text})", mode="eval").body
    except (SyntaxError, ValueError):
        return None
    assert isinstance(call, ast.Call)
    keywords = {k.arg for k in call.keywords}
    if None in keywords or not keywords <= set(target.params):
        return None
    if call.keywords and not call.args:
        return f"{target.name}({text})"
    value = _expression(text)
    if value is None or call.keywords:
        return None
    if len(target.params) == 1:
        return f"{target.name}({value})"
    node = ast.parse(value, mode="eval").body
    if isinstance(node, ast.Tuple) and len(node.elts) == len(target.params):
        return f"{target.name}(*{value})"
    return None


def instruction_tests(instruction: str, defined: list[Signature]) -> list[str]:
    """Asserts from the examples ``instruction`` gives, for the functions the code defines.

    Only calls to a function in ``defined`` are kept; ``Input:``/``Output:`` pairs need exactly
    one defined function to call.

    >>> instruction_tests("Examples: add(2, 3) -> 5", [Signature("add", ("a", "b"))])
    ['assert add(2, 3) == 5']
    """
    names = {s.name for s in defined}
    tests: list[str] = []

    def calls_defined(statement: str) -> bool:
        tree = ast.parse(statement)
        return any(
            isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in names
            for n in ast.walk(tree)
        )

    candidates = [_assert_equal(call, value) for call, value in _DOCTEST.findall(instruction)]
    candidates += [_assert_equal(m["call"], m["value"]) for m in _ARROW.finditer(instruction)]
    if len(defined) == 1:
        for m in _INPUT_OUTPUT.finditer(instruction):
            call = _call_from_input(m["input"], defined[0])
            candidates.append(_assert_equal(call, m["output"]) if call else None)
    for test in candidates:
        if test and test not in tests and calls_defined(test):
            tests.append(test)
    return tests[:MAX_TESTS]


def usable_tests(statements: list[str], defined: list[Signature]) -> list[str]:
    """Model-written test statements worth running: each parses, is an ``assert`` (or a few
    statements ending in one) and calls a function the code defines; at most ``MAX_TESTS``."""
    names = {s.name for s in defined}
    kept: list[str] = []
    for statement in statements:
        text = statement.strip()
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        if not tree.body or not isinstance(tree.body[-1], ast.Assert):
            continue
        called = {
            n.func.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        if called & names and text not in kept:
            kept.append(text)
    return kept[:MAX_TESTS]
