"""``gra view``: the run viewer as a starlette app, served by uvicorn on loopback.

Pages: ``/`` (graph with per-edge counts, rates, plots), ``/samples`` (the sample browser and
its filters), ``/sample/{seed}/{sample}`` (one sample's provenance), ``/export.jsonl`` (the
filtered records as a JSONL download), ``/waiting`` (the samples waiting for a person, each with
a form that POSTs its answer to ``/answer``), and ``/api/state``, the small JSON the pages poll
to follow a running run. Each request re-reads only what was appended to ``records.jsonl``
(:class:`~gra_graph.viewer.records.RunRecords`), at most once per ``refresh_s``.

It is a local tool: it binds loopback unless told otherwise, answers only requests whose Host
header names the address it serves (a web page elsewhere cannot reach it through DNS
rebinding), and sends a content security policy that runs no script but its own. The one
request that writes, ``POST /answer``, must carry the server's random token (embedded in the
page) and, when the browser sends an ``Origin``, come from the viewer's own origin.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import socket
import threading
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from gra_graph import human
from gra_graph.viewer.graph import GraphSource, graph_html, graph_source, run_drawing
from gra_graph.viewer.html import (
    esc,
    filter_form,
    live_block,
    overview_html,
    page,
    poll_script,
    sample_html,
    samples_table,
    summary_line,
)
from gra_graph.viewer.records import RunRecords
from gra_graph.viewer.stats import FilterError, RunStats, SampleFilter, compute_stats
from gra_graph.viewer.waiting import FormError, read_answer_form, waiting_html

POLL_S = 3.0
"""How often the pages ask /api/state whether the run wrote new records."""
SAMPLE_PAGE_ROWS = 500
"""Samples listed on one page of the browser (the export has every match)."""
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
"""Host header values the viewer answers by default (an IPv6 address comes in brackets)."""
SAMPLE_KEY = re.compile(r"\d{1,9}-\d{1,9}")


class ViewerError(ValueError):
    """The viewer cannot be served as asked (a non-loopback address without --allow-remote)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback interface only."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RunView:
    """What the app serves: one run's records and figures, refreshed as the run writes."""

    def __init__(
        self, run_dir: str | Path, graph_file: Path | None = None, refresh_s: float = 1.0
    ) -> None:
        self.records = RunRecords(run_dir)
        self.source: GraphSource = graph_source(run_dir, graph_file)
        self.refresh_s = refresh_s
        self._lock = threading.Lock()  # sync endpoints run in a thread pool
        self._read_at = -float("inf")
        self._status_read: str | None = None
        self._stats: RunStats | None = None
        self._stats_key: tuple[int, str] | None = None
        self._graph: tuple[tuple[Any, ...], str] | None = None

    def refresh(self) -> RunStats:
        """Read new records (at most once per ``refresh_s``, and whenever the run's status
        changed) and the figures over them."""
        with self._lock:
            now = time.monotonic()
            # the status is read first: a run writes its last record before it leaves
            # "running", so records read after a status change are never older than it
            status = self.records.run.status()
            if status != self._status_read or now - self._read_at >= self.refresh_s:
                self.records.refresh()
                self._read_at = now
                self._status_read = status
            key = (self.records.version, status)
            if self._stats is None or key != self._stats_key:
                self._stats = compute_stats(self.records)
                self._stats_key = key
            return self._stats

    def graph_block(self, stats: RunStats) -> str:
        """The graph drawing, re-rendered only when the edge counts changed."""
        key = tuple(sorted(stats.counts.edges.items()))
        with self._lock:
            if self._graph is None or self._graph[0] != key:
                drawing = run_drawing(self.source, stats.counts, stats.info.graph)
                block = graph_html(drawing)
                if self.source.note:
                    block = f'<p class="note">{esc(self.source.note)}</p>{block}'
                self._graph = (key, block)
            return self._graph[1]


