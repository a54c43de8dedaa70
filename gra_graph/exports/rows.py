"""One record as a row of each export format.

Every format but ``openai`` carries metadata columns next to the text (the domain, the
seed-sample's identity, its status and scores); OpenAI's fine-tuning format is a ``messages``
list and nothing else. A record without an instruction or a response (rejected before it was
written) has no chat row: :func:`chat_row` returns ``None`` for it.

Conventions (also in the README):

- ``sharegpt``: ``conversations``, a list of ``{"from": "human" | "gpt", "value": ...}``.
- ``alpaca``: ``instruction``, ``input`` (always empty: GRA instructions are self-contained)
  and ``output``.
- ``chatml``: ``messages`` (``role``/``content``, the shape chat templates read) and ``text``,
  the same conversation rendered with ``<|im_start|>``/``<|im_end|>`` tokens.
- ``openai``: ``{"messages": [...]}`` only.
- the flat row (``jsonl``, ``parquet``, ``hf``): the five GRA fields, ``messages``, and the
  metadata and provenance summary of :func:`metadata`.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from gra_graph.export import reason_kind
from gra_graph.state import Record

CHAT_FORMATS = ("sharegpt", "alpaca", "chatml", "openai")
TABLE_FORMATS = ("jsonl", "parquet", "hf")
"""Formats whose rows are the flat row; ``jsonl`` and the chat formats are JSON Lines files,
``parquet`` a Parquet file, ``hf`` a ``datasets`` dataset saved with ``save_to_disk``."""


def clean_text(value: Any) -> Any:
    """``value`` with every string made encodable as UTF-8, in lists and dicts too: a lone
    surrogate (which JSON can carry but UTF-8, Arrow and Parquet cannot) becomes U+FFFD."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
        return value
    if isinstance(value, list):
        return [clean_text(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k): clean_text(v) for k, v in value.items()}
    return value


def final_scores(record: Record) -> dict[str, float]:
    """Mean score per dimension over the usable reviews of the record's last scored round
    (abstentions left out, as in mu); empty when nothing was scored."""
    return round_scores(record, record.verdicts[-1].round if record.verdicts else None)


def round_scores(record: Record, round_number: int | None) -> dict[str, float]:
    """Mean score per dimension over the usable reviews of round ``round_number``."""
    if round_number is None:
        return {}
    reviews = [
        r for r in record.reviews if r.round == round_number and not r.abstained and r.scores
    ]
    dimensions = list(dict.fromkeys(d for r in reviews for d in r.scores))
    return {
        d: round(statistics.fmean(r.scores[d] for r in reviews if d in r.scores), 3)
        for d in dimensions
    }


def round_mu(record: Record, round_number: int) -> float | None:
    """The committee mean of round ``round_number`` (``None`` when it has no verdict)."""
    for verdict in record.verdicts:
        if verdict.round == round_number:
            return verdict.mu
    return None


def messages(record: Record) -> list[dict[str, str]] | None:
    """The record as a user/assistant conversation, or ``None`` without both texts."""
    if not (record.instruction and record.response):
        return None
    return [
        {"role": "user", "content": record.instruction},
        {"role": "assistant", "content": record.response},
    ]


def metadata(record: Record, near_duplicate: bool) -> dict[str, Any]:
    """The columns every format but ``openai`` carries next to the text."""
    last = record.verdicts[-1] if record.verdicts else None
    generator = record.roles.generator if record.roles else None
    return {
        "domain": record.domain,
        "run_id": record.run_id,
        "iteration": record.iteration,
        "seed_index": record.seed_index,
        "sample_index": record.sample_index,
        "status": record.status,
        "reason": record.reason,
        "reason_kind": reason_kind(record.reason),
        "near_duplicate": near_duplicate,
        "mu": last.mu if last else None,
        "sigma": last.sigma if last else None,
        "scores": final_scores(record) or None,
        "adjudicated": record.adjudication is not None or record.human is not None,
        "revisions": len(record.revisions),
        "generator": generator,
        "generator_model": record.models.get(generator) if generator else None,
    }


def flat_row(record: Record, near_duplicate: bool) -> dict[str, Any]:
    """The row of ``jsonl``, ``parquet`` and ``hf``: GRA's five fields, ``messages`` (what
    TRL's SFT trainer reads) and the metadata."""
    return {
        **record.accepted_row(),
        "messages": messages(record),
        **metadata(record, near_duplicate),
    }


def _sharegpt(chat: list[dict[str, str]], meta: dict[str, Any]) -> dict:
    speaker = {"user": "human", "assistant": "gpt"}
    turns = [{"from": speaker[m["role"]], "value": m["content"]} for m in chat]
    return {"conversations": turns, **meta}


def _alpaca(chat: list[dict[str, str]], meta: dict[str, Any]) -> dict:
    return {"instruction": chat[0]["content"], "input": "", "output": chat[1]["content"], **meta}


def _chatml(chat: list[dict[str, str]], meta: dict[str, Any]) -> dict:
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in chat)
    return {"messages": chat, "text": text, **meta}


def _openai(chat: list[dict[str, str]], meta: dict[str, Any]) -> dict:
    return {"messages": chat}  # the fine-tuning format has no room for metadata


CHAT_ROWS: dict[str, Callable[[list[dict[str, str]], dict[str, Any]], dict]] = {
    "sharegpt": _sharegpt,
    "alpaca": _alpaca,
    "chatml": _chatml,
    "openai": _openai,
}


def chat_row(record: Record, style: str, near_duplicate: bool) -> dict[str, Any] | None:
    """The record in chat format ``style`` (one of :data:`CHAT_FORMATS`), or ``None`` when it
    has no instruction or no response."""
    chat = messages(record)
    if chat is None:
        return None
    meta = metadata(record, near_duplicate)
    return clean_text(CHAT_ROWS[style](chat, meta))


def uniform_columns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every row with the union of all rows' keys (missing ones ``None``), in first-seen order:
    Arrow takes a table's columns from its first row only."""
    keys = list(dict.fromkeys(k for row in rows for k in row))
    return [{k: row.get(k) for k in keys} for row in rows]
