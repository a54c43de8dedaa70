"""``gra stats`` and ``gra view`` on a run the real Runner made with scripted members.

The run (tests/support/viewer_run.py) has acceptances, rejections, revisions, adjudications,
abstentions and failed instruction checks. Each figure is checked against the records read
independently, as raw JSON, or against ``gra eval``, which computes the same rates.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from itertools import groupby, pairwise
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gra_graph import runlock
from gra_graph.cli import EXIT_INPUT, main
from gra_graph.evaluation.evaluate import evaluate_run
from gra_graph.rundirs import RunDir
from gra_graph.state import Record
from gra_graph.viewer.app import ViewerError, create_app, is_loopback, serve
from gra_graph.viewer.records import RunRecords, load_records
from gra_graph.viewer.report import report_html, run_stats
from gra_graph.viewer.stats import MODEL_TIME_AXIS, WALL_CLOCK_AXIS, SampleFilter
from gra_graph.viewer.svg import histogram_svg, line_svg
from tests.support.helpers import ROOT
from tests.support.viewer_run import viewer_run

LOCAL = "http://127.0.0.1"
EXTERNAL_REF = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return viewer_run(tmp_path_factory.mktemp("viewer"))


def raw_rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]


def copy_run(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    return copy


# ---- figures


def test_the_run_has_every_kind_of_outcome(run: Path):
    rows = raw_rows(run)
    assert len(rows) == 12
    assert {r["status"] for r in rows} == {"accepted", "rejected"}
    assert any(r["adjudication"] for r in rows)
    assert any(r["revisions"] for r in rows)
    assert any(v["abstained"] for r in rows for v in r["reviews"])
    assert any(r["reason"].startswith("instruction check") for r in rows)


def test_stats_rates_are_gra_evals_and_the_rest_match_the_records(run: Path):
    stats = run_stats(run)
    evaluation = evaluate_run(run, embedder=None)
    assert stats.outcome == evaluation.outcome
    assert stats.info.status == "complete"
    rows = raw_rows(run)
    # abstention per member, counted from the raw JSON
    judged, abstained = Counter(), Counter()
    for r in rows:
        for item in r["checks"] + r["reviews"]:
            judged[item["reviewer"]] += 1
            abstained[item["reviewer"]] += item["abstained"]
        if r["adjudication"]:
            judged[r["adjudication"]["adjudicator"]] += 1
            abstained[r["adjudication"]["adjudicator"]] += r["adjudication"]["abstained"]
    assert {a.member: (a.judgments, a.abstained) for a in stats.abstentions} == {
        m: (judged[m], abstained[m]) for m in judged
    }
    r2 = next(a for a in stats.abstentions if a.member == "r2")
    assert r2.abstained > 0 and r2.rate == pytest.approx(r2.abstained / r2.judgments)
    # scores: every non-abstaining review's score in its integer bin
    for summary in stats.scores:
        values = [
            v["scores"][summary.dimension]
            for r in rows
            for v in r["reviews"]
            if not v["abstained"] and summary.dimension in v["scores"]
        ]
        assert summary.count == len(values) == sum(summary.histogram)
        assert summary.histogram == tuple(values.count(i) for i in range(11))
        assert summary.mean == pytest.approx(sum(values) / len(values), abs=1e-3)
        assert (summary.low, summary.high) == (min(values), max(values))
    # throughput: one point per record, with its model time growing and its own tokens/s
    timed = [r for r in rows if r["seconds"] > 0]
    assert len(stats.throughput) == len(timed)
    xs = [p.model_seconds for p in stats.throughput]
    assert xs == sorted(xs)
    first = timed[0]
    assert stats.throughput[0].tokens_per_second == pytest.approx(
        first["completion_tokens"] / first["seconds"]
    )
    assert stats.completion_tokens == sum(r["completion_tokens"] for r in rows)
    # edge counts: every record entered the graph and ended once
    assert stats.counts.records == 12
    assert sum(n for (_, target), n in stats.counts.edges.items() if target == "__end__") == 12


# ---- tokens/s over wall-clock time


def rewrite_records(run_dir: Path, change) -> None:
    """Apply ``change`` to every raw record row of ``run_dir``'s journal, in place."""
    rows = [change(i, row) for i, row in enumerate(raw_rows(run_dir))]
    text = "".join(json.dumps(row) + "\n" for row in rows)
    (run_dir / "records.jsonl").write_text(text, encoding="utf-8")


def unstamped(row: dict) -> dict:
    """``row`` as a record written before calls were stamped: no ``finished_at`` key at all."""
    calls = [{k: v for k, v in c.items() if k != "finished_at"} for c in row["calls"]]
    return {**row, "calls": calls}


