"""DPO preference pairs from a run's provenance, in TRL's ``prompt``/``chosen``/``rejected``
convention, with the scores of both sides.

Three kinds, each a response preferred to another response *to the same instruction*:

- ``revision``: a revised response (chosen) against the response it replaced (rejected), one
  pair per revise round. A revision can score lower than what it replaced (small models often
  do worse): such a pair is left out unless ``min_margin`` allows it (see
  :func:`preference_pairs`); ``margin`` is chosen mu minus rejected mu.
- ``human_edit``: a person's edit (``adjudication: human``) against the response they edited.
- ``same_seed``: an accepted sample against a rejected sample of the same seed (runs with
  ``--samples-per-seed`` above 1). Each sample writes its own instruction, so two samples of
  a seed rarely share one: by default only those that do make a pair (``seed_pairs="same"``).
  ``seed_pairs="any"`` pairs them anyway, with the accepted sample's instruction as the
  prompt and the rejected one's in ``rejected_instruction``: its rejected response answers
  another task, an off-prompt negative.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from gra_graph.exports.rows import clean_text, final_scores, round_mu, round_scores
from gra_graph.state import Record

PAIR_KINDS = ("revision", "human_edit", "same_seed")
SeedPairs = Literal["same", "any"]


@dataclass
class PairCounts:
    """How many pairs of each kind a run yields; ``notes`` say why a kind has none, and what
    was left out."""

    by_kind: Counter[str] = field(default_factory=Counter)
    different_instructions: int = 0
    """accepted/rejected combinations of one seed whose instructions differ (left out unless
    ``seed_pairs="any"``)"""
    below_margin: Counter[str] = field(default_factory=Counter)
    """pairs left out by kind: the chosen side scored lower than the rejected by too much"""
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def summary(self) -> str:
        """One line: the pairs by kind (every kind named, zeros too)."""
        kinds = ", ".join(f"{kind} {self.by_kind[kind]}" for kind in PAIR_KINDS)
        return f"{self.total} preference pairs ({kinds})"


Scored = tuple[float | None, dict[str, float] | None]
"""A response's committee mean and its mean score per dimension (``None``: not scored)."""
UNSCORED: Scored = (None, None)


def scored(record: Record, round_number: int | None = None) -> Scored:
    """The committee's mean and scores of ``record``'s response in ``round_number`` (default:
    its last scored round)."""
    if round_number is None:
        return (record.verdicts[-1].mu if record.verdicts else None), final_scores(record) or None
    return round_mu(record, round_number), round_scores(record, round_number) or None


def _pair(
    kind: str,
    texts: tuple[str, str, str],
    samples: tuple[Record, Record],
    rounds: tuple[int | None, int | None],
    scores: tuple[Scored, Scored],
    **extra: Any,
) -> dict[str, Any]:
    """One pair row: ``texts`` is (prompt, chosen, rejected); the other pairs are (chosen,
    rejected)."""
    (good_mu, good_scores), (bad_mu, bad_scores) = scores
    good, bad = samples
    return clean_text(
        {
            "prompt": texts[0],
            "chosen": texts[1],
            "rejected": texts[2],
            "kind": kind,
            "domain": good.domain,
            "seed_index": good.seed_index,
            "chosen_sample": f"{good.seed_index}/{good.sample_index}",
            "rejected_sample": f"{bad.seed_index}/{bad.sample_index}",
            "chosen_round": rounds[0],
            "rejected_round": rounds[1],
            "chosen_mu": good_mu,
            "rejected_mu": bad_mu,
            "margin": (
                round(good_mu - bad_mu, 3) if good_mu is not None and bad_mu is not None else None
            ),
            "chosen_scores": good_scores,
            "rejected_scores": bad_scores,
            "rejected_reason": bad.reason if kind == "same_seed" else None,
            "rejected_instruction": None,
            **extra,
        }
    )


def revision_pairs(record: Record) -> list[dict[str, Any]]:
    """One pair per revise round of ``record``: the new response chosen over the prior one."""
    if not record.instruction:
        return []
    return [
        _pair(
            "revision",
            (record.instruction, rev.new_response, rev.prior_response),
            (record, record),
            (rev.round, rev.round - 1),
            (scored(record, rev.round), scored(record, rev.round - 1)),
        )
        for rev in record.revisions
        if rev.new_response and rev.prior_response and rev.new_response != rev.prior_response
    ]


