"""SQL answers, checked by running them (the coding verifier's second language).

A coding answer whose code is an SQL query cannot run as Python, and a committee of small
models reads ``MIN(salary)`` as readily as ``AVG(salary)``. So the query is *differentially
tested*: members who never see the answer each write a small SQLite database for the task and
their own query (stage ``write_sql_check``); on every such database the answer's query and the
member's run inside the sandbox (:func:`gra_graph.verify.sandbox.run_python`, SQLite in memory,
a step limit, ``ATTACH`` refused), and the two results are compared as multisets of rows
(:func:`same_rows`: order and column names ignored, numbers compared to 6 decimals, an answer
that returns more columns than the member's matched on the columns they share).

A database only *judges* when it builds, the member's own query runs and returns rows, and the
answer's query runs on it. An answer's query that fails on a member's database is not held
against it (the member may have named a table differently, or the answer may be written for
another SQL dialect). The rule (:func:`judge_sql`) mirrors the math verifier's: of the
``solutions`` databases asked for, more than half agreeing with the answer passes it, more than
half disagreeing fails it, anything else is inconclusive.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gra_graph.verify.code import MAX_CODE_CHARS, fenced_blocks
from gra_graph.verify.sandbox import Limits, Outcome, run_python

_SQL_LABELS = {"sql", "sqlite", "sqlite3", "mysql", "postgres", "postgresql", "psql", "tsql"}
_COMMENTS = re.compile(r"(?:\s*--[^\n]*(?:\n|$))*\s*")
_QUERY = re.compile(r"(?:SELECT|WITH)\b", re.IGNORECASE)
_BARE_QUERY = re.compile(r"(?:SELECT|WITH)\b")
_FROM = re.compile(r"\bFROM\b", re.IGNORECASE)

MAX_ROWS = 200
"""Rows of one result compared; more and the result counts as cut (it cannot judge)."""

MAX_STEPS = 20_000
"""SQLite progress-handler calls (each 1,000 virtual-machine steps) one database may take."""

_PROGRAM = """
import json, sqlite3

JOB = json.loads({job!r})


def cell(value):
    if isinstance(value, bytes):
        return "x'" + value.hex() + "'"
    return value


def deny_attach(action, *_):
    return sqlite3.SQLITE_DENY if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH) else 0


def run(query, db):
    try:
        cursor = db.execute(query)
        rows = cursor.fetchmany(JOB["max_rows"] + 1)
    except Exception as exc:
        return {{"ok": False, "error": (type(exc).__name__ + ": " + str(exc))[:300]}}
    return {{
        "ok": True,
        "columns": len(cursor.description or ()),
        "rows": [[cell(v) for v in row] for row in rows[: JOB["max_rows"]]],
        "cut": len(rows) > JOB["max_rows"],
    }}


for database in JOB["databases"]:
    db = sqlite3.connect(":memory:")
    steps = [0]

    def tick(steps=steps):
        steps[0] += 1
        return 1 if steps[0] > JOB["max_steps"] else 0

    db.set_progress_handler(tick, 1000)
    db.set_authorizer(deny_attach)
    report = {{}}
    for statement in database["setup"]:
        try:
            db.execute(statement)
        except Exception as exc:
            report["setup_error"] = (type(exc).__name__ + ": " + str(exc))[:300]
            report["statement"] = statement[:200]
            break
    if "setup_error" not in report:
        report["reference"] = run(database["query"], db)
        report["answer"] = run(JOB["answer"], db)
    db.close()
    print(json.dumps(report))
