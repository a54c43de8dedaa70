"""``gra draw``: every format on both shipped graph files, rules read from the file, disabled
edges, counts from a run directory, and a clear error without Graphviz."""

from __future__ import annotations

import json
import re
import struct
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from langgraph.graph import END, START

from gra_graph import drawing
from gra_graph.cli import EXIT_INPUT, main
from gra_graph.config import GraphConfig
from gra_graph.graph import build_graph
from gra_graph.runner import Runner
from gra_graph.state import Seed
from tests.support.fakes import (
    CHECK_FAIL,
    adjudication,
    committee_config,
    fake_members,
    is_instruction_prompt,
    scores,
)
from tests.support.helpers import ROOT, shipped_graph_text

GRAPHS = ["gra.yaml", "gra_revise.yaml"]
NODES = list(build_graph().get_graph().nodes)


def graph_path(name: str) -> Path:
    return ROOT / "graphs" / name


def expected_rules(name: str) -> dict[tuple[str, str], drawing.EdgeRule]:
    return drawing.edge_rules(GraphConfig.from_file(graph_path(name)))


def draw(capsysbinary: pytest.CaptureFixture[bytes], *args: str) -> tuple[int, bytes, str]:
    code = main(["draw", *args])
    out, err = capsysbinary.readouterr()
    return code, out, " ".join(err.decode().split())  # messages may be wrapped to the width


# ---- rules from the graph file


def test_paper_rules_are_read_from_the_file():
    rules = expected_rules("gra.yaml")
    assert rules[("decide", END)].clauses[0] == "mu < tau = 8.0"
    assert rules[("decide", "adjudicate")].text == "mu >= tau = 8.0 and sigma > delta = 1.5"
    assert rules[("gather_checks", END)].clauses[0] == "any reviewer fails a check"
    assert rules[("adjudicate", "enrich")].text == "adjudicator composite >= tau = 8.0"
    # gra.yaml has revise.max_rounds: 0, so the revise edges are drawn off, not dropped
    for edge in [("decide", "revise"), ("revise", "score_response"), ("revise", END)]:
        assert rules[edge].off == "revise.max_rounds: 0"
        assert rules[edge].text == "off (revise.max_rounds: 0)"


def test_revise_rules_carry_the_floor_and_the_rounds():
    rules = expected_rules("gra_revise.yaml")
    assert rules[("decide", "revise")].text == ("mu < tau = 8.0 and mu >= floor 5.0 and round < 2")
    assert rules[("decide", "revise")].off is None


def test_editing_the_file_changes_the_labels(tmp_path: Path):
    edited = tmp_path / "edited.yaml"
    edited.write_text(
        shipped_graph_text("gra_revise.yaml")
        .replace("tau: 8.0", "tau: 7.5")
        .replace("delta: 1.5", "delta: 2.0")
        .replace("max_rounds: 2", "max_rounds: 3")
        .replace("adjudication: true", "adjudication: false")
    )
    base = expected_rules("gra_revise.yaml")
    rules = drawing.edge_rules(GraphConfig.from_file(edited))
    assert rules[("decide", "enrich")].text == "mu >= tau = 7.5 and sigma <= delta = 2.0"
    assert rules[("decide", "revise")].text.endswith("round < 3")
    assert rules[("decide", "adjudicate")].text == "off (adjudication: false)"
    assert rules[("adjudicate", END)].off == "adjudication: false"
    assert "mu >= tau = 7.5 and sigma > delta = 2.0 (adjudication off)" in (
        rules[("decide", END)].clauses
    )
    changed = {edge for edge in base if base[edge] != rules[edge]}
    assert {("decide", "enrich"), ("decide", "revise"), ("decide", "adjudicate")} <= changed
    # and the drawings differ as text, not just the rule objects
    a = drawing.to_mermaid(drawing.make_drawing(GraphConfig.from_file(edited), "edited"))
    b = drawing.to_mermaid(
        drawing.make_drawing(GraphConfig.from_file(graph_path("gra_revise.yaml")), "revise")
    )
    assert "tau = 7.5" in a and "tau = 7.5" not in b


