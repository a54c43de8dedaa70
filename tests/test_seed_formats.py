"""Seeds from parquet, CSV, a saved ``datasets`` dataset and the local Hugging Face cache
(issue 13, section 4): the same seeds as the JSON Lines file, the column mapping, domain
renames and refusals, and hostile files. Every file is a real one, written here with pyarrow,
the csv module or ``datasets``; nothing of ``datasets`` is mocked."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gra_graph.inputs import MAX_SEED_LINE_BYTES
from gra_graph.seed_formats import SeedOptions, open_seed_source, seeds_location
from gra_graph.seeds import SeedFile, SeedFileError
from tests.support.helpers import ROOT, scripted_graph_text

EXAMPLES = ROOT / "examples" / "seeds.jsonl"
FIELDS = ("instruction", "response", "domain", "keywords", "summary")
# the same seeds under the column names another tool might use
RENAMED = {"instruction": "prompt", "response": "completion", "domain": "category"}
MAP = "instruction=prompt,response=completion,domain=category"


def example_rows() -> list[dict[str, Any]]:
    """The shipped example seeds, every field present (None where a seed has none)."""
    rows = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines()]
    return [{f: row.get(f) for f in FIELDS} for row in rows]


def renamed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with the mapped columns renamed, plus a column that is not a seed field."""
    return [
        {"id": i, **{RENAMED.get(k, k): v for k, v in row.items()}} for i, row in enumerate(rows)
    ]


def write_parquet(path: Path, rows: list[dict[str, Any]], **kwargs: Any) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path, **kwargs)
    return path


def csv_cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value) if key == "keywords" else str(value)


