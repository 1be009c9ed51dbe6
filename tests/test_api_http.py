"""The HTTP API over real HTTP, on the console's own server and port (`streamlit run server.py`,
what `./dev start` runs), driven with curl as the seed's examples are."""
from __future__ import annotations

import json
import subprocess

import pytest

from core.access.keys import create_key
from core.storage.database import app_role_url
from core.storage.history import get_import
from tests.helpers import ADMIN
from tests.console_server import console_server


@pytest.fixture(scope="module")
def server_url(database_url, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    with console_server(app_role_url(database_url), log) as (url, _):  # as deployed: the application's role
        yield url


def curl(*args: str) -> tuple[int, str]:
    done = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args], capture_output=True, text=True,
                          timeout=60, check=True)
    body, _, code = done.stdout.rpartition("\n")
    return int(code), body


def test_the_console_and_the_api_share_one_port(server_url, engine):
    key = create_key(engine, "curl", ADMIN, "admin")
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


SEED_JSON = """[
    {
      "full_name": "Jane Smith",
      "email": "jane@techcorp.com",
      "linkedin_profile": "https://linkedin.com/in/janesmith",
      "company": "Tech Corp"
    },
    {
      "full_name": "Bob Johnson",
      "email": "bob@startup.io",
      "linkedin_profile": "https://linkedin.com/in/bobjohnson",
      "company": "Startup Inc"
    }
  ]"""
SEED_CSV = ('full_name,email,linkedin_profile,company,locale,timezone,metadata\n'
            'John Doe,john@example.com,https://linkedin.com/in/johndoe,Tech Corp,en-US,America/New_York,'
            '"{""source"": ""csv""}"\n'
            'Jane Smith,jane@example.com,https://linkedin.com/in/janesmith,Another Corp,en-US,America/New_York,'
            '"{""source"": ""csv""}"\n')


def test_the_seed_s_curl_examples_then_the_four_steps(server_url, engine, tmp_path):
    key = create_key(engine, "seed", ADMIN, "admin")
    api = f"{server_url}/api"
    code, body = curl("-X", "POST", f"{api}/imports/", "-H", f"X-API-Key: {key}", "-H", "Content-Type: application/json",
                      "-d", '{"source": "CRM sync", "file_name": "contacts.csv"}')
    import_id = json.loads(body)["importId"]
    # The seed's two examples as written, but for the host, the key and the import id.
    code, body = curl("-X", "POST", f"{api}/contacts/bulk", "-H", f"X-API-Key: {key}", "-H", f"X-Import-ID: {import_id}",
                      "-H", "Content-Type: application/json", "-d", SEED_JSON)
    assert code == 201 and json.loads(body)["inserted"] == 2, body
    (tmp_path / "contacts.csv").write_text(SEED_CSV)
    code, body = curl("-X", "POST", f"{api}/contacts/bulk", "-H", f"X-API-Key: {key}", "-H", f"X-Import-ID: {import_id}",
                      "-F", f"file=@{tmp_path / 'contacts.csv'}")
    assert code == 201 and (json.loads(body)["created"], json.loads(body)["updated"]) == (2, 0), body
    code, body = curl("-X", "POST", f"{api}/campaigns", "-H", f"X-API-Key: {key}", "-H", "Content-Type: application/json",
                      "-d", '{"name": "Q4 Outreach"}')
    campaign = json.loads(body)["id"]
    code, body = curl("-X", "PUT", f"{api}/imports/{import_id}", "-H", f"X-API-Key: {key}",
                      "-H", "Content-Type: application/json", "-d", '{"status": "completed", "total_rows": 4}')
    assert code == 200 and json.loads(body)["status"] == "completed", body
    code, body = curl("-X", "POST", f"{api}/campaign-imports/{campaign}/imports", "-H", f"X-API-Key: {key}",
                      "-H", "Content-Type: application/json", "-d", json.dumps({"import_ids": [import_id]}))
    assert code == 200, body
    code, body = curl("-X", "PUT", f"{api}/imports/{import_id}", "-H", f"X-API-Key: {key}",
                      "-H", "Content-Type: application/json", "-d", json.dumps({"campaign_id": campaign}))
    stored = get_import(engine, import_id)
    assert (code, stored["status"], stored["total_rows"], stored["campaign"]) == (200, "completed", 4, "Q4 Outreach")


def test_every_connection_the_server_accepts_sends_without_waiting_for_acks():
    """Nagle's algorithm meeting a client's delayed ACK cost ~40 ms per call on a kept-alive
    connection (bench.http measures it); api.sockets turns it off on each accepted socket."""
    import socket

    from api.sockets import without_nagle

    class Transport:
        def __init__(self, sock):
            self.sock = sock

        def get_extra_info(self, name):
            return self.sock if name == "socket" else None

    with socket.socket() as listener:  # protocol 0, as Streamlit binds it
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()) as _, listener.accept()[0] as accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
            made = []
            without_nagle(lambda protocol, transport: made.append(transport))("protocol", Transport(accepted))
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1 and len(made) == 1


