"""``gra bench-review`` on scripted members, where the right figures are known in advance.

Five pairs, three reviewers (r1-r3) and an adjudicator from ``committee_config``. Each
reviewer's scores are scripted per pair (the pair's tag, e.g. ``[P2]``, is in every prompt),
so every setting's decisions, AUROC and call counts can be worked out by hand; the expected
figures below are those hand computations.
"""

from __future__ import annotations

import doctest
import json
import random
import re
from pathlib import Path

import pytest

from gra_graph.bench import bench as bench_module
from gra_graph.bench import metrics, pairs, settings
from gra_graph.bench.bench import restrict_members, run_bench
from gra_graph.bench.pairs import BenchPair, Pair, PairsFileError, read_pairs
from gra_graph.bench.report import markdown, tables, write_json
from gra_graph.cli import main
from gra_graph.config import GraphConfig, GraphConfigError
from gra_graph.roles import draw_roles, sample_rng
from gra_graph.state import SCORE_DIMENSIONS
from tests.support.fakes import CHECK_PASS, adjudication, committee_config, fake_members, scores
from tests.support.helpers import ROOT

# tag -> (label, defect, {reviewer: composite score, or None to reply with broken JSON})
SCRIPT = {
    "P1": ("sound", None, {"r1": 9, "r2": 9, "r3": 9}),
    "P2": ("sound", None, {"r1": 10, "r2": 10, "r3": 6}),  # conflict: the adjudicator keeps it
    "P3": ("defective", "wrong_answer", {"r1": 2, "r2": None, "r3": 3}),  # r2 abstains
    "P4": ("defective", "incoherent_instruction", {"r1": 9, "r2": 9, "r3": 9}),  # r3 fails check
    "P5": ("defective", "off_topic", {"r1": 10, "r2": 10, "r3": 6}),  # conflict: adjudicator drops
}
ADJUDICATOR = {"P2": 9, "P5": 4}
CHECK_FAIL = json.dumps(
    {"rationality": "pass", "completeness": "pass", "clarity": "fail", "reason": "garbled"}
)


def tag(prompt: str) -> str:
    found = re.search(r"\[(P\d)\]", prompt)
    assert found, prompt
    return found.group(1)


def reviewer_replies(name: str):
    def score(_title: str, prompt: str) -> str:
        value = SCRIPT[tag(prompt)][2][name]
        return "not json at all" if value is None else scores(value)

    def check(_title: str, prompt: str) -> str:
        return CHECK_FAIL if name == "r3" and tag(prompt) == "P4" else CHECK_PASS

    return {"ScoreOutput": score, "InstructionCheckOutput": check}


def scripted_members(config: GraphConfig):
    replies = {r: reviewer_replies(r) for r in ("r1", "r2", "r3")}
    replies["adj"] = {"AdjudicationOutput": lambda _t, p: adjudication(ADJUDICATOR[tag(p)])}
    return fake_members(config, replies)


def bench_pairs(tags=tuple(SCRIPT)) -> list[BenchPair]:
    return [
        BenchPair(
            i + 1,
            Pair(
                instruction=f"[{t}] Explain item {t}.",
                response=f"Item {t} is explained here.",
                domain="qa" if i % 2 else "math",
                label=SCRIPT[t][0],
                defect=SCRIPT[t][1],
            ),
        )
        for i, t in enumerate(tags)
    ]


def by_name(report) -> dict[str, dict]:
    return {s["name"]: s for s in report.settings}


