"""Value probes (``gra_graph/llm/value_probe.py``): a key's value distribution read from logits.

The reader is driven here as an engine drives it, on token tables whose logits are scripted per
position, so each expected distribution can be worked out by hand: first on small made-up
vocabularies (digits split or not, a space merged with a digit, a quote merged with a space),
then on the real vocabularies of the three bundled models, loaded without their weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import llama_cpp
import numpy as np
import pytest

from gra_graph.llm.bundled import bundled_path
from gra_graph.llm.engine import token_pieces
from gra_graph.llm.value_probe import (
    PASS_FAIL_VALUES,
    SCORE_VALUES,
    ProbeReader,
    TokenTable,
    ValueProbe,
    consistent,
    expected_value,
    probes_from_json,
    probes_to_json,
)

Model = Callable[[str], dict[str, float]]
"""The next-token probabilities (by token text) after a generated text."""


def table_of(texts: list[str]) -> TokenTable:
    return TokenTable([t.encode() for t in texts])


def row(table: TokenTable, probabilities: dict[str, float]) -> np.ndarray:
    """A logit row giving each named token its probability (every other token next to none)."""
    logits = np.full(len(table.pieces), -1e4)
    for text, p in probabilities.items():
        logits[table.pieces.index(text.encode())] = math.log(p)
    return logits


def drive(table: TokenTable, probes: list[ValueProbe], path: list[str], model: Model) -> dict:
    """Generate ``path`` (token texts) as an engine does, reading values where the reader asks;
    returns the reader's distributions and how many lookahead decodes it asked for."""
    reader = ProbeReader(probes, table)
    text, lookaheads = "", 0
    for piece in path:
        token = table.pieces.index(piece.encode())
        node = reader.node_at(text)
        if node is not None:
            reader.observe(node, row(table, model(text)))
            for other in reader.lookaheads(node, token):
                after = text + table.text(other)
                reader.observe_lookahead(node, other, row(table, model(after)))
                lookaheads += 1
        text += piece
    return {"distributions": reader.distributions(), "lookaheads": lookaheads}


DIGITS = ['{"', "a", "b", '":', " ", ",", "}", "x", *[str(d) for d in range(10)]]


def score_model(text: str) -> dict[str, float]:
    """After 'a": ' the model prefers 7, then 1 (and 10 after 1), with some junk ('x')."""
    tail = text.rsplit('":', 1)[-1]
    return {
        "": {" ": 0.9, "7": 0.1},
        " ": {"1": 0.4, "7": 0.5, "x": 0.1},
        " 1": {"0": 0.25, ",": 0.5, "}": 0.25},
    }.get(tail, {",": 1.0})


def test_digit_by_digit_tokenizer_splits_one_into_one_and_ten():
    probe = ValueProbe(("a",), SCORE_VALUES)
    found = drive(table_of(DIGITS), [probe], ['{"', "a", '":', " ", "7", "}"], score_model)
    dist = found["distributions"]["a"]
    # at ' ' the model chose: 'x' is not a value, so 0.9 of the mass is left to share out
    assert dist["7"] == pytest.approx(0.5 / 0.9, abs=1e-6)
    assert dist["1"] == pytest.approx(0.4 * 0.75 / 0.9, abs=1e-6)
    assert dist["10"] == pytest.approx(0.4 * 0.25 / 0.9, abs=1e-6)
    assert sum(dist.values()) == pytest.approx(1.0, abs=1e-5)
    assert found["lookaheads"] == 1  # '1' was not written: its next position read aside


def test_a_written_one_is_resolved_on_the_path_without_a_lookahead():
    probe = ValueProbe(("a",), SCORE_VALUES)
    path = ['{"', "a", '":', " ", "1", "0", "}"]
    found = drive(table_of(DIGITS), [probe], path, score_model)
    assert found["lookaheads"] == 0
    assert found["distributions"]["a"]["10"] == pytest.approx(0.4 * 0.25 / 0.9, abs=1e-6)