def test_every_call_is_stamped_with_the_wall_clock_time_it_finished(run: Path):
    rows = raw_rows(run)
    created = datetime.fromisoformat(json.loads((run / "run.json").read_text())["created"])
    started = created.timestamp() - 1  # run.json's time has whole seconds
    for row in rows:
        assert row["calls"], "every record here made calls"
        stamps = [c["finished_at"] for c in row["calls"]]
        assert all(started <= t <= time.time() for t in stamps), stamps
        # a thread's steps run one after another: every call of a step (one stage; reviewers
        # in parallel, listed in any order) finished before any call of the next step
        steps = [
            [c["finished_at"] for c in calls]
            for _, calls in groupby(row["calls"], key=lambda c: c["stage"])
        ]
        assert len(steps) >= 4  # keywords, instruction, response, checks at least
        for earlier, later in pairwise(steps):
            assert max(earlier) < min(later), (row["seed_index"], row["sample_index"])


def test_tokens_per_second_is_plotted_over_wall_clock_time(run: Path):
    stats = run_stats(run)
    rows = [r for r in raw_rows(run) if r["seconds"] > 0]
    assert stats.wall_clock and stats.throughput_axis == WALL_CLOCK_AXIS
    # x: when the record's last call finished, in seconds since the run's first call finished
    first = min(c["finished_at"] for r in rows for c in r["calls"])
    expected = sorted(
        (max(c["finished_at"] for c in r["calls"]) - first, r["completion_tokens"] / r["seconds"])
        for r in rows
    )
    series = stats.throughput_series()
    assert [x for x, _ in series] == pytest.approx([x for x, _ in expected], abs=1e-3)
    assert [y for _, y in series] == pytest.approx([y for _, y in expected])
    assert series[0][0] > 0  # a record ends after its own first call, the run's first at best
    page = report_html(run)
    assert f"{WALL_CLOCK_AXIS} ({series[0][0]:g} to {series[-1][0]:g})" in page
    assert "placed at the wall-clock time its last call finished" in page


def test_records_without_stamps_are_plotted_over_model_time(run: Path, tmp_path: Path):
    old = copy_run(run, tmp_path)
    rewrite_records(old, lambda i, row: unstamped(row))
    stats = run_stats(old)  # the old records load: their calls' finished_at is None
    loaded = load_records(old)
    assert len(loaded.records) == 12 and loaded.unreadable == 0
    assert all(c.finished_at is None for r in loaded.records for c in r.calls)
    assert not stats.wall_clock and stats.throughput_axis == MODEL_TIME_AXIS
    rows = [r for r in raw_rows(old) if r["seconds"] > 0]
    model_time = [sum(r["seconds"] for r in rows[: i + 1]) for i in range(len(rows))]
    series = stats.throughput_series()
    assert [x for x, _ in series] == pytest.approx(model_time, abs=1e-3)
    assert [y for _, y in series] == pytest.approx(
        [r["completion_tokens"] / r["seconds"] for r in rows]
    )
    page = report_html(old)
    assert f"{MODEL_TIME_AXIS} ({series[0][0]:g} to {series[-1][0]:g})" in page
    assert WALL_CLOCK_AXIS not in page and "carries wall-clock times" in page
    assert not stats.notes  # all old: nothing mixed to warn about


def test_a_run_with_some_unstamped_records_falls_back_to_model_time_with_a_note(
    run: Path, tmp_path: Path
):
    mixed = copy_run(run, tmp_path)
    rewrite_records(mixed, lambda i, row: unstamped(row) if i == 0 else row)
    stats = run_stats(mixed)
    assert not stats.wall_clock and stats.throughput_axis == MODEL_TIME_AXIS
    assert [x for x, _ in stats.throughput_series()] == [p.model_seconds for p in stats.throughput]
    assert any("1 of 12 record(s) carry no wall-clock stamps" in n for n in stats.notes)


def test_gra_stats_prints_the_tables(run: Path, capsys):
    assert main(["stats", str(run)]) == 0
    out = capsys.readouterr().out
    for expected in ("acceptance", "adjudication", "revision", "abstention per member", "r2"):
        assert expected in out
    stats = run_stats(run)
    assert f"{stats.outcome.accepted} / 12" in out


@pytest.mark.parametrize("command", ["stats", "view"])
def test_a_directory_without_a_run_is_one_error_line(tmp_path: Path, capsys, command: str):
    assert (
        main([command, str(tmp_path), "--no-browser"][: 3 if command == "view" else 2])
        == EXIT_INPUT
    )
    err = capsys.readouterr().err
    assert "no run.json" in err and "Traceback" not in err


