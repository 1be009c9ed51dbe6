"""`./dev start` with no settings serves this machine only (issue 13: a console without sign-in
must not reach the network by accident)."""
import os
import socket
import subprocess
import time
import urllib.request

import pytest

from core.storage.embedded import PROJECT_ROOT
from tests.console_server import free_port


def other_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback."""
    found = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    return [a for a in found if "." in a and not a.startswith("127.")]


def answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False


def test_dev_start_listens_on_127_0_0_1_only_by_default(database_url):
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k != "CONTACT_IMPORT_ADDRESS"}
    environment["DATABASE_URL"] = database_url
    process = subprocess.Popen(["./dev", "start", "--server.port", str(port), "--server.headless", "true"],
                               cwd=PROJECT_ROOT, env=environment, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not answers("127.0.0.1", port):
            assert process.poll() is None, "./dev start exited"
            assert time.monotonic() < deadline, "./dev start did not answer on 127.0.0.1"
            time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as reply:
            assert reply.read() == b"ok"
        others = other_addresses()
        if not others:
            pytest.skip("this machine has no address but loopback to check")
        assert [a for a in others if answers(a, port)] == []
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def test_dev_start_refuses_another_address_without_sign_in(tmp_path):
    environment = {**os.environ, "CONTACT_IMPORT_ADDRESS": "0.0.0.0",
                   "CONTACT_IMPORT_SECRETS": str(tmp_path / "none.toml")}
    done = subprocess.run(["./dev", "start", "--server.headless", "true"], cwd=PROJECT_ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "configures no sign-in ([auth])" in done.stderr and "README" in done.stderr


@pytest.mark.parametrize("option", ["--server.address=0.0.0.0", "--secrets.files"])
def test_dev_start_takes_the_address_and_secrets_only_from_the_settings_it_checks(option):
    done = subprocess.run(["./dev", "start", option, "x"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "CONTACT_IMPORT_ADDRESS" in done.stderr


def test_the_console_does_not_watch_its_database_s_folder():
    """Issue 21, point 7: Streamlit watched .data/, where the embedded database writes all the
    time, and logged "Inotify queue overflowed"."""
    import tomllib
    settings = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert {".data", "bench/out", ".venv"} <= set(settings["server"]["folderWatchBlacklist"])


def _postmaster(data: "os.PathLike") -> int | None:
    """The pid of the embedded server running on data, if any."""
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
        return None


def _start_and_stop(data, port: int) -> None:
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CONTACT_IMPORT_ADDRESS")}
    environment["CONTACT_IMPORT_DATA_DIR"] = str(data)
    spools = data.parent / "tmp"
    spools.mkdir(exist_ok=True)
    environment["TMPDIR"] = str(spools)
    process = subprocess.Popen(["./dev", "start", "--server.port", str(port), "--server.headless", "true"],
                               cwd=PROJECT_ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_the_api(port, process)
        postmaster = _postmaster(data)
        assert postmaster is not None
        session_upload = spools / f"contact-import-{process.pid}-session.upload"  # as a console session's spool
        session_upload.write_bytes(b"full_name,email\n")
    finally:
        process.terminate()  # SIGTERM, as a service manager stops it
        process.wait(timeout=60)
    assert not session_upload.exists()
    deadline = time.monotonic() + 60
    while _postmaster(data) == postmaster:
        assert time.monotonic() < deadline, "the embedded database outlived the console"
        time.sleep(0.1)


def _wait_for_the_api(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 180  # the first start initializes the database
    while True:
        try:
            # the API's first call starts the embedded database (the pages' would too)
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/imports", timeout=30)
        except urllib.error.HTTPError as refused:
            assert refused.code == 401
            return
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "./dev start did not answer"
            time.sleep(0.3)


def test_the_embedded_database_stops_with_the_console_even_after_one_that_died(tmp_path):
    """Issue 21, point 7: the embedded PostgreSQL still ran 30 s (and for good) after the console
    got SIGTERM, and a session's upload spool survived a normal stop; and a console killed outright
    left a handle that kept the next one's database running."""
    data = tmp_path / "pg"
    _start_and_stop(data, free_port())
    gone = subprocess.Popen(["true"])
    gone.wait()
    (data / ".handle_pids.json").write_text(f"[{gone.pid}]")  # a console that died holding the database
    _start_and_stop(data, free_port())
