"""The per-sample role draw and the run's deterministic randomness."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from gra_graph.config import GraphConfig
from gra_graph.roles import derive_seed, draw_roles, eligible, sample_rng
from gra_graph.state import RoleDraw

ROOT = Path(__file__).resolve().parent.parent
GRA = GraphConfig.from_file(ROOT / "graphs" / "gra.yaml")
NAMES = [m.name for m in GRA.members]


def config(members: list[dict[str, Any]], **overrides: Any) -> GraphConfig:
    return GraphConfig.model_validate({"members": members, **overrides})


def draws(cfg: GraphConfig, n: int = 200, run_seed: int = 7) -> list[RoleDraw]:
    return [draw_roles(cfg, sample_rng(run_seed, 0, i, "roles")) for i in range(n)]


def assert_well_formed(draw: RoleDraw, cfg: GraphConfig) -> None:
    names = {m.name for m in cfg.members}
    assert draw.generator in names
    assert len(draw.reviewers) == cfg.committee_size
    assert len(set(draw.reviewers)) == cfg.committee_size
    assert set(draw.reviewers) <= names
    assert draw.generator not in draw.reviewers
    if cfg.adjudication:
        assert draw.adjudicator in names
        assert draw.adjudicator != draw.generator
        assert draw.adjudicator not in draw.reviewers
    else:
        assert draw.adjudicator is None
    assert draw.enricher in names


def test_draw_is_well_formed():
    for draw in draws(GRA):
        assert_well_formed(draw, GRA)


def test_same_seed_gives_same_draw():
    first = draw_roles(GRA, sample_rng(42, 3, 1, "roles"))
    second = draw_roles(GRA, sample_rng(42, 3, 1, "roles"))
    assert first == second
    assert draw_roles(GRA, random.Random(5)) == draw_roles(GRA, random.Random(5))


def test_different_samples_give_different_draws():
    all_draws = draws(GRA)
    distinct = {(d.generator, tuple(d.reviewers), d.adjudicator) for d in all_draws}
    assert len(distinct) > 50
    assert {d.generator for d in all_draws} == set(NAMES)
    assert {r for d in all_draws for r in d.reviewers} == set(NAMES)
    assert {d.adjudicator for d in all_draws} == set(NAMES)
    assert {d.enricher for d in all_draws} == set(NAMES)


def test_different_run_seeds_give_different_sequences():
    assert draws(GRA, 20, run_seed=1) != draws(GRA, 20, run_seed=2)


def test_fixed_assignment_always_gives_same_roles():
    fixed = GRA.model_copy(update={"role_assignment": "fixed"})
    expected = RoleDraw(
        generator=NAMES[0], reviewers=NAMES[1:4], adjudicator=NAMES[4], enricher=NAMES[0]
    )
    for draw in draws(fixed, 50):
        assert draw == expected
    assert draw_roles(fixed, random.Random(123)) == expected


def test_without_adjudication_no_adjudicator_is_drawn():
    cfg = config([{"name": f"m{i}", "model": "m"} for i in range(4)], adjudication=False)
    for draw in draws(cfg, 50):
        assert_well_formed(draw, cfg)
        assert draw.adjudicator is None


def test_role_restrictions_are_respected():
    members = [
        {"name": "gen1", "model": "m", "roles": ["generator"]},
        {"name": "gen2", "model": "m", "roles": ["generator", "enricher"]},
        {"name": "rev1", "model": "m", "roles": ["reviewer"]},
        {"name": "rev2", "model": "m", "roles": ["reviewer"]},
        {"name": "rev3", "model": "m", "roles": ["reviewer", "adjudicator"]},
        {"name": "judge", "model": "m", "roles": ["adjudicator"]},
        {"name": "any", "model": "m"},
    ]
    cfg = config(members, committee_size=3)
    allowed = {
        role: set(eligible(cfg, role))
        for role in ("generator", "reviewer", "adjudicator", "enricher")
    }
    assert allowed["generator"] == {"gen1", "gen2", "any"}
    assert allowed["enricher"] == {"gen2", "any"}
    seen_generators = set()
    for draw in draws(cfg):
        assert_well_formed(draw, cfg)
        assert draw.generator in allowed["generator"]
        assert set(draw.reviewers) <= allowed["reviewer"]
        assert draw.adjudicator in allowed["adjudicator"]
        assert draw.enricher in allowed["enricher"]
        seen_generators.add(draw.generator)
    assert seen_generators == allowed["generator"]


def test_eligible_keeps_graph_file_order():
    assert eligible(GRA, "generator") == NAMES


def test_derive_seed_stable_and_in_range():
    assert derive_seed(1, 2, 3, "roles") == derive_seed(1, 2, 3, "roles")
    assert derive_seed(1, 2, 3, "roles") != derive_seed(1, 2, 3, "other")
    assert derive_seed(1, 2, 3) != derive_seed(1, 23)
    for parts in [(), (0,), ("x",), (2**40, -5, "abc"), *((i, "roles") for i in range(500))]:
        seed = derive_seed(*parts)
        assert isinstance(seed, int)
        assert 0 <= seed <= 2**31 - 1


def test_derive_seed_does_not_depend_on_process_hash_salt():
    # Pinned values (computed under different PYTHONHASHSEEDs): a resumed run in a new process
    # must draw the same roles, so the seed may not come from the salted built-in hash().
    assert derive_seed(7, 3, 1, "roles") == 2018638113
    assert derive_seed(0, 0, 0, "roles") == 235079813


@pytest.mark.parametrize("purpose", ["roles", "generate"])
def test_sample_rng_is_reproducible(purpose: str):
    a = [sample_rng(1, 2, 3, purpose).random() for _ in range(3)]
    assert a[0] == a[1] == a[2]
    assert sample_rng(1, 2, 3, purpose).random() != sample_rng(1, 2, 4, purpose).random()
