"""Did a change help the judges? Two bench reports (or two settings), the same pairs.

Reads the ``--json`` files ``gra bench-review`` wrote for two graphs (or two versions of one)
on the same labelled pairs and sets one setting of each against the other (``--b-setting``
names another setting for side B, such as a committee against one of its members): each
side's AUROC with its bootstrap interval, and the difference with a paired bootstrap interval
(pairs drawn again, sound and defective apart, and both sides ranked on the very pairs drawn;
``gra_graph/bench/metrics.py``). Several reports per side are pooled, so benches run on
separate slices of the pairs file (``--skip``/``--limit``) count as one larger bench; a pair
must appear on both sides to count. No model is loaded.

Usage::

    python evals/compare_benches.py --a runs/a1.json runs/a2.json --b runs/b1.json runs/b2.json
    python evals/compare_benches.py --a A.json --b B.json --setting single:qwen15-critic
    python evals/compare_benches.py --a A.json --b A.json --b-setting single:qwen15-critic
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gra_graph.bench.metrics import auroc, auroc_difference, auroc_interval
from gra_graph.bench.report import interval_text


def scores_by_pair(reports: list[Path], setting: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(pairs file, pair id) -> the pair's label and ``setting``'s score, over ``reports``."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in reports:
        data = json.loads(path.read_text(encoding="utf-8"))
        for row in data["per_pair"]:
            if setting not in row["results"]:
                names = ", ".join(sorted(row["results"]))
                raise SystemExit(f"{path}: no setting {setting!r} (it has {names})")
            found[(data["pairs_file"], row["id"])] = {
                "sound": row["label"] == "sound",
                "score": row["results"][setting]["score"],
            }
    return found


def compare(
    a: list[Path], b: list[Path], setting: str, b_setting: str | None = None
) -> dict[str, Any]:
    """The figures :func:`main` prints, as a dict: ``setting`` of ``a`` against
    ``b_setting`` (by default the same setting) of ``b``."""
    b_setting = b_setting or setting
    first, second = scores_by_pair(a, setting), scores_by_pair(b, b_setting)
    common = sorted(set(first) & set(second))
    if not common:
        raise SystemExit("the two sides share no pair")
    sound = [first[k]["sound"] for k in common]
    out: dict[str, Any] = {"setting": setting, "b_setting": b_setting, "pairs": len(common)}
    for name, side in (("a", first), ("b", second)):
        pos = [side[k]["score"] for k, ok in zip(common, sound, strict=True) if ok]
        neg = [side[k]["score"] for k, ok in zip(common, sound, strict=True) if not ok]
        pos, neg = [v for v in pos if v is not None], [v for v in neg if v is not None]
        out[name] = {"auroc": auroc(pos, neg), "ci": auroc_interval(pos, neg)}
    diff = auroc_difference(
        [first[k]["score"] for k in common], [second[k]["score"] for k in common], sound
    )
    out["difference"] = None if diff is None else [diff.difference, diff.low, diff.high]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", nargs="+", type=Path, required=True, help="bench JSON(s), side A")
    parser.add_argument("--b", nargs="+", type=Path, required=True, help="bench JSON(s), side B")
    parser.add_argument("--setting", default="committee+adjudicator", help="setting to compare")
    parser.add_argument("--b-setting", default=None, help="side B's setting (default: --setting)")
    args = parser.parse_args(argv)
    out = compare(args.a, args.b, args.setting, args.b_setting)
    names = (
        out["setting"]
        if out["b_setting"] == out["setting"]
        else (f"A {out['setting']}, B {out['b_setting']}")
    )
    print(f"{names} on {out['pairs']} pairs both sides judged")
    for name in ("a", "b"):
        side = out[name]
        span = interval_text(side["ci"])
        value = "-" if side["auroc"] is None else f"{side['auroc']:.3f}"
        print(f"  {name.upper()}: AUROC {value} (95% CI {span})")
    if out["difference"] is not None:
        d, low, high = out["difference"]
        print(f"  A - B: {d:+.3f} (95% paired bootstrap interval {low:+.3f} to {high:+.3f})")


if __name__ == "__main__":
    main()