def write_csv(path: Path, rows: list[dict[str, Any]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(list(rows[0]))
        for row in rows:
            writer.writerow([csv_cell(k, v) for k, v in row.items()])
    return path


def save_dataset(path: Path, rows: list[dict[str, Any]], splits: tuple[str, ...] = ()) -> Path:
    import datasets

    dataset = datasets.Dataset.from_list(rows)
    if splits:
        datasets.DatasetDict({s: dataset for s in splits}).save_to_disk(str(path))
    else:
        dataset.save_to_disk(str(path))
    return path


def seeds_of(source: str | Path, **options: Any) -> SeedFile:
    return SeedFile.scan(source, options=SeedOptions(**options))


def error_of(source: str | Path, **options: Any) -> str:
    with pytest.raises(SeedFileError) as info:
        seeds_of(source, **options)
    return str(info.value)


@pytest.fixture(scope="module")
def reference() -> SeedFile:
    return SeedFile.scan(EXAMPLES)


# ---- the same seeds from every format


def test_parquet_csv_tsv_and_datasets_give_the_jsonl_seeds(tmp_path: Path, reference: SeedFile):
    rows = example_rows()
    sources = [
        write_parquet(tmp_path / "seeds.parquet", rows, row_group_size=3),
        write_csv(tmp_path / "seeds.csv", rows),
        write_csv(tmp_path / "seeds.tsv", rows, delimiter="\t"),
        save_dataset(tmp_path / "saved", rows),
        save_dataset(tmp_path / "saved_dict", rows, splits=("train", "test")),
    ]
    expected = list(reference)
    for source in sources:
        seeds = SeedFile.scan(source)
        assert list(seeds) == expected, source
        assert seeds.fingerprint == reference.fingerprint  # a run resumes across formats
        assert len(seeds) == 14 and seeds.source.unit == "row"


def test_the_shipped_csv_holds_the_shipped_seeds(reference: SeedFile):
    shipped = SeedFile.scan(ROOT / "examples" / "seeds.csv")
    assert list(shipped) == list(reference) and shipped.fingerprint == reference.fingerprint


def test_mapped_columns_give_the_same_seeds(tmp_path: Path, reference: SeedFile):
    rows = renamed(example_rows())
    columns = dict(RENAMED)
    jsonl = tmp_path / "renamed.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    for source in (
        write_parquet(tmp_path / "renamed.parquet", rows),
        write_csv(tmp_path / "renamed.csv", rows),
        save_dataset(tmp_path / "renamed_saved", rows),
        jsonl,  # with --map, a line's other keys (here "id") are not seed fields: ignored
    ):
        assert list(seeds_of(source, columns=columns)) == list(reference), source
    # without --map, a JSON Lines line with unknown keys is refused as it always was
    assert "prompt" in error_of(jsonl) and "line 1" in error_of(jsonl)


def test_a_missing_column_is_named_with_the_columns_there(tmp_path: Path):
    rows = renamed(example_rows())
    path = write_parquet(tmp_path / "renamed.parquet", rows)
    message = error_of(path, columns={"instruction": "question", "response": "completion"})
    assert "no column 'question', needed for --map instruction=question" in message
    assert "'id', 'prompt', 'completion', 'category', 'keywords', 'summary'" in message
    message = error_of(path)  # instruction and response must be found, mapped or not
    assert "no column 'instruction'" in message and "--map instruction=COLUMN" in message
    # a JSON Lines line without the mapped key names its line and its keys
    jsonl = tmp_path / "renamed.jsonl"
    jsonl.write_text(json.dumps(rows[0]) + '\n{"prompt": "p"}\n', encoding="utf-8")
    message = error_of(jsonl, columns=dict(RENAMED))
    assert "line 2: no key 'completion' (the seed field response); the keys are 'prompt'" in (
        message
    )


@pytest.mark.parametrize(
    ("columns", "domains", "message"),
    [
        ("promt=prompt", None, "'promt' is not a seed field; seed fields are instruction"),
        ("instruction=", None, "no column named for instruction"),
        ("instruction", None, "'instruction' is not NAME=VALUE"),
        ("response=a,response=b", None, "'response' is given twice"),
        (None, "cooking=food", "cooking=food: a value must become one of the seven domains"),
        (None, "cooking=", "cooking=: a value must become one of the seven domains"),
    ],
)
def test_bad_options_are_refused(columns: str | None, domains: str | None, message: str):
    with pytest.raises(SeedFileError, match=message):
        SeedOptions.from_text(columns, domains)


# ---- domains outside the seven


def rows_with_domains(domains: list[str | None]) -> list[dict[str, Any]]:
    return [
        {"prompt": f"Task {i}.", "completion": f"Answer {i}.", "category": d}
        for i, d in enumerate(domains)
    ]


def test_unknown_domains_are_refused_with_counts_before_anything_runs(tmp_path: Path):
    domains = ["cooking", "math", "code", "cooking", None, "cooking", "code"]
    path = write_parquet(tmp_path / "d.parquet", rows_with_domains(domains))
    message = error_of(path, columns=dict(RENAMED))
    assert "domain values outside the seven domains" in message
    assert "'cooking' (3 rows, first row 1), 'code' (2 rows, first row 3)" in message
    assert "--domain-map" in message
    # half renamed is still refused, naming only what is left
    message = error_of(path, columns=dict(RENAMED), domain_map={"code": "coding"})
    assert "'cooking' (3 rows" in message and "'code'" not in message


def test_domain_map_renames_and_none_leaves_the_domain_to_the_annotator(tmp_path: Path):
    domains = ["cooking", "math", "code", None]
    options = SeedOptions.from_text(MAP, "cooking=none, code=coding")
    for path in (
        write_parquet(tmp_path / "d.parquet", rows_with_domains(domains)),
        write_csv(tmp_path / "d.csv", rows_with_domains(domains)),
    ):
        seeds = SeedFile.scan(path, options=options)
        assert [s.domain for s in seeds] == [None, "math", "coding", None], path
        assert not any(s.annotated for s in seeds)  # each is annotated before sampling


def test_unknown_domains_in_json_lines_are_refused_the_same_way(tmp_path: Path):
    path = tmp_path / "d.jsonl"
    lines = [{"instruction": "a", "response": "b", "domain": d} for d in ("poetry", "qa", "poetry")]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    assert "'poetry' (2 lines, first line 1)" in error_of(path)
    assert [s.domain for s in seeds_of(path, domain_map={"poetry": "creative_writing"})] == [
        "creative_writing",
        "qa",
        "creative_writing",
    ]


# ---- datasets: splits, and the local Hugging Face cache


def test_a_dataset_dict_reads_train_or_the_split_named(tmp_path: Path):
    rows = example_rows()
    path = save_dataset(tmp_path / "saved", rows, splits=("train", "test"))
    test_split = save_dataset(tmp_path / "saved2", rows[:2], splits=("train",))
    assert len(SeedFile.scan(path)) == 14
    assert "[split test]" in seeds_of(path, split="test").path
    message = error_of(test_split, split="validation")
    assert "no split 'validation'; the splits are 'train'" in message
    only_test = save_dataset(tmp_path / "saved3", rows, splits=("test",))
    message = error_of(only_test)
    assert "no split 'train' (the default; choose one with --split NAME)" in message
    assert "the splits are 'test'" in message
    single = save_dataset(tmp_path / "single", rows)
    assert "leave out --split" in error_of(single, split="train")


def cache_dataset(cache: Path, owner: str, name: str, rows: list[dict[str, Any]]) -> None:
    """Put ``OWNER/NAME`` into a Hugging Face datasets cache as a download leaves it.

    A real ``datasets`` builder (the packaged JSON one) prepares the Arrow files and
    ``dataset_info.json``; they are then moved to where ``datasets`` looks for a Hub
    dataset's cached copy, ``CACHE/OWNER___NAME/CONFIG/VERSION/HASH``.
    """
    from datasets.packaged_modules.json.json import Json

    data = cache.parent / f"{name}-train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    builder = Json(
        cache_dir=str(cache.parent / "scratch"),
        dataset_name=name,
        data_files={"train": str(data), "test": str(data)},
        hash="0123456789abcdef",
    )
    builder.download_and_prepare()
    target = cache / f"{owner}___{name}" / "default" / "0.0.0" / "0123456789abcdef"
    target.parent.mkdir(parents=True)
    shutil.move(builder.cache_dir, target)


