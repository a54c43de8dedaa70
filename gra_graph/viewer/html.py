"""The viewer's HTML: the overview (graph, rates, plots), the sample table and the provenance
of one sample, as pieces the static report (``gra stats --html``) and the web app share.

Records hold model output, and a model can write anything, markup included: every value
that comes from a record, a run directory or a graph file goes through :func:`esc` (or is
SVG that :mod:`~gra_graph.viewer.svg` and Graphviz escaped). Pages load nothing from anywhere
else: styles are inline and the app's one small script is inline too.
"""

from __future__ import annotations

import difflib
import html
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from gra_graph.state import Record, Revision
from gra_graph.viewer.stats import SCORE_BINS, RunStats, SampleFilter
from gra_graph.viewer.svg import histogram_svg, line_svg

STATIC_SAMPLE_ROWS = 500
"""Samples listed in the static report (the live viewer pages through all of them)."""
PREVIEW_CHARS = 140

CSS = """
body { font-family: sans-serif; margin: 1.5em 2em; color: #222; max-width: 1200px; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
th { background: #f2f0ff; }
.plots { display: flex; flex-wrap: wrap; gap: 0.8em; }
.graph svg { max-width: 100%; height: auto; }
.note { color: #8a5a00; }
.accepted { color: #116611; } .rejected { color: #aa2222; }
pre { background: #f6f6f6; padding: 0.6em; white-space: pre-wrap; word-break: break-word; }
.diff .add { background: #e6ffec; } .diff .del { background: #ffebe9; }
.diff .hunk { color: #6a5acd; }
form.filters label { margin-right: 0.8em; }
form.answer { border-left: 3px solid #6a5acd; padding-left: 0.8em; }
.message { font-weight: bold; }
"""


