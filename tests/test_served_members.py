"""Served and LangChain members: graph-file checks, building them, and remote fault kinds.

The fault tests drive the real ``langchain_openai.ChatOpenAI`` against a real HTTP server on
loopback (``tests/support/http_faults.py``) that answers 5xx, 429, 401, a body that is not JSON
or JSON that is not a chat completion, and against a port nobody listens on.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from gra_graph import schemas
from gra_graph.config import GraphConfig, GraphConfigError
from gra_graph.context import GraContext
from gra_graph.llm.fault_kinds import backoff_seconds, classify_exception, retry_after
from gra_graph.llm.members import check_member_models, load_members, member_ref
from gra_graph.llm.served import ServedChatModel, ServedMemberError
from gra_graph.nodes.calls import ask_structured, ask_text
from gra_graph.stages import Stage
from tests.support.helpers import ROOT, shipped_graph_text
from tests.support.http_faults import bad_server

GEN_ROLES = ["generator", "enricher"]


def served(name: str = "remote", **fields: Any) -> dict[str, Any]:
    """A served member entry (an OpenAI-compatible server by default)."""
    entry: dict[str, Any] = {
        "name": name,
        "provider": "openai-compatible",
        "base_url": "http://127.0.0.1:9/v1",
        "model": "m",
        "roles": GEN_ROLES,
    }
    return {**entry, **fields}


def config_of(*members: dict[str, Any], **overrides: Any) -> GraphConfig:
    """A graph with the given members and, for the rest of the roles, GGUF reviewers."""
    gguf = [
        {"name": f"r{i}", "model": "smollm2-135m", "roles": ["reviewer", "adjudicator"]}
        for i in range(4)
    ]
    return GraphConfig.model_validate(
        {"members": [*members, *gguf], "base_dir": ROOT / "graphs", **overrides}
    )


def invalid(*members: dict[str, Any], **overrides: Any) -> str:
    with pytest.raises(ValueError) as caught:
        config_of(*members, **overrides)
    return str(caught.value)


# ---- the graph file


def test_existing_graph_files_load_unchanged_with_the_same_fingerprint(tmp_path: Path):
    plain = GraphConfig.from_file(ROOT / "graphs" / "gra.yaml")
    assert all(m.provider == "gguf" and not m.served for m in plain.members)
    implicit, explicit = tmp_path / "implicit.yaml", tmp_path / "explicit.yaml"
    implicit.write_text(shipped_graph_text())
    explicit.write_text(shipped_graph_text().replace("model: ", "provider: gguf\n    model: "))
    fingerprint = GraphConfig.from_file(implicit).fingerprint()
    assert GraphConfig.from_file(explicit).fingerprint() == fingerprint


def test_a_served_member_changes_the_fingerprint():
    one = config_of(served(base_url="http://127.0.0.1:1/v1"))
    other = config_of(served(base_url="http://127.0.0.1:2/v1"))
    assert one.fingerprint() != other.fingerprint()


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (served(base_url=None), "needs base_url"),
        (served(model=""), "needs base_url (the server) and model"),
        (served(n_ctx=4096), "'remote' (provider openai-compatible): n_ctx applies only"),
        (served(chat_format="chatml"), "chat_format applies only to an in-process GGUF"),
        (served(**{"class": "x:Y"}), "class applies only"),
        ({"name": "g", "model": "smollm2-135m", "base_url": "http://x"}, "base_url applies"),
        ({"name": "g", "provider": "gguf"}, "gguf member needs a bundled model name"),
        ({"name": "l", "provider": "langchain"}, 'needs class: "package.module:ClassName"'),
        (
            {"name": "l", "provider": "langchain", "class": "a:B", "base_url": "http://x"},
            "base_url applies only to another provider",
        ),
        (
            {"name": "l", "provider": "langchain", "class": "a:B", "sampling": {"top_k": 3}},
            "sampling applies only",
        ),
        (served(api_key_env="not a name"), "api_key_env"),
    ],
)
def test_provider_settings_are_checked(member: dict[str, Any], message: str):
    assert message in invalid({**member, "roles": GEN_ROLES})


@pytest.mark.parametrize(
    ("judging", "setting"),
    [
        ({"scoring": "expected"}, "judging.scoring: expected"),
        ({"check_rule": "mean_probability"}, "judging.check_rule: mean_probability"),
    ],
)
def test_probability_reading_is_refused_for_a_served_judge(judging: dict[str, str], setting: str):
    message = invalid(served(roles=["generator", "enricher", "reviewer"]), judging=judging)
    assert "member 'remote' (provider openai-compatible)" in message and setting in message
    # a served generator is fine: only judges are read for probabilities
    assert config_of(served(), judging=judging).judging.scoring == judging.get("scoring", "sampled")


def test_a_missing_key_variable_fails_before_any_load(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("GRA_TEST_MISSING_KEY", raising=False)
    config = config_of(served(api_key_env="GRA_TEST_MISSING_KEY"))
    with pytest.raises(ServedMemberError, match="GRA_TEST_MISSING_KEY, which is not set"):
        check_member_models(config)
    assert issubclass(ServedMemberError, GraphConfigError)  # the CLI's one-line error, exit 2
    monkeypatch.setenv("GRA_TEST_MISSING_KEY", "secret")
    assert "remote" not in check_member_models(config)  # served: no model file to check


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_package_xyz.chat:Model", "cannot import 'no_such_package_xyz.chat'"),
        ("langchain_core.messages:NoSuchClass", "has no NoSuchClass"),
        ("langchain_core.messages:AIMessage", "is not a LangChain chat model"),
        ("nodots", 'must read "package.module:ClassName"'),
    ],
)
def test_an_unusable_class_fails_before_any_work(spec: str, message: str):
    config = config_of({"name": "lc", "provider": "langchain", "class": spec, "roles": GEN_ROLES})
    with pytest.raises(ServedMemberError, match="member 'lc'") as caught:
        check_member_models(config)
    assert message in str(caught.value)


def test_bad_class_kwargs_fail_before_any_work():
    member = {
        "name": "lc",
        "provider": "langchain",
        "class": "langchain_core.language_models.fake_chat_models:FakeListChatModel",
        "kwargs": {"no_such_argument": 1},
        "roles": GEN_ROLES,
    }
    with pytest.raises(ServedMemberError, match=r"FakeListChatModel\(\*\*kwargs\) failed"):
        check_member_models(config_of(member))


async def test_any_langchain_chat_model_class_fills_a_role():
    member = {
        "name": "lc",
        "provider": "langchain",
        "class": "langchain_core.language_models.fake_chat_models.FakeListChatModel",
        "kwargs": {"responses": ['Sure: ```json\n{"keywords": ["a", "b", "c"]}\n```']},
        "persona": "Be brief.",
        "roles": GEN_ROLES,
    }
    config = config_of(member)
    handle = {"lc": _served_handle(config, "lc")}
    assert handle["lc"].model_ref == member_ref(config.member("lc"), config.base_dir)
    assert handle["lc"].model_ref.startswith("langchain:langchain_core.")
    out = await ask_structured(
        GraContext.create(config, handle),
        "lc",
        Stage.COMPOSE_KEYWORDS,
        {"domain": "qa", "examples": "-"},
        schemas.KeywordTriple,
        (0, 0),
    )
    assert out.record.ok and out.value is not None and out.value.keywords == ["a", "b", "c"]


def _served_handle(config: GraphConfig, name: str) -> Any:
    """Only the named (served) member, built as load_members builds it."""
    only = config.model_copy(update={"members": (config.member(name),)})
    return load_members(only)[name]


# ---- remote faults, through the real ChatOpenAI and a real HTTP server


def _remote_ctx(base_url: str, retries: int = 1, **member: Any) -> GraContext:
    config = config_of(
        served(base_url=base_url, **member),
        generation={"structured_retries": retries, "call_timeout_s": 20},
    )
    return GraContext.create(config, {"remote": _served_handle(config, "remote")})


async def _ask(ctx: GraContext) -> Any:
    return await ask_structured(
        ctx,
        "remote",
        Stage.COMPOSE_KEYWORDS,
        {"domain": "qa", "examples": "-"},
        schemas.KeywordTriple,
        (0, 0),
    )


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("500", "server_error"),
        ("503", "server_error"),
        ("429", "rate_limit"),
        ("401", "client_error"),
        ("notjson", "malformed_body"),
        ("shape", "malformed_body"),
    ],
)
async def test_remote_faults_are_retried_then_reported(path: str, kind: str):
    with bad_server() as (root, counts, _):
        out = await _ask(_remote_ctx(f"{root}/{path}/v1"))
    assert counts[path] == 2, "one attempt and one retry reached the server"
    assert out.value is None and not out.record.ok and out.error
    assert out.record.faults == [kind, kind] and out.record.attempts == 2


async def test_an_unreachable_server_is_a_connection_fault():
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = await _ask(_remote_ctx(f"http://127.0.0.1:{port}/v1"))
    assert out.record.faults == ["connection", "connection"] and out.value is None


async def test_a_slow_server_is_a_timeout_fault():
    with socket.socket() as sock:  # accepts the connection (backlog) and never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        ctx = _remote_ctx(f"http://127.0.0.1:{sock.getsockname()[1]}/v1", timeout=0.3)
        out = await _ask(ctx)
    assert out.record.faults == ["timeout", "timeout"]


async def test_a_good_reply_sends_the_budget_seed_and_schema_and_records_usage():
    with bad_server() as (root, _, bodies):
        ctx = _remote_ctx(f"{root}/ok/v1", response_format="json_object", persona="Be brief.")
        out = await ask_text(
            ctx, "remote", Stage.WRITE_RESPONSE, {"domain": "qa", "instruction": "i"}, (0, 0)
        )
        await _ask(ctx)
    assert out.record.ok and out.record.prompt_tokens == 12 and out.record.completion_tokens == 4
    assert out.record.model_file == f"openai-compatible:m@{root}/ok/v1"
    text_body, json_body = bodies[:2]  # the JSON call is retried: {"answer": 5} is no triple
    assert text_body["max_tokens"] == ctx.config.budgets.write_response
    assert isinstance(text_body["seed"], int) and "response_format" not in text_body
    assert text_body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert json_body["response_format"]["type"] == "json_object"
    assert "keywords" in json_body["response_format"]["schema"]["properties"]


def test_rate_limits_back_off_and_honour_retry_after():
    assert backoff_seconds("rate_limit", 1) < backoff_seconds("rate_limit", 2)
    assert backoff_seconds("connection", 10) == 30.0  # bounded
    assert backoff_seconds("client_error", 1) == backoff_seconds("schema", 1) == 0.0
    assert classify_exception(ConnectionRefusedError()) == "connection"
    assert classify_exception(TimeoutError()) == "timeout"


async def test_a_retry_after_header_sets_the_wait():
    # the test server's 429 says Retry-After: 0; without it the first wait would be 0.5 s
    with bad_server() as (root, counts, _):
        ctx = _remote_ctx(f"{root}/429/v1", retries=2)
        handle = await ctx.member("remote")
        with pytest.raises(Exception) as caught:
            await handle.chat_model.ainvoke("hi")
        out = await _ask(ctx)
    assert classify_exception(caught.value) == "rate_limit"
    assert retry_after(caught.value) == 0.0 and backoff_seconds("rate_limit", 1, caught.value) == 0
    assert out.record.faults == ["rate_limit"] * 3 and counts["429"] == 4


def test_served_members_are_built_without_a_request():
    config = config_of(served())
    handle = _served_handle(config, "remote")
    assert isinstance(handle.chat_model, ServedChatModel)
    assert not handle.chat_model.reads_values


def test_members_survive_a_dump_and_validate_round_trip():
    # timetravel and --set rebuild members from their dump, which carries every field
    config = config_of(served(), {"name": "lc", "provider": "langchain", "class": "a:B"})
    for member in config.members:
        assert type(member).model_validate(member.model_dump()) == member


async def test_top_k_and_repeat_penalty_are_sent_only_when_changed():
    with bad_server() as (root, _, bodies):
        plain = _remote_ctx(f"{root}/ok/v1")
        tuned = _remote_ctx(f"{root}/ok/v1", sampling={"top_k": 5, "repeat_penalty": 1.3})
        for ctx in (plain, tuned):
            await ask_text(
                ctx, "remote", Stage.WRITE_RESPONSE, {"domain": "qa", "instruction": "i"}, (0, 0)
            )
    assert "top_k" not in bodies[0] and "repeat_penalty" not in bodies[0]
    assert bodies[1]["top_k"] == 5 and bodies[1]["repeat_penalty"] == 1.3
    assert bodies[1]["temperature"] == 0.7 and bodies[1]["top_p"] == 0.9


async def test_a_judge_call_sends_the_graph_s_verdict_repeat_penalty():
    # llama.cpp's servers default to a 1.1 penalty, which would count written verdicts against
    # the next one: a check is sent judging.repeat_penalty (1.0) whatever the member's own
    with bad_server() as (root, _, bodies):
        ctx = _remote_ctx(f"{root}/ok/v1", retries=0, sampling={"repeat_penalty": 1.3})
        await ask_structured(
            ctx,
            "remote",
            Stage.CHECK_INSTRUCTION,
            {"domain": "qa", "instruction": "Name a prime."},
            schemas.InstructionCheckOutput,
            (0, 0),
        )
        await ask_text(
            ctx, "remote", Stage.WRITE_RESPONSE, {"domain": "qa", "instruction": "i"}, (0, 0)
        )
    assert bodies[0]["repeat_penalty"] == 1.0
    assert bodies[1]["repeat_penalty"] == 1.3
