"""The verifiers' rules: from a response and a member's tests or answer to a
:class:`~gra_graph.state.Verification`, and from a verification to a committee vote.

No model is called here (the node does that, :mod:`gra_graph.nodes.verify`); coding checks run
the code in :mod:`gra_graph.verify.sandbox`. Every rule is spelled out in docs/verifiers.md:

- **coding**: no Python code, or no function to call: inconclusive. Python-looking code that
  does not compile: failed. Otherwise the definitions run against the instruction's own
  examples and the member's asserts. A failed example fails the code. A member's test that
  cannot judge the code (it does not parse, calls an undefined name, calls with the wrong
  number of arguments, needs a module the sandbox lacks) is left out; a wrong result, an
  exception or a time-out counts as a failed test. Fewer than ``min_tests`` usable member tests
  and no example: inconclusive. Else the score is the fraction of usable tests passed, and the
  code fails when it is below ``min_pass_fraction``.
- **coding, SQL** (:mod:`gra_graph.verify.sql`): a response without Python whose code is one
  SQL query is run beside each of ``solutions`` members' own queries on their own test
  databases; more than half of the databases agreeing with it passes it (1), more than half
  disagreeing fails it (0), else inconclusive. A database that cannot judge counts as asked.
- **coding, complexity** (:mod:`gra_graph.verify.complexity`): a response with no code to run
  (no Python function, no SQL query) to an instruction that asks about a complexity, and which
  states a Big-O class, is compared with ``solutions`` members' own answers: the class more than
  half of them name must be one the response states, else it fails; no majority: inconclusive.
- **math**: ``solutions`` independent answers; only one that more than half of them agree on
  (:func:`gra_graph.verify.answers.consensus`) is compared with the response
  (:func:`gra_graph.verify.answers.compare_answers`): passed (1) or failed (0), else
  inconclusive (no majority, or an answer that cannot be read).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gra_graph.config import GraphConfig, Verifiers
from gra_graph.state import GraState, Review, Verification
from gra_graph.verify.answers import compare_answers, consensus
from gra_graph.verify.code import (
    Signature,
    definitions_only,
    extract_code,
    instruction_tests,
    signatures,
    usable_tests,
)
from gra_graph.verify.complexity import (
    asks_complexity,
    complexity_consensus,
    growths,
    missing_classes,
)
from gra_graph.verify.sandbox import Limits, Outcome, SandboxResult, run_python
from gra_graph.verify.sql import Database, compare, extract_query, run_databases

_UNJUDGING_ERRORS = {"NameError", "ImportError", "ModuleNotFoundError", "SandboxViolation"}
_ARITY = re.compile(r"positional argument|keyword argument|takes \d+|missing \d+ required")


@dataclass(frozen=True)
class CodingPlan:
    """What a coding check will run: the response's definitions, the functions tests may call,
    and the asserts the instruction's own examples give."""

    code: str
    source: str
    signatures: tuple[Signature, ...]
    examples: tuple[str, ...]

    def signature_lines(self) -> str:
        """The functions a test writer is told about, one ``def`` line each."""
        return "\n".join(f"def {s}" for s in self.signatures)


@dataclass(frozen=True)
class SqlPlan:
    """An SQL answer to check: its one query, run against members' own test databases."""

    query: str


@dataclass(frozen=True)
class ComplexityPlan:
    """A prose answer to a complexity question, compared with members' own answers."""

    stated: tuple[str, ...]


CheckPlan = CodingPlan | SqlPlan | ComplexityPlan
"""What a coding check runs or asks for."""


def _complexity_plan(instruction: str, response: str) -> ComplexityPlan | None:
    if not asks_complexity(instruction):
        return None
    stated = tuple(f"O({g.text})" for g in growths(response))
    return ComplexityPlan(stated) if stated else None


def plan_coding(instruction: str, response: str) -> CheckPlan | Verification:
    """The plan for checking ``response``, or the verification already decided without tests
    (no code, code that does not compile, nothing to call). A complexity answer is checked
    only where no code could be: a response whose function can be tested is tested."""
    found = extract_code(response)
    if found is None and (query := extract_query(response)) is not None:
        return SqlPlan(query)
    if found is None:
        return _complexity_plan(instruction, response) or Verification(
            verifier="coding",
            outcome="inconclusive",
            reason="the response has no Python code and no SQL query",
        )
    if not found.parses:
        return Verification(
            verifier="coding",
            outcome="failed",
            score=0.0,
            reason=f"the response's Python code does not compile: {found.error}",
            details={"code": found.code, "code_source": found.source},
        )
    code = definitions_only(found.code)
    defined = signatures(code)
    if not defined:
        return _complexity_plan(instruction, response) or Verification(
            verifier="coding",
            outcome="inconclusive",
            reason="the response's code defines no function to test",
            details={"code": found.code, "code_source": found.source},
        )
    examples = instruction_tests(instruction, defined)
    return CodingPlan(code, found.source, tuple(defined), tuple(examples))


