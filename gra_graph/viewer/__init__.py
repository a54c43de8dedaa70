"""Looking at a run: ``gra stats`` (a terminal table or one self-contained HTML page) and
``gra view`` (a local web app on loopback that follows a run while it writes).

- :mod:`~gra_graph.viewer.records` reads a run's records through ``RunDir``, incrementally;
- :mod:`~gra_graph.viewer.stats` computes the figures and filters the samples;
- :mod:`~gra_graph.viewer.svg` draws the plots as inline SVG (no plotting library);
- :mod:`~gra_graph.viewer.graph` draws the graph with per-edge counts (``drawing.py``);
- :mod:`~gra_graph.viewer.html` writes the pages, every value from a record escaped;
- :mod:`~gra_graph.viewer.table` prints ``gra stats`` in the terminal, and
  :mod:`~gra_graph.viewer.report` writes its static page;
- :mod:`~gra_graph.viewer.waiting` writes the "waiting for a person" page and reads its
  answer form;
- :mod:`~gra_graph.viewer.app` is the starlette app and its uvicorn server.
"""
