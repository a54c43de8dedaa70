"""The pages in a real browser: headless Chromium (Selenium, the system chromedriver) opens
``gra draw --format html``, ``gra stats --html`` and a real ``gra view`` process, screenshots
each page (checked not blank) and drives the forms: the sample filter and a person's answer to
a waiting conflict, which ``gra resume`` then applies once.

The runs are the real Runner on scripted members (tests/support/viewer_run.py; and
``tests.support.cli_fake`` with ``GRA_FAKE_CONFLICT=1`` for the conflicts). A missing
Chromium or chromedriver fails these tests with how to install them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.support.browser import (
    assert_not_blank,
    chrome,
    click_and_load,
    gra,
    png_look,
    served,
)
from tests.support.fakes import coding_seeds
from tests.support.helpers import ROOT, scripted_graph_text
from tests.support.viewer_run import viewer_run

pytestmark = pytest.mark.browser

NODES = ("draw_roles", "write_instruction", "check_instruction", "score_response", "decide")
RULES = ("mu >= tau = 8.0 and sigma > delta = 1.5", "any reviewer fails a check")


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    driver = chrome()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return viewer_run(tmp_path_factory.mktemp("browser"))


def body_text(driver: webdriver.Chrome) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def rows(driver: webdriver.Chrome) -> list[list[str]]:
    """The sample table's rows, as cell texts."""
    table = driver.find_element(By.CSS_SELECTOR, "table.samples")
    return [
        [c.text for c in tr.find_elements(By.TAG_NAME, "td")]
        for tr in table.find_elements(By.TAG_NAME, "tr")
        if tr.find_elements(By.TAG_NAME, "td")
    ]


def test_a_blank_page_is_seen_as_blank(browser: webdriver.Chrome):
    browser.get("about:blank")
    png = browser.get_screenshot_as_png()
    look = png_look(png)
    assert (look.width, look.height, look.colours, look.non_white) == (1200, 900, 1, 0.0)
    with pytest.raises(AssertionError):
        assert_not_blank(png)


def test_the_drawing_page_renders_nodes_and_rules(browser: webdriver.Chrome, tmp_path: Path):
    page = tmp_path / "gra.html"
    made = gra("draw", "graphs/gra.yaml", "--format", "html", "--out", str(page))
    assert made.returncode == 0, made.stderr
    browser.get(page.as_uri())
    assert_not_blank(browser.get_screenshot_as_png())
    text = body_text(browser)
    for name in (*NODES, *RULES):
        assert name in text


def test_the_stats_page_renders_the_graph_with_edge_counts(
    browser: webdriver.Chrome, run: Path, tmp_path: Path
):
    page = tmp_path / "stats.html"
    made = gra("stats", str(run), "--html", str(page))
    assert made.returncode == 0, made.stderr
    browser.get(page.as_uri())
    assert_not_blank(browser.get_screenshot_as_png())
    text = body_text(browser)
    for name in NODES:
        assert name in text
    counts = [int(n) for n in re.findall(r"\[(\d+) samples?\]", text)]
    assert counts and max(counts) <= 12  # per-edge counts of the run's 12 seed-samples
    assert "acceptance" in text


def test_the_viewer_filters_and_opens_samples_in_the_browser(browser: webdriver.Chrome, run: Path):
    records = [json.loads(x) for x in (run / "records.jsonl").read_text().splitlines()]
    with served(run) as url:
        browser.get(url)
        assert_not_blank(browser.get_screenshot_as_png())
        assert "[12 samples]" in body_text(browser)
        click_and_load(browser, browser.find_element(By.LINK_TEXT, "samples"))
        assert len(rows(browser)) == 12
        for status in ("rejected", "accepted"):
            Select(browser.find_element(By.NAME, "status")).select_by_value(status)
            click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button"))
            shown = rows(browser)
            assert f"status={status}" in browser.current_url
            assert len(shown) == sum(r["status"] == status for r in records) > 0
            assert {r[2] for r in shown} == {status}
        domain = records[0]["domain"]
        Select(browser.find_element(By.NAME, "status")).select_by_value("")
        Select(browser.find_element(By.NAME, "domain")).select_by_value(domain)
        click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button"))
        assert {r[3] for r in rows(browser)} == {domain}
        assert len(rows(browser)) == sum(r["domain"] == domain for r in records)
        first = browser.find_element(By.CSS_SELECTOR, "table.samples td a")
        key = first.text
        click_and_load(browser, first)
        assert browser.current_url.endswith("/sample/" + key)
        assert_not_blank(browser.get_screenshot_as_png())
        headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
        for heading in ("Seed", "Reviews", "Decisions", "Calls"):
            assert heading in headings