# ---- the static page


def test_gra_stats_html_is_one_self_contained_page(run: Path, tmp_path: Path, capsys):
    out = tmp_path / "report.html"
    assert main(["stats", str(run), "--html", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert not EXTERNAL_REF.search(text), EXTERNAL_REF.search(text)
    assert "<script" not in text and "@import" not in text and "url(" not in text
    assert "<link" not in text
    # the graph (Graphviz SVG with the edge rules and counts), 6 histograms and the throughput
    assert text.count('<svg class="plot"') == 7
    assert 'class="graph"' in text and "[12 samples]" in text and "mu &gt;= tau = 8.0" in text
    assert "abstention" in text.lower()
    for row in raw_rows(run):  # the sample table lists every sample
        assert f"<td>{row['seed_index']}/{row['sample_index']}</td>" in text


def test_without_graphviz_the_graph_is_text_with_a_note(run: Path, monkeypatch):
    monkeypatch.setattr("gra_graph.drawing.shutil.which", lambda name: None)
    text = report_html(run)
    assert 'class="graph"' not in text
    assert "install the OS package graphviz" in text
    assert "<pre>" in text and "[12 samples]" in text  # Mermaid text and legend, with counts
    assert text.count('<svg class="plot"') == 7  # our own plots need no Graphviz


def test_svg_plots_escape_their_labels_and_handle_no_data():
    svg = histogram_svg("<b>x</b>", [1, 0, 3], ["a", "<i>", "c"])
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "&lt;i&gt;" in svg
    assert svg.count("<rect") == 3
    empty = line_svg("t", [], "x", "y")
    assert "no data yet" in empty and "<polyline" not in empty
    line = line_svg("t", [(0.0, 1.0), (2.0, 3.0)], "x", "y")
    assert line.count("<circle") == 2


# ---- the web app


@pytest.fixture(scope="module")
def client(run: Path) -> TestClient:
    return TestClient(create_app(run), base_url=LOCAL)


def sample_keys(html_text: str) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in re.findall(r'href="/sample/(\d+)/(\d+)"', html_text)}


def test_overview_page_has_the_graph_rates_plots_and_only_its_own_script(client: TestClient):
    response = client.get("/")
    assert response.status_code == 200
    text = response.text
    assert 'class="graph"' in text and "[12 samples]" in text
    assert "Abstention per member" in text and text.count('<svg class="plot"') == 7
    nonce = re.search(r"script-src 'nonce-([^']+)'", response.headers["content-security-policy"])
    assert nonce is not None
    scripts = re.findall(r"<script([^>]*)>", text)
    assert scripts == [f' nonce="{nonce.group(1)}"']
    assert not EXTERNAL_REF.search(text)


def test_state_endpoint(client: TestClient):
    state = client.get("/api/state").json()
    assert state["status"] == "complete" and state["records"] == 12
    assert state["rates"]["acceptance"] == pytest.approx(state["accepted"] / 12, abs=1e-4)


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ({}, lambda r: True),
        ({"status": "rejected"}, lambda r: r["status"] == "rejected"),
        ({"domain": "coding"}, lambda r: r["domain"] == "coding"),
        ({"member": "adj"}, lambda r: r["adjudication"] is not None),
        (
            {"reason": "instruction check"},
            lambda r: r["status"] == "rejected" and r["reason"].startswith("instruction check"),
        ),
        (
            {"min_score": "8", "max_score": "9.5"},
            lambda r: r["verdicts"] and 8 <= r["verdicts"][-1]["mu"] <= 9.5,
        ),
    ],
)
def test_sample_browser_filters_and_export(client: TestClient, run: Path, query, keep):
    expected = {(r["seed_index"], r["sample_index"]) for r in raw_rows(run) if keep(r)}
    page = client.get("/samples", params=query)
    assert page.status_code == 200
    assert sample_keys(page.text) == expected
    export = client.get("/export.jsonl", params=query)
    assert export.status_code == 200
    assert "attachment" in export.headers["content-disposition"]
    exported = [Record.model_validate_json(line) for line in export.text.splitlines()]
    assert {r.key for r in exported} == expected


def test_filters_keep_some_and_drop_some(client: TestClient):
    everyone = sample_keys(client.get("/samples").text)
    assert len(everyone) == 12
    for query in ({"status": "rejected"}, {"member": "adj"}, {"min_score": "8"}):
        assert 0 < len(sample_keys(client.get("/samples", params=query).text)) < 12


