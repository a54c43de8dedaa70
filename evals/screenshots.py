"""The README's screenshots: headless Chromium (as the browser tests drive it) opens each page
and writes a PNG of its first screen (1200x900).

    python evals/screenshots.py --run runs/demo --waiting runs/human --out docs/img

(from the repository root: the pages show the paths as given).
writes ``draw.png`` (``gra draw GRAPH --format html``), ``stats.png`` (``gra stats RUN
--html``), ``view.png`` and ``sample.png`` (``gra view RUN``: the overview and the first
sample) and, with ``--waiting``, ``waiting.png`` (the "Waiting for a person" page of a run
with samples waiting). Needs Chromium and chromedriver (the README's second command installs
them) and the test extra (Selenium).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.browser import assert_not_blank, chrome, gra, served  # noqa: E402


def first_key(run: Path) -> str:
    """``SEED/SAMPLE`` of the run's first record."""
    with (run / "records.jsonl").open(encoding="utf-8") as lines:
        row = json.loads(next(lines))
    return f"{row['seed_index']}/{row['sample_index']}"


def shoot(driver, url: str, path: Path) -> None:
    """Open ``url`` and write its first screen to ``path`` (checked not blank)."""
    driver.get(url)
    png = driver.get_screenshot_as_png()
    assert_not_blank(png)
    path.write_bytes(png)
    print(f"{path}: {len(png) // 1024} KB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graph", type=Path, default=Path("graphs/gra.yaml"))
    parser.add_argument("--run", type=Path, required=True, help="a run directory")
    parser.add_argument("--waiting", type=Path, help="a run with samples waiting for a person")
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    driver = chrome()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, command in (
                ("draw", ["draw", str(args.graph), "--format", "html", "--out"]),
                ("stats", ["stats", str(args.run), "--graph", str(args.graph), "--html"]),
            ):
                page = Path(tmp) / f"{name}.html"
                made = gra(*command, str(page))
                if made.returncode != 0:
                    sys.exit(f"gra {' '.join(command)} failed: {made.stderr}")
                shoot(driver, page.as_uri(), args.out / f"{name}.png")
        with served(args.run, "--graph", str(args.graph)) as url:
            shoot(driver, url, args.out / "view.png")
            shoot(driver, f"{url}sample/{first_key(args.run)}", args.out / "sample.png")
        if args.waiting is not None:
            with served(args.waiting) as url:
                shoot(driver, url + "waiting", args.out / "waiting.png")
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
