"""A parquet seeds file larger than memory is read with flat memory (issue 13, section 4).

As in ``test_bounded_reads.py``, ``gra check`` runs in a child process under a 1 GiB
address-space limit. The file holds 1.06 GiB of seed text (17 row groups of 64 rows of 1 MiB),
which zstd stores in well under a megabyte; reading its rows into a list, or a row group whole
with its Python strings, would pass the limit and fail the test.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.support.helpers import ROOT, scripted_graph_text

MEMORY_CAP = 1 << 30
ROW_GROUPS, ROWS, CELL = 17, 64, 1 << 20


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def test_a_parquet_file_larger_than_the_memory_cap_is_checked(tmp_path: Path):
    path = tmp_path / "big.parquet"
    schema = pa.schema([("instruction", pa.string()), ("response", pa.string())])
    body = "z" * CELL
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for group in range(ROW_GROUPS):
            texts = [f"{group}-{i} {body}" for i in range(ROWS)]
            writer.write_table(pa.table({"instruction": texts, "response": ["r"] * ROWS}))
    assert ROW_GROUPS * ROWS * CELL > MEMORY_CAP and path.stat().st_size < 1 << 20
    graph = tmp_path / "g.yaml"
    graph.write_text(scripted_graph_text(), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "gra_graph.cli", "check", str(graph), "--seeds", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_cap_memory,
    )
    assert result.returncode == 0, result.stderr
    assert f"ok - {ROW_GROUPS * ROWS} seeds" in " ".join(result.stderr.split())
