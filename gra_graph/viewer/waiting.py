"""``gra view``'s "Waiting for a person" page: the samples :func:`gra_graph.human.waiting`
lists, a keep / drop / edit form per sample, and the reading of that form's POST.

The form only records an answer (:func:`gra_graph.human.record_answer`); the run applies it
when it resumes (``gra resume RUN_DIR``), as ``gra review --no-resume`` does. Every value shown
comes from model output and is escaped. Each form carries the server's random token, which a
page on another site cannot read, so it cannot post an answer in the user's name.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs

from gra_graph.human import WaitingSample
from gra_graph.state import HumanChoice
from gra_graph.viewer.html import _num, _table, esc

MAX_FORM_BYTES = 1_000_000
"""The largest answer form read (an edited response is text, not a file)."""
DECISIONS: tuple[HumanChoice, ...] = ("keep", "drop", "edit")
DEFAULT_WHO = "viewer"


class FormError(ValueError):
    """An answer form that cannot be read (HTTP 400), or one without the server's token
    (``forbidden``: HTTP 403); nothing was recorded."""

    def __init__(self, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.forbidden = forbidden


@dataclass(frozen=True)
class AnswerForm:
    """One posted answer, read and checked as far as the form goes (the rest is
    ``record_answer``'s: is the sample waiting, answered already)."""

    key: str
    decision: HumanChoice
    edited_response: str | None
    who: str
    note: str


def _one(fields: dict[str, list[str]], name: str, default: str | None = None) -> str:
    values = fields.get(name)
    if not values:
        if default is None:
            raise FormError(f"the form has no {name!r} field")
        return default
    if len(values) > 1:
        raise FormError(f"the form has {len(values)} {name!r} fields; one is expected")
    return values[0]


def read_answer_form(body: bytes, token: str) -> AnswerForm:
    """The answer in an ``application/x-www-form-urlencoded`` body.

    Raises:
        FormError: too large, not UTF-8, a missing or repeated field, an unknown decision,
            ``edit`` without text, or (``forbidden``) a token that is not the server's.
    """
    if len(body) > MAX_FORM_BYTES:
        raise FormError(f"the form is larger than {MAX_FORM_BYTES} bytes")
    try:
        text = body.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormError(f"the form is not URL-encoded UTF-8 ({exc})") from None
    if not hmac.compare_digest(_one(fields, "token", "").encode(), token.encode()):
        raise FormError(
            "the form does not carry this viewer's token: reload the page and answer again",
            forbidden=True,
        )
    decision = _one(fields, "decision", "")
    if decision not in DECISIONS:
        raise FormError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    edited = _one(fields, "edited_response", "").replace("\r\n", "\n")
    if decision == "edit" and not edited.strip():
        raise FormError("decision 'edit' needs the edited response (the text box is empty)")
    who = _one(fields, "who", "").strip() or DEFAULT_WHO
    return AnswerForm(
        key=_one(fields, "key"),
        decision=decision,  # type: ignore[arg-type]  # checked against DECISIONS above
        edited_response=edited if decision == "edit" else None,
        who=who,
        note=_one(fields, "note", "").strip(),
    )


def _reviews(item: WaitingSample) -> str:
    rows = []
    for review in item.reviews:
        scores = review.get("scores") or {}
        shown = ", ".join(f"{esc(k)} {esc(v)}" for k, v in scores.items()) if scores else ""
        rows.append(
            [
                esc(review.get("reviewer")),
                "yes" if review.get("abstained") else "",
                shown,
                esc(review.get("strengths", "")),
                esc(review.get("weaknesses", "")),
            ]
        )
    head = ["reviewer", "abstained", "scores", "strengths", "weaknesses"]
    return _table(head, rows or [["(no reviews)", "", "", "", ""]])


def _answer_form(item: WaitingSample, token: str) -> str:
    key = f"{item.seed_index}-{item.sample_index}"
    radios = "".join(
        f'<label><input type="radio" name="decision" value="{d}" required> {d}</label> '
        for d in DECISIONS
    )
    return (
        f'<form class="answer" method="post" action="/answer" id="answer-{esc(key)}">'
        f'<input type="hidden" name="token" value="{esc(token)}">'
        f'<input type="hidden" name="key" value="{esc(key)}">'
        f"<p>{radios}</p>"
        "<p><label>edited response (used with <b>edit</b> only)<br>"
        f'<textarea name="edited_response" rows="6" cols="90">{esc(item.response)}</textarea>'
        "</label></p>"
        f'<p><label>who <input name="who" value="{DEFAULT_WHO}" size="16"></label> '
        '<label>note <input name="note" size="50"></label> '
        '<button type="submit">record answer</button></p></form>'
    )


def _sample(item: WaitingSample, token: str) -> str:
    key = f"{item.seed_index}-{item.sample_index}"
    head = (
        f'<h2 id="sample-{esc(key)}">Sample {esc(key)}</h2>'
        f"<p>domain {esc(item.domain)}, mu {_num(item.mu)}, sigma {_num(item.sigma)}</p>"
    )
    verdict = ""
    if item.adjudication:
        a = item.adjudication
        verdict = (
            f"<p>The Adjudicator ({esc(a.get('adjudicator', '?'))}) said "
            f"{'keep' if a.get('keep') else 'drop'}: {esc(a.get('rationale', ''))}</p>"
        )
    error = f'<p class="note">previous answer refused: {esc(item.error)}</p>' if item.error else ""
    answer = (
        '<p class="answered">Answered; the answer is applied when the run resumes.</p>'
        if item.answered
        else _answer_form(item, token)
    )
    return (
        head
        + f"<h3>Instruction</h3><pre>{esc(item.instruction)}</pre>"
        + f"<h3>Response</h3><pre>{esc(item.response)}</pre>"
        + "<h3>Reviews</h3>"
        + _reviews(item)
        + verdict
        + error
        + answer
    )


def waiting_html(
    items: Sequence[WaitingSample], token: str, run_dir: str, message: str = ""
) -> str:
    """The page body: how answers are applied, then each waiting sample with its form."""
    resume = f"<code>gra resume {esc(run_dir)}</code>"
    intro = (
        "<h1>Waiting for a person</h1>"
        "<p>Conflicts the committee could not settle (adjudication: human or "
        "model_then_human). An answer recorded here is written to the run's "
        "<code>answers.jsonl</code> and applied when the run resumes: run "
        f"{resume} (as after <code>gra review --no-resume</code>).</p>"
    )
    shown = f'<p class="message">{esc(message)}</p>' if message else ""
    if not items:
        return intro + shown + "<p>No sample is waiting for a person.</p>"
    open_ = sum(not i.answered for i in items)
    count = f"<p>{len(items)} waiting, {open_} not answered yet.</p>"
    return intro + shown + count + "".join(_sample(i, token) for i in items)
