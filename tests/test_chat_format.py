"""Chat messages to prompt strings, per model family."""

from __future__ import annotations

from gra_graph.llm.chat_format import (
    FORMATTERS,
    format_chatml,
    format_gemma,
    format_plain,
)

SYSTEM = "You are a careful reviewer."
USER = "Score this answer: {{response}}"
MESSAGES = [("system", SYSTEM), ("user", USER)]


def test_gemma_folds_system_into_first_user_turn():
    prompt = format_gemma(MESSAGES)
    assert prompt.text == (
        f"<start_of_turn>user\n{SYSTEM}\n\n{USER}<end_of_turn>\n<start_of_turn>model\n"
    )
    assert prompt.stop == ("<end_of_turn>",)
    assert "<start_of_turn>system" not in prompt.text


def test_gemma_system_text_not_dropped_in_multi_turn():
    messages = [
        ("system", SYSTEM),
        ("user", "first question"),
        ("assistant", "first answer"),
        ("user", "second question"),
    ]
    prompt = format_gemma(messages)
    assert prompt.text.count(SYSTEM) == 1
    assert prompt.text.startswith(f"<start_of_turn>user\n{SYSTEM}\n\nfirst question<end_of_turn>\n")
    assert "<start_of_turn>model\nfirst answer<end_of_turn>\n" in prompt.text
    assert "<start_of_turn>user\nsecond question<end_of_turn>\n" in prompt.text
    assert prompt.text.endswith("<start_of_turn>model\n")


def test_gemma_without_system():
    prompt = format_gemma([("user", USER)])
    assert prompt.text == f"<start_of_turn>user\n{USER}<end_of_turn>\n<start_of_turn>model\n"


def test_chatml_keeps_system_turn():
    prompt = format_chatml(MESSAGES)
    assert prompt.text == (
        f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"
        f"<|im_start|>user\n{USER}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert prompt.stop == ("<|im_end|>",)


def test_plain_contains_system_and_user():
    prompt = format_plain(MESSAGES)
    assert SYSTEM in prompt.text
    assert USER in prompt.text
    assert prompt.text.index(SYSTEM) < prompt.text.index(USER)
    assert prompt.text.endswith("Answer:")
    assert prompt.stop


def test_formatters_registry():
    expected = {"chatml": format_chatml, "gemma": format_gemma, "plain": format_plain}
    assert expected == FORMATTERS
