"""The verifiers on the real Qwen2.5-Coder-0.5B-Instruct (the ``qwen-0-5b`` test extra):
a real model writes tests, test databases and solutions, llama.cpp's grammar shapes the JSON,
the real sandbox runs the code. Greedy decoding and small budgets; nothing is faked.

What a 0.5B model writes is not asserted (that is measured by ``evals/bench_verifiers.py``):
these tests check that its output flows through the same path a run takes, and that the
verdict is what the rules make of that output.
"""

from __future__ import annotations

import pytest

from evals.bench_verifiers import MEMBER, bench_config
from gra_graph.context import GraContext
from gra_graph.llm.members import LazyMembers
from gra_graph.nodes.verify import run_verifier
from gra_graph.verify.answers import consensus
from gra_graph.verify.code import usable_tests

pytestmark = pytest.mark.e2e

WRONG_SUM = (
    "def total(n):\n    return sum(range(1, n))\n\nrange(1, n) gives 1 to n, so this sums them."
)


@pytest.fixture
async def ctx():
    config = bench_config("qwen2.5-coder-0.5b", 0.0, None, solutions=2)
    members = LazyMembers(config)
    yield GraContext.create(config, members)
    members.close()


async def test_a_real_model_writes_tests_that_run_in_the_sandbox(ctx: GraContext):
    instruction = "Write a Python function total(n) that returns the sum of 1 to n inclusive."
    verification, calls = await run_verifier(
        ctx, [MEMBER], "coding", instruction, WRONG_SUM, (0, 0, "verify", 0)
    )
    (call,) = calls
    assert call.stage == "write_tests" and call.model_file.endswith(".gguf")
    assert call.ok, call.error  # the grammar gave a JSON list of strings
    written = verification.details["written"]
    assert written and all(isinstance(t, str) for t in written)
    usable = usable_tests(written, [])  # nothing defined: nothing usable
    assert usable == []
    if verification.outcome == "inconclusive":  # too few of its tests call total()
        assert "usable test" in verification.reason
    else:
        assert verification.details["sandbox"]["layers"]  # ran confined
        ran = verification.details["tests"]
        judged = [t for t in ran if t["judges"]]
        passed = sum(t["outcome"] == "passed" for t in judged)
        assert verification.score == pytest.approx(passed / len(judged), abs=1e-4)
        expected = "passed" if verification.score >= 0.5 else "failed"
        assert verification.outcome == expected


async def test_a_real_model_solves_and_the_answers_are_compared(ctx: GraContext):
    verification, calls = await run_verifier(
        ctx,
        [MEMBER, MEMBER],
        "math",
        "What is 17 × 23?",
        "17 × 20 = 340 and 17 × 3 = 51, so 17 × 23 = 381.",
        (0, 0, "verify", 0),
    )
    assert [c.stage for c in calls] == ["solve", "solve"] and all(c.ok for c in calls)
    answers = verification.details["solver_answers"]
    assert len(answers) == 2 and all(isinstance(a, str) and a for a in answers)
    agreed = consensus(answers)
    assert verification.details["solver_answer"] == agreed.answer
    if agreed.answer is None:
        assert verification.outcome == "inconclusive"
    else:
        assert verification.outcome in ("passed", "failed")
        assert verification.details["response_answer"] == "381"


async def test_a_real_model_writes_test_databases_for_an_sql_answer(ctx: GraContext):
    instruction = (
        "Write a SQL query that lists the employees who earn more than the company average, "
        "from a table employees(name, salary)."
    )
    answer = "SELECT name FROM employees WHERE salary > (SELECT MIN(salary) FROM employees);"
    verification, calls = await run_verifier(
        ctx, [MEMBER, MEMBER], "coding", instruction, answer, (0, 0, "verify", 0)
    )
    assert [c.stage for c in calls] == ["write_sql_check"] * 2 and all(c.ok for c in calls)
    databases = verification.details["databases"]
    assert len(databases) == 2
    for database in databases:  # the grammar gave a list of statements and a query
        assert database["setup"] and all(isinstance(s, str) for s in database["setup"])
        assert isinstance(database["query"], str) and database["query"]
        assert database["verdict"] in ("agrees", "disagrees", "cannot judge")
    votes = [d["verdict"] for d in databases]
    if votes.count("disagrees") == 2:
        assert verification.outcome == "failed"
    elif votes.count("agrees") == 2:
        assert verification.outcome == "passed"
    else:
        assert verification.outcome == "inconclusive"