def esc(value: object) -> str:
    """``value`` as HTML text, quotes included (safe in attributes too)."""
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A table whose cells are already HTML (escape them before)."""
    attr = f' class="{cls}"' if cls else ""
    out = [f"<table{attr}><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows]
    return "\n".join(out) + "</table>"


# ---- the overview


def summary_line(stats: RunStats) -> str:
    o, info = stats.outcome, stats.info
    kept = "" if o.kept_after_dedup is None else f", {o.kept_after_dedup} kept after dedup"
    return (
        f"<p>Run <code>{esc(stats.run_dir)}</code>, graph <b>{esc(info.graph)}</b>, status "
        f'<b id="live-status">{esc(info.status)}</b>: <span id="live-count">{o.seed_samples}'
        f"</span> of {info.total} seed-samples finished, {o.accepted} accepted, {o.rejected} "
        f"rejected{kept}.</p>"
    )


def rates_html(stats: RunStats) -> str:
    o = stats.outcome
    rates = _table(
        ["rate", "value", "of"],
        [
            ["acceptance", _pct(o.acceptance_rate), f"{o.accepted} / {o.seed_samples}"],
            ["adjudication", _pct(o.adjudication_rate), f"{o.adjudicated} / {o.seed_samples}"],
            ["revision", _pct(o.revision_rate), f"{o.revised} / {o.seed_samples}"],
            ["instruction-check pass", _pct(o.check_pass_rate), f"{o.check_passed} / {o.checked}"],
        ],
    )
    reasons = _table(
        ["rejection reason", "samples"],
        [[esc(k), str(v)] for k, v in o.rejection_reasons.items()] or [["(none)", "0"]],
    )
    abstentions = _table(
        ["member", "judgments", "abstained", "abstention rate"],
        [
            [esc(a.member), str(a.judgments), str(a.abstained), _pct(a.rate)]
            for a in stats.abstentions
        ]
        or [["(no judgments yet)", "0", "0", "-"]],
    )
    return (
        f"<h2>Rates</h2>{rates}<h3>Rejections</h3>{reasons}"
        f"<h3>Abstention per member</h3>{abstentions}"
    )


def plots_html(stats: RunStats) -> str:
    labels = [str(i) for i in range(SCORE_BINS)]
    summaries = _table(
        ["dimension", "scores", "mean", "median", "min", "max"],
        [
            [
                esc(s.dimension),
                str(s.count),
                _num(s.mean),
                _num(s.median),
                _num(s.low),
                _num(s.high),
            ]
            for s in stats.scores
        ]
        or [["(no scores yet)", "0", "-", "-", "-", "-"]],
    )
    histograms = "".join(histogram_svg(s.dimension, s.histogram, labels) for s in stats.scores)
    overall = stats.tokens_per_second
    throughput = line_svg(
        "completion tokens/s per record",
        stats.throughput_series(),
        stats.throughput_axis,
        "tokens/s",
    )
    if stats.wall_clock:
        axis = (
            "Each point is one record, placed at the wall-clock time its last call finished, in "
            "seconds since the run's first call finished."
        )
    elif stats.throughput:
        axis = (
            "Not every record carries wall-clock times (records written before calls were "
            "stamped): the x axis is model time, the calls' seconds added up in finishing order."
        )
    else:
        axis = ""
    return (
        f'<h2>Scores per dimension</h2>{summaries}<div class="plots">{histograms}</div>'
        "<h2>Tokens per second over the run</h2>"
        f"<p>{stats.completion_tokens} completion tokens in {stats.model_seconds:g} model "
        f"seconds (the calls' own durations added up; calls that ran at once count in full): "
        f"{_num(overall, 1)} tokens/s. {axis}</p>"
        f'<div class="plots">{throughput}</div>'
    )


def overview_html(stats: RunStats, graph_block: str) -> str:
    """Summary, graph with per-edge counts, rates and plots."""
    notes = "".join(f'<p class="note">note: {esc(n)}</p>' for n in stats.notes)
    counts = stats.counts
    outside = (
        f" ({counts.outside} never entered the graph: their seed could not be annotated)"
        if counts.outside
        else ""
    )
    return (
        summary_line(stats)
        + notes
        + f"<h2>The graph</h2><p>Edges labelled with their rule and the seed-samples that took "
        f"them ({counts.records} records{outside}).</p>{graph_block}"
        + rates_html(stats)
        + plots_html(stats)
    )


# ---- samples


def sample_url(record: Record) -> str:
    return f"/sample/{record.seed_index}/{record.sample_index}"


def _preview(text: str | None) -> str:
    if not text:
        return "<i>(none)</i>"
    flat = " ".join(text.split())
    return esc(flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…")


def samples_table(records: Sequence[Record], link: bool) -> str:
    """One row per sample; with ``link`` each row opens the sample's page."""
    rows = []
    for r in records:
        key = f"{r.seed_index}/{r.sample_index}"
        cell = f'<a href="{esc(sample_url(r))}">{esc(key)}</a>' if link else esc(key)
        rows.append(
            [
                cell,
                str(r.iteration),
                f'<span class="{esc(r.status)}">{esc(r.status)}</span>',
                esc(r.domain),
                _num(r.mu),
                esc(r.reason),
                _preview(r.instruction),
            ]
        )
    head = ["seed/sample", "iteration", "status", "domain", "mu", "reason", "instruction"]
    return _table(head, rows or [["(no samples)", "", "", "", "", "", ""]], "samples")


