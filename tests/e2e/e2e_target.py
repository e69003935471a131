"""Where the end-to-end tests run, and how they drive the installed `inventory` command.

The target is chosen by environment variables (documented in `test_e2e_pipeline.py`):
- default: a local emulator started with `inventory local start` in this test's own
  INVENTORY_HOME, used through `--local`;
- `INVENTORY_E2E_ENDPOINT=http://host:port`: any running endpoint, through `--endpoint-url`;
- `INVENTORY_E2E_TARGET=aws`: real AWS through the default credential chain.

Every command runs in a subprocess with an environment cleaned of the caller's AWS_* and
INVENTORY_* variables (for AWS, the credential chain's own variables are kept).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.config

INVENTORY = Path(sys.executable).with_name("inventory")
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
LOCAL_REGION = "us-east-1"
IDLE_PATH = "/_inventory/idle"
# Requests to an emulator never go through a proxy from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# The AWS credential chain's variables, kept when the target is real AWS.
_AWS_CHAIN_VARS = ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
                   "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE",
                   "AWS_SHARED_CREDENTIALS_FILE", "AWS_CA_BUNDLE", "AWS_ROLE_ARN",
                   "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME")
_LOAD_ROW = re.compile(r"^(?P<key>\S+\.csv)\s+(?P<status>\w+)\s+(?P<rows>\d+)\s+"
                       r"(?P<loaded>\d+)\s+(?P<rejected>\d+)\s*$")


class CommandFailed(AssertionError):
    pass


def unique_stack(prefix: str = "e2e") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Target:
    """One place the pipeline runs; `kind` is "local", "endpoint" or "aws"."""

    kind: str
    stack: str
    work: Path
    home: Path
    env: dict[str, str]
    endpoint: str | None = None
    timeout_s: float = 60.0
    # How long to watch for alerts that should NOT come, where "idle" cannot be asked.
    grace_s: float = 10.0
    emulator_pid: int | None = None
    _has_idle: bool | None = field(default=None, repr=False)

    @property
    def is_local(self) -> bool:
        """The emulator is ours: its outbox and its processes can be inspected."""
        return self.kind == "local"

    @property
    def global_args(self) -> list[str]:
        args = ["--stack", self.stack]
        if self.kind == "local":
            args.append("--local")
        elif self.kind == "endpoint":
            assert self.endpoint
            args += ["--endpoint-url", self.endpoint]
        return args

    # -- the command ------------------------------------------------------------------------

    def run(self, *args: str, stack: bool = True, expect: int | None = 0,
            timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """Run `inventory [global options] args...`; assert its exit code unless expect=None."""
        argv = [str(INVENTORY), *(self.global_args if stack else []), *args]
        proc = subprocess.run(argv, cwd=self.work, env=self.env, capture_output=True,
                              text=True, timeout=timeout or max(120.0, self.timeout_s * 2),
                              check=False)
        if expect is not None and proc.returncode != expect:
            raise CommandFailed(
                f"`inventory {' '.join(argv[1:])}` exited {proc.returncode}, expected {expect}"
                f"\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
        return proc

    def json(self, *args: str, stack: bool = True) -> Any:
        return json.loads(self.run(*args, stack=stack).stdout)

    def alerts(self) -> list[dict[str, Any]]:
        return list(self.json("alerts", "--output", "json"))

    def outbox(self) -> list[dict[str, Any]]:
        assert self.is_local, "the outbox can only be read on our own emulator"
        return list(self.json("local", "outbox", "--output", "json", stack=False))

    # -- any other client -------------------------------------------------------------------

    def boto3_client(self, service: str) -> Any:
        config = botocore.config.Config(retries={"max_attempts": 5, "mode": "standard"})
        if self.kind == "aws":
            return boto3.session.Session().client(service, config=config)
        return boto3.session.Session(region_name=LOCAL_REGION, **LOCAL_CREDENTIALS).client(
            service, endpoint_url=self.endpoint, config=config)

    def uploads_bucket(self) -> str:
        sts = self.boto3_client("sts")
        account = sts.get_caller_identity()["Account"]
        return f"{self.stack}-uploads-{account}-{sts.meta.region_name}"

    def table(self) -> str:
        return f"{self.stack}-inventory"

    def count_items(self) -> int:
        ddb = self.boto3_client("dynamodb")
        return sum(int(page["Count"]) for page in ddb.get_paginator("scan").paginate(
            TableName=self.table(), Select="COUNT"))

    # -- waiting ----------------------------------------------------------------------------

    def _wait_idle(self) -> bool:
        """Ask the emulator to wait until idle; False when the endpoint has no such route."""
        if self.endpoint is None or self._has_idle is False:
            return False
        deadline = time.monotonic() + self.timeout_s
        while True:
            wait = max(0.0, min(30.0, deadline - time.monotonic()))
            try:
                with _DIRECT.open(f"{self.endpoint}{IDLE_PATH}?timeout={wait:.1f}",
                                  timeout=wait + 10) as response:
                    body = json.loads(response.read())
            except (OSError, ValueError, urllib.error.URLError):
                self._has_idle = False
                return False
            if not isinstance(body, dict) or "idle" not in body:
                self._has_idle = False
                return False
            self._has_idle = True
            if body["idle"]:
                return True
            if time.monotonic() >= deadline:
                raise AssertionError(f"the emulator at {self.endpoint} was not idle after "
                                     f"{self.timeout_s:.0f} s: {body}")

    def settle(self, expected_alerts: int) -> list[dict[str, Any]]:
        """Wait until the pipeline has handled everything; return the alerts then.

        On an emulator of ours, its idle route says when every event and stream record has
        been handled. Elsewhere, poll `alerts` until `expected_alerts` are there, then keep
        watching for `grace_s` so that an alert too many would be seen.
        """
        if self._wait_idle():
            return self.alerts()
        alerts = poll(self.alerts, lambda a: len(a) >= expected_alerts, self.timeout_s,
                      f"{expected_alerts} alerts")
        time.sleep(self.grace_s)
        return self.alerts() if self.grace_s else alerts


def poll(read: Callable[[], Any], done: Callable[[Any], bool], timeout_s: float,
         what: str, interval_s: float = 0.5) -> Any:
    """Call `read` until `done(value)`; fail with the last value after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout_s:.0f} s for {what}; last seen: {value!r}")
        time.sleep(interval_s)


def loaded_rows(upload_output: str) -> dict[str, tuple[str, int, int, int]]:
    """The summary table of `upload --wait`: key -> (status, rows, loaded, rejected)."""
    found = {}
    for line in upload_output.splitlines():
        match = _LOAD_ROW.match(line.strip())
        if match:
            found[match["key"]] = (match["status"], int(match["rows"]), int(match["loaded"]),
                                   int(match["rejected"]))
    return found


def write_csv(path: Path, rows: Sequence[tuple[str, str, int]]) -> Path:
    lines = ["store,item,count", *(f"{s},{i},{c}" for s, i, c in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def clean_env(kind: str, home: Path, work: Path) -> dict[str, str]:
    """This process's environment without AWS_* and INVENTORY_*, plus what the target needs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INVENTORY_"))}
    env.update(NO_COLOR="1", COLUMNS="200", INVENTORY_HOME=str(home))
    if kind == "aws":
        env.update({k: os.environ[k] for k in _AWS_CHAIN_VARS if k in os.environ})
    else:
        # Keep a developer's ~/.aws profiles and keys away from the emulator.
        env["AWS_CONFIG_FILE"] = str(work / "no-aws-config")
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(work / "no-aws-credentials")
    return env