def _html(body: str, status_code: int = 200, nonce: str = "") -> HTMLResponse:
    script = f"'nonce-{nonce}'" if nonce else "'none'"
    response = HTMLResponse(body, status_code=status_code)
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src {script}; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def create_app(
    run_dir: str | Path,
    graph_file: Path | None = None,
    *,
    allowed_hosts: list[str] | None = None,
    refresh_s: float = 1.0,
) -> Starlette:
    """The viewer of the run in ``run_dir``.

    Args:
        run_dir: a run directory (it may still be running).
        graph_file: the graph file whose rules label the edges (default: the run's own).
        allowed_hosts: Host header values answered (default: the loopback names).
        refresh_s: the least time between two reads of the records journal.

    Raises:
        RunInfoError: ``run_dir`` is not a readable run directory.
    """
    view = RunView(run_dir, graph_file, refresh_s)
    view.refresh()  # a directory that is not a run fails here, before serving
    token = secrets.token_urlsafe(24)  # in every answer form; another site cannot read it

    def live_page(title: str, target: str, fragment: str, inner: str, stats: RunStats) -> Response:
        nonce = secrets.token_urlsafe(16)
        script = poll_script(view.records.version, POLL_S, target)
        body = live_block(target, fragment, inner)
        return _html(page(title, body, nav=True, script=script, nonce=nonce), nonce=nonce)

    def overview_fragment() -> str:
        stats = view.refresh()
        return overview_html(stats, view.graph_block(stats))

    def samples_fragment(request: Request) -> tuple[str, int]:
        stats = view.refresh()
        try:
            chosen = SampleFilter.from_query(request.query_params)
        except FilterError as exc:
            return f'<p class="note">{esc(exc)}</p>' + filter_form(SampleFilter(), stats), 400
        matches = chosen.select(view.records.records)
        shown = matches[:SAMPLE_PAGE_ROWS]
        more = (
            f"<p>The first {len(shown)} of {len(matches)} matches; the export has them all.</p>"
            if len(matches) > len(shown)
            else f"<p>{len(matches)} of {len(view.records.records)} samples match.</p>"
        )
        return summary_line(stats) + filter_form(chosen, stats) + more + samples_table(
            shown, link=True
        ), 200

    def index(request: Request) -> Response:
        stats = view.refresh()
        return live_page("gra view", "overview", "/fragment/overview", overview_fragment(), stats)

    def overview(request: Request) -> Response:
        return _html(overview_fragment())

    def samples(request: Request) -> Response:
        inner, code = samples_fragment(request)
        if code != 200:
            return _html(page("gra view: samples", inner, nav=True), code)
        stats = view.refresh()
        return live_page("gra view: samples", "samples", "/fragment/samples", inner, stats)

    def samples_only(request: Request) -> Response:
        inner, code = samples_fragment(request)
        return _html(inner, code)

    def sample(request: Request) -> Response:
        view.refresh()
        key = (int(request.path_params["seed"]), int(request.path_params["sample"]))
        record = view.records.by_key.get(key)
        if record is None:
            body = f"<p>No sample {key[0]}/{key[1]} in this run (yet).</p>"
            return _html(page("gra view: no such sample", body, nav=True), 404)
        return _html(page(f"gra view: sample {key[0]}/{key[1]}", sample_html(record), nav=True))

    def export(request: Request) -> Response:
        view.refresh()
        try:
            chosen = SampleFilter.from_query(request.query_params)
        except FilterError as exc:
            return Response(f"{exc}\n", status_code=400, media_type="text/plain")
        lines = "".join(r.model_dump_json() + "\n" for r in chosen.select(view.records.records))
        return Response(
            lines,
            media_type="application/x-ndjson",
            headers={
                "Content-Disposition": 'attachment; filename="gra-samples.jsonl"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    def state(request: Request) -> Response:
        stats = view.refresh()
        o = stats.outcome
        return JSONResponse(
            {
                "status": stats.info.status,
                "version": view.records.version,
                "records": o.seed_samples,
                "expected": stats.info.total,
                "accepted": o.accepted,
                "rejected": o.rejected,
                "rates": stats.rates,
            },
            headers={"Cache-Control": "no-store"},
        )

    def waiting_page(message: str = "", status_code: int = 200) -> Response:
        items = human.waiting(view.records.run.path)
        body = waiting_html(items, token, str(view.records.run.path), message)
        return _html(page("gra view: waiting for a person", body, nav=True), status_code)

    def waiting(request: Request) -> Response:
        key = request.query_params.get("answered", "")
        told = f"Answer recorded for sample {key}." if SAMPLE_KEY.fullmatch(key) else ""
        return waiting_page(told)

    async def answer(request: Request) -> Response:
        origin = request.headers.get("origin")
        # "null": the pages' Referrer-Policy (no-referrer) makes a browser send that on a form
        # post; the token, which no other page can read, still has to match
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
            return _html(page("gra view: refused", "<p>Cross-site answer refused.</p>"), 403)
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind != "application/x-www-form-urlencoded":
            return await run_in_threadpool(
                waiting_page, f"refused: the answer must be a form post, not {kind!r}", 400
            )
        try:
            form = read_answer_form(await request.body(), token)
            await run_in_threadpool(
                human.record_answer,
                view.records.run.path,
                form.key,
                form.decision,
                form.edited_response,
                who=form.who,
                note=form.note,
            )
        except FormError as exc:
            code = 403 if exc.forbidden else 400
            return await run_in_threadpool(waiting_page, f"refused: {exc}", code)
        except human.AnswerError as exc:
            return await run_in_threadpool(waiting_page, f"refused: {exc}", 400)
        return RedirectResponse(f"/waiting?answered={form.key}", status_code=303)

    routes = [
        Route("/", index),
        Route("/fragment/overview", overview),
        Route("/samples", samples),
        Route("/fragment/samples", samples_only),
        Route("/sample/{seed:int}/{sample:int}", sample),
        Route("/export.jsonl", export),
        Route("/waiting", waiting),
        Route("/answer", answer, methods=["POST"]),
        Route("/api/state", state),
    ]
    hosts = allowed_hosts if allowed_hosts is not None else list(LOOPBACK_NAMES)
    return Starlette(
        routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)]
    )


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (port 0: any free port)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host.strip("[]"), port, type=socket.SOCK_STREAM
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    return sock


def url_for(sock: socket.socket) -> str:
    """The address a browser opens for a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(
    run_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    allow_remote: bool = False,
    open_browser: bool = True,
    graph_file: Path | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve the viewer of ``run_dir`` until interrupted (Ctrl-C or SIGTERM).

    Raises:
        ViewerError: ``host`` is not loopback and ``allow_remote`` is not set.
        RunInfoError: ``run_dir`` is not a readable run directory.
        OSError: the address cannot be bound (in use, not this machine's).
    """
    import uvicorn

    if not allow_remote and not is_loopback(host):
        raise ViewerError(
            f"--host {host} is not a loopback address: the viewer shows every record of the "
            "run to whoever reaches it; pass --allow-remote to serve it there anyway"
        )
    bare = host.strip("[]")
    hosts = ["*"] if allow_remote else [*LOOPBACK_NAMES, f"[{bare}]" if ":" in bare else bare]
    app = create_app(run_dir, graph_file, allowed_hosts=hosts)
    sock = _bind(host, port)
    url = url_for(sock)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    announce(f"gra view: serving {run_dir} at {url} (Ctrl-C stops)")
    if open_browser:
        threading.Timer(0.5, webbrowser.open, [url]).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