def filter_form(current: SampleFilter, stats: RunStats) -> str:
    """The sample browser's filter form (GET to /samples)."""

    def select(name: str, options: Sequence[str]) -> str:
        chosen = getattr(current, name)
        opts = ['<option value="">any</option>'] + [
            f'<option value="{esc(o)}"{" selected" if o == chosen else ""}>{esc(o)}</option>'
            for o in options
        ]
        if chosen and chosen not in options:
            opts.append(f'<option value="{esc(chosen)}" selected>{esc(chosen)}</option>')
        return f'<label>{name} <select name="{name}">{"".join(opts)}</select></label>'

    def number(name: str) -> str:
        value = getattr(current, name)
        shown = "" if value is None else f"{value:g}"
        return (
            f'<label>{name.replace("_", " ")} <input name="{name}" size="4" '
            f'value="{esc(shown)}"></label>'
        )

    export = "/export.jsonl" + (f"?{urlencode(current.as_query())}" if current.as_query() else "")
    return (
        '<form class="filters" method="get" action="/samples">'
        + select("status", ["accepted", "rejected"])
        + select("domain", stats.domains)
        + select("member", stats.members)
        + select("reason", stats.reasons)
        + number("min_score")
        + number("max_score")
        + '<button type="submit">filter</button></form>'
        + f'<p><a href="{esc(export)}" download>export this selection as JSONL</a></p>'
    )


def _text_block(title: str, text: str | None) -> str:
    body = f"<pre>{esc(text)}</pre>" if text else "<p><i>(none)</i></p>"
    return f"<h3>{esc(title)}</h3>{body}"


def diff_html(revision: Revision) -> str:
    """The revision as a unified diff (difflib), lines marked added or removed."""
    lines = difflib.unified_diff(
        revision.prior_response.splitlines(),
        revision.new_response.splitlines(),
        fromfile=f"round {revision.round} (before)",
        tofile=f"round {revision.round} (revised)",
        lineterm="",
    )
    out = []
    for line in lines:
        cls = (
            "hunk"
            if line.startswith("@@")
            else "add"
            if line.startswith("+")
            else "del"
            if line.startswith("-")
            else ""
        )
        out.append(f'<span class="{cls}">{esc(line)}</span>' if cls else esc(line))
    return '<pre class="diff">' + ("\n".join(out) or "(no change)") + "</pre>"


def _scores(scores: dict[str, float | int]) -> str:
    return esc(", ".join(f"{k} {v:g}" for k, v in scores.items())) or "-"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _header(r: Record) -> str:
    facts = [
        str(r.iteration),
        esc(r.domain),
        str(r.rounds),
        _num(r.mu),
        str(r.completion_tokens),
        f"{r.seconds:g}",
    ]
    head = ["iteration", "domain", "rounds", "final mu", "completion tokens", "model seconds"]
    return (
        f"<h1>Sample {r.seed_index}/{r.sample_index}</h1>"
        f'<p>Status <b class="{esc(r.status)}">{esc(r.status)}</b>: {esc(r.reason)}</p>'
        + _table(head, [facts])
    )


def _seed(r: Record) -> str:
    if r.seed is None:
        return "<h2>Seed</h2><p><i>(not recorded)</i></p>"
    s = r.seed
    metadata = [[esc(s.domain), esc(", ".join(s.keywords or [])), esc(s.summary)]]
    return (
        "<h2>Seed</h2>"
        + _table(["domain", "keywords", "summary"], metadata)
        + _text_block("Seed instruction", s.instruction)
        + _text_block("Seed response", s.response)
    )


def _roles(r: Record) -> str:
    out = ""
    if r.roles is not None:
        ro = r.roles
        row = [esc(ro.generator), esc(", ".join(ro.reviewers)), esc(ro.adjudicator)]
        out += "<h2>Roles</h2>" + _table(
            ["generator", "reviewers", "adjudicator", "enricher"], [[*row, esc(ro.enricher)]]
        )
    if r.models:
        out += _table(["member", "model"], [[esc(k), esc(v)] for k, v in sorted(r.models.items())])
    return out


def _generated(r: Record) -> str:
    keywords = esc(", ".join(r.keywords)) if r.keywords else "<i>(none)</i>"
    return (
        f"<h2>Generated</h2><p>Keywords: {keywords}</p>"
        + _text_block("Instruction", r.instruction)
        + _text_block("Response (final)", r.response)
        + _text_block("Summary (enrichment)", r.summary)
    )