def test_a_bad_score_bound_is_a_clear_400(client: TestClient):
    response = client.get("/samples", params={"min_score": "<b>lots</b>"})
    assert response.status_code == 400
    assert "min_score must be a number" in response.text and "<b>lots" not in response.text
    assert client.get("/export.jsonl", params={"max_score": "nan"}).status_code == 400


def test_sample_page_shows_the_whole_provenance(client: TestClient, run: Path):
    rows = raw_rows(run)
    revised = (
        next(r for r in rows if r["revisions"] and r["adjudication"] is None)
        if any(r["revisions"] and r["adjudication"] is None for r in rows)
        else next(r for r in rows if r["revisions"])
    )
    text = client.get(f"/sample/{revised['seed_index']}/{revised['sample_index']}").text
    for heading in (
        "Seed",
        "Instruction checks",
        "Reviews",
        "Decisions",
        "Adjudication",
        "Revisions",
        "Calls",
    ):
        assert f"<h2>{heading}</h2>" in text
    assert ", ".join(revised["keywords"]) in text
    for review in revised["reviews"]:
        assert review["weaknesses"] in text or review["abstained"]
    assert '<pre class="diff">' in text and '<span class="add">+' in text
    assert '<span class="del">-' in text
    for call in revised["calls"]:  # each call's wall-clock finish, in UTC
        finished = datetime.fromtimestamp(call["finished_at"], tz=UTC)
        assert f"<td>{finished.isoformat(timespec='milliseconds')}</td>" in text
    assert "<th>ended by</th>" in text  # how each generation ended: stop, or cut (length)
    ended = {c["finish_reason"] for c in revised["calls"]}
    assert ended <= {"stop", "length"} and "stop" in ended
    assert text.count("<td>stop</td>") == sum(
        c["finish_reason"] == "stop" for c in revised["calls"]
    )
    adjudicated = next(r for r in rows if r["adjudication"])
    text = client.get(f"/sample/{adjudicated['seed_index']}/{adjudicated['sample_index']}").text
    assert "weighed the reviews" in text  # the adjudicator's rationale
    assert client.get("/sample/999/0").status_code == 404


def test_a_request_for_another_host_is_refused(client: TestClient):
    assert client.get("/", headers={"host": "attacker.example"}).status_code == 400


# ---- hostile records


HOSTILE = "<script>alert('x')</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'