def _judges(event: dict[str, Any]) -> bool:
    """Whether a test's result says something about the code (see the module docstring)."""
    if event.get("outcome") == "invalid":
        return False
    if event.get("outcome") != "error":
        return True
    kind, error = event.get("kind", ""), event.get("error", "")
    return kind not in _UNJUDGING_ERRORS and not (kind == "TypeError" and _ARITY.search(error))


def _sandbox_details(result: SandboxResult) -> dict[str, Any]:
    return {
        "outcome": str(result.outcome),
        "reason": result.reason,
        "layers": list(result.layers),
        "seconds": result.seconds,
    }


def judge_coding(
    plan: CodingPlan, written: Sequence[str], settings: Verifiers, writer_error: str | None = None
) -> Verification:
    """Run ``plan`` with the member's ``written`` tests in the sandbox and apply the rule."""
    member_tests = [t for t in usable_tests(list(written), list(plan.signatures))]
    member_tests = [t for t in member_tests if t not in plan.examples]
    tests = [*plan.examples, *member_tests]
    sources = ["instruction"] * len(plan.examples) + ["member"] * len(member_tests)
    base = {"code": plan.code, "code_source": plan.source, "written": list(written)}
    if writer_error:
        base["writer_error"] = writer_error
    if not plan.examples and len(member_tests) < settings.min_tests:
        return Verification(
            verifier="coding",
            outcome="inconclusive",
            reason=f"{len(member_tests)} usable test(s), need {settings.min_tests}",
            details=base,
        )
    limits = Limits(timeout_s=settings.timeout_s, memory_mb=settings.memory_mb)
    result = run_python(plan.code, tests=tests, limits=limits)
    base["sandbox"] = _sandbox_details(result)
    load = result.load()
    if result.outcome == Outcome.ERROR or load is None:
        return Verification(
            verifier="coding",
            outcome="inconclusive",
            reason=f"the sandbox could not run the code: {result.reason}",
            details=base,
        )
    if not load.get("ok"):
        if load.get("kind") in _UNJUDGING_ERRORS:
            why = f"the code needs what the sandbox does not offer: {load.get('error')}"
            return Verification(verifier="coding", outcome="inconclusive", reason=why, details=base)
        return Verification(
            verifier="coding",
            outcome="failed",
            score=0.0,
            reason=f"the code fails before any test: {load.get('error')}",
            details=base,
        )
    reported = {e["index"]: e for e in result.tests()}
    records = []
    for index, (test, source) in enumerate(zip(tests, sources, strict=True)):
        event = reported.get(index, {"outcome": "timeout", "error": f"not run: {result.reason}"})
        records.append(
            {
                "test": test,
                "source": source,
                "outcome": event.get("outcome"),
                "error": event.get("error"),
                "judges": _judges(event),
            }
        )
    base["tests"] = records
    return _coding_rule(records, settings, base)


def _coding_rule(
    records: list[dict[str, Any]], settings: Verifiers, details: dict[str, Any]
) -> Verification:
    failed_examples = [
        r["test"] for r in records if r["source"] == "instruction" and r["outcome"] != "passed"
    ]
    judging = [r for r in records if r["judges"]]
    from_member = [r for r in judging if r["source"] == "member"]
    passed = sum(r["outcome"] == "passed" for r in judging)
    score = round(passed / len(judging), 4) if judging else None
    if failed_examples:
        return Verification(
            verifier="coding",
            outcome="failed",
            score=score if score is not None else 0.0,
            reason=f"fails the instruction's example: {failed_examples[0]}",
            details=details,
        )
    has_examples = any(r["source"] == "instruction" for r in records)
    if score is None or (not has_examples and len(from_member) < settings.min_tests):
        return Verification(
            verifier="coding",
            outcome="inconclusive",
            reason=f"{len(from_member)} test(s) could judge the code, need {settings.min_tests}",
            details=details,
        )
    verdict = "passed" if score >= settings.min_pass_fraction else "failed"
    return Verification(
        verifier="coding",
        outcome=verdict,
        score=score,
        reason=f"{passed} of {len(judging)} test(s) pass (needs {settings.min_pass_fraction:g})",
        details=details,
    )


def _ruling(
    verifier: str, agrees: bool | None, reason: str, details: dict[str, Any]
) -> Verification:
    """A comparison's verification: passed (score 1), failed (0), or inconclusive (None)."""
    if agrees is None:
        return Verification(
            verifier=verifier, outcome="inconclusive", reason=reason, details=details
        )
    return Verification(
        verifier=verifier,
        outcome="passed" if agrees else "failed",
        score=1.0 if agrees else 0.0,
        reason=reason,
        details=details,
    )


