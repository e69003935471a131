"""The dashboard's test backend and browser, in one place.

The backend is the real thing: a private local emulator process (its own state folder and free
port; under xdist each worker starts its own), and stacks built on it by the installed
`inventory` command in a subprocess (`provision`, then `upload --wait` of the lab files, so the
rows are loaded by the real loader Lambda from the provisioned zip). Tests that only read share
one such stack (`lab_stack`); tests that change data or configuration get a stack of their own
(`make_stack`). The emulator is stopped when the session ends, with all its Lambda workers.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from dashboard_stack import REGION, REPO, DashboardStack, Inventory, lab_files

from inventory_cli.local.emulator import EmulatorInfo, start_private

ARTIFACTS = REPO / "test-artifacts" / "dashboard"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _clean_environ(home: Path) -> dict[str, str]:
    """This process's environment without any AWS_* / INVENTORY_* from outside."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "INVENTORY_"))}
    environ.update(INVENTORY_HOME=str(home), NO_COLOR="1", COLUMNS="200",
                   # No developer profile or key can reach the emulator: with an endpoint and
                   # no credentials, the CLI uses its fixed local ones (and region us-east-1).
                   AWS_CONFIG_FILE=str(home / "no-aws-config"),
                   AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"))
    return environ


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorInfo]:
    """A private emulator for the session, stopped (with its workers) at the end."""
    home = tmp_path_factory.mktemp("inventory-home")
    environ = _clean_environ(home)
    with start_private(home, environ=environ) as info:
        yield info


@pytest.fixture(scope="session")
def backend_endpoint(emulator: EmulatorInfo) -> str:
    return emulator.endpoint


@pytest.fixture(scope="session")
def backend_session() -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name=REGION)


@pytest.fixture(scope="session")
def inventory(emulator: EmulatorInfo, tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    """The installed command, pointed at the emulator, with a clean environment."""
    return Inventory(endpoint=emulator.endpoint, env=_clean_environ(emulator.home),
                     cwd=tmp_path_factory.mktemp("inventory-cwd"))


_stack_numbers = itertools.count(1)


def _new_stack(inventory: Inventory, session: boto3.session.Session,
               files: Sequence[Path], threshold: int | None = None) -> DashboardStack:
    stack = DashboardStack.provision(inventory, session, f"dash{next(_stack_numbers)}",
                                     threshold=threshold)
    if files:
        stack.upload(*files)  # returns once the stream's consumers are done too
    return stack


@pytest.fixture(scope="session")
def lab_stack(inventory: Inventory, backend_session: boto3.session.Session) -> DashboardStack:
    """One stack with the six lab files loaded, shared by the tests that only read it."""
    return _new_stack(inventory, backend_session, lab_files())


@pytest.fixture
def make_stack(inventory: Inventory, backend_session: boto3.session.Session,
               ) -> Callable[..., DashboardStack]:
    """A stack of this test's own, freshly provisioned (`threshold`: `provision
    --low-stock-threshold`), with `files` uploaded (default: the six lab files; () for none)."""

    def make(files: Sequence[Path] | None = None, *,
             threshold: int | None = None) -> DashboardStack:
        return _new_stack(inventory, backend_session,
                          lab_files() if files is None else files, threshold)

    return make


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=os.environ.get("INVENTORY_CHROMIUM", "/usr/bin/chromium"),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context per test (no shared storage), desktop-sized."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                  timezone_id="UTC")
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    """Save a full-page screenshot as a test artifact (test-artifacts/dashboard/NAME.png)."""

    def take(target_page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        target_page.screenshot(path=str(path), full_page=True)
        return path

    return take
