"""Paths and graph-file copies shared by the tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def shipped_graph_text(name: str = "gra.yaml") -> str:
    """A shipped graph file's text with prompt paths made absolute, to save it anywhere."""
    text = (ROOT / "graphs" / name).read_text(encoding="utf-8")
    return text.replace("../prompts/", f"{ROOT / 'prompts'}/")