async def test_every_setting_decides_and_scores_as_worked_out_by_hand(tmp_path: Path):
    config = committee_config()
    members = scripted_members(config)
    report = await run_bench(config, bench_pairs(), tmp_path / "c.sqlite", members=members)
    s = by_name(report)
    assert list(s) == ["single:r1", "single:r2", "single:r3", "committee", "committee+adjudicator"]
    assert [s[n]["kind"] for n in s] == ["single"] * 3 + ["committee", "committee+adjudicator"]

    # r1 scores sound [9, 10] against defective [2, 9, 10]: 4 of 6 pairs ranked right
    assert s["single:r1"]["auroc"] == pytest.approx(4 / 6, abs=1e-4)
    assert s["single:r1"]["accuracy"] == 0.6  # accepts P4 and P5
    # r2 abstains on P3, which leaves the ranking and is rejected as undecided
    assert s["single:r2"]["scored"] == 4 and s["single:r2"]["auroc"] == 0.5
    assert s["single:r2"]["abstention"] == 0.1  # 1 of its 10 calls
    assert s["single:r2"]["undecided"] == 0.2
    # r3 fails P4's check: with mu P4 ties the best sound pair, counted as 0 it ranks last
    assert s["single:r3"]["auroc"] == pytest.approx(4 / 6, abs=1e-4)
    assert s["single:r3"]["auroc_check_zero"] == pytest.approx(5.5 / 6, abs=1e-4)
    assert s["single:r3"]["accuracy"] == 0.8  # rejects sound P2 (6 < tau)
    assert s["single:r3"]["check_fail_rate"] == 0.2

    # committee: P1 accepted; P2 and P5 conflict and are rejected without an adjudicator
    assert s["committee"]["accuracy"] == 0.8
    assert s["committee"]["accept_rate_sound"] == 0.5
    assert s["committee"]["reject_rate_defective"] == 1.0
    assert s["committee"]["auroc"] == pytest.approx(4 / 6, abs=1e-4)
    assert s["committee"]["auroc_check_zero"] == pytest.approx(5.5 / 6, abs=1e-4)
    assert s["committee"]["calls"] == 30 and s["committee"]["adjudicated"] == 0
    # with the adjudicator: P2 kept (9), P5 dropped (4); its composite is their score
    full = s["committee+adjudicator"]
    assert full["accuracy"] == 1.0 and full["adjudicated"] == 2
    assert full["auroc"] == pytest.approx(5 / 6, abs=1e-4)
    assert full["auroc_check_zero"] == 1.0
    assert full["calls"] == 32

    # breakdowns: sound pairs against one defect kind at a time, and within a domain
    assert full["by_defect"]["off_topic"] == {
        "pairs": 1,
        "auroc": 1.0,
        "auroc_check_zero": 1.0,
        "reject_rate": 1.0,
        "mean_score": 4.0,
    }
    assert full["by_defect"]["incoherent_instruction"]["auroc"] == 0.5  # 9 vs sound 9, 9
    assert s["committee"]["by_defect"]["off_topic"]["reject_rate"] == 1.0
    assert set(full["by_domain"]) == {"math", "qa"} and full["by_domain"]["qa"]["pairs"] == 2
    assert report.new_calls == 3 * 2 * 5 + 2 and report.cached_calls == 0

    # each AUROC has its bootstrap interval; committees are set against the best single (r1,
    # the first of the two at 4/6), pair by pair
    for setting in s.values():
        low, high = setting["auroc_ci"]
        assert low <= setting["auroc"] <= high
    versus = {c["setting"]: c for c in report.committee_vs_best_single}
    assert set(versus) == {"committee", "committee+adjudicator"}
    assert versus["committee+adjudicator"]["best_single"] == "single:r1"
    assert versus["committee+adjudicator"]["difference"] == pytest.approx(1 / 6, abs=1e-4)
    assert versus["committee"]["difference"] == 0.0
    assert versus["committee"]["pairs"] == 5
    low, high = versus["committee+adjudicator"]["ci"]
    assert low <= 1 / 6 <= high


async def test_the_graph_prompts_and_the_committee_draw_of_a_run_are_used(tmp_path: Path):
    config = GraphConfig.from_file(ROOT / "graphs" / "gra.yaml")  # six members, random roles
    members = fake_members(config)
    pairs_ = bench_pairs()
    report = await run_bench(config, pairs_, tmp_path / "c.sqlite", members=members, seed=7)
    for pair, row in zip(pairs_, report.per_pair, strict=True):
        draw = draw_roles(config, sample_rng(7, pair.index, 0, "roles"))
        assert row["reviewers"] == draw.reviewers and row["adjudicator"] == draw.adjudicator
    asked = members["smol-careful"].chat_model.prompts
    checks = [p for title, p in asked if title == "InstructionCheckOutput"]
    opening = "You review a task that a user could send"
    assert len(checks) == 5 and all(p.startswith(opening) for p in checks)
    s = by_name(report)
    assert [n for n in s if n.startswith("single:")] == [f"single:{m.name}" for m in config.members]
    assert s["committee"]["calls"] == 5 * 2 * config.committee_size