def test_model_output_is_escaped_everywhere(run: Path, tmp_path: Path):
    copy = copy_run(run, tmp_path)
    row = raw_rows(run)[0]
    row.update(
        seed_index=999,
        sample_index=0,
        instruction=HOSTILE,
        response=ATTRIBUTE,
        domain="<b>domain</b>",
        reason=f"committee rejects: {HOSTILE}",
        status="rejected",
    )
    row["reviews"][0]["weaknesses"] = ATTRIBUTE
    row["reviews"][0]["reviewer"] = "<i>r1</i>"
    with (copy / "records.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
    client = TestClient(create_app(copy), base_url=LOCAL)
    pages = [
        client.get("/").text,
        client.get("/samples").text,
        client.get("/samples", params={"domain": "<b>domain</b>"}).text,
        client.get("/sample/999/0").text,
        report_html(copy),
    ]
    for text in pages:
        assert HOSTILE not in text and "<img src=x" not in text and "<b>domain" not in text
        assert "<i>r1" not in text
        assert len(re.findall(r"<script", text)) <= 1  # the app's own, with its nonce
    sample = pages[3]
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in sample
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in sample
    assert sample_keys(pages[2]) == {(999, 0)}


# ---- following a running run


def copy_run_cut(run: Path, tmp_path: Path, keep: int) -> tuple[Path, Path, list[bytes]]:
    """A copy of the run whose journal holds only its first ``keep`` records, as a run still
    writing would; returns the copy, its journal and every line the journal had."""
    copy = copy_run(run, tmp_path)
    journal = copy / "records.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:keep]))
    return copy, journal, lines


def test_new_records_show_up_and_a_torn_line_waits(run: Path, tmp_path: Path):
    copy, journal, lines = copy_run_cut(run, tmp_path, 9)
    client = TestClient(create_app(copy, refresh_s=0), base_url=LOCAL)
    before = client.get("/api/state").json()
    assert before["records"] == 9
    last = json.loads(lines[9])
    page = f"/sample/{last['seed_index']}/{last['sample_index']}"
    assert client.get(page).status_code == 404
    with journal.open("ab") as fh:  # half a line: a record still being written
        fh.write(lines[9][:40])
    assert client.get("/api/state").json()["records"] == 9
    with journal.open("ab") as fh:
        fh.write(lines[9][40:] + lines[10])
    after = client.get("/api/state").json()
    assert after["records"] == 11 and after["version"] > before["version"]
    assert client.get(page).status_code == 200
    assert len(sample_keys(client.get("/samples").text)) == 11


def test_the_records_are_read_again_when_the_run_stops_running(run: Path, tmp_path: Path):
    # a run writes its last record, then leaves "running": a page that sees the new status
    # within the read throttle must not show it beside the records of a moment before
    copy, journal, lines = copy_run_cut(run, tmp_path, 9)
    client = TestClient(create_app(copy, refresh_s=3600), base_url=LOCAL)
    lock = runlock.acquire(copy)
    try:
        running = client.get("/api/state").json()
        assert (running["status"], running["records"]) == ("running", 9)
        with journal.open("ab") as fh:
            fh.write(b"".join(lines[9:]))
        assert client.get("/api/state").json()["records"] == 9  # throttled while running
    finally:
        lock.release()
    done = client.get("/api/state").json()
    assert (done["status"], done["records"]) == ("complete", len(lines))


def test_journal_rows_after_reads_only_what_was_appended(tmp_path: Path):
    run_dir = RunDir(tmp_path)
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"a": 1}\nnot json\n{"a": 2}\n{"a": 3')
    rows = list(run_dir.journal_rows_after(path))
    assert [r for _, r in rows] == [{"a": 1}, {"a": 2}]
    offset = rows[-1][0]
    assert offset == len(b'{"a": 1}\nnot json\n{"a": 2}\n')
    with path.open("ab") as fh:
        fh.write(b"}\n")
    assert [r for _, r in run_dir.journal_rows_after(path, offset)] == [{"a": 3}]
    path.write_bytes(b'{"b": 1}\n')  # rewritten shorter: read again from the start
    assert [r for _, r in run_dir.journal_rows_after(path, offset)] == [{"b": 1}]


def test_a_rewritten_journal_is_read_again(run: Path, tmp_path: Path):
    copy = copy_run(run, tmp_path)
    records = RunRecords(copy)
    records.refresh()
    assert len(records.records) == 12
    journal = copy / "records.jsonl"
    journal.write_bytes(b"".join(journal.read_bytes().splitlines(keepends=True)[:3]))
    records.refresh()
    assert len(records.records) == 3


def test_sample_filter_from_a_query():
    chosen = SampleFilter.from_query({"status": "accepted", "min_score": " 7.5 ", "domain": ""})
    assert chosen == SampleFilter(status="accepted", min_score=7.5)
    assert chosen.as_query() == {"status": "accepted", "min_score": "7.5"}


# ---- serving


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool):
    assert is_loopback(host) is loopback


def test_a_non_loopback_host_is_refused_without_allow_remote(run: Path, capsys):
    with pytest.raises(ViewerError, match="--allow-remote"):
        serve(run, "0.0.0.0", 0, open_browser=False)
    assert main(["view", str(run), "--host", "0.0.0.0", "--no-browser"]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "not a loopback address" in err and "Traceback" not in err


def test_gra_view_serves_over_real_http_and_stops(run: Path):
    process = subprocess.Popen(
        [sys.executable, "-m", "gra_graph.cli", "view", str(run), "--port", "0", "--no-browser"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = process.stdout.readline()  # the command prints its address once it is bound
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, (line, process.stderr.read() if process.poll() is not None else "")
        url = match.group(0)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    page = response.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        assert "[12 samples]" in page and "Rates" in page
        with urllib.request.urlopen(url + "api/state", timeout=10) as response:
            assert json.loads(response.read())["records"] == 12
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code in (0, 130), process.stderr.read()


def test_an_ipv6_loopback_host_header_is_answered(run: Path):
    client = TestClient(create_app(run), base_url="http://[::1]:8080")
    assert client.get("/api/state").status_code == 200


def test_a_run_without_its_graph_file_is_drawn_with_counts_only(run: Path, tmp_path: Path):
    copy = copy_run(run, tmp_path)
    manifest = json.loads((copy / "run.json").read_text())
    del manifest["command"]  # as a run started from the Python API
    (copy / "run.json").write_text(json.dumps(manifest))
    text = TestClient(create_app(copy), base_url=LOCAL).get("/").text
    assert "edge rules unknown" in text and "started from the Python API" in text
    assert 'class="graph"' in text and "[12 samples]" in text
    assert "mu &gt;= tau" not in text
    # --graph names the file to read the rules from
    graph = run.parent / "viewer.yaml"
    text = TestClient(create_app(copy, graph), base_url=LOCAL).get("/").text
    assert "mu &gt;= tau = 8.0" in text and "edge rules unknown" not in text