def _verifications(r: Record) -> str:
    if not r.verifications:
        return ""
    rows = [
        [str(v.round), esc(v.verifier), esc(v.member), esc(v.outcome), _num(v.score),
         _yes(v.vetoed), esc(v.reason)]
        for v in r.verifications
    ]  # fmt: skip
    head = ["round", "verifier", "member", "outcome", "score", "vetoed", "reason"]
    return "<h2>Executable verifiers</h2>" + _table(head, rows)


def _checks(r: Record) -> str:
    rows = [
        [
            esc(c.reviewer),
            _yes(c.abstained),
            esc(", ".join(f"{k} {'pass' if ok else 'FAIL'}" for k, ok in c.criteria.items())),
            esc(", ".join(f"{k} {p:.2f}" for k, p in c.pass_probability.items())),
            esc(c.reason),
            esc(c.error or c.note),
        ]
        for c in r.checks
    ]
    head = ["reviewer", "abstained", "criteria", "P(pass)", "reason", "error"]
    return "<h2>Instruction checks</h2>" + _table(head, rows or [["(no checks)"] + [""] * 5])


def _reviews(r: Record) -> str:
    rows = [
        [str(v.round), esc(v.reviewer), _yes(v.abstained), _scores(v.scores), _num(v.composite),
         esc(v.strengths), esc(v.weaknesses), esc(v.error or v.note)]
        for v in r.reviews
    ]  # fmt: skip
    head = ["round", "reviewer", "abstained", "scores", "composite", "strengths", "weaknesses",
            "error"]  # fmt: skip
    return "<h2>Reviews</h2>" + _table(head, rows or [["(no reviews)"] + [""] * 7])


def _decisions(r: Record) -> str:
    rows = [
        [str(v.round), esc(v.outcome), _num(v.mu), _num(v.sigma), str(v.valid_reviews),
         str(v.abstentions)]
        for v in r.verdicts
    ]  # fmt: skip
    head = ["round", "outcome", "mu", "sigma", "usable reviews", "abstentions"]
    return "<h2>Decisions</h2>" + _table(head, rows or [["(no decision)"] + [""] * 5])


def _adjudication(r: Record) -> str:
    a = r.adjudication
    if a is None:
        return "<h2>Adjudication</h2><p><i>(none)</i></p>" + _human(r)
    row = [esc(a.adjudicator), _yes(a.abstained), _scores(a.scores), _num(a.composite),
           _yes(a.keep), esc(a.rationale), esc(a.error or a.note)]  # fmt: skip
    head = ["adjudicator", "abstained", "scores", "composite", "keep", "rationale", "error"]
    return "<h2>Adjudication</h2>" + _table(head, [row]) + _human(r)


def _human(r: Record) -> str:
    """A person's decision (adjudication: human | model_then_human), when there was one."""
    h = r.human
    if h is None:
        return ""
    row = [esc(h.who), esc(h.decision), esc(h.note), esc(h.original_response),
           esc(h.edited_response or "")]  # fmt: skip
    head = ["who", "decision", "note", "original response", "edited response"]
    return "<h3>Human decision</h3>" + _table(head, [row])


def _revisions(r: Record) -> str:
    if not r.revisions:
        return "<h2>Revisions</h2><p><i>(none)</i></p>"
    out = "<h2>Revisions</h2>"
    for rev in r.revisions:
        feedback = "".join(f"<li>{esc(f)}</li>" for f in rev.feedback)
        out += (
            f"<h3>Round {rev.round} by {esc(rev.reviser)} (prior mu {_num(rev.prior_mu)})</h3>"
            f"<p>Feedback:</p><ul>{feedback}</ul>{diff_html(rev)}"
        )
    return out


def clock_time(stamp: float | None) -> str:
    """A call's ``finished_at`` as UTC ISO 8601 to the millisecond; "-" for an unstamped call."""
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, tz=UTC).isoformat(timespec="milliseconds")


