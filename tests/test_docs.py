"""README cannot drift from the code (issue 19, as sqlite-utils tests its docs): its counts table is
core.rows.counts, every CLI command it shows exists and every one that exists is shown, its command
lines run as written, every API route is named there and needs a key, and its curl walk-through of
the seed's flow runs as written."""
from __future__ import annotations

import argparse
import json
import re
import shlex

import pytest

from api import api
from core import cli, importing
from core.rows import counts
from core.access.keys import create_key
from core.storage.embedded import PROJECT_ROOT
from tests.helpers import ADMIN

README = (PROJECT_ROOT / "README.md").read_text()


def section(title: str) -> str:
    """The README's text under '## title', up to the next '## '."""
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, re.S)


def test_the_counts_table_is_core_counts():
    rows = re.findall(r"^\| `(\w+)` \| (.+?) \| (.+?) \|$", section("Counts"), re.M)
    assert {name: (label, meaning) for name, label, meaning in rows} == {
        name: (counts.LABELS[name], counts.MEANINGS[name]) for name in counts.LABELS}


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> set[str]:
    """Every command of the CLI, with its actions (api-keys create), from argparse itself."""
    found = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.add(f"{prefix}{name}")
                found |= _commands(sub, f"{prefix}{name} ")
    return found


def _shown_commands() -> set[str]:
    shown = set()
    for block in code_blocks(README):
        for line in block.splitlines():
            match = re.search(r"python -m core ([a-z-]+)(?: (create|list|revoke))?", line)
            if match:
                shown.add(" ".join(filter(None, match.groups())))
    return shown


def test_every_cli_command_is_in_the_readme_and_the_readme_shows_only_real_ones():
    real = {c for c in _commands(cli._parser()) if c != "api-keys"}
    assert _shown_commands() == real


@pytest.mark.parametrize("command", sorted(_commands(cli._parser())))
def test_every_cli_command_has_help(command):
    parser = cli._parser()
    for word in command.split():
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[word]
    assert parser.format_help().strip()


ROUTES = sorted((method.upper(), path) for path, methods in api.openapi()["paths"].items() for method in methods)


def _readme_form(path: str) -> str:
    return re.sub(r"\{(import_id|job_id)\}", "{id}", re.sub(r"\{campaign_id\}", "{campaignId}", path))


@pytest.mark.parametrize("method, path", ROUTES)
def test_every_api_route_is_named_in_the_readme(method, path):
    routes = " ".join(section("HTTP API").split())
    assert f"`{method} {_readme_form(path)}`" in routes or f"`{method} {_readme_form(path)}" in routes


@pytest.mark.parametrize("method, path", ROUTES)
def test_every_api_route_needs_a_key(client, method, path):
    concrete = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)
    answer = client.request(method, concrete, headers={"X-API-Key": "cic_" + "x" * 43})
    assert answer.status_code == 401, answer.text


def _curl_calls(block: str) -> list[list[str]]:
    """The curl commands of a bash block, each as its arguments (comments and continuations gone)."""
    text = re.sub(r"#[^\n]*", "", block).replace("\\\n", " ")
    return [shlex.split(line)[1:] for line in text.splitlines() if line.strip().startswith("curl")]


def _request(arguments: list[str], variables: dict) -> dict:
    call = {"method": "GET", "headers": {}, "data": None, "file": None}
    words = iter(arguments)
    for word in words:
        if word == "-X":
            call["method"] = next(words)
        elif word == "-H":
            name, value = next(words).split(":", 1)
            call["headers"][name] = value.strip()
        elif word == "-d":
            call["data"] = next(words)
        elif word == "-F":
            call["file"] = next(words).split("=@", 1)
        else:
            call["url"] = word
    expand = lambda text: re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], text)  # noqa: E731
    call["url"] = expand(call["url"]).replace("http://localhost:8501/api", "")
    call["headers"] = {k: expand(v) for k, v in call["headers"].items()}
    call["data"] = expand(call["data"].replace('\\"', '"')) if call["data"] else None
    return call


def test_the_readmes_walk_through_of_the_seeds_flow_runs_as_written(client, engine, tmp_path):
    walk_through = next(b for b in code_blocks(section("HTTP API")) if "# 1. create the import" in b)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("full_name,email,linkedin_profile\nAnn Lee,ann@x.io,https://linkedin.com/in/ann\n")
    variables = {"KEY": create_key(engine, "HubSpot sync", ADMIN, "importer")}
    campaign = client.post("/campaigns", json={"name": "Q4"}, headers={"X-API-Key": variables["KEY"]})
    variables["CAMPAIGN"] = campaign.json()["id"]
    answers = []
    for arguments in _curl_calls(walk_through):
        call = _request(arguments, variables)
        files = None
        if call["file"]:
            files = {call["file"][0]: (contacts.name, contacts.read_bytes(), "text/csv")}
        answer = client.request(call["method"], call["url"], headers=call["headers"], files=files,
                                content=call["data"])
        assert answer.status_code in (200, 201), (call, answer.text)
        answers.append(answer.json())
        variables.setdefault("IMPORT", answers[0].get("id", ""))
    assert [a.get("status") for a in answers[:1]] == ["processing"]
    completed = client.get(f"/imports/{variables['IMPORT']}", headers={"X-API-Key": variables["KEY"]}).json()
    assert (completed["status"], completed["total_rows"], completed["campaign"]) == ("completed", 2, "Q4")
    assert json.loads(json.dumps(answers))  # every answer was JSON


def _cli_lines(text: str) -> list[str]:
    """The `python -m core` lines of the bash blocks of text, comments gone."""
    return [line.split(" #", 1)[0].split("python -m core ", 1)[1].strip()
            for block in code_blocks(text) for line in block.splitlines() if "python -m core " in line]


def _variants(line: str) -> list[list[str]]:
    """The line as arguments without its [optional parts], and with each (its first alternative)."""
    bare = re.sub(r"\s*\[[^\]]*\]", "", line)
    full = re.sub(r"\[([^\]|]*?)(?:\s*\|[^\]]*)?\]", r"\1", line)
    return [shlex.split(bare)] + ([shlex.split(full)] if full != bare else [])


def test_the_readmes_command_line_examples_run_as_written(engine, database_url, tmp_path, monkeypatch, capsys):
    """Every CLI line of README, as written (options left out, then put in), on a real file."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "contacts.csv").write_text("Full Name,Email,LinkedIn\nAnn Lee,ann@x.io,https://linkedin.com/in/ann\n"
                                          "Bob Ray,bob@x.io,https://linkedin.com/in/bob\nNo One,not-an-email,\n")
    service = importing_service(engine)
    ran = []
    for line in _cli_lines(section("Command line")) + _cli_lines(section("HTTP API")):
        for arguments in _variants(line):
            if "IMPORT_ID" in arguments:  # the newest import (to undo: the newest not undone yet)
                newest = service.list_imports(status="completed" if arguments[0] == "undo" else None)["id"].iloc[0]
                arguments = [str(newest) if word == "IMPORT_ID" else word for word in arguments]
            exit_code = cli.main(arguments)
            out, err = capsys.readouterr()
            assert exit_code == 0 and out.strip(), (arguments, out, err)
            if "--json" in arguments:
                json.loads(out)
            ran.append(arguments[0])
    assert {"validate", "import", "imports", "undo", "audit", "api-keys"} <= set(ran)
    assert service.list_imports(status="reverted")["id"].size == 2


def importing_service(engine):
    return importing.Service(engine)
