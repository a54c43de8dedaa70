"""``gra export``: a finished (or running) run's records written as training datasets.

- :mod:`.source` reads a run directory: its records (validated, each seed-sample once), which
  accepted samples the near-duplicate pass dropped, and what the run was (graph, settings).
- :mod:`.rows` turns one record into a row of each format (flat, ShareGPT, Alpaca, ChatML,
  OpenAI fine-tuning).
- :mod:`.pairs` builds DPO preference pairs from the records' provenance.
- :mod:`.card` writes the dataset card (``README.md`` with YAML front matter).
- :mod:`.writers` writes JSON Lines, Parquet and ``datasets`` datasets, staged then renamed.
- :mod:`.export` ties them together; ``gra_graph/export_cli.py`` is the command line.
"""
