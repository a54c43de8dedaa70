"""``gra view``'s "Waiting for a person" page and its answer endpoint, on a real run (the real
Runner on scripted members whose reviewers always conflict, ``adjudication: human``).

Each answer posted is checked in ``answers.jsonl`` as raw JSON; each refusal writes nothing;
the next resume applies the answers once.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from gra_graph.human import WaitingSample, waiting
from gra_graph.viewer.app import create_app
from gra_graph.viewer.waiting import FormError, read_answer_form, waiting_html
from tests.support import human_run

LOCAL = "http://127.0.0.1"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def waiting_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("waiting") / "run"
    assert asyncio.run(human_run.run(out)) is False  # paused: four samples wait
    return out


@pytest.fixture
def run(waiting_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(waiting_run, copy)
    return copy


def token_of(page: str) -> str:
    match = re.search(r'name="token" value="([^"]+)"', page)
    assert match, "the page has no answer form"
    return match.group(1)


def answer_rows(run: Path) -> list[dict]:
    path = run / "answers.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def post(client: TestClient, fields: dict[str, str], **headers: str):
    return client.post(
        "/answer", content=urlencode(fields), headers={**FORM, **headers}, follow_redirects=False
    )


def test_the_page_lists_each_waiting_sample_with_a_form_and_says_how_it_is_applied(run: Path):
    client = TestClient(create_app(run), base_url=LOCAL)
    text = client.get("/waiting").text
    assert "4 waiting, 4 not answered yet" in text
    for key in ("0-0", "0-1", "1-0", "1-1"):
        assert f'id="answer-{key}"' in text
    assert "memoized recursive Fibonacci" in text  # the instruction
    assert all(f"<td>{r}</td>" in text for r in ("r1", "r2", "r3"))  # every review
    assert f"gra resume {run}" in text
    assert 'href="/waiting"' in client.get("/").text  # reachable from every page


def test_keep_drop_and_edit_are_recorded_and_shown_answered(run: Path):
    client = TestClient(create_app(run), base_url=LOCAL)
    token = token_of(client.get("/waiting").text)
    keep = post(client, {"token": token, "key": "0-0", "decision": "keep"})
    assert keep.status_code == 303 and keep.headers["location"] == "/waiting?answered=0-0"
    fields = {"token": token, "key": "0-1", "decision": "drop", "who": "ana", "note": "off topic"}
    assert post(client, {**fields, "edited_response": "ignored unless edit"}).status_code == 303
    edit = {"token": token, "key": "1-0", "decision": "edit", "edited_response": "New.\r\nText."}
    assert post(client, edit).status_code == 303
    rows = {r["thread_id"]: r for r in answer_rows(run)}
    assert (rows["0-0"]["decision"], rows["0-0"]["who"], rows["0-0"]["edited_response"]) == (
        "keep",
        "viewer",
        None,
    )
    assert (rows["0-1"]["who"], rows["0-1"]["note"], rows["0-1"]["edited_response"]) == (
        "ana",
        "off topic",
        None,
    )
    assert rows["1-0"]["edited_response"] == "New.\nText."
    after = client.get("/waiting?answered=1-0").text
    assert "Answer recorded for sample 1-0." in after and "4 waiting, 1 not answered yet" in after
    assert after.count('class="answered"') == 3 and 'id="answer-1-1"' in after


@pytest.mark.parametrize(
    ("fields", "code", "reason"),
    [
        ({"key": "0-0", "decision": "keep"}, 403, "token"),
        ({"token": "forged", "key": "0-0", "decision": "keep"}, 403, "token"),
        ({"key": "0-0", "decision": "maybe"}, 400, "decision must be one of"),
        ({"key": "0-0"}, 400, "decision must be one of"),
        ({"key": "0-0", "decision": "edit", "edited_response": "  "}, 400, "needs the edited"),
        ({"decision": "keep"}, 400, "no &#x27;key&#x27; field"),
        ({"key": "zero", "decision": "keep"}, 400, "SEED-SAMPLE"),
        ({"key": "9-9", "decision": "keep"}, 400, "not waiting"),
        ({"key": "0-0", "decision": "keep", "who": "x" * 201}, 400, "who"),
    ],
)
def test_bad_answers_are_refused_with_the_reason_and_write_nothing(
    run: Path, fields: dict[str, str], code: int, reason: str
):
    client = TestClient(create_app(run), base_url=LOCAL)
    token = token_of(client.get("/waiting").text)
    sent = {"token": token, **fields} if "token" not in fields and code == 400 else fields
    response = post(client, sent)
    assert response.status_code == code, response.text
    assert reason in response.text
    assert answer_rows(run) == []


def test_a_second_answer_to_a_sample_is_refused(run: Path):
    client = TestClient(create_app(run), base_url=LOCAL)
    token = token_of(client.get("/waiting").text)
    assert post(client, {"token": token, "key": "1-1", "decision": "keep"}).status_code == 303
    again = post(client, {"token": token, "key": "1-1", "decision": "drop"})
    assert again.status_code == 400 and "answered already" in again.text
    assert [r["decision"] for r in answer_rows(run)] == ["keep"]


def test_cross_site_posts_and_other_bodies_are_refused(run: Path):
    client = TestClient(create_app(run), base_url=LOCAL)
    token = token_of(client.get("/waiting").text)
    fields = {"token": token, "key": "0-0", "decision": "keep"}
    assert post(client, fields, origin="http://evil.example").status_code == 403
    as_json = client.post("/answer", json=fields, follow_redirects=False)
    assert as_json.status_code == 400 and "form post" in as_json.text
    assert client.get("/answer").status_code == 405
    assert answer_rows(run) == []
    same = post(client, fields, origin="http://127.0.0.1")  # the viewer's own page
    assert same.status_code == 303 and len(answer_rows(run)) == 1
    hidden = post(client, {**fields, "key": "0-1", "token": "guess"}, origin="null")
    assert hidden.status_code == 403  # an origin the browser hides still needs the token
    assert post(client, {**fields, "key": "0-1"}, origin="null").status_code == 303
    assert len(answer_rows(run)) == 2


def test_another_viewer_has_another_token(run: Path):
    first = TestClient(create_app(run), base_url=LOCAL)
    second = TestClient(create_app(run), base_url=LOCAL)
    token = token_of(first.get("/waiting").text)
    assert token != token_of(second.get("/waiting").text)
    assert post(second, {"token": token, "key": "0-0", "decision": "keep"}).status_code == 403


def test_the_answers_apply_when_the_run_resumes_once(run: Path):
    client = TestClient(create_app(run), base_url=LOCAL)
    token = token_of(client.get("/waiting").text)
    for key, (decision, edited) in human_run.ANSWERS.items():
        fields = {"token": token, "key": f"{key[0]}-{key[1]}", "decision": decision}
        if edited:
            fields["edited_response"] = edited
        assert post(client, fields).status_code == 303
    assert asyncio.run(human_run.run(run)) is True  # the resume applies them
    assert asyncio.run(human_run.run(run)) is True  # and a second applies nothing more
    rows = [json.loads(x) for x in (run / "records.jsonl").read_text().splitlines()]
    decided = sorted((r["seed_index"], r["sample_index"], r["human"]["decision"]) for r in rows)
    assert decided == [(0, 0, "keep"), (0, 1, "drop"), (1, 0, "edit"), (1, 1, "edit")]
    assert {r["response"] for r in rows if r["human"]["decision"] == "edit"} == {
        "An edited answer for 1-0.",
        "An edited answer for 1-1.",
    }
    assert waiting(run) == []
    assert "No sample is waiting for a person." in client.get("/waiting").text


def test_model_output_is_escaped_on_the_page():
    hostile = "<script>alert(1)</script>\"'&"
    item = WaitingSample(
        seed_index=0,
        sample_index=0,
        domain=hostile,
        instruction=hostile,
        response=hostile,
        mu=9.0,
        sigma=2.0,
        reviews=[{"reviewer": hostile, "scores": {hostile: 1}, "strengths": hostile}],
        adjudication={"adjudicator": hostile, "keep": False, "rationale": hostile},
        error=hostile,
        thread_id="0-0",
    )
    text = waiting_html([item], "tok", hostile)
    assert "<script" not in text and "&lt;script&gt;" in text


def test_the_form_reader_refuses_what_is_not_one_form():
    with pytest.raises(FormError, match="larger"):
        read_answer_form(b"x" * 1_000_001, "t")
    with pytest.raises(FormError, match="UTF-8"):
        read_answer_form(b"token=t&key=\xff", "t")
    with pytest.raises(FormError, match="2 'key' fields"):
        read_answer_form(b"token=t&key=0-0&key=0-1&decision=keep", "t")