def test_a_whole_ten_token_and_a_space_merged_with_a_digit_count_as_values():
    texts = [*DIGITS, " 7", "10", " 1"]
    probe = ValueProbe(("a",), SCORE_VALUES)

    def model(text: str) -> dict[str, float]:
        tail = text.rsplit('":', 1)[-1]
        if tail == "":
            return {" 7": 0.5, "10": 0.2, " 1": 0.2, " ": 0.1}  # the space decides nothing
        if tail == " 1":
            return {"0": 0.5, ",": 0.5}
        return {"}": 1.0}

    found = drive(table_of(texts), [probe], ['{"', "a", '":', " 7", "}"], model)
    dist = found["distributions"]["a"]
    assert dist["7"] == pytest.approx(0.5 / 0.9, abs=1e-6)
    assert dist["10"] == pytest.approx((0.2 + 0.2 * 0.5) / 0.9, abs=1e-6)
    assert dist["1"] == pytest.approx(0.2 * 0.5 / 0.9, abs=1e-6)
    assert expected_value(dist) == pytest.approx(sum(int(v) * p for v, p in dist.items()))


def test_pass_fail_after_a_quote_merged_with_the_space():
    texts = ['{"', "c", '":', ' "', "pass", "fail", "p", '",', "}"]
    probe = ValueProbe(("c",), PASS_FAIL_VALUES)

    def model(text: str) -> dict[str, float]:
        tail = text.rsplit('":', 1)[-1]
        if tail == "":
            return {' "': 1.0}
        if tail == ' "':
            return {"pass": 0.7, "fail": 0.2, "p": 0.1}
        return {'",': 1.0}

    found = drive(table_of(texts), [probe], ['{"', "c", '":', ' "', "fail", '",', "}"], model)
    assert found["distributions"]["c"] == pytest.approx({'"pass"': 0.8, '"fail"': 0.2})
    assert found["lookaheads"] == 0


def test_a_key_again_inside_a_later_string_is_not_read():
    texts = [*DIGITS, ' "', '"', "s"]
    probe = ValueProbe(("a",), SCORE_VALUES)
    path = ['{"', "a", '":', " ", "7", ",", ' "', "s", '":', ' "', '"', "a", '":', " ", "1"]

    def model(text: str) -> dict[str, float]:
        if text.count('"a":') > 1:
            return {"1": 1.0}  # would say 1 for sure, were it read
        return score_model(text)

    dist = drive(table_of(texts), [probe], path, model)["distributions"]["a"]
    assert dist["7"] == pytest.approx(0.5 / 0.9, abs=1e-6)


def test_several_keys_and_probes_in_one_reply():
    probes = [ValueProbe(("a",), SCORE_VALUES), ValueProbe(("b",), SCORE_VALUES)]
    path = ['{"', "a", '":', " ", "7", ",", ' "', "b", '":', " ", "1", "}"]
    texts = [*DIGITS, ' "']
    found = drive(table_of(texts), probes, path, score_model)
    assert set(found["distributions"]) == {"a", "b"}
    assert found["distributions"]["b"] == found["distributions"]["a"]


def test_an_unlikely_ambiguous_token_gets_no_lookahead_and_its_mass_is_dropped():
    probe = ValueProbe(("a",), SCORE_VALUES)

    def model(text: str) -> dict[str, float]:
        tail = text.rsplit('":', 1)[-1]
        return {" ": {"7": 0.9995, "1": 0.0005}}.get(tail, {" ": 1.0} if tail == "" else {"}": 1})

    found = drive(table_of(DIGITS), [probe], ['{"', "a", '":', " ", "7", "}"], model)
    assert found["lookaheads"] == 0
    assert found["distributions"]["a"]["7"] == pytest.approx(1.0)