def test_an_upload_a_killed_server_left_is_removed_by_the_next_server(database_url, engine, tmp_path):
    """Issue 21, point 7: after a kill -9 during an upload its temporary folder stayed forever."""
    import os
    import signal
    import socket
    import time
    from urllib.parse import urlparse

    key = create_key(engine, "upload", ADMIN, "importer")
    spools = tmp_path / "tmp"
    spools.mkdir()
    with console_server(database_url, tmp_path / "first.log", TMPDIR=str(spools)) as (url, process):
        address = urlparse(url)
        upload = socket.create_connection((address.hostname, address.port))
        upload.sendall(f"POST /api/contacts/bulk HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n"
                       "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n[".encode() + b" " * 65536)
        deadline = time.monotonic() + 60
        while not list(spools.glob("contact-import-api-*")):
            assert time.monotonic() < deadline, "the upload's folder never appeared"
            time.sleep(0.1)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        upload.close()
    left = list(spools.glob("contact-import-api-*"))
    assert left and all(path.exists() for path in left)
    with console_server(database_url, tmp_path / "second.log", TMPDIR=str(spools)):
        assert not any(path.exists() for path in left)


def test_streamlit_s_metrics_are_not_served(server_url):
    """Issue 21, point 7: /_stcore/metrics answered anyone, signed in or not."""
    assert curl(f"{server_url}/_stcore/metrics")[0] == 404
    assert curl(f"{server_url}/_stcore/metrics/")[0] == 404
    assert curl(f"{server_url}/_stcore/health") == (200, "ok")


@pytest.fixture(scope="module")
def strict_server(database_url, tmp_path_factory):
    """A server with short deadlines (api.deadlines), so that a test sees them act."""
    log = tmp_path_factory.mktemp("strict") / "server.log"
    with console_server(app_role_url(database_url), log, CONTACT_IMPORT_HEADER_SECONDS="2", CONTACT_IMPORT_BODY_WINDOW_SECONDS="2",
                        CONTACT_IMPORT_BODY_MIN_BYTES="1000") as (url, _):
        yield url


def _connect(url: str):
    import socket
    from urllib.parse import urlparse
    address = urlparse(url)
    connection = socket.create_connection((address.hostname, address.port))
    connection.settimeout(60)  # a guard against a test that would hang; the server answers long before
    return connection


def _answer(connection) -> bytes:
    """Everything the server sends until it closes the connection. A client still sending when the
    server closes may get a reset instead of the rest (TCP discards what was not read yet)."""
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def test_a_body_past_the_limit_is_refused_before_a_byte_of_it_is_sent(server_url, engine):
    """Issue 21, point 3: a 330 MB upload was read and spooled to its end before the 413."""
    key = create_key(engine, "big", ADMIN, "importer")
    connection = _connect(server_url)
    connection.sendall(f"POST /api/contacts/bulk HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n"
                       "Content-Type: application/json\r\nContent-Length: 330000000\r\n\r\n".encode())
    answer = _answer(connection)  # the server closes the connection: the body is not wanted
    connection.close()
    assert answer.startswith(b"HTTP/1.1 413") and b"more than 256 MB" in answer


def test_headers_or_a_body_that_trickle_in_are_answered_408_and_closed(strict_server, engine):
    """Issue 21, point 3: a body sent a byte every 2 s held its connection forever, key or no key."""
    import threading
    import time

    key = create_key(engine, "slow", ADMIN, "importer")
    silent = _connect(strict_server)
    slow_headers = _connect(strict_server)
    slow_body = _connect(strict_server)
    slow_body.sendall(f"POST /api/contacts/bulk HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n"
                      "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n[".encode())

    def trickle(connection, data: bytes) -> None:
        try:
            for byte in data:
                connection.sendall(bytes([byte]))
                time.sleep(0.2)
        except OSError:
            pass  # closed by the server: what the test waits for

    header_text = f"POST /api/imports/ HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n".encode() * 20
    for connection, data in ((slow_headers, header_text), (slow_body, b" " * 100_000)):
        threading.Thread(target=trickle, args=(connection, data), daemon=True).start()
    assert _answer(silent).startswith(b"HTTP/1.1 408")
    for connection in (slow_headers, slow_body):  # still sending when closed: the 408 may be lost to a reset
        answer = _answer(connection)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:100]
    for connection in (silent, slow_headers, slow_body):
        connection.close()
    # a request that keeps its pace is served as ever
    code, body = curl(f"{strict_server}/api/imports", "-H", f"X-API-Key: {key}")
    assert code == 200, body


def test_an_async_bulk_s_location_is_the_job_under_the_api_s_path(server_url, engine):
    import time
    key = create_key(engine, "async", ADMIN, "importer")
    code, body = curl("-X", "POST", f"{server_url}/api/contacts/bulk", "-H", f"X-API-Key: {key}",
                      "-H", "Prefer: respond-async", "-H", "Content-Type: application/json", "-d", SEED_JSON)
    assert code == 202, body
    location = json.loads(body)["location"]
    assert location.startswith(f"{server_url}/api/jobs/")
    deadline = time.monotonic() + 60
    while (job := json.loads(curl(location, "-H", f"X-API-Key: {key}")[1]))["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert (job["status_code"], job["answer"]["inserted"]) == (201, 2)