def _calls(r: Record) -> str:
    rows = [
        [esc(c.stage), esc(c.member), esc(c.model_file), str(c.prompt_tokens),
         str(c.completion_tokens), esc(c.finish_reason or "-"), f"{c.seconds:g}",
         clock_time(c.finished_at), str(c.attempts), _yes(c.ok), esc(c.error)]
        for c in r.calls
    ]  # fmt: skip
    head = ["stage", "member", "model", "prompt tokens", "completion tokens", "ended by",
            "seconds", "finished (UTC)", "attempts", "ok", "error"]  # fmt: skip
    return "<h2>Calls</h2>" + _table(head, rows or [["(no calls)"] + [""] * (len(head) - 1)])


SAMPLE_SECTIONS = (
    _header, _seed, _roles, _generated, _verifications, _checks, _reviews, _decisions,
    _adjudication, _revisions, _calls,
)  # fmt: skip
"""The provenance page, top to bottom."""


def sample_html(record: Record) -> str:
    """The whole provenance of one sample: seed, roles, generation, verifiers, checks,
    reviews, decisions, adjudication, revisions (each as a diff) and model calls."""
    return "\n".join(section(record) for section in SAMPLE_SECTIONS)


# ---- whole pages


def page(title: str, body: str, *, nav: bool = False, script: str = "", nonce: str = "") -> str:
    """A whole HTML document; ``script`` (already safe JS) runs under ``nonce``."""
    links = (
        '<nav><a href="/">overview</a><a href="/samples">samples</a>'
        '<a href="/export.jsonl" download>export all (JSONL)</a>'
        '<a href="/waiting">waiting for a person</a></nav>'
        if nav
        else ""
    )
    tag = f'<script nonce="{esc(nonce)}">{script}</script>' if script else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body>{links}{body}{tag}</body></html>\n"
    )


def report_page(stats: RunStats, graph_block: str, records: Sequence[Record]) -> str:
    """``gra stats --html``: one self-contained page, the overview and the sample table."""
    shown = records[:STATIC_SAMPLE_ROWS]
    more = (
        f"<p>The first {len(shown)} of {len(records)} samples; <code>gra view</code> browses "
        "and filters them all.</p>"
        if len(records) > len(shown)
        else ""
    )
    body = (
        f"<h1>Run {esc(stats.info.graph)}</h1>"
        + overview_html(stats, graph_block)
        + f"<h2>Samples</h2>{more}{samples_table(shown, link=False)}"
    )
    return page(f"gra stats: {stats.run_dir}", body)


POLL_SCRIPT = """
(function () {
  var version = %(version)s, every = %(every_ms)d;
  function poll() {
    fetch('/api/state', {cache: 'no-store'}).then(function (r) { return r.json(); })
      .then(function (s) {
        var status = document.getElementById('live-status');
        var count = document.getElementById('live-count');
        if (status) { status.textContent = s.status; }
        if (count) { count.textContent = s.records; }
        if (s.version !== version) {
          version = s.version;
          var target = document.getElementById('%(target)s');
          if (target.dataset.fragment) {
            fetch(target.dataset.fragment + window.location.search, {cache: 'no-store'})
              .then(function (r) { return r.text(); })
              .then(function (t) { target.innerHTML = t; });
          }
        }
      }).catch(function () {}).then(function () { setTimeout(poll, every); });
  }
  setTimeout(poll, every);
})();
"""


def poll_script(version: int, every_s: float, target: str) -> str:
    """The page's only script: poll ``/api/state`` and reload ``target`` from the server
    (which escaped it) when the records changed."""
    return POLL_SCRIPT % {
        "version": json.dumps(version),
        "every_ms": int(every_s * 1000),
        "target": target,
    }


def live_block(target: str, fragment: str, inner: str) -> str:
    """A block the poll script refreshes from ``fragment``."""
    return f'<div id="{target}" data-fragment="{esc(quote(fragment))}">{inner}</div>'