async def test_a_rerun_makes_no_call_and_a_longer_run_only_the_missing_ones(tmp_path: Path):
    config = committee_config()
    cache = tmp_path / "c.sqlite"
    first = await run_bench(
        config, bench_pairs(("P1", "P2", "P3")), cache, members=scripted_members(config)
    )
    assert first.new_calls == 3 * 2 * 3 + 1  # P2 conflicts
    # as after a kill: the same bench on more pairs asks only for what is missing
    members = scripted_members(config)
    second = await run_bench(config, bench_pairs(), cache, members=members)
    assert second.new_calls == 3 * 2 * 2 + 1 and second.cached_calls == 3 * 2 * 3 + 1
    assert sum(len(m.chat_model.prompts) for m in members.values()) == 3 * 2 * 2 + 1
    third = await run_bench(config, bench_pairs(), cache, members=scripted_members(config))
    assert third.new_calls == 0 and third.settings == second.settings
    # thresholds decide, they are not part of a call: a new tau costs no call at all
    strict = config.model_copy(
        update={"thresholds": config.thresholds.model_copy(update={"tau": 9.5})}
    )
    fourth = await run_bench(strict, bench_pairs(), cache, members=scripted_members(config))
    assert fourth.new_calls == 0
    assert by_name(fourth)["committee"]["accept_rate_sound"] == 0.0


async def test_a_changed_prompt_or_persona_is_asked_again(tmp_path: Path):
    config = committee_config()
    cache = tmp_path / "c.sqlite"
    await run_bench(config, bench_pairs(("P1",)), cache, members=scripted_members(config))
    r1 = config.member("r1").model_copy(update={"persona": "You are terse."})
    changed = config.model_copy(
        update={"members": tuple(r1 if m.name == "r1" else m for m in config.members)}
    )
    again = await run_bench(changed, bench_pairs(("P1",)), cache, members=scripted_members(changed))
    assert again.new_calls == 2 and again.cached_calls == 4  # r1's check and score only


async def test_members_subset_too_small_for_a_committee_keeps_the_singles(tmp_path: Path):
    config = restrict_members(committee_config(), ["r1", "r2"])
    report = await run_bench(
        config, bench_pairs(), tmp_path / "c.sqlite", members=scripted_members(committee_config())
    )
    assert [s["name"] for s in report.settings] == ["single:r1", "single:r2"]
    assert report.skipped and "committee settings skipped" in report.skipped[0]
    with pytest.raises(GraphConfigError, match="nobody"):
        restrict_members(committee_config(), ["r1", "nobody"])


async def test_report_json_markdown_and_tables_hold_the_required_keys(tmp_path: Path):
    config = committee_config()
    report = await run_bench(
        config, bench_pairs(), tmp_path / "c.sqlite", members=scripted_members(config)
    )
    write_json(report, tmp_path / "out.json")
    data = json.loads((tmp_path / "out.json").read_text())
    for setting in data["settings"]:
        assert {"name", "kind", "auroc", "accuracy", "abstention", "by_defect", "by_domain"} <= set(
            setting
        )
    assert data["calls"] == {"total": 32, "new": 32, "cached": 0}
    assert len(data["per_pair"]) == 5
    assert data["per_pair"][1]["results"]["committee+adjudicator"]["adjudicated"] is True
    assert [c["setting"] for c in data["committee_vs_best_single"]] == [
        "committee",
        "committee+adjudicator",
    ]
    text = markdown(report)
    assert "| committee+adjudicator | committee+adjudicator | 0.833 | " in text
    assert "- committee+adjudicator minus the best single reviewer (single:r1): +0.167" in text
    assert "off_topic (1)" in text
    assert len(tables(report)) == 8  # main, 4 breakdowns, scoring, check rules, position bias


def test_auroc_matches_counting_every_pair():
    rng = random.Random(3)
    for _ in range(50):
        pos = [rng.randint(0, 6) for _ in range(rng.randint(1, 12))]
        neg = [rng.randint(0, 6) for _ in range(rng.randint(1, 12))]
        wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
        assert metrics.auroc(pos, neg) == pytest.approx(wins / (len(pos) * len(neg)))


