"""The dataset card: a ``README.md`` for an exported dataset, with the YAML front matter that
Hugging Face dataset cards use, then what made the data: the graph file, the models, the
thresholds, the counts, and ``gra eval``'s figures when a report is given.

``gra eval`` writes its figures only where ``--json FILE`` says (nothing in the run
directory), so the card reads such a file when it is passed (``gra export --eval FILE``);
without one the card says how to add them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gra_graph.config import GraphConfig
from gra_graph.export import reason_kind
from gra_graph.exports.pairs import PAIR_KINDS, PairCounts
from gra_graph.exports.source import RunRecords
from gra_graph.exports.writers import ExportError
from gra_graph.inputs import MAX_MANIFEST_BYTES, InputFileError, read_bounded_text

MAX_EVAL_REPORT_BYTES = 64 * MAX_MANIFEST_BYTES
"""How large a ``gra eval --json`` report may be (one run's figures are a few kilobytes)."""


@dataclass
class CardFacts:
    """What the card says about one export, beyond the run itself."""

    format: str
    status: str
    rows: int
    data_files: list[str]
    """files of the dataset, relative to the card (empty: a ``save_to_disk`` directory)"""
    columns: list[str]
    pairs: PairCounts | None = None


def _cell(value: Any) -> str:
    """A value as one Markdown table cell: lines joined, pipes and HTML escaped (the texts
    come from models and graph files)."""
    text = "-" if value is None or value == "" else str(value)
    text = " ".join(text.split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|")


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` tag for ``n`` rows."""
    for limit, tag in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return tag
    return "100K<n<1M" if n < 1_000_000 else "n>1M"


def front_matter(run: RunRecords, facts: CardFacts) -> str:
    """The YAML block between ``---`` lines at the card's top."""
    graph = str(run.manifest.get("graph") or "gra")
    meta: dict[str, Any] = {
        "pretty_name": f"{graph} synthetic data ({run.run_dir.path.name}, {facts.format})",
        "license": "other",
        "language": ["en"],
        "task_categories": ["text-generation"],
        "tags": ["synthetic", "gra-graph", facts.format]
        + (["dpo", "preference"] if facts.format == "dpo" else []),
        "size_categories": [size_category(facts.rows)],
    }
    if facts.data_files:
        meta["configs"] = [
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": f} for f in facts.data_files],
            }
        ]
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def _graph_section(run: RunRecords, config: GraphConfig | None, note: str) -> list[str]:
    manifest = run.manifest
    command = manifest.get("command") if isinstance(manifest.get("command"), dict) else {}
    graph_file = Path(str(command.get("graph"))).name if command.get("graph") else None
    lines = [
        "## Graph",
        "",
        *_table(
            ("setting", "value"),
            [
                ("graph", manifest.get("graph")),
                ("graph file", graph_file),
                ("graph fingerprint", manifest.get("graph_fingerprint")),
                ("seeds", manifest.get("seeds")),
                ("samples per seed", manifest.get("samples_per_seed")),
                ("iterations", manifest.get("iterations")),
                ("random seed", manifest.get("seed")),
                ("run status", manifest.get("status")),
            ],
        ),
    ]
    if config is None:
        return [*lines, f"Thresholds not shown: {note}.", ""]
    t = config.thresholds
    settings = [
        ("committee size", config.committee_size),
        ("tau: lowest mean score accepted", t.tau),
        ("delta: largest spread without adjudication", t.delta),
        ("min valid reviews", t.min_valid_reviews),
        ("adjudication", config.adjudication),
        (
            "revise rounds (score floor)",
            f"{config.revise.max_rounds} ({config.revise.score_floor})",
        ),
        (
            "near-duplicate filter",
            f"{config.dedup.embedder}, cosine >= {config.dedup.threshold}"
            if config.dedup.enabled
            else "off",
        ),
        ("verifiers", config.verifiers.mode if config.verifiers.enabled else "off"),
    ]
    return [*lines, f"### Thresholds ({note})", "", *_table(("setting", "value"), settings)]


def _models_section(run: RunRecords) -> list[str]:
    models: dict[str, str] = {}
    generated: Counter[str] = Counter()
    for record in run.records:
        models.update(record.models)
        if record.roles:
            generated[record.roles.generator] += 1
    rows = [(m, ref, generated[m]) for m, ref in sorted(models.items())]
    return ["## Models", "", *_table(("member", "model", "samples generated"), rows)]


def _counts_section(run: RunRecords, facts: CardFacts) -> list[str]:
    records = run.records
    accepted = sum(r.status == "accepted" for r in records)
    kept = sum(run.kept(r) for r in records)
    reasons = Counter(reason_kind(r.reason) for r in records if r.status == "rejected")
    domains_all = Counter(r.domain for r in records)
    domains_kept = Counter(r.domain for r in records if run.kept(r))
    lines = [
        "## Counts",
        "",
        *_table(
            ("", "samples"),
            [
                ("seed-samples with a record", len(records)),
                ("accepted by the committee", accepted),
                ("kept after the near-duplicate filter", kept),
                ("dropped as near-duplicates", accepted - kept),
                ("rejected", len(records) - accepted),
                (f"in this export (--status {facts.status})", facts.rows),
            ],
        ),
    ]
    if run.unreadable or run.duplicates:
        lines += [
            f"Left out while reading: {run.unreadable} line(s) that are not valid records, "
            f"{run.duplicates} repeated line(s) of one seed-sample.",
            "",
        ]
    if reasons:
        lines += ["### Rejections by reason", ""]
        lines += _table(("reason", "samples"), reasons.most_common())
    lines += ["### By domain", ""]
    lines += _table(
        ("domain", "kept", "all"), [(d, domains_kept[d], n) for d, n in domains_all.most_common()]
    )
    return lines


def _pairs_section(pairs: PairCounts) -> list[str]:
    lines = [
        "## Preference pairs",
        "",
        *_table(("kind", "pairs"), [(k, pairs.by_kind[k]) for k in PAIR_KINDS]),
    ]
    return lines + [f"- {why}" for why in pairs.notes] + [""]


def read_eval_report(path: Path, run: RunRecords) -> dict[str, Any]:
    """The figures of ``run`` in a ``gra eval --json`` report: the entry whose ``run_dir`` is
    the run's directory, or the only entry when its directory has the run's name."""
    try:
        report = json.loads(
            read_bounded_text(path, MAX_EVAL_REPORT_BYTES, "--eval", "MAX_EVAL_REPORT_BYTES")
        )
    except (InputFileError, ValueError) as exc:
        raise ExportError(f"--eval {path}: not a gra eval report ({exc})") from None
    runs = report.get("runs") if isinstance(report, dict) else None
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise ExportError(f"--eval {path}: not a gra eval --json report (no runs list)")
    here = run.run_dir.path.resolve()
    for entry in runs:
        if Path(str(entry.get("run_dir"))).resolve() == here:
            return entry
    if len(runs) == 1 and Path(str(runs[0].get("run_dir"))).name == here.name:
        return runs[0]
    raise ExportError(f"--eval {path}: the report has no figures of {run.run_dir.path}")


def _figure(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value == value else "-"
    return "-" if value is None else str(value)


def _eval_section(entry: dict[str, Any] | None, run_dir: Path) -> list[str]:
    lines = ["## Evaluation (gra eval)", ""]
    if entry is None:
        return [
            *lines,
            "Not included. Add it with `gra eval "
            f"{run_dir} --json eval.json`, then `gra export ... --eval eval.json`.",
            "",
        ]

    def get(*keys: str) -> Any:
        node: Any = entry
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node

    rows = [
        ("acceptance rate", get("outcome", "acceptance_rate")),
        ("adjudication rate", get("outcome", "adjudication_rate")),
        ("revision rate", get("outcome", "revision_rate")),
        ("instruction check pass rate", get("outcome", "check_pass_rate")),
    ]
    for group, label in (("accepted", "accepted"), ("generated", "all generated")):
        rows += [
            (f"{label}: samples", get(group, "samples")),
            (
                f"{label}: distinct-1 / distinct-2 of responses",
                f"{_figure(get(group, 'lexical', 'distinct_1_response'))} / "
                f"{_figure(get(group, 'lexical', 'distinct_2_response'))}",
            ),
            (
                f"{label}: mean pairwise cosine distance",
                get(group, "semantic", "mean_pairwise_cosine_distance"),
            ),
        ]
    for kind in ("score_agreement", "check_agreement"):
        figures = get(kind)
        for name, figure in (figures or {}).items():
            if isinstance(figure, dict):
                alpha = figure.get("alpha")
                rows.append(
                    (
                        f"Krippendorff's alpha, {kind.split('_')[0]}: {name}",
                        _figure(alpha) if alpha is not None else f"- ({figure.get('reason')})",
                    )
                )
    total = get("cost", "total") or {}
    tokens = (total.get("prompt_tokens") or 0) + (total.get("completion_tokens") or 0)
    rows.append(("model calls / tokens", f"{total.get('calls')} / {tokens}"))
    return [*lines, *_table(("figure", "value"), [(k, _figure(v)) for k, v in rows])]


def dataset_card(
    run: RunRecords,
    facts: CardFacts,
    config: GraphConfig | None,
    config_note: str,
    eval_entry: dict[str, Any] | None,
) -> str:
    """The card's text: front matter, then the sections."""
    kind = "preference pairs" if facts.format == "dpo" else "instruction/response samples"
    lines = [
        f"# {run.manifest.get('graph') or 'gra'}: {kind} from run `{run.run_dir.path.name}`",
        "",
        f"Synthetic data made by gra-graph, an implementation of GRA (Generator, Reviewer, "
        f"Adjudicator; arXiv 2504.12322): small LLMs in per-sample roles write a sample, a "
        f"committee reviews it, an adjudicator settles conflicts. Exported with `gra export "
        f"--format {facts.format} --status {facts.status}`: {facts.rows} rows.",
        "",
        "Columns: " + ", ".join(f"`{c}`" for c in facts.columns) + ".",
        "",
        "License: set it before you publish. The texts are the outputs of the models listed "
        "below; their licenses apply.",
        "",
    ]
    lines += _graph_section(run, config, config_note)
    lines += _models_section(run)
    lines += _counts_section(run, facts)
    if facts.pairs is not None:
        lines += _pairs_section(facts.pairs)
    lines += _eval_section(eval_entry, run.run_dir.path)
    return front_matter(run, facts) + "\n" + "\n".join(lines).rstrip() + "\n"