def conflict_run(tmp: Path) -> Path:
    """A run of ``gra run`` (scripted, every review a conflict, ``adjudication: human``) that
    ends paused with two samples waiting."""
    graph = tmp / "human.yaml"
    graph.write_text(scripted_graph_text("human", "adjudication: human\n"), encoding="utf-8")
    seeds = tmp / "seeds.jsonl"
    seeds.write_text("".join(s.model_dump_json() + "\n" for s in coding_seeds(2)))
    out = tmp / "run"
    first = gra(
        "run", str(graph), "--seeds", str(seeds), "--out", str(out), "--quiet",
        fake=True, env={"GRA_FAKE_CONFLICT": "1"},
    )  # fmt: skip
    assert first.returncode == 3 and "2 sample(s) waiting" in first.stderr, first.stderr
    return out


def test_a_person_answers_in_the_browser_and_resume_applies_it_once(
    browser: webdriver.Chrome, tmp_path: Path
):
    out = conflict_run(tmp_path)
    with served(out) as url:
        browser.get(url + "waiting")
        assert_not_blank(browser.get_screenshot_as_png())
        assert "2 waiting, 2 not answered yet" in body_text(browser)
        assert f"gra resume {out}" in body_text(browser)
        keep = browser.find_element(By.ID, "answer-0-0")
        keep.find_element(By.CSS_SELECTOR, "input[value=keep]").click()
        name = keep.find_element(By.NAME, "who")
        name.clear()
        name.send_keys("ana")
        click_and_load(browser, keep.find_element(By.TAG_NAME, "button"))
        assert "Answer recorded for sample 0-0." in body_text(browser)
        edit = browser.find_element(By.ID, "answer-1-0")
        edit.find_element(By.CSS_SELECTOR, "input[value=edit]").click()
        box = edit.find_element(By.NAME, "edited_response")
        box.clear()
        box.send_keys("An answer <b>edited</b> in the browser.")
        click_and_load(browser, edit.find_element(By.TAG_NAME, "button"))
        assert "2 waiting, 0 not answered yet" in body_text(browser)
    answers = [json.loads(x) for x in (out / "answers.jsonl").read_text().splitlines()]
    assert [(a["thread_id"], a["decision"], a["who"], a["edited_response"]) for a in answers] == [
        ("0-0", "keep", "ana", None),
        ("1-0", "edit", "viewer", "An answer <b>edited</b> in the browser."),
    ]
    for _ in range(2):  # the second resume finds nothing left to apply
        resumed = gra("resume", str(out), "--quiet", fake=True, env={"GRA_FAKE_CONFLICT": "1"})
        assert resumed.returncode == 0, resumed.stderr
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert sorted((r["seed_index"], r["human"]["decision"]) for r in records) == [
        (0, "keep"),
        (1, "edit"),
    ]
    assert records[[r["seed_index"] for r in records].index(1)]["response"] == (
        "An answer <b>edited</b> in the browser."
    )
    assert json.loads((out / "run.json").read_text())["status"] == "complete"


def test_ci_and_the_readme_install_chromium_with_the_same_command():
    ci = ROOT.joinpath(".ci", "run").read_text().splitlines()[-1]
    assert "apt-get install -y -qq graphviz chromium chromium-driver" in ci
    assert "command -v chromium && command -v chromedriver" in ci
    assert ci in ROOT.joinpath("README.md").read_text()


def test_a_missing_driver_fails_saying_how_to_install_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("tests.support.browser.shutil.which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium chromium-driver"):
        chrome()
