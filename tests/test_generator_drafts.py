"""The Generator's stages: real tasks as few-shot examples, coherent keyword sources, an
instruction that ends where its JSON ends, and answers that restate the task caught early."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from gra_graph.drafts import restates_instruction
from gra_graph.pools import EXAMPLE_CHARS, pool_entry
from gra_graph.runner import Runner
from gra_graph.state import Seed
from tests.support.fakes import committee_config, fake_members
from tests.support.helpers import ROOT


@pytest.mark.parametrize(
    ("instruction", "response"),
    [
        ("Solve for x: 3x + 7 = 22.", "Solve for x: 3x + 7 = 22"),
        ("Write a haiku about rain.", "Sure! Write a haiku about rain."),
        ("Write a haiku about rain.", "write a haiku about the rain"),
        ("Name the capital of France.", ""),
        ("Reverse the words of a sentence.", "Certainly! Here is the task: reverse the words."),
    ],
)
def test_restatements_are_caught(instruction: str, response: str):
    assert restates_instruction(instruction, response)


@pytest.mark.parametrize(
    ("instruction", "response"),
    [
        ("Solve for x: 3x + 7 = 22.", "Subtract 7: 3x = 15, so x = 5."),
        ("Name the capital of France.", "Paris."),
        (
            "What process turns sunlight, carbon dioxide and water into glucose in plants?",
            "The process that turns sunlight, carbon dioxide and water into glucose in plants "
            "is called photosynthesis.",
        ),
        (
            "Write a haiku about rain.",
            "Soft rain on the roof\nthe gutters hum a low song\nthe street turns to glass",
        ),
    ],
)
def test_answers_are_not_restatements(instruction: str, response: str):
    assert not restates_instruction(instruction, response)


def seed(i: int, instruction: str) -> Seed:
    return Seed(
        instruction=instruction,
        response=f"answer {i}",
        domain="coding",
        keywords=[f"kw{i}a", f"kw{i}b", f"kw{i}c"],
        summary=f"summary {i}",
    )


def test_pool_keeps_the_instruction_unless_too_long():
    assert pool_entry(seed(0, "Reverse a list.")).instruction == "Reverse a list."
    assert pool_entry(seed(1, "x" * (EXAMPLE_CHARS + 1))).instruction is None


async def run_one(tmp_path: Path, replies: dict, **overrides):
    config = committee_config(generation={"few_shot": 3, **overrides})
    members = fake_members(config, {"gen": replies})
    seeds = [seed(i, f"Task number {i}: reverse a list of {i} items.") for i in range(3)]
    runner = Runner(config, seeds, tmp_path / "run", members=members)
    async with runner:
        records = [r async for r in runner.records()]
    return records, members["gen"].chat_model.prompts


async def test_instruction_prompt_shows_real_tasks_and_summaries(tmp_path: Path):
    _, prompts = await run_one(tmp_path, {})
    asked = [p for title, p in prompts if title == "InstructionDraft"]
    assert asked
    for prompt in asked:
        assert prompt.count("- Task: Task number") == 3
        assert prompt.count("About: summary") == 3


@pytest.mark.parametrize(("sources", "shown"), [(1, 1), (2, 2), (None, 3)])
async def test_keyword_sources_limit_what_the_triple_is_composed_from(
    tmp_path: Path, sources: int | None, shown: int
):
    _, prompts = await run_one(tmp_path, {}, keyword_sources=sources)
    composed = [p for title, p in prompts if title == "KeywordTriple"]
    assert composed
    assert all(p.count("- keywords: kw") == shown for p in composed)


async def test_an_answer_that_restates_the_instruction_is_rejected(tmp_path: Path):
    def echo(title: str, prompt: str) -> str:
        if "write ONE new task" in prompt:
            return "Reverse the words of a sentence in Python."
        return "Reverse the words of a sentence in Python"

    records, _ = await run_one(tmp_path, {"text": echo})
    assert records and all(r.status == "rejected" for r in records)
    assert all("restated the instruction" in r.reason for r in records)
    assert all(not r.reviews and not r.checks for r in records)


def test_a_draft_that_copies_its_prompt_is_an_echo():
    from gra_graph.drafts import echoes_prompt
    from gra_graph.prompts import PromptTemplate
    from gra_graph.stages import Stage

    path = ROOT / "prompts" / "write_instruction.txt"
    template = PromptTemplate(Stage.WRITE_INSTRUCTION, path.read_text(), path).fixed_text
    copied = (
        "Create a new task about percentage discount. It must read like the real tasks above: "
        "written as the user, in their own words."
    )
    assert echoes_prompt(copied, template)
    for task in [
        "Write a Python function that returns the three most common words in a text.",
        "A shirt costs $50 and its price rises by 20%. What is the new price?",
        "You are a museum guide: welcome a school group to the dinosaur hall in three sentences.",
    ]:
        assert not echoes_prompt(task, template)


async def test_an_instruction_that_copies_its_prompt_is_rejected_before_review(tmp_path: Path):
    def meta(title: str, prompt: str) -> str:
        if "write ONE new task" in prompt:
            return "Write a new task. Do not answer it, and do not mention tasks, keywords."
        return "an answer"

    records, _ = await run_one(tmp_path, {"text": meta})
    assert records and all("copied its prompt" in r.reason for r in records)
    assert all(not r.checks for r in records)


@pytest.mark.parametrize(
    "instruction",
    [
        "Write a new task about parallel work, unit rate, and syllogism.",
        "Create a new task about the travel phrase. It should differ from the real tasks above.",
        "Write a mystery story. The training example describes a lighthouse mystery.",
        "Using the given keywords, write a short poem.",
        "Make a question like the example tasks, about fractions.",
    ],
)
def test_an_instruction_about_its_prompts_tasks_speaks_of_its_making(instruction: str):
    from gra_graph.drafts import speaks_of_its_making

    assert speaks_of_its_making(instruction)


@pytest.mark.parametrize(
    "instruction",
    [
        "Write a Python task scheduler that runs a job every hour.",
        "Create a new task in my to-do app for Monday at 9am: call the plumber.",
        "What are the reserved keywords of C, and what does each one do?",
        "Explain the following keywords: async, await.",
        "Sort the examples below by size: 3, 1, 2.",
        "Translate into Spanish: 'Where is the train station?'",
    ],
)
def test_ordinary_tasks_do_not_speak_of_their_making(instruction: str):
    from gra_graph.drafts import speaks_of_its_making

    assert not speaks_of_its_making(instruction)


def _own_seed(prompt: str) -> str:
    """Which seed a generator prompt grew from: its pool shows the seed's own task first."""
    return re.search(r"- Task: Task number (\d+)", prompt).group(1)