def test_every_langgraph_edge_is_drawn_and_every_rule_names_a_real_edge():
    config = GraphConfig.from_file(graph_path("gra.yaml"))
    made = drawing.make_drawing(config, "gra.yaml")
    lang_edges = {(e.source, e.target) for e in build_graph().get_graph().edges}
    assert {(e.source, e.target) for e in made.edges} == lang_edges
    assert set(drawing.edge_rules(config)) <= lang_edges
    assert made.disabled_nodes == {"revise", "verify"}  # revise and verifiers are off
    assert set(made.nodes) == set(NODES)


# ---- each format on both shipped files


def rule_texts(name: str) -> list[str]:
    return [rule.text for rule in expected_rules(name).values()]


@pytest.mark.parametrize("name", GRAPHS)
def test_mermaid_has_the_labels_in_a_form_mermaid_parses(capsysbinary, name: str):
    code, out, _ = draw(capsysbinary, str(graph_path(name)))
    text = out.decode()
    assert code == 0 and text.startswith("---") and "graph TD;" in text
    for rule in rule_texts(name):
        assert f'|"{rule}"|' in text
    for node in NODES:
        assert f"\t{node}" in text
    # LangGraph's own `-. label .->` form breaks Mermaid's lexer on "8.0": never used
    assert not re.search(r"-\. \S", text)
    off = [
        i
        for i, line in enumerate(re.findall(r"^\t\S+ (?:-->|-\.->) .*;$", text, re.M))
        if "off (" in line
    ]
    for index in off:
        assert f"\tlinkStyle {index} stroke:#999999,stroke-dasharray:5 5" in text
    # revise's 3 edges are off in gra.yaml; the verifiers' 5 and the 3 edges of a graph
    # without reviewers (committee_size 0) are off in both files
    assert len(off) == (3 + 5 + 3 if name == "gra.yaml" else 5 + 3)


@pytest.mark.parametrize("name", GRAPHS)
def test_ascii_prints_a_legend_of_the_rules(capsysbinary, name: str):
    code, out, _ = draw(capsysbinary, str(graph_path(name)), "--format", "ascii")
    text = out.decode()
    drawing_part, legend = text.split("\nedge rules:\n")
    assert code == 0 and "| decide |" in drawing_part
    for rule in rule_texts(name):
        assert rule in legend
    assert re.search(
        r"^  decide -> enrich +mu >= tau = 8\.0 and sigma <= delta = 1\.5$", legend, re.M
    )


def svg_texts(svg: bytes) -> str:
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    return "\n".join("".join(el.itertext()) for el in root.iter() if el.tag.endswith("text"))


@pytest.mark.parametrize("name", GRAPHS)
def test_svg_is_valid_xml_with_every_node_and_label(tmp_path: Path, capsysbinary, name: str):
    out = tmp_path / "g.svg"  # the format comes from the suffix
    code, _, err = draw(capsysbinary, str(graph_path(name)), "--out", str(out))
    assert code == 0 and "svg" in err
    texts = svg_texts(out.read_bytes()).splitlines()
    for node in NODES:
        assert node in texts
    for rule in expected_rules(name).values():
        for line in [rule.text] if rule.off else rule.clauses:
            assert any(line in t for t in texts), line


@pytest.mark.parametrize("name", GRAPHS)
def test_png_is_a_png_of_a_sane_size(tmp_path: Path, capsysbinary, name: str):
    out = tmp_path / "g.png"
    code, _, _ = draw(capsysbinary, str(graph_path(name)), "--format", "png", "--out", str(out))
    data = out.read_bytes()
    assert code == 0 and data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert 400 < width < 5000 and 400 < height < 5000
    assert 10_000 < len(data) < 5_000_000


@pytest.mark.parametrize("name", GRAPHS)
def test_html_is_one_self_contained_page(capsysbinary, name: str):
    code, out, _ = draw(capsysbinary, str(graph_path(name)), "--format", "html")
    page = out.decode()
    assert code == 0 and page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 1
    assert "http" not in page  # no scripts, fonts, style sheets or namespaces fetched from afar
    assert "<script" not in page and "src=" not in page and "@import" not in page
    assert f"<code>{graph_path(name)}</code>" in page
    assert f"<h1>{GraphConfig.from_file(graph_path(name)).name}</h1>" in page
    assert "tau = 8.0" in page and "adjudicator composite &gt;= tau = 8.0" in page


def test_graph_file_is_required(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["draw"])
    assert exc.value.code == 2 and "graph" in capsys.readouterr().err