def test_bootstrap_intervals_are_reproducible_hold_the_estimate_and_shrink_with_pairs():
    rng = random.Random(5)
    small = ([rng.gauss(1, 1) for _ in range(14)], [rng.gauss(0, 1) for _ in range(14)])
    large = ([rng.gauss(1, 1) for _ in range(140)], [rng.gauss(0, 1) for _ in range(140)])
    first = metrics.auroc_interval(*small)
    assert first == metrics.auroc_interval(*small)  # a fixed seed: the same report twice
    assert first[0] <= metrics.auroc(*small) <= first[1]
    wide, narrow = first[1] - first[0], metrics.auroc_interval(*large)
    assert narrow[1] - narrow[0] < wide / 2
    assert metrics.auroc_interval([], [1.0]) is None


def test_a_setting_against_itself_differs_by_nothing_and_unscored_pairs_drop_out():
    scores = [9.0, 7.0, None, 8.0, 3.0]
    sound = [True, True, True, False, False]
    same = metrics.auroc_difference(scores, scores, sound)
    assert (same.difference, same.low, same.high, same.pairs) == (0.0, 0.0, 0.0, 4)
    assert metrics.auroc_difference([1.0, None], [2.0, 3.0], [True, False]) is None


@pytest.mark.parametrize("module", [metrics, pairs, settings, bench_module])
def test_doctests(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_decide_needs_an_adjudication_for_a_conflict():
    from gra_graph.state import InstructionCheck, Review

    config = committee_config()
    checks = [
        InstructionCheck(reviewer=n, model_file="m", criteria={"clarity": True})
        for n in ("a", "b", "c")
    ]
    reviews = [
        Review(reviewer=n, model_file="m", scores=dict.fromkeys(SCORE_DIMENSIONS, s))
        for n, s in (("a", 10), ("b", 10), ("c", 6))
    ]
    assert settings.needs_adjudication(checks, reviews, config)
    assert not settings.decide(checks, reviews, config, kind="committee").accepted
    with pytest.raises(ValueError, match="adjudication is needed"):
        settings.decide(checks, reviews, config, kind="committee+adjudicator")


GOOD = {
    "instruction": "Add 2 and 2.",
    "response": "4",
    "domain": "math",
    "label": "sound",
    "defect": None,
}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"line 2: malformed JSON"),
        (json.dumps({**GOOD, "label": "fine"}), r"line 2: label: Input should be 'sound'"),
        (json.dumps({**GOOD, "defect": "truncated"}), r"line 2: a sound pair has no defect"),
        (json.dumps({**GOOD, "label": "defective"}), r"line 2: a defective pair names its defect"),
        (json.dumps({**GOOD, "domain": "poetry"}), r"line 2: domain: Input should be"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "defect"}), r"line 2: defect: Field"),
        (json.dumps({**GOOD, "extra": 1}), r"line 2: extra: Extra inputs"),
        (json.dumps(GOOD), r"line 2: repeats the pair on line 1"),
        ('{"instruction": "a", "instruction": "b"}', r"line 2: key 'instruction' appears twice"),
    ],
)
def test_a_bad_pairs_line_is_named(tmp_path: Path, line: str, message: str):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + line + "\n")
    with pytest.raises(PairsFileError, match=message):
        read_pairs(path)


def test_pairs_keep_their_id_when_lines_move(tmp_path: Path):
    other = {**GOOD, "instruction": "Add 3 and 3.", "response": "6"}
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n" + json.dumps(GOOD) + "\n" + json.dumps(other) + "\n")
    a, b = read_pairs(path)
    assert (a.line, b.line) == (2, 3)
    path.write_text(json.dumps(other) + "\n" + json.dumps(GOOD) + "\n")
    assert [p.id for p in read_pairs(path)] == [b.id, a.id]
    assert [p.id for p in read_pairs(path, limit=1)] == [b.id]