def test_consistency_of_text_written_after_a_colon():
    assert consistent("", SCORE_VALUES) == frozenset(SCORE_VALUES)
    assert consistent("  ", SCORE_VALUES) == frozenset(SCORE_VALUES)
    assert consistent(" 1", SCORE_VALUES) == {"1", "10"}
    assert consistent(" 1,", SCORE_VALUES) == {"1"}
    assert consistent(" 10}", SCORE_VALUES) == {"10"}
    assert consistent(" 11", SCORE_VALUES) == frozenset()
    assert consistent(' "fa', PASS_FAIL_VALUES) == {'"fail"'}
    assert consistent(" x", PASS_FAIL_VALUES) == frozenset()


def test_probes_travel_as_json():
    probes = (ValueProbe(("a", "b"), SCORE_VALUES), ValueProbe(("c",), PASS_FAIL_VALUES))
    assert probes_from_json(probes_to_json(probes)) == probes


# ---- the bundled models' real vocabularies -------------------------------------------------

BUNDLED_TOKENIZERS = ("smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b")


@pytest.fixture(scope="module", params=BUNDLED_TOKENIZERS)
def real_vocab(request: pytest.FixtureRequest) -> tuple[TokenTable, Callable[[str], list[int]]]:
    llm = llama_cpp.Llama(str(bundled_path(request.param)), vocab_only=True, verbose=False)
    table = TokenTable(token_pieces(llm._model))

    def tokenize(text: str) -> list[int]:
        return llm.tokenize(text.encode(), add_bos=False, special=False)

    yield table, tokenize
    llm.close()


def _one_token(tokenize: Callable[[str], list[int]], text: str) -> int:
    tokens = tokenize(text)
    assert len(tokens) == 1, (text, tokens)
    return tokens[0]


def test_real_tokenizers_read_ten_one_and_pass(real_vocab):
    """On each bundled model's own tokens, a reply written as the model writes it: after
    '"a": ' the mass is on '1' (0.6) and '7' (0.4), after '1' on '0' (0.3) and ',' (0.7);
    after '"c": "' on 'pass' (0.75) and 'fail' (0.25)."""
    table, tokenize = real_vocab
    reply = '{"a": 10, "c": "pass"}'
    path = tokenize(reply)
    assert "".join(table.text(t) for t in path) == reply
    tok = {s: _one_token(tokenize, s) for s in ("1", "7", "0", ",", "pass", "fail")}
    scripted = {
        '"a": ': {"1": 0.6, "7": 0.4},
        '"a": 1': {"0": 0.3, ",": 0.7},
        '"c": "': {"pass": 0.75, "fail": 0.25},
    }

    def logits_for(text: str) -> np.ndarray:
        logits = np.zeros(len(table.pieces))  # elsewhere: no preference at all
        for ending, probabilities in scripted.items():
            if text.endswith(ending):
                logits[:] = -1e4
                for piece, p in probabilities.items():
                    logits[tok[piece]] = math.log(p)
        return logits

    reader = ProbeReader(
        [ValueProbe(("a",), SCORE_VALUES), ValueProbe(("c",), PASS_FAIL_VALUES)], table
    )
    text = ""
    for token in path:
        node = reader.node_at(text)
        if node is not None:
            reader.observe(node, logits_for(text))
            for other in reader.lookaheads(node, token):
                reader.observe_lookahead(node, other, logits_for(text + table.text(other)))
        text += table.text(token)
    dist = reader.distributions()
    assert dist["a"]["7"] == pytest.approx(0.4, abs=1e-4)
    assert dist["a"]["10"] == pytest.approx(0.6 * 0.3, abs=1e-4)
    assert dist["a"]["1"] == pytest.approx(0.6 * 0.7, abs=1e-4)
    assert dist["c"] == pytest.approx({'"pass"': 0.75, '"fail"': 0.25}, abs=1e-4)


def test_real_vocabularies_have_every_digit_as_a_token(real_vocab):
    table, _tokenize = real_vocab
    ids, texts = table.relevant(SCORE_VALUES)
    assert {str(d) for d in range(10)} <= set(texts)
    assert len(ids) == len(texts) < 2000  # the small set a node looks at
