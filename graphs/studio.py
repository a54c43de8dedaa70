"""The graphs ``langgraph dev`` serves (``langgraph.json`` names them): one per graph file.

Each is built when the server starts, from its graph file and prompt files; no model loads
until a run needs it (see :mod:`gra_graph.studio`). A graph whose models are not installed
still registers; its first run fails at the first member it needs, saying what to install.
"""

from __future__ import annotations

from pathlib import Path

from gra_graph.studio import studio_graph

HERE = Path(__file__).resolve().parent

gra = studio_graph(HERE / "gra.yaml")
"""graphs/gra.yaml: the paper's GRA on the two bundled models (smollm2-135m, gemma3-270m)."""

gra_qwen = studio_graph(HERE / "gra_qwen.yaml")
"""graphs/gra_qwen.yaml: a Qwen2.5-Coder 0.5B/1.5B committee (extra ``qwen``)."""

gra_human = studio_graph(HERE / "gra.yaml", {"name": "gra-human", "adjudication": "human"})
"""graphs/gra.yaml with ``adjudication: human``: a conflict waits for a person (an interrupt)."""
