"""Graph files: the shipped graphs load, and every bad file names the offending field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gra_graph.config import GraphConfig, GraphConfigError, Role, Stage

ROOT = Path(__file__).resolve().parent.parent
GRAPHS = ROOT / "graphs"


def members(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"name": f"m{i}", "model": "smollm2-135m", **extra} for i in range(n)]


def write_graph(tmp_path: Path, data: Any, name: str = "graph.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def load_error(tmp_path: Path, data: Any) -> str:
    path = write_graph(tmp_path, data)
    with pytest.raises(GraphConfigError) as info:
        GraphConfig.from_file(path)
    message = str(info.value)
    assert str(path) in message, "the message names the file"
    return message


# --- the shipped graphs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "name", "rounds"), [("gra.yaml", "gra", 0), ("gra_revise.yaml", "gra-revise", 2)]
)
def test_shipped_graphs_load(filename: str, name: str, rounds: int):
    config = GraphConfig.from_file(GRAPHS / filename)
    assert config.name == name
    assert config.thresholds.tau == 8.0
    assert config.thresholds.delta == 1.5
    assert config.thresholds.min_valid_reviews == 2
    assert config.committee_size == 3
    assert config.adjudication is True
    assert config.role_assignment == "random"
    assert config.revise.max_rounds == rounds
    assert len(config.members) == 6
    assert len({m.name for m in config.members}) == 6
    assert set(config.prompts) == set(Stage)


def test_shipped_graph_prompt_paths_resolve_to_existing_files():
    config = GraphConfig.from_file(GRAPHS / "gra.yaml")
    assert config.base_dir == GRAPHS.resolve()
    for stage in Stage:
        path = config.prompt_path(stage)
        assert path == (ROOT / "prompts" / f"{stage.value}.txt").resolve()
        assert path.is_file()


def test_shipped_graphs_differ_in_fingerprint():
    plain = GraphConfig.from_file(GRAPHS / "gra.yaml")
    revise = GraphConfig.from_file(GRAPHS / "gra_revise.yaml")
    assert plain.fingerprint() == GraphConfig.from_file(GRAPHS / "gra.yaml").fingerprint()
    assert plain.fingerprint() != revise.fingerprint()


def test_minimal_graph_gets_documented_defaults(tmp_path: Path):
    config = GraphConfig.from_file(write_graph(tmp_path, {"members": members(5)}))
    assert config.committee_size == 3
    assert config.thresholds.tau == 8.0
    assert config.thresholds.delta == 1.5
    assert config.revise.max_rounds == 0
    assert config.dedup.threshold == 0.9
    assert config.members[0].roles == (
        Role.GENERATOR,
        Role.REVIEWER,
        Role.ADJUDICATOR,
        Role.ENRICHER,
    )
    assert config.member("m3").name == "m3"
    with pytest.raises(KeyError):
        config.member("nobody")


# --- bad files ------------------------------------------------------------------------------


def test_wrong_type_names_dotted_field(tmp_path: Path):
    data = {"members": members(5)}
    data["members"][0]["sampling"] = {"temperature": "hot"}
    message = load_error(tmp_path, data)
    assert "members.0.sampling.temperature" in message


def test_wrong_type_in_later_member_names_its_index(tmp_path: Path):
    data = {"members": members(5)}
    data["members"][2]["n_ctx"] = "big"
    message = load_error(tmp_path, data)
    assert "members.2.n_ctx" in message
    assert "members.0" not in message


def test_out_of_range_value_names_field(tmp_path: Path):
    message = load_error(tmp_path, {"members": members(5), "thresholds": {"tau": 11}})
    assert "thresholds.tau" in message


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"members": members(5), "bogus": 1}, "bogus"),
        ({"members": members(5), "thresholds": {"tau": 8, "gamma": 2}}, "thresholds.gamma"),
        (
            {"members": [*members(4), {"name": "x", "model": "m", "temprature": 0.5}]},
            "members.4.temprature",
        ),
    ],
)
def test_unknown_key_is_forbidden(tmp_path: Path, data: dict[str, Any], field: str):
    message = load_error(tmp_path, data)
    assert field in message
    assert "Extra inputs are not permitted" in message


def test_missing_members(tmp_path: Path):
    message = load_error(tmp_path, {"name": "no-members", "committee_size": 3})
    assert "members" in message
    assert "Field required" in message


def test_empty_members_list(tmp_path: Path):
    message = load_error(tmp_path, {"members": []})
    assert "members" in message


def test_duplicate_member_names(tmp_path: Path):
    data = {"members": [*members(5), {"name": "m1", "model": "gemma3-270m"}]}
    message = load_error(tmp_path, data)
    assert "members" in message
    assert "duplicate" in message
    assert "m1" in message


def test_committee_size_larger_than_pool_with_adjudication(tmp_path: Path):
    # 5 members: generator + 4 reviewers leaves nobody to adjudicate.
    message = load_error(
        tmp_path, {"members": members(5), "committee_size": 4, "adjudication": True}
    )
    assert "committee_size" in message
    assert "adjudicate" in message


def test_committee_size_larger_than_reviewers(tmp_path: Path):
    message = load_error(tmp_path, {"members": members(3), "committee_size": 3})
    assert "committee_size" in message
    assert "reviewers" in message


def test_committee_size_fits_without_adjudication(tmp_path: Path):
    # The same 5 members with committee_size 4 are fine once adjudication is off.
    config = GraphConfig.from_file(
        write_graph(tmp_path, {"members": members(5), "committee_size": 4, "adjudication": False})
    )
    assert config.committee_size == 4
    assert config.adjudication is False


def test_no_member_may_adjudicate(tmp_path: Path):
    data = {"members": members(5, roles=["generator", "reviewer", "enricher"])}
    message = load_error(tmp_path, data)
    assert "members" in message
    assert "adjudicat" in message


def test_no_adjudicator_is_fine_when_adjudication_off(tmp_path: Path):
    data = {
        "members": members(5, roles=["generator", "reviewer", "enricher"]),
        "adjudication": False,
    }
    config = GraphConfig.from_file(write_graph(tmp_path, data))
    assert all(Role.ADJUDICATOR not in m.roles for m in config.members)


def test_unknown_role_names_field(tmp_path: Path):
    data = {"members": members(5)}
    data["members"][1]["roles"] = ["generator", "boss"]
    message = load_error(tmp_path, data)
    assert "members.1.roles" in message


def test_file_that_is_not_yaml(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("members: [unclosed\n  name: {x\n", encoding="utf-8")
    with pytest.raises(GraphConfigError, match="not valid YAML") as info:
        GraphConfig.from_file(path)
    assert str(path) in str(info.value)


def test_file_that_is_not_text(tmp_path: Path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81members: []\n")
    with pytest.raises(GraphConfigError) as info:
        GraphConfig.from_file(path)
    assert str(path) in str(info.value)


def test_yaml_list_instead_of_mapping(tmp_path: Path):
    message = load_error(tmp_path, [{"name": "a", "model": "m"}, {"name": "b", "model": "m"}])
    assert "mapping" in message


def test_empty_file_is_not_a_mapping(tmp_path: Path):
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(GraphConfigError, match="mapping"):
        GraphConfig.from_file(path)


def test_missing_file(tmp_path: Path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(GraphConfigError, match="not found") as info:
        GraphConfig.from_file(path)
    assert str(path) in str(info.value)


def test_graph_config_error_is_a_value_error():
    assert issubclass(GraphConfigError, ValueError)