def test_an_unwritable_out_is_a_user_error(tmp_path: Path, capsysbinary):
    out = tmp_path / "no" / "such" / "dir.svg"
    code, _, err = draw(capsysbinary, str(graph_path("gra.yaml")), "--out", str(out))
    assert code == EXIT_INPUT and "cannot write" in err and "Traceback" not in err


def test_a_bad_graph_file_is_a_user_error(tmp_path: Path, capsysbinary):
    bad = tmp_path / "bad.yaml"
    bad.write_text(shipped_graph_text().replace("tau: 8.0", "tau: high"))
    code, out, err = draw(capsysbinary, str(bad))
    assert code == EXIT_INPUT and out == b"" and "thresholds.tau" in err


@pytest.mark.parametrize("fmt", ["png", "svg", "html"])
def test_without_dot_graphviz_formats_say_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsysbinary, fmt: str
):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH: no dot
    out = tmp_path / f"g.{fmt}"
    code, _, err = draw(capsysbinary, str(graph_path("gra.yaml")), "--out", str(out))
    assert code == EXIT_INPUT and not out.exists()
    assert "install the OS package graphviz" in err and "Traceback" not in err
    # text formats still work without it
    assert draw(capsysbinary, str(graph_path("gra.yaml")), "--format", "ascii")[0] == 0


# ---- counts from a run directory

# One seed per domain: each domain's pool holds only its own seed, so the generator can tell
# from the prompt's domain which path to script for that sample.
CASES = {
    "coding": "ACCEPT",
    "math": "CONFLICT-KEPT",
    "qa": "CONFLICT-DROPPED",
    "reasoning": "CHECK-FAIL",
    "roleplay": "REVISED",
    "language": "LOW",
    "creative_writing": "NO-INSTRUCTION",
}


def scripted_text(title: str, prompt: str) -> str:
    domain = re.search(r'domain "([a-z_]+)"', prompt)
    if is_instruction_prompt(prompt) and domain:
        case = CASES[domain.group(1)]
        return "" if case == "NO-INSTRUCTION" else f"CASE {case}: write a loop."
    if prompt.startswith("Improve your answer"):
        return "for x in y:\n    pass  # revised"
    return "for x in y: pass"


def reviewer(name: str):
    def check(title: str, prompt: str) -> str:
        from tests.support.fakes import CHECK_PASS

        return CHECK_FAIL if "CASE CHECK-FAIL" in prompt and name == "r1" else CHECK_PASS

    def score(title: str, prompt: str) -> str:
        if "CASE CONFLICT" in prompt:
            return scores(6 if name == "r3" else 10)
        if "CASE LOW" in prompt:
            return scores(2)
        if "CASE REVISED" in prompt and "# revised" not in prompt:
            return scores(6)
        return scores(9)

    return {"InstructionCheckOutput": check, "ScoreOutput": score}


def adjudicator(title: str, prompt: str) -> str:
    return adjudication(5 if "CASE CONFLICT-DROPPED" in prompt else 9)


async def scripted_run(out: Path) -> list:
    config = committee_config(revise={"max_rounds": 1}, dedup={"enabled": False})
    members = fake_members(
        config,
        {
            "gen": {"text": scripted_text},
            **{r: reviewer(r) for r in ("r1", "r2", "r3")},
            "adj": {"AdjudicationOutput": adjudicator},
        },
    )
    seeds = [
        Seed(
            instruction=f"Seed {d}",
            response="Answer",
            domain=d,
            keywords=[d, "b", "c"],
            summary=f"about {d}",
        )
        for d in CASES
    ]
    async with Runner(config, seeds, out, concurrency=3, members=members) as runner:
        return [r async for r in runner.records()]


EXPECTED = {
    (START, "draw_roles"): 7,
    ("draw_roles", "compose_keywords"): 7,
    ("compose_keywords", "write_instruction"): 7,
    ("compose_keywords", END): 0,
    ("write_instruction", END): 1,
    ("write_instruction", "write_response"): 6,
    ("write_response", "check_instruction"): 6,
    ("write_response", END): 0,
    ("check_instruction", "gather_checks"): 6,
    ("gather_checks", END): 1,
    ("gather_checks", "score_response"): 5,
    ("score_response", "decide"): 5,
    ("decide", "enrich"): 2,
    ("decide", "adjudicate"): 2,
    ("decide", "revise"): 1,
    ("decide", END): 1,
    ("revise", "score_response"): 1,
    ("revise", END): 0,
    ("adjudicate", "enrich"): 1,
    ("adjudicate", END): 1,
    ("enrich", END): 3,
    # verifiers are off in this run: their edges are drawn, never taken
    ("write_response", "verify"): 0,
    ("revise", "verify"): 0,
    ("verify", "check_instruction"): 0,
    ("verify", "score_response"): 0,
    ("verify", END): 0,
    # committee_size 0 (the no-reviewer ablation) only
    ("write_response", "decide"): 0,
    ("verify", "decide"): 0,
    ("revise", "decide"): 0,
}