def test_cli_refuses_a_bad_pairs_file_before_loading_a_model(tmp_path: Path, capsys):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + json.dumps({**GOOD, "label": "meh"}) + "\n")
    code = main(["bench-review", str(ROOT / "graphs" / "gra.yaml"), "--pairs", str(path)])
    assert code == 2
    assert "line 3: label" in " ".join(capsys.readouterr().err.split())


def test_cli_refuses_an_unknown_member(tmp_path: Path, capsys):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(GOOD) + "\n")
    code = main(
        [
            "bench-review",
            str(ROOT / "graphs" / "gra.yaml"),
            "--pairs",
            str(path),
            "--members",
            "smol-careful,nobody",
        ]
    )
    assert code == 2
    assert "nobody" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--limit", "--concurrency"])
def test_cli_refuses_a_count_below_one(tmp_path: Path, capsys, flag: str):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(GOOD) + "\n")
    code = main(
        ["bench-review", str(ROOT / "graphs" / "gra.yaml"), "--pairs", str(path), flag, "0"]
    )
    assert code == 2
    assert f"{flag} must be at least 1" in capsys.readouterr().err


def test_cli_skip_benches_the_later_pairs(tmp_path: Path, monkeypatch):
    import gra_graph.bench.bench as bench_module

    asked: list[list[int]] = []

    async def no_bench(config, pairs, *args, **kwargs):
        asked.append([p.index for p in pairs])
        raise KeyboardInterrupt  # stop before any model loads; main reports it and returns

    monkeypatch.setattr(bench_module, "run_bench", no_bench)
    monkeypatch.chdir(tmp_path)  # the default cache file lands here
    pairs = str(ROOT / "evals" / "data" / "review_pairs.jsonl")
    graph = str(ROOT / "graphs" / "gra.yaml")
    main(["bench-review", graph, "--pairs", pairs, "--skip", "28", "--limit", "3", "--quiet"])
    main(["bench-review", graph, "--pairs", pairs, "--limit", "31", "--quiet"])
    assert asked[0] == asked[1][28:]  # the same pairs, seeded as in a bench of all of them
    assert len(asked[0]) == 3


@pytest.mark.parametrize(("skip", "message"), [("-1", "at least 0"), ("500", "no pairs left")])
def test_cli_refuses_a_skip_that_leaves_nothing(capsys, skip: str, message: str):
    pairs = str(ROOT / "evals" / "data" / "review_pairs.jsonl")
    code = main(
        ["bench-review", str(ROOT / "graphs" / "gra.yaml"), "--pairs", pairs, "--skip", skip]
    )
    assert code == 2
    assert message in capsys.readouterr().err


async def test_two_bench_reports_compare_pair_by_pair_and_pool_their_slices(tmp_path: Path, capsys):
    from evals import compare_benches

    config = committee_config()
    report = await run_bench(
        config, bench_pairs(), tmp_path / "c.sqlite", members=scripted_members(config)
    )
    write_json(report, tmp_path / "a.json")
    data = json.loads((tmp_path / "a.json").read_text())
    # the same report as two slices pools back into the whole
    for name, rows in (("a1", data["per_pair"][:2]), ("a2", data["per_pair"][2:])):
        (tmp_path / f"{name}.json").write_text(json.dumps({**data, "per_pair": rows}))
    out = compare_benches.compare(
        [tmp_path / "a1.json", tmp_path / "a2.json"], [tmp_path / "a.json"], "committee"
    )
    assert out["pairs"] == 5 and out["a"]["auroc"] == out["b"]["auroc"] == pytest.approx(4 / 6)
    assert out["difference"] == [0.0, 0.0, 0.0]
    compare_benches.main(
        ["--a", str(tmp_path / "a.json"), "--b", str(tmp_path / "a.json"), "--setting", "single:r1"]
    )
    assert "A - B: +0.000" in capsys.readouterr().out
    # a setting against another of the same report: committee+adjudicator 5/6, r1 4/6
    out = compare_benches.compare(
        [tmp_path / "a.json"], [tmp_path / "a.json"], "committee+adjudicator", "single:r1"
    )
    assert out["difference"][0] == pytest.approx(1 / 6, abs=1e-4)
    with pytest.raises(SystemExit, match="no setting 'nope'"):
        compare_benches.compare([tmp_path / "a.json"], [tmp_path / "a.json"], "nope")