def judge_sql(
    plan: SqlPlan, written: Sequence[Database | None], settings: Verifiers
) -> Verification:
    """Run the answer's query beside each member's own on the member's database (``None``: a
    member that wrote none) and apply the majority rule of the module docstring."""
    limits = Limits(timeout_s=settings.timeout_s, memory_mb=settings.memory_mb)
    usable = [d for d in written if d is not None]
    reports, problem = run_databases(plan.query, usable, limits) if usable else ([], None)
    verdicts = iter(compare(r) for r in reports)
    databases: list[dict[str, Any]] = []
    for database in written:
        verdict, why = next(verdicts) if database is not None else ("cannot judge", "none written")
        entry = {"verdict": verdict, "why": why}
        if database is not None:
            entry |= {"setup": list(database.setup), "query": database.query}
        databases.append(entry)
    counts = Counter(d["verdict"] for d in databases)
    agree, disagree, asked = counts["agrees"], counts["disagrees"], len(written)
    details: dict[str, Any] = {"language": "sql", "query": plan.query, "databases": databases}
    if problem:
        details["sandbox"] = problem
    tally = f"{agree} of {asked} test databases agree with the answer's query, {disagree} do not"
    if disagree * 2 > asked:
        return _ruling("coding", False, tally, details)
    if agree * 2 > asked:
        return _ruling("coding", True, tally, details)
    return _ruling("coding", None, f"no majority: {tally}", details)


def _agreement(answers: Sequence[str | None], agreed: str | None, votes: int) -> dict[str, Any]:
    """The details every independent-answer check records."""
    return {
        "solver_answers": list(answers),
        "solver_answer": agreed,
        "agreement": f"{votes} of {len(answers)}",
    }


def judge_complexity(response: str, answers: Sequence[str | None]) -> Verification:
    """Compare the classes ``response`` states with those the independent ``answers`` agree on
    (``None``: an answer that failed); see the module docstring."""
    agreed = complexity_consensus(answers)
    stated = growths(response)
    details = {
        "kind": "complexity",
        **_agreement(answers, agreed.answer, agreed.votes),
        "response_classes": [f"O({g.text})" for g in stated],
    }
    if agreed.answer is None:
        why = f"the answers do not agree ({agreed.votes} of {agreed.asked} at most)"
        return _ruling("coding", None, why, details)
    missing = missing_classes(stated, agreed.classes)
    tally = f"{agreed.votes} of {agreed.asked} answers say {agreed.answer}"
    if missing:
        return _ruling(
            "coding", False, f"the response never states {', '.join(missing)} ({tally})", details
        )
    return _ruling("coding", True, f"the response states the agreed complexity ({tally})", details)


def judge_math(response: str, answers: Sequence[str | None]) -> Verification:
    """Compare ``response`` with what the independent ``answers`` agree on (``None``: a
    solution that failed). Without a majority answer the check is inconclusive."""
    agreed = consensus(list(answers))
    details = _agreement(answers, agreed.answer, agreed.votes)
    if agreed.answer is None:
        why = f"the solutions do not agree ({agreed.votes} of {agreed.asked} at most)"
        return _ruling("math", None, why, details)
    comparison = compare_answers(response, agreed.answer)
    details |= {"response_answer": comparison.response_answer, "match": comparison.match}
    if comparison.agrees is None:
        return _ruling("math", None, comparison.detail, details)
    why = f"{comparison.detail} ({agreed.votes} of {agreed.asked} solutions agree)"
    return _ruling("math", comparison.agrees, why, details)


def vetoes(verification: Verification, settings: Verifiers) -> bool:
    """Whether ``verification`` rejects its sample before review (a failure under ``veto``)."""
    return settings.mode == "veto" and verification.outcome == "failed"


def veto_reason(verification: Verification) -> str:
    """The rejection reason of a sample ``verification`` vetoed."""
    return f"{verification.verifier} verifier vetoes: {verification.reason}"


def verifier_vote(verification: Verification, config: GraphConfig) -> Review | None:
    """A conclusive verification as a review whose every dimension is 10 x its score
    (rounded), so its composite enters mu and sigma as one more reviewer's; ``None`` for an
    inconclusive one, which never counts."""
    if verification.score is None:
        return None
    vote = round(10 * verification.score)
    return Review(
        reviewer=f"verifier:{verification.verifier}",
        model_file=verification.model_file or "sandbox",
        round=verification.round,
        scores=dict.fromkeys(config.score_dimensions, vote),
    )


def verifier_votes(state: GraState, config: GraphConfig) -> list[Review]:
    """With ``verifiers.mode: vote``, this round's conclusive verifications as votes
    (:func:`verifier_vote`); ``[]`` otherwise."""
    if not config.verifiers.enabled or config.verifiers.mode != "vote":
        return []
    round_ = state.get("round", 0)
    found = (Verification.model_validate(raw) for raw in state.get("verifications", []))
    votes = (verifier_vote(v, config) for v in found if v.round == round_)
    return [v for v in votes if v is not None]
