"""``gra bench-review`` on a graph with executable verifiers: the committee the graph runs, with
its verifier's verdict, as one more setting (scripted members, the real math verifier).

Four pairs: two math (one right, one wrong that every reviewer scores 9) and two qa. The three
reviewers also solve the math questions, so the verifier's verdicts are known in advance.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gra_graph.ablation.compare import bench_setting
from gra_graph.bench.bench import run_bench
from gra_graph.bench.pairs import BenchPair, Pair
from gra_graph.cli import main
from tests.support.fakes import CHECK_PASS, committee_config, fake_members, scores
from tests.support.helpers import ROOT

# tag -> (domain, label, defect, response, the reviewers' composite score)
PAIRS = {
    "M1": ("math", "sound", None, "17 x 23 = 391.", 9),
    "M2": ("math", "defective", "wrong_answer", "17 x 23 = 381.", 9),
    "Q1": ("qa", "sound", None, "Paris is the capital of France.", 9),
    "Q2": ("qa", "defective", "off_topic", "Bananas are yellow.", 3),
}


def _tag(prompt: str) -> str:
    found = re.search(r"\[(M\d|Q\d)\]", prompt)
    assert found, prompt
    return found.group(1)


def _members(config):
    reply = {
        "ScoreOutput": lambda _t, p: scores(PAIRS[_tag(p)][4]),
        "InstructionCheckOutput": CHECK_PASS,
        "Solution": json.dumps({"answer": "391"}),
    }
    return fake_members(config, {name: dict(reply) for name in ("r1", "r2", "r3")})


def _pairs() -> list[BenchPair]:
    return [
        BenchPair(
            i + 1,
            Pair(
                instruction=f"[{tag}] What is 17 x 23?" if d == "math" else f"[{tag}] Capital?",
                response=response,
                domain=d,
                label=label,
                defect=defect,
            ),
        )
        for i, (tag, (d, label, defect, response, _)) in enumerate(PAIRS.items())
    ]


def _config(mode: str):
    return committee_config(verifiers={"enabled": True, "mode": mode, "domains": ["math"]})


async def test_a_veto_rejects_the_wrong_answer_the_committee_keeps_and_ranks_it_last(
    tmp_path: Path,
):
    config = _config("veto")
    report = await run_bench(config, _pairs(), tmp_path / "c.sqlite", members=_members(config))
    s = {x["name"]: x for x in report.settings}
    assert list(s)[-2:] == ["committee+adjudicator", "committee+adjudicator+verifiers"]
    assert bench_setting(config) == "committee+adjudicator+verifiers"
    # the reviewers score the wrong answer like the right one: a tie, so 3 of 4 orderings
    assert s["committee+adjudicator"]["auroc"] == pytest.approx(0.75)
    assert s["committee+adjudicator"]["accuracy"] == 0.75  # keeps M2
    # vetoed, M2 is rejected and scores 0, below every reviewed pair
    verified = s["committee+adjudicator+verifiers"]
    assert verified["auroc"] == 1.0 and verified["accuracy"] == 1.0
    rows = {r["id"]: r for r in report.per_pair}
    m2 = rows[_pairs()[1].id]
    assert m2["verification"]["outcome"] == "failed"
    assert m2["results"]["committee+adjudicator+verifiers"] == {
        "score": 0.0,
        "accepted": False,
        "check_failed": False,
        "undecided": False,
        "adjudicated": False,
    }
    assert rows[_pairs()[0].id]["verification"]["outcome"] == "passed"
    assert rows[_pairs()[2].id]["verification"] is None  # qa is not verified
    # two verifications of three solutions each; the setting counts them with the reviews
    assert report.new_calls == 3 * 2 * 4 + 2
    assert verified["calls"] == s["committee+adjudicator"]["calls"] + 2 * 3


async def test_a_vote_enters_mu_and_the_verdicts_are_shared_with_a_veto_bench(tmp_path: Path):
    cache = tmp_path / "c.sqlite"
    veto = _config("veto")
    await run_bench(veto, _pairs(), cache, members=_members(veto))
    vote = _config("vote")
    report = await run_bench(vote, _pairs(), cache, members=_members(vote))
    assert report.new_calls == 0  # veto or vote only decides: the same verifications serve
    rows = {r["id"]: r for r in report.per_pair}
    right, wrong = (rows[p.id]["results"]["committee+adjudicator+verifiers"] for p in _pairs()[:2])
    assert right["score"] == pytest.approx((9 + 9 + 9 + 10) / 4) and right["accepted"]
    assert wrong["score"] == pytest.approx((9 + 9 + 9 + 0) / 4) and not wrong["accepted"]


async def test_a_graph_without_verifiers_has_no_verifier_setting(tmp_path: Path):
    config = committee_config()
    report = await run_bench(config, _pairs(), tmp_path / "c.sqlite", members=_members(config))
    assert [x["name"] for x in report.settings][-1] == "committee+adjudicator"
    assert all(r["verification"] is None for r in report.per_pair)
    assert bench_setting(config) == "committee+adjudicator"


@pytest.mark.parametrize(
    ("flag", "enabled", "mode"),
    [("veto", True, "veto"), ("vote", True, "vote"), ("off", False, None)],
)
def test_cli_verifiers_flag_overrides_the_graph(tmp_path: Path, monkeypatch, flag, enabled, mode):
    import gra_graph.bench.bench as bench_module

    seen = []

    async def no_bench(config, *args, **kwargs):
        seen.append(config.verifiers)
        raise KeyboardInterrupt  # stop before any model loads; main reports it and returns

    monkeypatch.setattr(bench_module, "run_bench", no_bench)
    monkeypatch.chdir(tmp_path)
    graph = str(ROOT / "graphs" / "gra.yaml")  # no verifiers in the file
    pairs = str(ROOT / "evals" / "data" / "review_pairs.jsonl")
    main(["bench-review", graph, "--pairs", pairs, "--limit", "2", "--verifiers", flag, "--quiet"])
    (verifiers,) = seen
    assert verifiers.enabled is enabled
    assert mode is None or verifiers.mode == mode
