"""What kind of fault a failed call attempt was, and how long to wait before the next attempt.

An in-process member fails by raising (``exception``) or by not answering in time
(``timeout``). A served member (:mod:`gra_graph.llm.served`) also fails on the way there and
back, and those faults get their own kinds (:data:`~gra_graph.state.FAULT_KINDS`):

==================  =====================================================================
kind                what happened
==================  =====================================================================
``connection``      the server could not be reached (refused, reset, name not found)
``timeout``         no reply within the HTTP client's timeout (or the call timeout)
``rate_limit``      HTTP 429: the server asks to slow down; the next attempt waits
``server_error``    HTTP 5xx: the server failed; the next attempt waits
``client_error``    another HTTP 4xx: bad key, unknown model, a request the server refused
``malformed_body``  a reply whose body is not a chat completion (not JSON, wrong shape)
==================  =====================================================================

The exception is read by its type's name along its ``__cause__``/``__context__`` chain and by
its ``status_code`` (the OpenAI client's, httpx's and most HTTP clients' errors carry one), so
no HTTP library is imported here and any LangChain chat model's transport errors are read the
same way. What matches nothing stays ``exception``.

Example:
    >>> classify_exception(ConnectionRefusedError(111, "Connection refused"))
    'connection'
    >>> classify_exception(ValueError("something else"))
    'exception'
"""

from __future__ import annotations

import json
from collections.abc import Iterator

BACKOFF_BASE_S = 0.5
"""The wait before the second attempt after a transient fault; it doubles with each attempt."""

BACKOFF_MAX_S = 30.0
"""The longest wait between attempts, also for a server's ``Retry-After``."""

TRANSIENT_KINDS = frozenset({"rate_limit", "server_error", "connection"})
"""Faults worth waiting out before the next attempt (a retry at once would likely fail too)."""

_TIMEOUT_NAMES = frozenset({"TimeoutError", "APITimeoutError", "TimeoutException", "ReadTimeout"})
_CONNECTION_NAMES = frozenset(
    {"ConnectionError", "APIConnectionError", "ConnectError", "RemoteProtocolError"}
)
_MALFORMED_NAMES = frozenset(
    {"JSONDecodeError", "APIResponseValidationError", "DecodingError", "MalformedReplyError"}
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or during (at most 8, loops cut)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def status_code(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (its own, or its response's), if any."""
    for candidate in (exc, getattr(exc, "response", None)):
        status = getattr(candidate, "status_code", None)
        if isinstance(status, int) and 100 <= status < 600:
            return status
    return None


def classify_exception(exc: BaseException) -> str:
    """The fault kind of an exception a member's call raised (see the module docstring)."""
    for link in _chain(exc):
        status = status_code(link)
        if status == 429:
            return "rate_limit"
        if status is not None and status >= 500:
            return "server_error"
        if status is not None and status >= 400:
            return "client_error"
        names = _names(link)
        if names & _TIMEOUT_NAMES:
            return "timeout"
        if names & _MALFORMED_NAMES or isinstance(link, json.JSONDecodeError):
            return "malformed_body"
        if names & _CONNECTION_NAMES:
            return "connection"
    return "exception"


def retry_after(exc: BaseException) -> float | None:
    """Seconds a server's ``Retry-After`` header asks for (numeric form only), if any."""
    for link in _chain(exc):
        headers = getattr(getattr(link, "response", None), "headers", None)
        value = headers.get("retry-after") if headers is not None else None
        if value is None:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            return None  # an HTTP date: fall back to the exponential wait
    return None


def backoff_seconds(kind: str, attempt: int, exc: BaseException | None = None) -> float:
    """How long to wait after failed attempt number ``attempt`` (1-based) of ``kind``.

    Transient faults wait ``BACKOFF_BASE_S * 2 ** (attempt - 1)``, or what the server's
    ``Retry-After`` asks, at most ``BACKOFF_MAX_S``; every other fault is retried at once.

    Example:
        >>> backoff_seconds("rate_limit", 1), backoff_seconds("rate_limit", 3)
        (0.5, 2.0)
        >>> backoff_seconds("schema", 2)
        0.0
    """
    if kind not in TRANSIENT_KINDS:
        return 0.0
    asked = retry_after(exc) if exc is not None else None
    wait = asked if asked is not None else BACKOFF_BASE_S * 2 ** (attempt - 1)
    return min(wait, BACKOFF_MAX_S)


__all__ = [
    "BACKOFF_BASE_S",
    "BACKOFF_MAX_S",
    "TRANSIENT_KINDS",
    "backoff_seconds",
    "classify_exception",
    "retry_after",
    "status_code",
]
