"""The verifiers' text rules: finding code, tests in an instruction, reading and comparing
answers, and the coding/math verdicts (the coding ones run the real sandbox)."""

from __future__ import annotations

import pytest

from gra_graph.config import Verifiers
from gra_graph.state import Verification
from gra_graph.verify.answers import compare_answers, final_answer, parse_value, solver_values
from gra_graph.verify.checks import CodingPlan, judge_coding, judge_math, plan_coding
from gra_graph.verify.code import (
    Signature,
    definitions_only,
    extract_code,
    instruction_tests,
    signatures,
    usable_tests,
)

# ---- finding code


def test_fenced_python_block_wins():
    found = extract_code("Here:\n```python\ndef f(x):\n    return x\n```\nDone.")
    assert found is not None and found.source == "fence" and found.parses
    assert found.code == "def f(x):\n    return x"


def test_code_followed_by_prose_is_cut_at_the_prose():
    found = extract_code("def f(x):\n    return x + 1\n\nIt adds one to x, in O(1).")
    assert found is not None and found.source == "lines"
    assert found.code == "def f(x):\n    return x + 1"


def test_whole_text_that_parses_is_the_code():
    found = extract_code("import math\n\ndef area(r):\n    return math.pi * r * r\n")
    assert found is not None and found.source == "whole"


@pytest.mark.parametrize(
    "text",
    [
        "function f(n) {\n  return n;\n}",  # JavaScript
        "SELECT name FROM t;",  # SQL
        "```js\nconst x = 1;\n```",
        "Use a dictionary. from the list, take each item.",  # prose that starts like Python
    ],
)
def test_no_python_code(text: str):
    assert extract_code(text) is None


def test_truncated_python_is_found_with_its_syntax_error():
    found = extract_code("def counts(s):\n    out = {}\n    for ch in s:\n        if ch in out:")
    assert found is not None and not found.parses
    assert "SyntaxError" in (found.error or "")


def test_definitions_only_drops_top_level_calls():
    code = "import csv\nX = 3\ndef f():\n    return X\nprint(f())\nrows = open('a.csv')\n"
    assert definitions_only(code) == "import csv\nX = 3\ndef f():\n    return X"


def test_signatures_list_public_functions():
    code = "def _helper(): pass\ndef add(a, b=1, *rest, key=None): pass\nclass Box: pass"
    assert [str(s) for s in signatures(code)] == ["add(a, b, *rest, key)", "Box(...)"]


# ---- tests from the instruction


def test_examples_in_several_forms():
    text = (
        "Write square(n). Examples: square(2) -> 4, square(3) returns 9.\n"
        ">>> square(4)\n16\nInput: 5\nOutput: 25"
    )
    tests = instruction_tests(text, [Signature("square", ("n",))])
    assert sorted(tests) == sorted(
        [
            "assert square(2) == 4",
            "assert square(3) == 9",
            "assert square(4) == 16",
            "assert square(5) == 25",
        ]
    )


def test_examples_for_other_functions_are_ignored():
    assert instruction_tests("len([1]) -> 1", [Signature("f", ("x",))]) == []


def test_keyword_input():
    tests = instruction_tests(
        "Input: nums = [1, 2], k = 3\nOutput: 6", [Signature("g", ("nums", "k"))]
    )
    assert tests == ["assert g(nums = [1, 2], k = 3) == 6"]


def test_usable_tests_keep_asserts_that_call_the_code():
    kept = usable_tests(
        ["assert f(1) == 2", "assert True", "x = f(1)", "assert f(", "assert g(1) == 2"],
        [Signature("f", ("x",))],
    )
    assert kept == ["assert f(1) == 2"]


# ---- answers


def test_values_and_tolerances():
    assert parse_value("25π").matches(parse_value("78.54"))
    assert parse_value("31.4").matches(parse_value("10*pi"))
    assert not parse_value("31.4").matches(parse_value("25*pi"))
    assert not parse_value("381").matches(parse_value("391"))
    assert parse_value("2/3").matches(parse_value("0.667"))
    assert parse_value("3x^2 - 4").matches(parse_value("3*x**2-4".replace("**", "^")))
    assert parse_value("(x-3)(x+3)").matches(parse_value("x^2 - 9"))
    assert not parse_value("(x-3)(x+3)").matches(parse_value("x^2 + 9"))


@pytest.mark.parametrize(
    "text",
    ["__import__('os').system('id')", "x.__class__", "2^99999999", "9" * 40, "lambda: 1", "a[0]"],
)
def test_hostile_or_huge_expressions_are_refused(text: str):
    assert parse_value(text) is None


