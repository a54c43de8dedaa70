"""Graph files that extend another (``extends:``), and the shipped ablation files built so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gra_graph.config import MAX_EXTENDS_DEPTH, GraphConfig, GraphConfigError

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def base_graph(tmp_path: Path) -> Path:
    members = [
        {"name": f"m{i}", "model": "smollm2-135m", "roles": ["generator", "reviewer"]}
        for i in range(5)
    ]
    members.append({"name": "adj", "model": "smollm2-135m", "roles": ["adjudicator", "enricher"]})
    return write(
        tmp_path / "base.yaml",
        {"name": "base", "members": members, "thresholds": {"tau": 8.0, "delta": 1.5}},
    )


def test_an_extending_file_merges_mappings_and_replaces_the_rest(tmp_path: Path):
    base_graph(tmp_path)
    child = write(
        tmp_path / "child.yaml",
        {
            "extends": "base.yaml",
            "name": "child",
            "thresholds": {"tau": 7.0},  # delta stays the base's
            "members": [{"name": "solo", "model": "smollm2-135m"}],  # a list replaces
            "committee_size": 0,
            "adjudication": False,
        },
    )
    config = GraphConfig.from_file(child)
    assert config.name == "child"
    assert (config.thresholds.tau, config.thresholds.delta) == (7.0, 1.5)
    assert [m.name for m in config.members] == ["solo"]
    assert config.base_dir == tmp_path.resolve()


def test_a_change_in_the_base_changes_the_fingerprint(tmp_path: Path):
    base = base_graph(tmp_path)
    child = write(tmp_path / "child.yaml", {"extends": "base.yaml", "name": "child"})
    before = GraphConfig.from_file(child).fingerprint()
    data = yaml.safe_load(base.read_text())
    data["thresholds"]["tau"] = 9.0
    write(base, data)
    assert GraphConfig.from_file(child).fingerprint() != before


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.yaml": {"extends": "a.yaml"}}, "leads back to this file"),
        ({"a.yaml": {"extends": "b.yaml"}, "b.yaml": {"extends": "a.yaml"}}, "a loop"),
        ({"a.yaml": {"extends": "missing.yaml"}}, "missing.yaml"),
        ({"a.yaml": {"extends": 3}}, "extends: must name a graph file"),
        ({"a.yaml": {"extends": "b.yaml"}, "b.yaml": ["not", "a", "mapping"]}, "YAML mapping"),
    ],
)
def test_a_bad_extends_is_a_clear_error(tmp_path: Path, files: dict[str, Any], message: str):
    for name, data in files.items():
        (tmp_path / name).write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(GraphConfigError, match=message):
        GraphConfig.from_file(tmp_path / "a.yaml")


def test_a_chain_longer_than_the_limit_is_refused(tmp_path: Path):
    base_graph(tmp_path)
    previous = "base.yaml"
    for i in range(MAX_EXTENDS_DEPTH + 1):
        write(tmp_path / f"c{i}.yaml", {"extends": previous})
        previous = f"c{i}.yaml"
    with pytest.raises(GraphConfigError, match="MAX_EXTENDS_DEPTH"):
        GraphConfig.from_file(tmp_path / previous)
    GraphConfig.from_file(tmp_path / f"c{MAX_EXTENDS_DEPTH - 2}.yaml")  # within the limit


# what each shipped ablation changes, and nothing else
ABLATIONS: dict[str, dict[str, Any]] = {
    "ablate_no_reviewer.yaml": {"committee_size": 0, "adjudication": False},
    "ablate_single_reviewer.yaml": {
        "committee_size": 1,
        "adjudication": False,
        "thresholds.min_valid_reviews": 1,
    },
    "ablate_no_adjudicator.yaml": {"adjudication": False},
    "ablate_fixed_roles.yaml": {"role_assignment": "fixed"},
    "ablate_revise.yaml": {"revise.max_rounds": 2},
    "ablate_sampled.yaml": {"judging.scoring": "sampled"},
    "ablate_no_verifiers.yaml": {"verifiers.enabled": False},
    # a prompt's verdict order and the thresholds calibrated for it are one factor
    "ablate_check_verdicts_first.yaml": {
        "prompts.check_instruction": "../prompts/check_instruction.txt",
        "judging.check_thresholds.rationality": 0.54,
        "judging.check_thresholds.completeness": 0.37,
        "judging.check_thresholds.clarity": 0.36,
    },
}


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.mark.parametrize("filename", sorted(ABLATIONS))
def test_each_shipped_ablation_changes_only_its_factor(filename: str):
    base = _flat(GraphConfig.from_file(GRAPHS / "gra_qwen.yaml").model_dump(mode="json"))
    ablated = _flat(GraphConfig.from_file(GRAPHS / filename).model_dump(mode="json"))
    changed = {
        k: ablated[k]
        for k in ablated
        if ablated[k] != base.get(k) and k not in ("name", "description")
    }
    assert changed == ABLATIONS[filename]
    assert (ablated["thresholds.tau"], ablated["thresholds.delta"]) == (8.0, 1.5)


def test_the_ablations_cover_every_factor_the_paper_and_the_project_vary():
    files = sorted(p.name for p in GRAPHS.glob("ablate_*.yaml"))
    assert files == sorted(ABLATIONS)
