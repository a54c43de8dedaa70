"""The complexity side of the coding verifier: reading Big-O classes, comparing them, the
majority rule over independent answers, when a response is planned as a complexity answer, and
the node with scripted members."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gra_graph.config import Verifiers
from gra_graph.nodes.verify import verifier_calls
from gra_graph.stages import Stage
from gra_graph.state import Verification
from gra_graph.verify.checks import (
    CodingPlan,
    ComplexityPlan,
    judge_complexity,
    plan_coding,
)
from gra_graph.verify.complexity import (
    asks_complexity,
    complexity_consensus,
    growths,
    parse_growth,
    same_growth,
)
from tests.support.fakes import is_instruction_prompt
from tests.test_verify_graph import REVIEWERS, VETO, asked, run

SETTINGS = Verifiers(enabled=True)
HEAP_QUESTION = "What is the time complexity of pushing one item onto a binary heap of n items?"


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("n", "n"),
        ("N", "n"),
        ("1", "1"),
        ("log n", "log(n)"),
        ("log(n)", "log(n)"),
        ("logn", "log(n)"),
        ("lg n", "log(n)"),
        ("log₂ n", "log(n)"),
        ("log_2 n", "log(n)"),
        ("\\log n", "log(n)"),
        ("n log n", "n*log(n)"),
        ("nlogn", "n*log(n)"),
        ("n \\log n", "n*log(n)"),
        ("log^2 n", "log(n)**2"),
        ("n^2", "n**2"),
        ("n²", "n**2"),
        ("n * n", "n**2"),
        ("2^n", "2**n"),
        ("n!", "factorial(n)"),
        ("√n", "sqrt(n)"),
        ("V + E", "e + v"),
        ("E log V", "e*log(v)"),
    ],
)
def test_a_class_is_read_whatever_the_notation(written: str, read: str):
    growth = parse_growth(written)
    assert growth is not None and growth.text == read


@pytest.mark.parametrize(
    "written", ["number of items", "0", "", "n" * 41, "import os", "n; rm -rf /", "__class__"]
)
def test_what_is_not_a_class_is_not_read(written: str):
    assert parse_growth(written) is None


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("n", "2n + 1", True),  # constant factors and lower terms drop
        ("n log n", "n log2 n + n", True),  # so does the base of a logarithm
        ("n^2", "n^2/2 + n", True),
        ("k", "n", True),  # one variable each: the letter does not matter
        ("1", "5", True),
        ("V + E", "E + V", True),
        ("n", "log n", False),
        ("n", "n log n", False),
        ("n^2", "n^3", False),
        ("2^n", "3^n", False),
        ("1", "n", False),
        ("V + E", "V * E", False),
        ("m n", "n", False),  # different variables
    ],
)
def test_classes_are_compared_as_growth_rates(a: str, b: str, same: bool):
    assert same_growth(parse_growth(a), parse_growth(b)) is same


def test_every_class_a_text_writes_is_found_and_prose_is_not():
    text = (
        "Unlike a linear scan, which is O(n), the lookup takes Θ(log n) steps; "
        "with \\mathcal{O}(1) extra space. FOO(3) is a call and O(number of items) is prose."
    )
    assert [g.text for g in growths(text)] == ["n", "log(n)", "1"]


@pytest.mark.parametrize(
    ("instruction", "asks"),
    [
        ("What is the time complexity of heapsort?", True),
        ("Give the Big-O running time of this loop.", True),
        ("Is this O(n) or O(n^2)?", True),
        ("Write a function that reverses a list.", False),
        ("Explain how a hash map works.", False),
    ],
)
def test_an_instruction_that_asks_about_complexity_is_recognised(instruction: str, asks: bool):
    assert asks_complexity(instruction) is asks


def test_the_consensus_needs_more_than_half_of_the_answers_asked():
    agreed = complexity_consensus(["O(log n)", "O(lg N)", "O(n)"])
    assert agreed.answer == "O(log n)" and (agreed.votes, agreed.asked) == (2, 3)
    assert complexity_consensus(["O(log n)", "O(n)", None]).answer is None
    assert complexity_consensus(["O(log n)", "it depends", None]).answer is None
    assert complexity_consensus(["n log n", "O(n log n)", "O(n)"]).answer == "n log n"
    both = complexity_consensus(["O(n) time, O(1) space", "O(1) space and O(n) time", "O(n)"])
    assert both.answer == "O(n) time, O(1) space" and len(both.classes) == 2


def test_a_prose_answer_to_a_complexity_question_is_planned_as_one():
    plan = plan_coding(HEAP_QUESTION, "Pushing takes O(log n): the item sifts up one level.")
    assert plan == ComplexityPlan(("O(log(n))",))
    assert verifier_calls("coding", HEAP_QUESTION, "It takes O(log n).", SETTINGS) == 3


def test_code_that_can_be_tested_is_tested_even_when_complexity_is_asked():
    response = "```python\ndef push(heap, x):\n    heap.append(x)\n```\nThis is O(1)."
    assert isinstance(plan_coding(f"{HEAP_QUESTION} Write push().", response), CodingPlan)


@pytest.mark.parametrize(
    ("instruction", "response"),
    [
        ("Explain what a heap is.", "A heap keeps its smallest item on top; pushing is O(log n)."),
        (HEAP_QUESTION, "Pushing onto a heap is fast, since only one path is touched."),
    ],
)
def test_without_a_question_or_a_stated_class_there_is_nothing_to_compare(
    instruction: str, response: str
):
    verdict = plan_coding(instruction, response)
    assert isinstance(verdict, Verification) and verdict.outcome == "inconclusive"


def test_a_response_that_never_states_the_agreed_class_fails():
    response = "Pushing is O(n), since the heap may have to move every item. Space is O(1)."
    v = judge_complexity(response, ["O(log n)", "O(log n)", "O(1)"])
    assert v.outcome == "failed" and v.score == 0.0
    assert "never states O(log(n))" in v.reason and "2 of 3" in v.reason
    assert v.details["response_classes"] == ["O(n)", "O(1)"]


def test_a_response_that_states_the_agreed_class_passes_even_beside_others():
    response = "A linear scan would be O(n), but a push only sifts up one path: O(log n)."
    v = judge_complexity(response, ["O(log n)", "O(lg n)", "O(n)"])
    assert v.outcome == "passed" and v.score == 1.0


def test_answers_that_disagree_decide_nothing():
    v = judge_complexity("It is O(n).", ["O(log n)", "O(n log n)", None])
    assert v.outcome == "inconclusive" and v.score is None


# ---- in the graph, with scripted members


def _complexity_generator(title: str, prompt: str) -> str:
    if is_instruction_prompt(prompt):
        return HEAP_QUESTION
    return "Pushing onto a binary heap takes O(n) time, because every item may move."


@pytest.mark.parametrize(("answer", "status"), [("O(log n)", "rejected"), ("O(n)", "accepted")])
async def test_the_graph_vetoes_a_complexity_answer_the_members_disagree_with(
    answer: str, status: str
):
    replies: dict[str, dict[str, Any]] = {
        n: {"Solution": json.dumps({"answer": answer})} for n in REVIEWERS
    }
    replies["gen"] = {"text": _complexity_generator}
    record, members = await run(replies, "coding", **VETO)
    assert record.status == status
    (verification,) = record.verifications
    assert verification.details["kind"] == "complexity"
    assert asked(members, "Solution") == 3 and asked(members, "TestCases") == 0
    stages = [c.stage for c in record.calls if c.stage == Stage.SOLVE_COMPLEXITY.value]
    assert len(stages) == 3
    assert record.roles.generator not in verification.member