def test_final_answer_skips_a_closing_check():
    response = "2 x (9 + w) = 30, so w = 6. The width is 6 cm. Check: 2 x (9 + 6) = 30 cm."
    assert [v.text for v in final_answer(response)] == ["6"]


def test_boxed_and_answer_is():
    assert [v.text for v in final_answer("so \\boxed{\\frac12}... no: \\boxed{42}")] == ["42"]
    assert [v.text for v in final_answer("The answer is 7.5 metres.")] == ["7.5"]


@pytest.mark.parametrize(
    ("response", "solver", "agrees", "match"),
    [
        ("17 x 23 = 340 + 51 = 381.", "391", False, "none"),
        ("A = 2πr = 10π ≈ 31.4 cm².", "25*pi", False, "none"),
        ("A = πr² = 25π ≈ 78.5 cm².", "25*pi", True, "final"),
        ("So the probability is 6/36 = 1/6, about 16.7%.", "1/6", True, "final"),
        ("The sum is 720°. Each angle is 720 ÷ 6 = 120°.", "720", True, "stated"),
        ("Yes, 91 is prime.", "no", False, "yes_no"),
        ("No. 91 = 7 x 13.", "No", True, "yes_no"),
        ("It is 7 and 3: x = 7, y = 3.", "x = 7, y = 3", True, "stated"),  # final: one value
        ("f'(x) = 3x^2 - 4.", "3*x^2 - 4", True, "final"),
        ("It factors as (x - 3)(x + 3).", "(x+3)(x-3)", True, "stated"),
        ("It factors as (x - 3)(x - 3).", "(x+3)(x-3)", False, "none"),
        ("The price was $1,050.", "1050", True, "final"),
    ],
)
def test_compare_answers(response: str, solver: str, agrees: bool, match: str):
    comparison = compare_answers(response, solver)
    assert (comparison.agrees, comparison.match) == (agrees, match), comparison


def test_an_unreadable_solver_answer_is_inconclusive():
    comparison = compare_answers("It is 4.", "the same as before")
    assert comparison.agrees is None and comparison.match == "unreadable"
    assert judge_math("It is 4.", ["the same as before"]).outcome == "inconclusive"
    assert judge_math("It is 4.", [None]).outcome == "inconclusive"


def test_judge_math_records_both_answers():
    v = judge_math("17 x 23 = 381.", ["17*23", "391", "400"])
    assert (v.outcome, v.score) == ("failed", 0.0)
    assert v.details["solver_answer"] == "17*23" and v.details["response_answer"] == "381"
    assert v.details["agreement"] == "2 of 3"


def test_judge_math_needs_a_majority_of_the_solutions():
    assert judge_math("17 x 23 = 391.", ["391", "17*23", "381"]).outcome == "passed"
    assert judge_math("17 x 23 = 391.", ["381", "400", None]).outcome == "inconclusive"
    assert judge_math("17 x 23 = 391.", ["381", None, None]).outcome == "inconclusive"
    assert judge_math("17 x 23 = 391.", ["381", "381", None]).outcome == "failed"


def test_a_solvers_calculation_counts_not_its_arithmetic():
    assert [v.number for v in solver_values("23 * 47 = 1069")] == [1081.0]
    assert [v.number for v in solver_values("x = 4")] == [4.0]
    assert [v.text for v in solver_values("f'(x) = 3x^2 - 4")] == ["3x^2 - 4"]
    assert solver_values("3x + 7 = 22") == []  # the equation again, not its solution
    assert solver_values("x = rac{5 \x0c ± }{2}") == []  # LaTeX mangled by JSON escapes
    assert [v.text for v in solver_values("6 cm")] == ["6"]


# ---- the coding rule (real sandbox)

SETTINGS = Verifiers(enabled=True)
TOTAL = "def total(n):\n    return sum(range(1, n))\n\nIt sums 1 to n."
TOTAL_OK = "def total(n):\n    return n * (n + 1) // 2\n"
TOTAL_TESTS = ["assert total(1) == 1", "assert total(3) == 6", "assert total(10) == 55"]


def plan(instruction: str, response: str) -> CodingPlan:
    made = plan_coding(instruction, response)
    assert isinstance(made, CodingPlan), made
    return made


def test_wrong_code_fails_the_tests():
    v = judge_coding(plan("Sum 1..n inclusive.", TOTAL), TOTAL_TESTS, SETTINGS)
    assert (v.outcome, v.score) == ("failed", 0.0)
    assert [t["outcome"] for t in v.details["tests"]] == ["failed"] * 3
    assert v.details["sandbox"]["layers"]  # ran confined


def test_right_code_passes_despite_one_wrong_test():
    tests = [*TOTAL_TESTS, "assert total(4) == 11"]  # the test writer's slip
    v = judge_coding(plan("Sum 1..n inclusive.", TOTAL_OK), tests, SETTINGS)
    assert (v.outcome, v.score) == ("passed", 0.75)