@pytest.fixture()
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache of this test's own, with telemetry off."""
    import datasets

    cache = tmp_path / "hf" / "datasets"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    return cache


def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Make any connection attempt fail, and record it."""
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


def test_a_dataset_in_the_cache_is_read_by_name_offline(
    hf_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: SeedFile
):
    cache_dataset(hf_cache, "someone", "tiny_seeds", renamed(example_rows()))
    monkeypatch.chdir(tmp_path)
    attempts = no_network(monkeypatch)
    seeds = seeds_of("hf:someone/tiny_seeds", columns=dict(RENAMED))
    assert list(seeds) == list(reference) and seeds.fingerprint == reference.fingerprint
    assert seeds.path == "hf:someone/tiny_seeds [split train]"
    assert len(seeds_of("hf:someone/tiny_seeds", columns=dict(RENAMED), split="test")) == 14
    message = error_of("hf:someone/tiny_seeds", columns=dict(RENAMED), split="dev")
    assert "no split 'dev'; the splits are 'train', 'test'" in message
    assert attempts == []
    import datasets
    import huggingface_hub.constants

    assert datasets.config.HF_HUB_OFFLINE == huggingface_hub.constants.HF_HUB_OFFLINE  # restored


def test_a_name_not_in_the_cache_is_an_error_at_once_without_network(
    hf_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    attempts = no_network(monkeypatch)
    message = error_of("hf:nobody/not_cached")
    assert "hf:nobody/not_cached: not in the local Hugging Face datasets cache" in message
    assert "loads datasets offline" in message
    assert attempts == []
    assert "not a dataset name" in error_of("hf:../etc")
    (tmp_path / "someone").mkdir()
    (tmp_path / "someone" / "local").mkdir()  # datasets would load this directory instead
    assert "a local path someone/local exists here" in error_of("hf:someone/local")


def test_gra_check_reads_a_cached_name_in_a_fresh_process(hf_cache: Path, tmp_path: Path):
    cache_dataset(hf_cache, "someone", "tiny_seeds", renamed(example_rows()))
    graph = tmp_path / "g.yaml"
    graph.write_text(scripted_graph_text(), encoding="utf-8")
    env = {**os.environ, "HF_HOME": str(hf_cache.parent), "HF_DATASETS_CACHE": str(hf_cache)}
    env.pop("HF_HUB_OFFLINE", None)  # offline because gra-graph says so, not the environment
    args = ["check", str(graph), "--seeds", "hf:someone/tiny_seeds", "--map", MAP]
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.cli_fake", *args],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "hf:someone/tiny_seeds: ok - 14 seeds" in result.stderr
    assert "Using the latest cached version" not in result.stderr  # datasets kept quiet


# ---- hostile files


def test_empty_and_seedless_files_are_refused(tmp_path: Path):
    empty_parquet = tmp_path / "empty.parquet"
    empty_parquet.write_bytes(b"")
    assert "not a readable parquet file" in error_of(empty_parquet)
    (tmp_path / "junk.parquet").write_text("instruction,response\n", encoding="utf-8")
    assert "not a readable parquet file" in error_of(tmp_path / "junk.parquet")
    no_rows = pa.table({"instruction": pa.array([], pa.string()), "response": []})
    pq.write_table(
        no_rows.cast(pa.schema([("instruction", pa.string()), ("response", pa.string())])),
        tmp_path / "none.parquet",
    )
    assert "has no seeds" in error_of(tmp_path / "none.parquet")
    (tmp_path / "empty.csv").write_bytes(b"")
    assert "the CSV file has no header row" in error_of(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("instruction,response\n\n", encoding="utf-8")
    assert "has no seeds" in error_of(tmp_path / "header.csv")
    (tmp_path / "plain").mkdir()
    assert "it is a directory, and not one that datasets' save_to_disk wrote" in error_of(
        tmp_path / "plain"
    )


def test_wrong_types_name_the_row_and_field(tmp_path: Path):
    rows = [
        {"instruction": "fine", "response": "fine", "keywords": ["a", "b", "c"]},
        {"instruction": "fine", "response": None, "keywords": None},
        {"instruction": "fine", "response": "fine", "keywords": ["a"]},
    ]
    path = write_parquet(tmp_path / "t.parquet", rows)
    assert "t.parquet: row 2: response: Input should be a valid string" in error_of(path)
    numbers = write_parquet(tmp_path / "n.parquet", [{"instruction": 5, "response": "r"}])
    assert "n.parquet: row 1: instruction: Input should be a valid string" in error_of(numbers)
    short = write_parquet(tmp_path / "k.parquet", [rows[0], rows[2]])
    assert "row 2: keywords: List should have at least 3 items" in error_of(short)
    dataset = save_dataset(tmp_path / "saved", [{"instruction": "a", "response": 7}])
    assert "saved: row 1: response: Input should be a valid string" in error_of(dataset)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'instruction,response\na,b\n"c\nd",e,f\n',
            "row 2 (line 3): 3 cells, but the header has 2",
        ),
        ("instruction,response\na,b\n,b\n", "row 2 (line 3): instruction: String should have"),
        ('instruction,response,keywords\na,b,"[1, 2"\n', "row 1 (line 2): keywords: Input should"),
        ("instruction,instruction\na,b\n", "column 'instruction' appears twice in the header"),
        ('instruction,response\na,"b\n', "line 2: malformed CSV (unexpected end of data)"),
        ('instruction,response\na,b\nc,"d"e\n', "line 3: malformed CSV (',' expected after"),
    ],
    ids=[
        "cells",
        "empty-instruction",
        "keywords-not-json",
        "repeated-column",
        "open-quote",
        "quote",
    ],
)
def test_broken_csv_rows_name_their_row_and_line(tmp_path: Path, text: str, message: str):
    path = tmp_path / "s.csv"
    path.write_text(text, encoding="utf-8")
    assert message in error_of(path)


def test_csv_bytes_that_are_not_utf8_name_their_line(tmp_path: Path):
    path = tmp_path / "s.csv"
    path.write_bytes(b"\xef\xbb\xbfinstruction,response\na,b\ncaf\xe9,c\n")
    assert "s.csv: line 3: not valid UTF-8 (byte 4)" in error_of(path)


def test_a_quoted_cell_over_several_lines_is_one_row(tmp_path: Path):
    path = tmp_path / "s.csv"
    path.write_text('instruction,response\n"line one\nline two",x\n"a, b",y\n', encoding="utf-8")
    seeds = list(SeedFile.scan(path))
    assert [s.instruction for s in seeds] == ["line one\nline two", "a, b"]
    path.write_text('instruction,response\n"line one\nline two",x\na,\n', encoding="utf-8")
    assert "row 2 (line 4): response" in error_of(path)


def test_huge_cells_within_the_bound_are_read_verbatim(tmp_path: Path):
    big = "x" * (2 * 1024 * 1024) + " end"
    rows = [{"instruction": big, "response": "r"}, {"instruction": "i", "response": big}]
    for path in (
        write_parquet(tmp_path / "big.parquet", rows),
        write_csv(tmp_path / "big.csv", rows),
    ):
        seeds = list(SeedFile.scan(path))
        assert seeds[0].instruction == big and seeds[1].response == big, path


def test_seeds_over_the_bound_are_refused_by_row(tmp_path: Path):
    huge = "y" * (MAX_SEED_LINE_BYTES + 1)
    rows = [{"instruction": "i", "response": "r"}, {"instruction": huge, "response": "r"}]
    message = error_of(write_parquet(tmp_path / "huge.parquet", rows))
    assert "huge.parquet: row 2: the seed is larger than 16 MiB" in message
    assert "MAX_SEED_LINE_BYTES" in message
    message = error_of(write_csv(tmp_path / "huge.csv", rows))
    assert "huge.csv: the row starting on line 3 is longer than 16 MiB" in message


def test_a_fifo_named_like_parquet_or_csv_is_refused_without_blocking(tmp_path: Path):
    for name in ("seeds.parquet", "seeds.csv"):
        fifo = tmp_path / name
        os.mkfifo(fifo)
        assert "FIFO (named pipe)" in error_of(fifo)


def test_a_changed_parquet_file_is_caught_as_it_is_read_again(tmp_path: Path):
    rows = example_rows()
    path = write_parquet(tmp_path / "s.parquet", rows)
    seeds = SeedFile.scan(path)
    write_parquet(path, [*rows[:3], {**rows[3], "response": "changed"}, *rows[4:]])
    with pytest.raises(SeedFileError, match="changed since it was validated"):
        list(seeds)


def test_limit_and_repeats_count_rows(tmp_path: Path):
    rows = example_rows()
    path = write_parquet(tmp_path / "s.parquet", [*rows[:3], rows[0]])
    seeds = SeedFile.scan(path)
    assert seeds.duplicates.count == 1
    assert "row 4 repeats row 1" in seeds.duplicates.message(seeds.path)
    assert len(SeedFile.scan(path, limit=2)) == 2


def test_where_seeds_are_recorded(tmp_path: Path):
    assert seeds_location("hf:someone/tiny") == "hf:someone/tiny"
    assert seeds_location("examples/seeds.jsonl") == str(EXAMPLES)
    assert open_seed_source(EXAMPLES).unit == "line"
    with pytest.raises(SeedFileError, match="--split applies only to a datasets dataset"):
        open_seed_source(EXAMPLES, SeedOptions(split="train"))


# ---- through the command line (scripted members)


def gra_fake(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.support.cli_fake", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "300", "PYTHONPATH": str(ROOT)},
    )


def test_gra_run_and_resume_keep_the_mapping_and_split(tmp_path: Path):
    path = save_dataset(tmp_path / "saved", renamed(example_rows())[:3], splits=("train", "dev"))
    graph = tmp_path / "g.yaml"
    graph.write_text(scripted_graph_text(), encoding="utf-8")
    out = tmp_path / "run"
    args = ["run", str(graph), "--seeds", str(path), "--out", str(out), "--quiet"]
    refused = gra_fake(*args, "--split", "dev")
    assert refused.returncode == 2 and "no column 'instruction'" in refused.stderr
    assert not out.exists()
    result = gra_fake(*args, "--split", "dev", "--map", MAP, "--domain-map", "coding=math")
    assert result.returncode == 0, result.stderr
    command = json.loads((out / "run.json").read_text())["command"]
    assert command["seeds"] == str(path) and command["split"] == "dev"
    assert command["seed_columns"] == RENAMED and command["domain_map"] == {"coding": "math"}
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert {r["seed"]["domain"] for r in records} == {"math"}  # the examples' first 3: coding
    again = gra_fake("resume", str(out), "--quiet")  # a directory, the same options
    assert again.returncode == 0, again.stderr
    assert f"seeds {path}" in " ".join(again.stderr.split())


def test_gra_check_reads_csv_with_the_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from gra_graph.cli import EXIT_INPUT, main

    path = write_csv(tmp_path / "seeds.csv", rows_with_domains(["cooking", "qa"]))
    graph = str(ROOT / "graphs" / "gra.yaml")
    args = ["check", graph, "--seeds", str(path), "--map", MAP]
    assert main(args) == EXIT_INPUT
    assert "'cooking' (1 row, first row 1)" in " ".join(capsys.readouterr().err.split())
    assert main([*args, "--domain-map", "cooking=none"]) == 0
    assert "seeds.csv: ok - 2 seeds" in " ".join(capsys.readouterr().err.split())


async def test_gra_ablate_reads_mapped_seeds(tmp_path: Path):
    from gra_graph.ablation.compare import AblationPlan, ablate
    from tests.support.fakes import fake_members

    graph = tmp_path / "g.yaml"
    graph.write_text(scripted_graph_text("base"), encoding="utf-8")
    seeds = write_parquet(tmp_path / "s.parquet", renamed(example_rows())[:2])
    plan = AblationPlan(
        seeds=seeds,
        pairs=tmp_path / "unused.jsonl",
        out=tmp_path / "out",
        bench=False,
        seed_options=SeedOptions(columns=dict(RENAMED)),
    )
    (row,) = await ablate([graph], plan, members=fake_members)
    assert row.seed_samples == 2 and row.accepted == 2
