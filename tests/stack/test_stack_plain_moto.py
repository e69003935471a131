"""`provision --no-dashboard` against a plain moto server: an endpoint without Cognito identity
pool roles (like LocalStack's free edition), where provisioning with a dashboard fails at
SetIdentityPoolRoles. The installed command, a real server process, none of our moto patches."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
STACK = "plain"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def plain_moto(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    log = (tmp_path / "moto.log").open("wb")
    server = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    endpoint = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 60
    while True:
        try:
            opener.open(f"{endpoint}/moto-api/", timeout=5).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.2)
    try:
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _inventory(endpoint: str, home: Path, *args: str, stack: str = STACK
               ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "INVENTORY_", "MOTO_"))}
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1",
               INVENTORY_HOME=str(home), NO_COLOR="1", COLUMNS="200")
    return subprocess.run([str(BIN / "inventory"), "--stack", stack, *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_no_dashboard_provisions_on_a_plain_moto_server(plain_moto: str, tmp_path: Path) -> None:
    # With the dashboard: refused at the identity pool's roles, with the way out.
    refused = _inventory(plain_moto, tmp_path, "provision", "--public-dashboard",
                         stack="with-dashboard")
    assert refused.returncode == 1
    error, hint = refused.stderr.splitlines()[-2:]
    assert error.startswith("Error: step ")
    assert error.endswith("failed (give unauthenticated dashboard users role "
                          "with-dashboard-dashboard-unauth-role): 500: the endpoint answered "
                          "HTTP 500 with an HTML page")
    assert hint == ("Hint: this endpoint does not seem to support the dashboard's Cognito "
                    "identity pool: provision without the dashboard, `inventory provision "
                    "--no-dashboard`")

    first = _inventory(plain_moto, tmp_path, "provision", "--no-dashboard")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert "  Dashboard            none (--no-dashboard)" in lines
    changed = lines[-2]
    assert changed.startswith("Changed: ")
    assert lines[-1].startswith("Summaries computed from 0 row(s)")  # no note: not AWS
    for absent in ("identity-pool", "dashboard-role", "dashboard-bucket", "dashboard-files"):
        assert absent not in changed

    status = _inventory(plain_moto, tmp_path, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.splitlines()[-1] == "Dashboard: off (provisioned with --no-dashboard)"
    assert "identity-pool" not in status.stdout

    again = _inventory(plain_moto, tmp_path, "provision")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "No changes: the stack is up to date."

    page = _inventory(plain_moto, tmp_path, "dashboard")
    assert page.returncode == 1
    assert page.stderr.startswith(f"Error: stack '{STACK}' has no dashboard: it was "
                                  "provisioned with --no-dashboard\n")

    gone = _inventory(plain_moto, tmp_path, "teardown", "--yes")
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout.splitlines()[-1].startswith(f"Stack {STACK} deleted (")
    assert _inventory(plain_moto, tmp_path, "status").returncode == 1