async def test_run_counts_follow_each_record_and_add_up(tmp_path: Path):
    out = tmp_path / "run"
    records = await scripted_run(out)
    by_case = {CASES[r.domain]: r for r in records}
    assert by_case["REVISED"].status == "accepted" and by_case["REVISED"].revisions
    assert by_case["CONFLICT-DROPPED"].adjudication is not None
    assert by_case["NO-INSTRUCTION"].instruction is None

    counts = drawing.run_counts(out)
    assert counts.records == 7 and counts.outside == 0
    made = drawing.make_drawing(GraphConfig.from_file(graph_path("gra_revise.yaml")), "x", counts)
    got = {(e.source, e.target): e.count for e in made.edges}
    assert got == EXPECTED
    # every record ends once; outside the revise loop (where a sample that goes round twice
    # still counts once per edge) every node is left by as many samples as entered it
    assert sum(n for (_, target), n in got.items() if target == END) == counts.records
    flow_in, flow_out = Counter[str](), Counter[str]()
    for (source, target), n in got.items():
        flow_out[source] += n
        flow_in[target] += n
    for node in NODES:
        if node not in (START, END, "score_response", "decide", "revise"):
            assert flow_in[node] == flow_out[node], node


async def test_draw_with_run_labels_every_edge(tmp_path: Path, capsysbinary):
    out = tmp_path / "run"
    await scripted_run(out)
    code, text, err = draw(
        capsysbinary, str(graph_path("gra_revise.yaml")), "--format", "ascii", "--run", str(out)
    )
    legend = text.decode().split("\nedge rules")[1]
    assert code == 0 and "(7 records)" in legend
    assert re.search(r"^  enrich -> __end__ +\[3 samples\]$", legend, re.M)
    assert re.search(r"^  decide -> revise +mu < tau .* round < 2 \[1 sample\]$", legend, re.M)
    # the run was made with other settings than the drawn file: said, not hidden
    assert "warning:" in err and "other settings" in err
    svg = tmp_path / "run.svg"
    code, _, _ = draw(
        capsysbinary, str(graph_path("gra_revise.yaml")), "--run", str(out), "--out", str(svg)
    )
    texts = svg_texts(svg.read_bytes())
    assert code == 0 and texts.count("[3 samples]") == 1 and "[7 samples]" in texts


def test_edges_of_a_failed_reviser_and_of_a_seed_that_never_ran():
    record = {
        "roles": {"generator": "gen"},
        "keywords": ["a", "b", "c"],
        "instruction": "task",
        "response": "answer",
        "checks": [{}],
        "reviews": [{}],
        "verdicts": [{"outcome": "reject"}],
        "revisions": [],
        "calls": [{"stage": "revise", "ok": False}],
        "adjudication": None,
        "status": "rejected",
    }
    taken = drawing.edges_taken(record)
    assert taken[-2:] == [("decide", "revise"), ("revise", END)]
    assert ("revise", "score_response") not in taken
    assert drawing.edges_taken({"roles": None, "reason": "annotation failed"}) == []


def test_run_counts_need_a_run_directory(tmp_path: Path, capsysbinary):
    code, _, err = draw(
        capsysbinary, str(graph_path("gra.yaml")), "--run", str(tmp_path / "nothing")
    )
    assert code == EXIT_INPUT and "not a run directory" in err


def test_run_counts_stream_and_count_a_repeated_record_once(tmp_path: Path):
    (tmp_path / "run.json").write_text(json.dumps({"status": "complete"}))
    row = {"seed_index": 0, "sample_index": 0, "roles": {"generator": "g"}, "keywords": None}
    (tmp_path / "records.jsonl").write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n")
    counts = drawing.run_counts(tmp_path)
    assert counts.records == 1 and counts.edges[("compose_keywords", END)] == 1
