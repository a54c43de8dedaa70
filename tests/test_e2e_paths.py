"""Revise and adjudication paths on the real bundled models.

The bundled 135M/270M models seldom get a sample past the instruction check, so a plain run
rarely reaches these paths. Here the thread is put, with LangGraph's ``aupdate_state`` (the
same mechanism as time travel and human-in-the-loop edits), at the point where ``decide`` has
chosen a route; everything after that runs on the real models through the real graph.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from gra_graph.config import GraphConfig
from gra_graph.context import GraContext
from gra_graph.graph import build_graph
from gra_graph.llm.members import Members, load_members
from gra_graph.records import build_record
from gra_graph.state import Review, Verdict

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def config() -> GraphConfig:
    return GraphConfig.from_file(ROOT / "graphs" / "gra_revise.yaml")


@pytest.fixture(scope="module")
def members(config: GraphConfig) -> Iterator[Members]:
    loaded = load_members(config)
    yield loaded
    loaded.close()


def state_after_decide(
    route: str, scores: list[int], mu: float, sigma: float, outcome: str
) -> dict:
    reviewers = ["smol-careful", "gemma-analyst", "smol-critic"]
    reviews = [
        Review(
            reviewer=name,
            model_file="x",
            round=0,
            scores=dict.fromkeys(
                ["correctness", "clarity", "completeness", "relevance", "coherence", "ethicality"],
                s,
            ),
            strengths="states the formula",
            weaknesses="no worked example",
        ).model_dump()
        for name, s in zip(reviewers, scores, strict=True)
    ]
    return {
        "run_id": "paths",
        "seed_index": 0,
        "sample_index": 0,
        "seed": {},
        "domain": "math",
        "pool": [],
        "roles": {
            "generator": "gemma-writer",
            "reviewers": reviewers,
            "adjudicator": "smol-teacher",
            "enricher": "smol-scholar",
        },
        "keywords": ["area", "circle", "radius"],
        "instruction": "What is the area of a circle with radius 3 cm?",
        "response": "Use A = pi r^2.",
        "checks": [],
        "reviews": reviews,
        "verdicts": [
            Verdict(
                round=0, outcome=outcome, mu=mu, sigma=sigma, valid_reviews=3, abstentions=0
            ).model_dump()
        ],
        "round": 0,
        "route": route,  # where decide sends the thread (popped by resume_from)
    }


async def resume_from(values: dict, config: GraphConfig, members: Members):
    graph = build_graph(checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "paths"}}
    # decide routes with a Command, so the state written as decide's says where to go on
    route = values.pop("route")
    await graph.aupdate_state(thread, Command(goto=route, update=values), as_node="decide")
    await graph.ainvoke(None, thread, context=GraContext.create(config, members, run_seed=3))
    return build_record((await graph.aget_state(thread)).values, "paths", members)


async def test_revise_cycle_on_real_models(config: GraphConfig, members: Members):
    record = await resume_from(
        state_after_decide("revise", [6, 6, 6], 6.0, 0.0, "reject"), config, members
    )
    assert len(record.revisions) >= 1
    first = record.revisions[0]
    assert first.round == 1 and first.reviser == "gemma-writer"
    assert first.prior_response == "Use A = pi r^2." and first.prior_mu == 6.0
    assert first.new_response.strip() and first.new_response != first.prior_response
    assert first.feedback == ["no worked example"] * 3
    # the revision was scored again by the same committee, one review per reviewer
    round_one = [r for r in record.reviews if r.round == 1]
    assert sorted(r.reviewer for r in round_one) == sorted(record.roles.reviewers)
    assert all(r.abstained or len(r.scores) == 6 for r in round_one)
    assert len(record.verdicts) == 1 + len(record.revisions)
    assert record.status in {"accepted", "rejected"} and record.reason
    revise_calls = [c for c in record.calls if c.stage == "revise"]
    assert revise_calls and revise_calls[0].model_file.startswith("bundled:gemma3-270m")


async def test_adjudication_on_real_models(config: GraphConfig, members: Members):
    record = await resume_from(
        state_after_decide("adjudicate", [10, 10, 6], 8.67, 1.89, "conflict"), config, members
    )
    adjudication = record.adjudication
    assert adjudication is not None and adjudication.adjudicator == "smol-teacher"
    if adjudication.abstained:
        assert record.status == "rejected" and "abstained" in record.reason
    else:
        assert len(adjudication.scores) == 6
        assert adjudication.keep is (adjudication.composite >= config.thresholds.tau)
        assert record.status == ("accepted" if adjudication.keep else "rejected")
    assert any(c.stage == "adjudicate" for c in record.calls)
