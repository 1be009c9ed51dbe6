"""The bad-input corpus (issue 5): one small file per case, its outcome in expected.csv, checked
through the import service (open_file, validate_draft) and through the CLI (`python -m core validate FILE --json`)."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.storage.embedded import PROJECT_ROOT
from core.errors import ImportConsoleError
from tests.helpers import prepare
from tests.conftest import DATA

CORPUS = DATA / "corpus"
CASES = list(csv.DictReader((CORPUS / "expected.csv").open(encoding="utf-8")))
COUNTS = ("rows", "valid", "invalid", "duplicates")


def _options(case: dict) -> dict:
    pairs = [p.split("=", 1) for p in case["options"].split(";") if p]
    return {key: int(value) if value.isdigit() else value for key, value in pairs}


def _cli_flags(case: dict) -> list[str]:
    return [x for key, value in _options(case).items() for x in (f"--{key.replace('_', '-')}", str(value))]


def test_every_corpus_file_has_an_expected_outcome_and_back():
    files = {p.name for p in CORPUS.iterdir() if p.suffix not in (".py",) and p.name != "expected.csv"}
    assert files == {c["file"] for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_corpus_through_the_core(case):
    data = (CORPUS / case["file"]).read_bytes()
    if case["reason"]:
        with pytest.raises(ImportConsoleError) as raised:
            prepare(data, case["file"], **_options(case))
        assert case["reason"] in str(raised.value)
        return
    report = prepare(data, case["file"], **_options(case)).report
    assert (report.rows, len(report.valid), report.invalid, len(report.duplicates)) == tuple(
        int(case[k]) for k in COUNTS)
    assert report.valid["email"].nunique() == int(case["emails"])
    # every row is accounted for exactly once: imported, invalid, or superseded by a later duplicate
    assert len(report.valid) + report.invalid + len(report.duplicates) == report.rows
    assert set(report.errors.columns) == {"row", "column", "reason", "value"}


def _run_cli(case: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", "validate", str(CORPUS / case["file"]), "--json",
                           *_cli_flags(case)], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONIOENCODING": "utf-8"})


@pytest.fixture(scope="module")
def cli_results() -> dict[str, subprocess.CompletedProcess]:
    """One CLI process per file, eight at a time: the slow part is Python starting up."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip([c["file"] for c in CASES], pool.map(_run_cli, CASES)))


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_corpus_through_the_cli(case, cli_results):
    done = cli_results[case["file"]]
    if case["reason"]:
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and case["reason"] in done.stderr
        return
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert tuple(summary[k] for k in COUNTS) == tuple(int(case[k]) for k in COUNTS)
    assert summary["valid"] == int(case["emails"])
    assert len({e["row"] for e in summary["errors"]}) == summary["invalid"]