async def test_a_meta_task_is_redrafted_when_attempts_allow(tmp_path: Path):
    drafts: Counter[str] = Counter()

    def reply(title: str, prompt: str) -> str:
        if "write ONE new task" in prompt:
            seed = _own_seed(prompt)
            drafts[seed] += 1
            if drafts[seed] == 1:
                return "Create a new task about lists, reversal and slicing."
            return f"Reverse the list [{seed}, 1, 2] in Python without modifying it."
        return "Use a slice with step -1: items[::-1] returns the list reversed."

    records, _ = await run_one(tmp_path, {"text": reply}, draft_attempts=2)
    assert records
    for record in records:
        assert record.instruction.startswith("Reverse the list [")
        assert record.checks, "the redrafted task reaches the instruction check"
        assert len([c for c in record.calls if c.stage == "write_instruction"]) == 2


async def test_a_meta_task_rejects_the_sample_when_attempts_run_out(tmp_path: Path):
    def meta(title: str, prompt: str) -> str:
        if "write ONE new task" in prompt:
            return "Create a new task about lists, reversal and slicing."
        return "an answer"

    records, _ = await run_one(tmp_path, {"text": meta}, draft_attempts=3)
    assert records and all("wrote about its prompt's tasks" in r.reason for r in records)
    assert all(not r.checks for r in records)
    assert all(len([c for c in r.calls if c.stage == "write_instruction"]) == 3 for r in records)


