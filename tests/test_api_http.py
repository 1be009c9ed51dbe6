"""The HTTP API over real HTTP, on the console's own server and port (`streamlit run server.py`,
what `./dev start` runs), driven with curl as the seed's examples are."""
from __future__ import annotations

import json
import subprocess

import pytest

from core.api_keys import create_key
from core.history import get_import
from tests.console_server import console_server


@pytest.fixture(scope="module")
def server_url(database_url, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    with console_server(database_url, log) as (url, _):
        yield url


def curl(*args: str) -> tuple[int, str]:
    done = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args], capture_output=True, text=True,
                          timeout=60, check=True)
    body, _, code = done.stdout.rpartition("\n")
    return int(code), body


def test_the_console_and_the_api_share_one_port(server_url, engine):
    key = create_key(engine, "curl")
    code, body = curl("-X", "POST", f"{server_url}/api/imports/", "-H", f"X-API-Key: {key}",
                      "-H", "Content-Type: application/json",
                      "-d", '{"source": "HubSpot", "file_name": "contacts.csv"}')
    assert code == 201, body
    created = json.loads(body)
    assert created["status"] == "processing" and get_import(engine, created["importId"])["created_by"] == "curl"
    code, body = curl(f"{server_url}/api/imports/{created['importId']}", "-H", f"X-API-Key: {key}")
    assert code == 200 and json.loads(body)["source"] == "HubSpot"
    assert curl(f"{server_url}/api/imports")[0] == 401
    assert curl(f"{server_url}/api/docs")[0] == 200
    assert curl(f"{server_url}/_stcore/health") == (200, "ok")
