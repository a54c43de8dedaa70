"""Value probes on the real bundled models, both engines (``gra_graph/llm/value_probe.py``).

Greedy decoding with the repeat penalty off writes, at each value, the grammar-allowed token the
model ranks first, so the value it writes must be the mode of the distribution the probe reads
(``1`` and ``10`` share their first token and count together). Reading values must not change
what is written. The simple engine reads after the completion, from the KV cells it left: its
rows must be exactly those of replaying the completion token by token. The two engines run
different attention kernels (the batched one flash attention), which moves a small model's
probabilities by a few hundredths, so across engines only the expected values are compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from gra_graph.llm.bundled import bundled_path
from gra_graph.llm.engine import CompletionRequest, LoadSettings, ModelEngine
from gra_graph.llm.loader import load_engine
from gra_graph.llm.simple import SimpleEngine
from gra_graph.llm.value_probe import (
    PASS_FAIL_VALUES,
    SCORE_VALUES,
    ProbeReader,
    ValueProbe,
    expected_value,
)

pytestmark = pytest.mark.e2e

MODELS = {"smollm2-135m": "chatml", "gemma3-270m": "gemma", "qwen2.5-coder-0.5b": "template"}
SCHEMA = json.dumps(
    {
        "type": "object",
        "properties": {
            "correctness": {"enum": list(range(11))},
            "clarity": {"enum": list(range(11))},
            "verdict": {"enum": ["pass", "fail"]},
        },
        "required": ["correctness", "clarity", "verdict"],
    }
)
PROBES = (
    ValueProbe(("correctness", "clarity"), SCORE_VALUES),
    ValueProbe(("verdict",), PASS_FAIL_VALUES),
)
TASKS = [
    "Task: What is 15% of 240? Answer: 36.",
    "Task: Name the capital of France. Answer: Berlin.",
]


def _request(task: str, probes: tuple[ValueProbe, ...]) -> CompletionRequest:
    ask = (
        f"{task}\nScore the answer's correctness and clarity from 0 to 10, and give a verdict, "
        'pass or fail. Reply in JSON with the keys "correctness", "clarity" and "verdict".'
    )
    return CompletionRequest(
        messages=(("user", ask),),
        max_tokens=40,
        temperature=0.0,
        repeat_penalty=1.0,
        json_schema=SCHEMA,
        probes=probes,
    )


@pytest.fixture(scope="module", params=list(MODELS))
def engines(request: pytest.FixtureRequest) -> Iterator[dict[str, ModelEngine]]:
    loaded = {
        kind: load_engine(
            LoadSettings(bundled_path(request.param), MODELS[request.param], 512, None, 0, kind)
        )
        for kind in ("batched", "simple")
    }
    yield loaded
    for engine in loaded.values():
        engine.close()


def _mode_check(written: object, dist: dict[str, float]) -> None:
    first = {v: p for v, p in dist.items() if v not in ("1", "10")}
    first["1|10"] = dist["1"] + dist["10"]
    key = "1|10" if str(written) in ("1", "10") else str(written)
    assert first[key] >= max(first.values()) - 1e-6, (written, dist)


def test_the_written_value_is_the_mode_and_reading_changes_nothing(engines):
    results = {}
    for kind, engine in engines.items():
        for task in TASKS:
            plain = engine.complete_sync(_request(task, ()))
            read = engine.complete_sync(_request(task, PROBES))
            assert read.text == plain.text  # same tokens, with or without the readings
            assert plain.distributions is None
            reply = json.loads(read.text)
            dists = read.distributions
            assert dists is not None and set(dists) == {"correctness", "clarity", "verdict"}
            for key in ("correctness", "clarity"):
                assert list(dists[key]) == list(SCORE_VALUES)
                assert sum(dists[key].values()) == pytest.approx(1.0, abs=1e-4)
                _mode_check(reply[key], dists[key])
            assert dists["verdict"][json.dumps(reply["verdict"])] >= 0.5
            results[kind, task] = dists
    for task in TASKS:
        batched, simple = results["batched", task], results["simple", task]
        for key in ("correctness", "clarity"):
            assert expected_value(simple[key]) == pytest.approx(
                expected_value(batched[key]), abs=0.5
            )
        assert simple["verdict"]['"pass"'] == pytest.approx(batched["verdict"]['"pass"'], abs=0.1)


def test_the_simple_engine_reads_what_a_replay_reads(engines):
    """Every row the simple engine reads after its completion is the row of replaying the
    prompt and the generated tokens one by one, as generation decoded them."""
    import llama_cpp
    import numpy as np

    engine = engines["simple"]
    assert isinstance(engine, SimpleEngine)
    request = _request(TASKS[0], PROBES)
    llama = engine._llama
    prompt = engine.tokenize_prompt(engine.format(request.messages))
    engine.complete_sync(_request(TASKS[0], ()))
    # the tokens as generated (a model may write ' ' then '"' where a tokenizer reads ' "')
    generated = engine._worker.submit(
        lambda: [int(t) for t in llama.input_ids[len(prompt) : llama.n_tokens]]
    ).result()
    done = engine.complete_sync(request)
    table = engine.token_table()
    replay = ProbeReader(PROBES, table)

    def run() -> None:
        llama.reset()
        llama.eval(prompt)
        text = ""
        for i, token in enumerate(generated):
            node = replay.node_at(text)
            if node is not None:
                row = np.ctypeslib.as_array(
                    llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1), shape=(llama.n_vocab(),)
                ).copy()
                replay.observe(node, row)
                for other in replay.lookaheads(node, token):
                    keep = llama.n_tokens
                    llama.eval([other])
                    after = np.ctypeslib.as_array(
                        llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1),
                        shape=(llama.n_vocab(),),
                    ).copy()
                    replay.observe_lookahead(node, other, after)
                    llama.n_tokens = keep
            text += table.text(token)
            if i < len(generated) - 1:
                llama.eval([token])

    engine._worker.submit(run).result()  # on the model's own thread, like every call
    assert replay.distributions() == done.distributions