def human_edit_pair(record: Record) -> list[dict[str, Any]]:
    """A person's edited response chosen over the one the committee reviewed."""
    human = record.human
    if not (record.instruction and human and human.decision == "edit" and human.edited_response):
        return []
    if human.edited_response == human.original_response or not human.original_response:
        return []
    return [
        _pair(
            "human_edit",
            (record.instruction, human.edited_response, human.original_response),
            (record, record),
            (None, record.rounds),
            (UNSCORED, scored(record)),  # no committee scored the person's edit
        )
    ]


def _same_task(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def seed_pairs(
    records: Iterable[Record], policy: SeedPairs, counts: PairCounts
) -> list[dict[str, Any]]:
    """Accepted against rejected samples of each seed (every combination); combinations with
    different instructions are counted in ``counts`` and paired only under ``policy="any"``."""
    by_seed: dict[int, list[Record]] = defaultdict(list)
    for record in records:
        if record.instruction and record.response:
            by_seed[record.seed_index].append(record)
    pairs = []
    for samples in by_seed.values():
        accepted = [r for r in samples if r.status == "accepted"]
        rejected = [r for r in samples if r.status == "rejected"]
        for good in accepted:
            for bad in rejected:
                assert good.instruction and good.response and bad.instruction and bad.response
                same = _same_task(good.instruction, bad.instruction)
                if not same:
                    counts.different_instructions += 1
                    if policy != "any":
                        continue
                pairs.append(
                    _pair(
                        "same_seed",
                        (good.instruction, good.response, bad.response),
                        (good, bad),
                        (good.rounds, bad.rounds),
                        (scored(good), scored(bad)),
                        rejected_instruction=None if same else bad.instruction,
                    )
                )
    return pairs


def preference_pairs(
    records: list[Record], policy: SeedPairs = "same", min_margin: float | None = 0.0
) -> tuple[list[dict[str, Any]], PairCounts]:
    """Every pair the records yield (revisions, human edits, then same-seed pairs), and their
    counts with the reasons a kind has none.

    A pair whose two sides were both scored and whose ``margin`` (chosen mu minus rejected mu)
    is below ``min_margin`` is left out and counted: by default a revision that scored lower
    than the response it replaced is no preference to learn (``None`` keeps every pair).
    """
    counts = PairCounts()
    pairs = [p for r in records for p in (*revision_pairs(r), *human_edit_pair(r))]
    pairs += seed_pairs(records, policy, counts)
    if min_margin is not None:
        low = [p for p in pairs if p["margin"] is not None and p["margin"] < min_margin]
        counts.below_margin.update(p["kind"] for p in low)
        pairs = [p for p in pairs if p["margin"] is None or p["margin"] >= min_margin]
    counts.by_kind.update(p["kind"] for p in pairs)
    counts.notes = _notes(records, counts, policy, min_margin)
    return pairs, counts


def _notes(
    records: list[Record], counts: PairCounts, policy: SeedPairs, min_margin: float | None
) -> list[str]:
    """Why each kind of pair is missing, and what was left out, in words a user can act on."""
    why = []
    for kind, n in counts.below_margin.items():
        why.append(
            f"{kind}: {n} pair(s) left out: the chosen response scored below the rejected one "
            f"(margin < {min_margin:g}); --min-margin sets the bound (-10 keeps every pair)"
        )
    if not counts.by_kind["revision"] and not counts.below_margin["revision"]:
        if not any(r.revisions for r in records):
            why.append(
                "revision: no sample was revised (a graph revises when its revise.max_rounds "
                "is above 0, as graphs/gra_revise.yaml's is)"
            )
        else:
            why.append("revision: the revisions left their response unchanged")
    skipped = counts.different_instructions if policy != "any" else 0
    if not counts.by_kind["same_seed"]:
        per_seed = Counter(r.seed_index for r in records)
        if not per_seed or max(per_seed.values()) < 2:
            why.append("same_seed: one sample per seed (run with --samples-per-seed 2 or more)")
        elif not skipped:
            why.append("same_seed: no seed has both an accepted and a rejected sample")
    if skipped:
        why.append(
            f"same_seed: {skipped} accepted/rejected combination(s) of one seed left out: they "
            "answer different instructions (each sample writes its own); --seed-pairs any "
            "pairs them with the accepted sample's instruction as the prompt"
        )
    if not counts.by_kind["human_edit"]:
        why.append("human_edit: no person edited a response (adjudication: human)")
    return why
