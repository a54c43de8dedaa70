"""The SQL side of the coding verifier: finding an answer's query, comparing results, the
majority rule over members' test databases (in the real sandbox), hostile SQL, and the node
with scripted members."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gra_graph.config import Verifiers
from gra_graph.nodes.verify import verifier_calls
from gra_graph.stages import Stage
from gra_graph.verify.checks import CodingPlan, SqlPlan, judge_sql, plan_coding
from gra_graph.verify.sql import Database, extract_query, same_rows
from tests.support.fakes import is_instruction_prompt
from tests.test_verify_graph import REVIEWERS, VETO, asked, run

SETTINGS = Verifiers(enabled=True)
EMPLOYEES = (
    "CREATE TABLE employees (name TEXT, salary INTEGER)",
    "INSERT INTO employees VALUES ('Ann', 3000), ('Bo', 5000), ('Cy', 2000), ('Di', 6000)",
)
ABOVE_AVERAGE = "SELECT name FROM employees WHERE salary > (SELECT AVG(salary) FROM employees)"
ABOVE_MINIMUM = (
    "SELECT name, salary FROM employees WHERE salary > (SELECT MIN(salary) FROM employees)"
)


@pytest.mark.parametrize(
    ("response", "query"),
    [
        ("```sql\nSELECT a FROM t;\n```\nIt lists a.", "SELECT a FROM t"),
        (
            "Run this:\n```\nselect a\nfrom t\nwhere b = ';';\n```",
            "select a\nfrom t\nwhere b = ';'",
        ),
        ("SELECT a FROM t WHERE b > 1;\n\nThe subquery ...", "SELECT a FROM t WHERE b > 1"),
        ("SELECT a, b\nFROM t\nWHERE b > 1\n\nIt keeps ...", "SELECT a, b\nFROM t\nWHERE b > 1"),
        ("```sql\n-- the rows\nWITH c AS (SELECT 1 AS x) SELECT x FROM c\n```", None),
        (
            "```sql\nCREATE TABLE t (a);\nINSERT INTO t VALUES (1);\nSELECT a FROM t;\n```",
            "SELECT a FROM t",
        ),
    ],
)
def test_the_answer_query_is_found(response: str, query: str | None):
    expected = query or "-- the rows\nWITH c AS (SELECT 1 AS x) SELECT x FROM c"
    assert extract_query(response) == expected


@pytest.mark.parametrize(
    "response",
    [
        "Select the rows you need with a WHERE clause.",
        "```sql\nSELECT a FROM t;\nSELECT b FROM t;\n```",  # two answers: which one?
        "```python\nprint('SELECT a FROM t')\n```",
        "```sql\nUPDATE t SET a = 1;\n```",
    ],
)
def test_no_single_query_is_no_sql_plan(response: str):
    assert extract_query(response) is None


def test_python_answers_keep_the_python_check_and_sql_gets_its_own():
    python = "def f(x):\n    return x + 1"
    assert isinstance(plan_coding("Add one.", python), CodingPlan)
    assert plan_coding("List them.", f"```sql\n{ABOVE_AVERAGE};\n```") == SqlPlan(ABOVE_AVERAGE)
    query = f"{ABOVE_AVERAGE};"
    assert verifier_calls("coding", "List them.", query, SETTINGS) == SETTINGS.solutions
    assert verifier_calls("coding", "Add one.", python, SETTINGS) == 1


@pytest.mark.parametrize(
    ("answer", "reference", "same"),
    [
        ([["b", 2], ["a", 1.0]], [["a", 1], ["b", 2.0000001]], True),
        ([["a", 1], ["a", 1]], [["a", 1]], False),  # a duplicate row is a different result
        ([["a", 3000], ["b", 5000]], [["b"], ["a"]], True),  # extra columns are allowed
        ([["a"]], [["a", 1]], False),  # missing ones are not
        ([["a", 1], ["b", 2]], [["a", 2], ["b", 1]], False),  # same columns, other pairing
        ([], [], True),
    ],
)
def test_results_compare_as_multisets_of_rows(answer, reference, same: bool):
    assert same_rows(answer, reference) is same


def verdicts(v) -> list[str]:
    return [d["verdict"] for d in v.details["databases"]]


def test_a_wrong_query_fails_on_the_members_databases():
    v = judge_sql(SqlPlan(ABOVE_MINIMUM), [Database(EMPLOYEES, ABOVE_AVERAGE)] * 3, SETTINGS)
    assert v.outcome == "failed" and v.score == 0.0
    assert verdicts(v) == ["disagrees"] * 3
    assert v.reason == "0 of 3 test databases agree with the answer's query, 3 do not"
    assert v.details["language"] == "sql" and v.details["query"] == ABOVE_MINIMUM


def test_a_right_query_passes_in_another_shape():
    answer = (
        "SELECT e.name, e.salary FROM employees e "
        "WHERE e.salary > (SELECT AVG(salary) FROM employees) ORDER BY e.salary DESC"
    )
    wrong_member = Database(EMPLOYEES, ABOVE_MINIMUM)
    written = [Database(EMPLOYEES, ABOVE_AVERAGE), None, Database(EMPLOYEES, ABOVE_AVERAGE)]
    v = judge_sql(SqlPlan(answer), written, SETTINGS)
    assert (v.outcome, v.score) == ("passed", 1.0)
    assert verdicts(v) == ["agrees", "cannot judge", "agrees"]
    mixed = judge_sql(SqlPlan(answer), [written[0], wrong_member, None], SETTINGS)
    assert mixed.outcome == "inconclusive"  # one for, one against, one missing: no majority


@pytest.mark.parametrize(
    ("database", "why"),
    [
        (
            Database(
                ("CREATE TABLE staff (name TEXT)", "INSERT INTO staff VALUES ('Ann')"),
                "SELECT name FROM staff",
            ),
            "does not run",
        ),
        (Database(("CREATE TABLE employees (",), ABOVE_AVERAGE), "does not build"),
        (Database(EMPLOYEES, "SELECT nme FROM employees"), "own query fails"),
        (Database(EMPLOYEES, "SELECT name FROM employees WHERE 0"), "returns no rows"),
        (Database(("ATTACH DATABASE 'x.db' AS x",), "SELECT 1"), "not authorized"),
    ],
)
def test_a_database_that_cannot_judge_is_never_held_against_the_answer(database, why: str):
    v = judge_sql(SqlPlan(ABOVE_AVERAGE), [database] * 3, SETTINGS)
    assert v.outcome == "inconclusive" and v.score is None
    assert verdicts(v) == ["cannot judge"] * 3
    assert why in v.details["databases"][0]["why"]


def test_setup_strings_holding_several_statements_run_one_by_one():
    together = (";\n".join(EMPLOYEES) + ";",)
    v = judge_sql(SqlPlan(ABOVE_AVERAGE), [Database(together, ABOVE_AVERAGE)], SETTINGS)
    assert v.outcome == "passed" and verdicts(v) == ["agrees"]


def test_a_query_that_never_ends_is_stopped():
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n"
    v = judge_sql(SqlPlan(endless), [Database(EMPLOYEES, ABOVE_AVERAGE)], SETTINGS)
    assert v.outcome == "inconclusive"
    assert "more than 200 rows" in v.details["databases"][0]["why"]  # cut, never run out
    counting = f"SELECT count(*) FROM ({endless})"
    v = judge_sql(SqlPlan(counting), [Database(EMPLOYEES, ABOVE_AVERAGE)], SETTINGS)
    assert "interrupted" in v.details["databases"][0]["why"]


# ---- in the graph, with scripted members


def _sql_generator(title: str, prompt: str) -> str:
    if is_instruction_prompt(prompt):
        return "List the employees who earn more than the average, from employees(name, salary)."
    return f"```sql\n{ABOVE_MINIMUM};\n```\nThe subquery computes the average salary."


def sql_check(query: str) -> str:
    return json.dumps({"setup": list(EMPLOYEES), "query": query})


@pytest.mark.parametrize(
    ("query", "status"), [(ABOVE_AVERAGE, "rejected"), (ABOVE_MINIMUM, "accepted")]
)
async def test_the_graph_vetoes_an_sql_answer_its_databases_disagree_with(query: str, status: str):
    replies: dict[str, dict[str, Any]] = {n: {"SqlCheck": sql_check(query)} for n in REVIEWERS}
    replies["gen"] = {"text": _sql_generator}
    record, members = await run(replies, "coding", **VETO)
    assert record.status == status
    (verification,) = record.verifications
    assert verification.details["query"] == ABOVE_MINIMUM
    assert asked(members, "SqlCheck") == 3 and asked(members, "TestCases") == 0
    stages = [c.stage for c in record.calls if c.stage == Stage.WRITE_SQL_CHECK.value]
    assert len(stages) == 3
    assert record.roles.generator not in verification.member
