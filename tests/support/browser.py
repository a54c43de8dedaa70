"""Headless Chromium for the browser tests and the README screenshots: the driver, a PNG check
that a screenshot is not blank (decoded with the standard library), the ``gra`` command as a
subprocess, and ``gra view`` served on a free loopback port.

The driver is the system's ``chromedriver`` (Debian: ``apt-get install chromium
chromium-driver``), passed to Selenium by path: Selenium never downloads a driver. A missing
browser or driver is a failure that says how to install them, not a skip: the README's second
command and ``.ci/run`` install both.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.helpers import ROOT, stop_process

WINDOW = (1200, 900)
"""The browser window, in CSS pixels: screenshots are this size."""
INSTALL_HINT = (
    "the browser tests need Chromium and its driver: apt-get install -y chromium "
    "chromium-driver (the README's second command and .ci/run install them when missing)"
)


def chromium_paths() -> tuple[str, str]:
    """The browser and driver executables; fails the test with :data:`INSTALL_HINT` when
    either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing = " and ".join(
            n for n, p in (("chromium", browser), ("chromedriver", driver)) if p is None
        )
        pytest.fail(f"{missing} not found on PATH; {INSTALL_HINT}", pytrace=False)
    return browser, driver


def chrome(window: tuple[int, int] = WINDOW) -> webdriver.Chrome:
    """A headless Chromium driven through the system chromedriver (no driver download)."""
    browser, driver = chromium_paths()
    os.environ["SE_OFFLINE"] = "true"  # belt and braces: never let selenium-manager fetch
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI containers run as root, where Chromium's sandbox cannot start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--window-size={window[0]},{window[1]}",
    ):
        options.add_argument(flag)
    driver_ = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    # the window's size includes no browser frame headless, but pin the viewport anyway
    metrics = {"width": window[0], "height": window[1], "deviceScaleFactor": 1, "mobile": False}
    driver_.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    return driver_


def click_and_load(driver: webdriver.Chrome, element: WebElement, timeout: float = 30) -> None:
    """Click a link or submit button and wait until the next page has loaded (reading the
    page before the old one is gone would see stale elements)."""
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,)).until(
        expected_conditions.staleness_of(old)
    )  # mid-navigation chromedriver may report the old node as "not in the document": retry
    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


@dataclass(frozen=True)
class PngLook:
    """What a screenshot shows, roughly: its size, distinct colours, share of non-white."""

    width: int
    height: int
    colours: int
    non_white: float


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> bytearray:
    """PNG scanlines without their per-line filters (PNG spec, section 9)."""
    stride = width * bpp
    out = bytearray(stride * height)
    prev = bytearray(stride)
    pos = 0
    for y in range(height):
        kind = raw[pos]
        line = bytearray(raw[pos + 1 : pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = prev[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                corner = prev[i - bpp] if i >= bpp else 0
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        out[y * stride : (y + 1) * stride] = line
        prev = line
    return out


def png_look(png: bytes, step: int = 3) -> PngLook:
    """Decode an 8-bit RGB or RGBA PNG (what Chromium writes) and sample every ``step``-th
    pixel of every ``step``-th row."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, bytearray(), b""
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            idat += data
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}")
    bpp = 4 if colour == 6 else 3
    pixels = _unfilter(zlib.decompress(bytes(idat)), width, height, bpp)
    seen: set[bytes] = set()
    total = white = 0
    for y in range(0, height, step):
        row = y * width * bpp
        for x in range(0, width, step):
            rgb = bytes(pixels[row + x * bpp : row + x * bpp + 3])
            seen.add(rgb)
            total += 1
            white += rgb == b"\xff\xff\xff"
    return PngLook(width, height, len(seen), 1 - white / total)


def assert_not_blank(png: bytes, min_colours: int = 8, min_ink: float = 0.01) -> PngLook:
    """The screenshot shows something: several colours and some share of non-white pixels."""
    look = png_look(png)
    assert look.colours >= min_colours and look.non_white >= min_ink, look
    return look


def gra(*args: str, fake: bool = False, env: dict[str, str] | None = None, timeout: float = 120):
    """``gra ARGS`` in a subprocess from the repository root (``fake``: scripted members,
    ``tests.support.cli_fake``); the completed process."""
    module = "tests.support.cli_fake" if fake else "gra_graph.cli"
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextmanager
def served(run_dir: Path, *options: str) -> Iterator[str]:
    """``gra view RUN_DIR [OPTIONS]`` as a real process on a free loopback port; yields its
    address."""
    command = ["view", str(run_dir), "--port", "0", "--no-browser", *options]
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "gra_graph.cli", *command],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if not match:
            process.kill()
            raise AssertionError(f"gra view did not start: {line}{process.communicate()[1]}")
        yield match.group(0)
    finally:
        stop_process(process, timeout=30)


def save(png: bytes, path: Path) -> Path:
    """Write a screenshot (creating its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return path