"""


def _statements(code: str) -> list[str]:
    """``code`` split into complete SQL statements (a ``;`` inside a string literal does not
    split), without their final ``;``; an unterminated tail is one more statement."""
    statements, current = [], ""
    for piece in code.split(";"):
        current += piece
        if sqlite3.complete_statement(current + ";"):
            if current.strip():
                statements.append(current.strip())
            current = ""
        else:
            current += ";"
    if current.strip(" \t\n;"):
        statements.append(current.strip().rstrip(";").strip())
    return statements


def _is_query(statement: str) -> bool:
    return bool(_QUERY.match(statement, _COMMENTS.match(statement).end()))  # type: ignore[union-attr]


def _bare_sql(text: str) -> str:
    """SQL written without a fence: lines from one that starts with an upper-case ``SELECT``
    or ``WITH`` to one that ends with ``;`` or to the next blank line, if they hold a ``FROM``
    (so prose such as "Select the rows..." is not taken)."""
    lines = text.splitlines()
    for start, line in enumerate(lines):
        if not _BARE_QUERY.match(line.lstrip()):
            continue
        taken = []
        for part in lines[start:]:
            if not part.strip():
                break
            taken.append(part)
            if part.rstrip().endswith(";"):
                break
        statement = "\n".join(taken)
        if _FROM.search(statement):
            return statement
    return ""


def extract_query(response: str) -> str | None:
    """The SQL query a response answers with, or ``None`` (no SQL, or more than one query, so
    which one answers is unclear). A response's ``CREATE``/``INSERT`` statements are ignored.

    >>> extract_query("Use this:\\n```sql\\nSELECT name FROM t WHERE x > 1;\\n```\\nDone.")
    'SELECT name FROM t WHERE x > 1'
    >>> extract_query("SELECT a FROM t;\\n\\nIt keeps every row.")
    'SELECT a FROM t'
    >>> extract_query("Select the rows you need.") is None
    True
    """
    text = response[:MAX_CODE_CHARS]
    blocks = [
        body
        for label, body in fenced_blocks(text)
        if label.lower() in _SQL_LABELS or (not label and _is_query(body))
    ]
    code = "\n;\n".join(blocks) if blocks else ("" if "```" in text else _bare_sql(text))
    queries = [s for s in _statements(code) if _is_query(s)]
    return queries[0] if len(queries) == 1 else None


def _canonical(value: Any) -> Any:
    if isinstance(value, int | float):
        number = round(float(value), 6)
        return 0.0 if number == 0 else number
    return value


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    return [sorted((_canonical(r[i]) for r in rows), key=repr) for i in range(width)]


def same_rows(answer: Sequence[Sequence[Any]], reference: Sequence[Sequence[Any]]) -> bool:
    """Whether two query results hold the same rows, in any order. An answer with more columns
    than the reference is compared on the columns whose values match the reference's
    (``SELECT name, salary`` answers a task whose reference selects ``name``); one with fewer
    columns never matches.

    >>> same_rows([["a", 1], ["b", 2.0]], [["b", 2], ["a", 1]])
    True
    >>> same_rows([["a", 3000]], [["a"]])
    True
    >>> same_rows([["a"]], [["b"]])
    False
    """
    if len(answer) != len(reference):
        return False
    if not reference:
        return True
    wide, narrow = len(answer[0]), len(reference[0])
    if wide < narrow:
        return False
    picked: list[int] = []
    answer_columns = _columns(answer, wide)
    for column in _columns(reference, narrow):
        match = next(
            (i for i, c in enumerate(answer_columns) if i not in picked and c == column), None
        )
        if match is None:
            return False
        picked.append(match)

    def rows(result: Sequence[Sequence[Any]], columns: Sequence[int]) -> Counter[str]:
        return Counter(repr(tuple(_canonical(r[i]) for i in columns)) for r in result)

    return rows(answer, picked) == rows(reference, range(narrow))


@dataclass(frozen=True)
class Database:
    """One member's test database: its setup statements and its own query."""

    setup: tuple[str, ...]
    query: str


def run_databases(
    answer: str, databases: Sequence[Database], limits: Limits
) -> tuple[list[dict[str, Any]], str | None]:
    """Run ``answer`` and each database's own query on that database, in one sandboxed
    process (a setup string that holds several statements runs as several). Returns one
    report per database and the reason when the sandbox itself failed."""
    job = {
        "answer": answer,
        # a member often writes several statements in one string: they run one by one
        "databases": [
            {"setup": [part for s in d.setup for part in _statements(s)], "query": d.query}
            for d in databases
        ],
        "max_rows": MAX_ROWS,
        "max_steps": MAX_STEPS,
    }
    result = run_python(_PROGRAM.format(job=json.dumps(job)), limits=limits)
    reports = []
    for line in result.stdout.splitlines():
        try:
            reports.append(json.loads(line))
        except ValueError:
            break
    if len(reports) < len(databases):
        missing = {"error": f"not run: {result.reason or result.outcome}"}
        reports += [missing] * (len(databases) - len(reports))
    problem = None if result.outcome == Outcome.PASSED else result.reason or str(result.outcome)
    return reports, problem


def compare(report: dict[str, Any]) -> tuple[str, str]:
    """One database's verdict on the answer, ``agrees``, ``disagrees`` or ``cannot judge``,
    and why."""
    if "error" in report:
        return "cannot judge", report["error"]
    if "setup_error" in report:
        return "cannot judge", f"the database does not build: {report['setup_error']}"
    reference, answer = report["reference"], report["answer"]
    if not reference.get("ok"):
        return "cannot judge", f"the member's own query fails: {reference.get('error')}"
    if not reference["rows"]:
        return "cannot judge", "the member's own query returns no rows on its database"
    if not answer.get("ok"):
        return "cannot judge", f"the answer's query does not run on it: {answer.get('error')}"
    if reference.get("cut") or answer.get("cut"):
        return "cannot judge", f"a result has more than {MAX_ROWS} rows"
    if same_rows(answer["rows"], reference["rows"]):
        return "agrees", f"both return the same {len(reference['rows'])} row(s)"
    return (
        "disagrees",
        f"the answer returns {len(answer['rows'])} row(s) "
        f"{json.dumps(answer['rows'][:3])[:160]}, the member's query "
        f"{len(reference['rows'])} {json.dumps(reference['rows'][:3])[:160]}",
    )
