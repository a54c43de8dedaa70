"""The viewer and the stats page of a real run of the bundled models, in headless Chromium.

A real ``gra run graphs/gra.yaml`` (one seed) writes the run; ``gra stats --html`` and a real
``gra view`` process serve its pages to Chromium, which screenshots them (kept under the test's
temporary folder, ``screenshots/``) and shows the graph with the run's per-edge counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.support.browser import assert_not_blank, chrome, gra, save, served

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_the_pages_of_a_real_run_render_in_a_browser(tmp_path: Path):
    out = tmp_path / "run"
    made = gra(
        "run", "graphs/gra.yaml", "--seeds", "examples/seeds.jsonl", "--out", str(out),
        "--limit", "1", "--quiet", timeout=1800,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    record = json.loads((out / "records.jsonl").read_text().splitlines()[0])
    shots = tmp_path / "screenshots"
    stats = tmp_path / "stats.html"
    assert gra("stats", str(out), "--html", str(stats)).returncode == 0
    driver = chrome()
    try:
        driver.get(stats.as_uri())
        assert_not_blank(save(driver.get_screenshot_as_png(), shots / "stats.png").read_bytes())
        text = driver.find_element(By.TAG_NAME, "body").text
        assert "[1 sample]" in text
        assert "draw_roles" in text and record["status"] in text
        with served(out) as url:
            driver.get(url)
            assert_not_blank(save(driver.get_screenshot_as_png(), shots / "view.png").read_bytes())
            assert "[1 sample]" in driver.find_element(By.TAG_NAME, "body").text
            driver.get(url + "sample/0/0")
            assert_not_blank(
                save(driver.get_screenshot_as_png(), shots / "sample.png").read_bytes()
            )
            headings = [h.text for h in driver.find_elements(By.TAG_NAME, "h2")]
            assert "Calls" in headings and "Seed" in headings
    finally:
        driver.quit()
    assert sorted(p.name for p in shots.iterdir()) == ["sample.png", "stats.png", "view.png"]