def _answers(first: Callable[[str], str], then: str):
    """A Generator that writes task number N of its seed, answers it first with ``first(N)``
    and, asked again, with ``then``."""
    answers: Counter[str] = Counter()

    def reply(title: str, prompt: str) -> str:
        if "write ONE new task" in prompt:
            return f"Reverse the words of sentence number {_own_seed(prompt)} in Python."
        task = re.search(r"sentence number (\d+)", prompt).group(1)
        answers[task] += 1
        return first(task) if answers[task] == 1 else then

    return reply


async def test_a_restated_answer_is_redrafted(tmp_path: Path):
    reply = _answers(
        lambda task: f"Reverse the words of sentence number {task} in Python",
        "Split on spaces, reverse the list, join: ' '.join(s.split()[::-1]).",
    )
    records, _ = await run_one(tmp_path, {"text": reply}, draft_attempts=2)
    assert records and all(r.checks for r in records)
    assert all(len([c for c in r.calls if c.stage == "write_response"]) == 2 for r in records)


def _task_then(answer: str):
    def reply(title: str, prompt: str) -> str:
        if "write ONE new task" in prompt:
            return f"Explain list reversal number {_own_seed(prompt)} in Python."
        return answer

    return reply


LONG = "Reverse it with a slice and explain every step at length. " * 12  # past 160 tokens


async def test_a_cut_answer_is_kept_and_recorded_by_default(tmp_path: Path):
    records, _ = await run_one(tmp_path, {"text": _task_then(LONG)})
    assert records and all(r.checks for r in records)  # the paper's way: review decides
    for record in records:
        (call,) = [c for c in record.calls if c.stage == "write_response"]
        assert call.finish_reason == "length"
        assert {c.finish_reason for c in record.calls if c.stage == "check_instruction"} == {"stop"}


async def test_a_cut_answer_is_rejected_when_attempts_run_out(tmp_path: Path):
    records, _ = await run_one(
        tmp_path, {"text": _task_then(LONG)}, cut_answers="reject", draft_attempts=2
    )
    assert records
    for record in records:
        assert record.status == "rejected" and not record.checks
        assert record.reason == (
            "generator gen wrote an answer cut at its 160-token budget (budgets.write_response)"
        )
        drafts = [c for c in record.calls if c.stage == "write_response"]
        assert [c.finish_reason for c in drafts] == ["length", "length"]


async def test_a_cut_answer_is_redrafted(tmp_path: Path):
    reply = _answers(lambda _task: LONG, "Use items[::-1]: a slice with step -1.")
    records, _ = await run_one(tmp_path, {"text": reply}, cut_answers="reject", draft_attempts=2)
    assert records and all(r.checks for r in records)
    assert all(r.response == "Use items[::-1]: a slice with step -1." for r in records)


def test_cut_answers_show_on_the_drawing_and_in_the_fingerprint():
    from langgraph.graph import END

    from gra_graph.drawing import edge_rules

    keep = committee_config()
    reject = committee_config(generation={"cut_answers": "reject"})
    assert "cut at its token budget" not in str(edge_rules(keep)[("write_response", END)])
    assert "cut at its token budget" in str(edge_rules(reject)[("write_response", END)])
    explicit = committee_config(generation={"cut_answers": "keep"})
    assert keep.fingerprint() == explicit.fingerprint() != reject.fingerprint()


async def test_json_cut_at_the_budget_says_so_in_the_record(tmp_path: Path):
    cut = '{"instruction": "Reverse ' + "the list and explain " * 40  # never closes
    records, _ = await run_one(tmp_path, {"InstructionDraft": cut})
    assert records
    for record in records:
        (call,) = [c for c in record.calls if c.stage == "write_instruction"]
        assert not call.ok and call.finish_reason == "length"  # why the JSON broke
        assert record.reason.startswith("generator gen wrote no instruction")
