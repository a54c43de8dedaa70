"""``gra export`` on synthetic run directories: every format written and read back with its
own reader (json, ``pyarrow.parquet``, ``datasets.load_from_disk``), DPO pairs from revisions,
people's edits and samples of one seed, the dataset card, and hostile records."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gra_graph.cli import main
from gra_graph.config import GraphConfig
from gra_graph.exports import writers
from gra_graph.exports.export import export_run
from gra_graph.exports.pairs import preference_pairs
from gra_graph.exports.source import read_run
from gra_graph.exports.writers import ExportError
from gra_graph.state import Record
from tests.support.helpers import ROOT

# nothing here may reach the network: datasets and the Hub client read these switches
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

GRAPH = ROOT / "graphs" / "gra.yaml"
DIMENSIONS = ("correctness", "clarity", "completeness", "relevance", "coherence", "ethicality")


def review(reviewer: str, score: int, round_number: int = 0) -> dict[str, Any]:
    return {
        "reviewer": reviewer,
        "model_file": "m.gguf",
        "round": round_number,
        "scores": dict.fromkeys(DIMENSIONS, score),
    }


def verdict(round_number: int, mu: float | None, outcome: str = "accept") -> dict[str, Any]:
    return {
        "round": round_number,
        "outcome": outcome,
        "mu": mu,
        "sigma": 0.0 if mu is not None else None,
        "valid_reviews": 3,
        "abstentions": 0,
    }


def record(
    seed: int,
    sample: int = 0,
    status: str = "accepted",
    instruction: str | None = "Add 2 and 3.",
    response: str | None = "2 + 3 = 5.",
    domain: str = "math",
    score: int = 9,
    **fields: Any,
) -> dict[str, Any]:
    """A valid record line, scored ``score`` by three reviewers in round 0."""
    row: dict[str, Any] = {
        "run_id": "test-run",
        "seed_index": seed,
        "sample_index": sample,
        "status": status,
        "reason": "accepted" if status == "accepted" else "low score: mu 3.0 < tau 8",
        "domain": domain,
        "instruction": instruction,
        "response": response,
        "keywords": ["add", "sum", "numbers"],
        "summary": "adding numbers",
        "roles": {
            "generator": "gen",
            "reviewers": ["r1", "r2", "r3"],
            "adjudicator": "adj",
            "enricher": "gen",
        },
        "models": {"gen": "bundled:smollm2-135m/x.gguf", "r1": "bundled:gemma3-270m/y.gguf"},
        "checks": [],
        "reviews": [review(r, score) for r in ("r1", "r2", "r3")],
        "verdicts": [verdict(0, float(score), "accept" if status == "accepted" else "reject")],
        "adjudication": None,
        "revisions": [],
        "rounds": 0,
        "calls": [],
        "completion_tokens": 0,
        "seconds": 0.0,
    }
    row.update(fields)
    return Record.model_validate(row).model_dump(mode="json") | {
        k: v for k, v in fields.items() if k not in Record.model_fields
    }


def revised_record(seed: int) -> dict[str, Any]:
    """Accepted after two revise rounds: scored 4 in round 0, 6 in round 1, 9 in round 2."""
    reviews = [review(r, s, n) for n, s in ((0, 4), (1, 6), (2, 9)) for r in ("r1", "r2", "r3")]
    revisions = [
        {
            "round": n,
            "reviser": "gen",
            "prior_response": prior,
            "feedback": ["show the steps"],
            "prior_mu": mu,
            "new_response": new,
        }
        for n, prior, new, mu in ((1, "5", "2 + 3 is 5", 4.0), (2, "2 + 3 is 5", "2 + 3 = 5.", 6.0))
    ]
    return record(
        seed,
        reviews=reviews,
        verdicts=[verdict(0, 4.0, "reject"), verdict(1, 6.0, "reject"), verdict(2, 9.0)],
        revisions=revisions,
        rounds=2,
    )


def make_run(path: Path, rows: list[dict[str, Any]], dropped: list[tuple[int, int]] = ()) -> Path:
    """A run directory with ``rows`` as records.jsonl, ``dropped`` dropped as near-duplicates,
    and a run.json naming graphs/gra.yaml with its current fingerprint."""
    path.mkdir(parents=True)
    manifest = {
        "version": 1,
        "graph": "gra",
        "graph_fingerprint": GraphConfig.from_file(GRAPH).fingerprint(),
        "seeds": 4,
        "samples_per_seed": 2,
        "seed": 0,
        "iterations": 1,
        "command": {"graph": str(GRAPH), "seeds": "seeds.jsonl", "engine": "batched"},
        "status": "complete",
    }
    (path / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    (path / "records.jsonl").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    accepted = [r for r in rows if isinstance(r, dict) and r.get("status") == "accepted"]
    dedup = [
        {
            "seed_index": r["seed_index"],
            "sample_index": r["sample_index"],
            "kept": (r["seed_index"], r["sample_index"]) not in dropped,
        }
        for r in accepted
    ]
    (path / "dedup.jsonl").write_text("".join(json.dumps(d) + "\n" for d in dedup))
    return path


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """Four seeds: an accepted sample; a revised one; a near-duplicate; one seed with an
    accepted and two rejected samples (one answering the same instruction, one another)."""
    return make_run(
        tmp_path / "run",
        [
            record(0, domain="qa", instruction="What is the capital of France?", response="Paris."),
            revised_record(1),
            record(2, instruction="Add 2 and 3, please.", response="It is 5."),
            record(3, 0),
            record(3, 1, status="rejected", response="2 + 3 = 6.", score=3),
            record(3, 2, status="rejected", instruction="Multiply 2 by 3.", response="5", score=2),
        ],
        dropped=[(2, 0)],
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


ACCEPTED_KEYS = [(0, 0), (1, 0), (3, 0)]  # accepted and kept: what accepted.jsonl holds


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "hf"])
def test_table_formats_read_back_with_their_own_readers(run: Path, tmp_path: Path, fmt: str):
    out = tmp_path / fmt
    assert main(["export", str(run), "--format", fmt, "--out", str(out)]) == 0
    if fmt == "jsonl":
        rows = read_jsonl(out / "train.jsonl")
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(out / "train.parquet").to_pylist()
    else:
        import datasets

        dataset = datasets.load_from_disk(str(out))
        assert dataset.num_rows == 3
        rows = dataset.to_list()
    assert [(r["seed_index"], r["sample_index"]) for r in rows] == ACCEPTED_KEYS
    first = rows[0]
    assert first["instruction"] == "What is the capital of France?"
    assert first["messages"] == [
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
    ]
    assert first["domain"] == "qa" and first["status"] == "accepted"
    assert first["mu"] == 9.0 and first["scores"]["correctness"] == 9.0
    assert first["generator_model"] == "bundled:smollm2-135m/x.gguf"
    assert rows[1]["revisions"] == 2 and rows[1]["response"] == "2 + 3 = 5."
    assert (out / "README.md").is_file()


def test_status_all_and_rejected_select_every_record_or_the_rest(run: Path, tmp_path: Path):
    every = export_run(run, "jsonl", tmp_path / "all", "all")
    rows = read_jsonl(every.out / "train.jsonl")
    assert len(rows) == 6 and every.rows == 6
    near = [r for r in rows if r["near_duplicate"]]
    assert [(r["seed_index"], r["status"]) for r in near] == [(2, "accepted")]
    rest = read_jsonl(export_run(run, "jsonl", tmp_path / "rej", "rejected").out / "train.jsonl")
    assert {(r["seed_index"], r["sample_index"]) for r in rest} == {(2, 0), (3, 1), (3, 2)}


def test_chat_formats_follow_their_conventions(run: Path, tmp_path: Path):
    sharegpt = read_jsonl(export_run(run, "sharegpt", tmp_path / "s").out / "train.jsonl")
    assert sharegpt[0]["conversations"] == [
        {"from": "human", "value": "What is the capital of France?"},
        {"from": "gpt", "value": "Paris."},
    ]
    assert sharegpt[0]["domain"] == "qa" and sharegpt[0]["seed_index"] == 0
    alpaca = read_jsonl(export_run(run, "alpaca", tmp_path / "a").out / "train.jsonl")
    assert {k: alpaca[0][k] for k in ("instruction", "input", "output")} == {
        "instruction": "What is the capital of France?",
        "input": "",
        "output": "Paris.",
    }
    assert alpaca[0]["scores"]["clarity"] == 9.0
    chatml = read_jsonl(export_run(run, "chatml", tmp_path / "c").out / "train.jsonl")
    assert chatml[0]["messages"][1] == {"role": "assistant", "content": "Paris."}
    assert chatml[0]["text"] == (
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
        "<|im_start|>assistant\nParis.<|im_end|>\n"
    )
    openai = read_jsonl(export_run(run, "openai", tmp_path / "o").out / "train.jsonl")
    assert len(openai) == 3
    assert all(set(row) == {"messages"} for row in openai), "the fine-tuning format: messages only"


def test_a_jsonl_or_parquet_out_is_one_file_without_a_card(run: Path, tmp_path: Path):
    import pyarrow.parquet as pq

    out = tmp_path / "rows.parquet"
    result = export_run(run, "parquet", out)
    assert result.card is None and out.is_file()
    assert pq.read_table(out).num_rows == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.parquet", "run"], "no staging"
    with pytest.raises(ExportError, match=r"writes parquet, not \.jsonl"):
        export_run(run, "parquet", tmp_path / "rows.jsonl")


def test_an_existing_out_is_kept_unless_overwrite_and_a_run_dir_never_replaced(
    run: Path, tmp_path: Path, capsys
):
    out = tmp_path / "ds"
    assert main(["export", str(run), "--format", "jsonl", "--out", str(out)]) == 0
    (out / "train.jsonl").write_text("mine\n")
    assert main(["export", str(run), "--format", "jsonl", "--out", str(out)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert (out / "train.jsonl").read_text() == "mine\n"
    assert main(["export", str(run), "--format", "hf", "--out", str(out), "--overwrite"]) == 0
    assert not (out / "train.jsonl").exists() and (out / "state.json").is_file()
    assert main(["export", str(run), "--format", "jsonl", "--out", str(run), "--overwrite"]) == 2
    assert "is a run directory" in capsys.readouterr().err
    assert sorted(p.name for p in run.iterdir()) == ["dedup.jsonl", "records.jsonl", "run.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "run"], "no staging left"


def test_a_failed_write_leaves_nothing_and_says_so(run: Path, tmp_path: Path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ExportError, match="cannot write into"):
        export_run(run, "jsonl", blocker / "ds")

    def full_disk(path: Path, rows: list) -> None:
        path.write_text("half")
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(writers.WRITERS, "jsonl", (full_disk, ".jsonl"))
    with pytest.raises(ExportError, match=r"cannot write .*ds: No space left on device"):
        export_run(run, "sharegpt", tmp_path / "ds")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "run"], "nothing left"


@pytest.mark.parametrize(("fmt", "module"), [("hf", "datasets"), ("parquet", "pyarrow")])
def test_a_missing_package_names_the_extra(
    run: Path, tmp_path: Path, monkeypatch, fmt: str, module: str
):
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    with pytest.raises(ExportError, match=rf"needs the package {module}: .*gra-graph\[datasets\]"):
        export_run(run, fmt, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_the_default_out_is_beside_the_run(run: Path):
    result = export_run(run, "alpaca")
    assert result.out == run.parent / "run-alpaca" and (result.out / "train.jsonl").is_file()


def test_nothing_selected_writes_nothing_and_says_why(tmp_path: Path, capsys):
    run = make_run(tmp_path / "run", [record(0, status="rejected", score=3)])
    assert main(["export", str(run), "--format", "hf"]) == 2
    err = capsys.readouterr().err
    assert "--status accepted selects no hf row of the 1 record(s)" in err
    assert "--status all" in err
    assert not (tmp_path / "run-hf").exists()


def test_not_a_run_directory_is_refused(tmp_path: Path, capsys):
    assert main(["export", str(tmp_path), "--format", "jsonl"]) == 2
    assert "not a gra run directory" in capsys.readouterr().err


def test_push_to_hub_needs_hf_and_is_never_tried_otherwise(run: Path, capsys):
    assert main(["export", str(run), "--format", "jsonl", "--push-to-hub", "me/ds"]) == 2
    assert "use --format hf" in capsys.readouterr().err
    assert not (run.parent / "run-jsonl").exists()


# --- DPO pairs ---------------------------------------------------------------------------


def test_revisions_give_pairs_with_the_scores_of_both_rounds(run: Path):
    pairs, counts = preference_pairs(read_run(run).records)
    revisions = [p for p in pairs if p["kind"] == "revision"]
    assert [(p["chosen"], p["rejected"]) for p in revisions] == [
        ("2 + 3 is 5", "5"),
        ("2 + 3 = 5.", "2 + 3 is 5"),
    ]
    first = revisions[0]
    assert first["prompt"] == "Add 2 and 3."
    assert (first["chosen_round"], first["rejected_round"]) == (1, 0)
    assert (first["chosen_mu"], first["rejected_mu"], first["margin"]) == (6.0, 4.0, 2.0)
    assert first["chosen_scores"]["correctness"] == 6.0
    assert first["rejected_scores"]["correctness"] == 4.0
    assert counts.by_kind["revision"] == 2


def test_a_revision_that_scored_lower_is_left_out_unless_min_margin_allows(tmp_path: Path):
    worse = revised_record(0)
    worse["verdicts"][1]["mu"] = 3.0  # round 1 scored below round 0's 4.0
    run = make_run(tmp_path / "run", [worse])
    records = read_run(run).records
    pairs, counts = preference_pairs(records)
    assert [p["chosen_round"] for p in pairs] == [2] and counts.below_margin["revision"] == 1
    assert any("1 pair(s) left out: the chosen response scored below" in n for n in counts.notes)
    pairs, counts = preference_pairs(records, min_margin=-10)
    assert [p["margin"] for p in pairs] == [-1.0, 6.0] and not counts.below_margin
    pairs, _ = preference_pairs(records, min_margin=5)
    assert [p["margin"] for p in pairs] == [6.0]


def test_same_seed_pairs_share_their_instruction_unless_any_is_asked(run: Path):
    records = read_run(run).records
    pairs, counts = preference_pairs(records)
    (seed_pair,) = [p for p in pairs if p["kind"] == "same_seed"]
    assert seed_pair["prompt"] == "Add 2 and 3."
    assert (seed_pair["chosen"], seed_pair["rejected"]) == ("2 + 3 = 5.", "2 + 3 = 6.")
    assert (seed_pair["chosen_sample"], seed_pair["rejected_sample"]) == ("3/0", "3/1")
    assert (seed_pair["chosen_mu"], seed_pair["rejected_mu"], seed_pair["margin"]) == (9, 3, 6)
    assert seed_pair["rejected_reason"].startswith("low score")
    assert counts.different_instructions == 1
    pairs, counts = preference_pairs(records, "any")
    off_prompt = [p for p in pairs if p["rejected_instruction"]]
    assert [(p["prompt"], p["rejected"], p["rejected_instruction"]) for p in off_prompt] == [
        ("Add 2 and 3.", "5", "Multiply 2 by 3.")
    ]
    assert counts.by_kind["same_seed"] == 2


def test_a_persons_edit_is_a_pair(tmp_path: Path):
    human = {
        "who": "ana",
        "decision": "edit",
        "original_response": "2 + 3 = 6.",
        "edited_response": "2 + 3 = 5.",
    }
    run = make_run(tmp_path / "run", [record(0, human=human)])
    pairs, counts = preference_pairs(read_run(run).records)
    assert [(p["kind"], p["chosen"], p["rejected"], p["chosen_mu"]) for p in pairs] == [
        ("human_edit", "2 + 3 = 5.", "2 + 3 = 6.", None)
    ]
    assert counts.summary() == "1 preference pairs (revision 0, human_edit 1, same_seed 0)"


def test_dpo_export_prints_the_pairs_by_kind_and_writes_them(run: Path, tmp_path: Path, capsys):
    out = tmp_path / "dpo"
    assert main(["export", str(run), "--format", "dpo", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "3 preference pairs (revision 2, human_edit 0, same_seed 1)" in err
    assert "--seed-pairs any" in err and "no person edited" in err
    rows = read_jsonl(out / "train.jsonl")
    assert len(rows) == 3 and all({"prompt", "chosen", "rejected"} <= set(r) for r in rows)
    card = (out / "README.md").read_text()
    assert "## Preference pairs" in card and "| revision | 2 |" in card


def test_no_pairs_says_why_and_what_to_run(tmp_path: Path, capsys):
    run = make_run(tmp_path / "run", [record(0), record(1, status="rejected", score=3)])
    assert main(["export", str(run), "--format", "dpo"]) == 2
    err = capsys.readouterr().err
    assert "0 preference pairs (revision 0, human_edit 0, same_seed 0): nothing written" in err
    assert "no sample was revised" in err and "revise.max_rounds" in err
    assert "one sample per seed (run with --samples-per-seed 2 or more)" in err
    assert not (tmp_path / "run-dpo").exists()


# --- the dataset card --------------------------------------------------------------------


def card_parts(text: str) -> tuple[dict[str, Any], str]:
    _, front, body = text.split("---\n", 2)
    return yaml.safe_load(front), body


def test_the_card_has_front_matter_graph_models_thresholds_and_counts(run: Path, tmp_path: Path):
    from datasets import load_dataset

    out = export_run(run, "jsonl", tmp_path / "ds").out
    meta, body = card_parts((out / "README.md").read_text(encoding="utf-8"))
    assert meta["configs"][0]["data_files"] == [{"split": "train", "path": "train.jsonl"}]
    assert meta["size_categories"] == ["n<1K"] and "synthetic" in meta["tags"]
    assert "| graph file | gra.yaml |" in body
    assert "### Thresholds (read from gra.yaml, unchanged since the run)" in body
    assert "| tau: lowest mean score accepted | 8.0 |" in body
    assert "| gen | bundled:smollm2-135m/x.gguf | 6 |" in body
    assert "| accepted by the committee | 4 |" in body
    assert "| dropped as near-duplicates | 1 |" in body
    assert "| low score | 2 |" in body and "| math | 2 | 5 |" in body
    assert "Not included. Add it with `gra eval" in body
    # the card's configs make the folder loadable as it is (and as a Hub repository)
    assert load_dataset(str(out), split="train").num_rows == 3


def test_a_changed_graph_file_is_said_instead_of_thresholds(run: Path, tmp_path: Path):
    manifest = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps(manifest | {"graph_fingerprint": "0" * 16}))
    body = card_parts((export_run(run, "jsonl", tmp_path / "ds").card).read_text())[1]
    assert "Thresholds not shown: the run's graph file gra.yaml changed since the run." in body


def test_the_card_carries_the_eval_figures_when_given_a_report(run: Path, tmp_path: Path):
    report = tmp_path / "eval.json"
    entry = {
        "run_dir": str(run),
        "outcome": {"acceptance_rate": 0.6667, "check_pass_rate": 1.0},
        "accepted": {"samples": 4, "lexical": {"distinct_1_response": 0.5}},
        "score_agreement": {
            "correctness": {"alpha": 0.4321},
            "clarity": {"alpha": None, "reason": "no unit"},
        },
        "cost": {"total": {"calls": 12, "prompt_tokens": 100, "completion_tokens": 20}},
    }
    report.write_text(json.dumps({"runs": [{"run_dir": "elsewhere"}, entry]}))
    card = export_run(run, "jsonl", tmp_path / "ds", eval_report=report).card
    body = card_parts(card.read_text())[1]
    assert "| acceptance rate | 0.667 |" in body
    assert "| Krippendorff's alpha, score: correctness | 0.432 |" in body
    assert "| Krippendorff's alpha, score: clarity | - (no unit) |" in body
    assert "| model calls / tokens | 12 / 120 |" in body
    report.write_text(json.dumps({"runs": [{"run_dir": "elsewhere"}]}))
    with pytest.raises(ExportError, match="has no figures of"):
        export_run(run, "jsonl", tmp_path / "ds2", eval_report=report)
    report.write_text("[1, 2]")
    with pytest.raises(ExportError, match="not a gra eval --json report"):
        export_run(run, "jsonl", tmp_path / "ds3", eval_report=report)
    assert not (tmp_path / "ds2").exists() and not (tmp_path / "ds3").exists()


# --- hostile records ---------------------------------------------------------------------

HOSTILE_TEXTS = [
    "lone surrogate \ud800 here",
    "nul \x00 byte, bell \x07, escape \x1b[31m red",
    "right-to-left \u202e override, zero width \u200b, emoji 🦜, CJK 漢字",
    "<script>alert(1)</script> | pipes | and\nnew\nlines",
    "x" * 100_000,
]


def hostile_run(path: Path) -> Path:
    rows: list[Any] = []
    for i, text in enumerate(HOSTILE_TEXTS):
        rows.append(
            record(i, instruction=text, response=text, domain="not-a-domain" if i else "qa")
        )
    bare = record(10, status="rejected", instruction=None, response=None, score=0)
    for optional in ("iteration", "seed", "human", "verifications"):
        bare.pop(optional, None)
    bare.update(roles=None, models={}, reviews=[], verdicts=[], keywords=None, summary=None)
    rows += [
        bare,
        record(11, status="rejected", reason="odd <b>|reason|</b>\n", models={"r|1<x>": "m\nodel"}),
        json.dumps(record(12)).replace('"status"', '"status_x"'),  # not a record
        "[1, 2, 3]",  # not an object
        "{not json",
        record(0, response="a second line for seed 0"),  # a repeated seed-sample
    ]
    run = make_run(path, rows)
    with (run / "records.jsonl").open("a") as fh:
        fh.write('{"run_id": "torn')  # a torn last line
    return run


@pytest.mark.parametrize(
    "fmt", ["jsonl", "parquet", "hf", "sharegpt", "alpaca", "chatml", "openai", "dpo"]
)
def test_hostile_records_do_not_crash_any_format(tmp_path: Path, fmt: str, capsys):
    run = hostile_run(tmp_path / "run")
    code = main(
        ["export", str(run), "--format", fmt, "--status", "all", "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    if fmt == "dpo":
        assert code == 2 and "0 preference pairs" in err  # nothing to pair: said, no crash
        return
    assert code == 0, err
    # lines that are not JSON objects are skipped as a running journal's are: one is counted
    assert "left out 1 line(s) of records.jsonl that are not valid records" in err
    assert "1 repeated line(s)" in err
    out = tmp_path / "o"
    if fmt == "parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(out / "train.parquet").to_pylist()
    elif fmt == "hf":
        import datasets

        rows = datasets.load_from_disk(str(out)).to_list()
    else:
        rows = read_jsonl(out / "train.jsonl")
    texts = json.dumps(rows, ensure_ascii=False)
    assert "lone surrogate \ufffd here" in texts, "a lone surrogate becomes U+FFFD"
    assert "emoji 🦜, CJK 漢字" in texts and "x" * 100_000 in texts
    assert "a second line for seed 0" not in texts, "a repeated seed-sample is read once"
    expected = 7 if fmt in ("jsonl", "parquet", "hf") else 6  # the bare record has no text
    assert len(rows) == expected
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "<b>" not in card and "&lt;b&gt;" in card and "r\\|1&lt;x&gt;" in card
    assert card_parts(card)[0]["pretty_name"]


# --- records the runner wrote --------------------------------------------------------------


async def test_a_scripted_revise_run_exports_its_kept_rows_and_its_revisions(tmp_path: Path):
    """Records as the runner writes them (scripted members): every sample is scored 6, revised,
    then scored 9; the near-duplicate pass keeps one of the identical samples."""
    from gra_graph.runner import Runner
    from tests.support.fakes import coding_seeds, committee_config, fake_members, scores

    def score(title: str, prompt: str) -> str:
        return scores(9 if "# revised" in prompt else 6)

    config = committee_config(
        revise={"max_rounds": 1, "score_floor": 5}, dedup={"embedder": "ngram"}
    )
    members = fake_members(config, {r: {"ScoreOutput": score} for r in ("r1", "r2", "r3")})
    out = tmp_path / "run"
    runner = Runner(config, coding_seeds(2), out, samples_per_seed=2, members=members)
    async with runner:
        records = [r async for r in runner.records()]
    assert [len(r.revisions) for r in records] == [1, 1, 1, 1]

    kept = read_jsonl(export_run(out, "jsonl", tmp_path / "kept").out / "train.jsonl")
    accepted = read_jsonl(out / "accepted.jsonl")
    assert [(r["instruction"], r["response"]) for r in kept] == [
        (r["instruction"], r["response"]) for r in accepted
    ], "--status accepted is what accepted.jsonl holds"
    assert len(kept) < len(records), "the near-duplicate pass dropped some"

    result = export_run(out, "dpo", tmp_path / "dpo")
    pairs = read_jsonl(result.out / "train.jsonl")
    assert result.pairs.by_kind == {"revision": 4}
    for pair in pairs:
        assert "# revised" in pair["chosen"] and "# revised" not in pair["rejected"]
        assert (pair["chosen_mu"], pair["rejected_mu"], pair["margin"]) == (9.0, 6.0, 3.0)
        assert pair["prompt"] == "Write a memoized recursive Fibonacci function in Python."