def test_tests_that_cannot_judge_are_left_out():
    tests = ["assert total(3) == 6", "assert total(1, 2) == 3", "assert totl(3) == 6"]
    v = judge_coding(
        plan("Sum 1..n inclusive.", TOTAL_OK), [*tests, "assert total(2) == 3"], SETTINGS
    )
    assert v.outcome == "passed" and v.score == 1.0
    assert [t["judges"] for t in v.details["tests"]] == [True, False, True]  # totl is dropped


def test_too_few_tests_is_inconclusive():
    v = judge_coding(plan("Sum 1..n.", TOTAL_OK), ["assert total(3) == 6"], SETTINGS)
    assert v.outcome == "inconclusive"


def test_a_failed_instruction_example_fails_the_code():
    instruction = "Write total(n), the sum of 1..n. Example: total(3) -> 6"
    v = judge_coding(plan(instruction, TOTAL), [], SETTINGS)
    assert v.outcome == "failed" and "example" in v.reason


def test_code_that_loops_forever_fails_its_tests():
    code = "def total(n):\n    while True:\n        pass\n"
    v = judge_coding(plan("Sum.", code), TOTAL_TESTS[:2], SETTINGS)
    assert v.outcome == "failed"
    assert {t["outcome"] for t in v.details["tests"]} == {"timeout"}


def test_code_that_does_not_compile_fails_without_tests():
    v = plan_coding("Count chars.", "def counts(s):\n    for ch in s:\n        if ch:")
    assert isinstance(v, Verification) and v.outcome == "failed"


@pytest.mark.parametrize(
    "response",
    [
        "Use str.split and a dict.",
        "```bash\nls -la\n```",
        "import csv\nrows = list(csv.reader(open('f')))",
    ],
)
def test_nothing_to_run_is_inconclusive(response: str):
    v = plan_coding("Do it.", response)
    assert isinstance(v, Verification) and v.outcome == "inconclusive"


def test_code_needing_a_missing_module_is_inconclusive():
    code = "import numpy\n\ndef mean(xs):\n    return numpy.mean(xs)\n"
    v = judge_coding(
        plan("Mean.", code), ["assert mean([1]) == 1", "assert mean([2]) == 2"], SETTINGS
    )
    assert v.outcome == "inconclusive" and "numpy" in v.reason


def test_hostile_tests_are_contained(tmp_path):
    target = tmp_path / "pwned"
    tests = [
        f"assert open({str(target)!r}, 'w').write('x') and total(1) == 1",
        "assert __import__('os').fork() and total(1) == 1",
        "assert total(3) == 6",
        "assert total(4) == 10",
    ]
    v = judge_coding(plan("Sum.", TOTAL_OK), tests, SETTINGS)
    assert v.outcome == "passed"
    assert not target.exists()


@pytest.mark.parametrize(
    "garbage",
    [
        "])\n```python\n# Problem: <<<A circle has a radius of 5 cm. What is its area?>>>",
        "]]\n```python\n# Define the radius of the circle\nradius = 5\n\n# Calculate the area",
        "The radius is 5 cm, so we use the formula for the area of a circle with that radius",
        "`5`",
    ],
)
def test_a_solver_answer_that_is_not_a_final_answer_has_no_value(garbage: str):
    # read as "5", the number copied from the problem, two such answers would agree and pass a
    # response that states r = 5 whatever its area
    assert solver_values(garbage) == []
    assert judge_math("A = 2 x pi x 5 = 31.4 cm^2 for r = 5 cm.", [garbage] * 3).outcome == (
        "inconclusive"
    )


def test_verify_rule_doctests():
    import doctest

    from gra_graph import drafts
    from gra_graph.verify import answers, checks, code, complexity, sql

    for module in (answers, checks, code, complexity, sql, drafts):
        assert doctest.testmod(module).failed == 0, module.__name__


def test_a_solver_may_answer_with_a_bare_json_number():
    from gra_graph.schemas import Solution, grammar_schema

    # the grammar offers a number as well as a string, so a model need not wrap 72 in quotes
    kinds = [k["type"] for k in grammar_schema(Solution)["properties"]["answer"]["anyOf"]]
    assert kinds == ["integer", "number", "string"]
    assert Solution.model_validate_json('{"answer": 72}').answer == "72"
    assert Solution.model_validate_json('{"answer": 28.5}').answer == "28.5"
    assert Solution.model_validate_json('{"answer": " x = 4 "}').answer == "x = 4"
    assert judge_math("The jacket cost $80 before.", ["80", "80.0", "80"]).outcome == "passed"
