"""The dashboard's test backend and browser, in one place.

The backend is the real thing: a private local emulator process (its own state folder and free
port; under xdist each worker starts its own), and stacks built on it by the installed
`inventory` command in a subprocess (`provision`, then `upload --wait` of the lab files, so the
rows are loaded by the real loader Lambda from the provisioned zip). Tests that only read share
one such stack (`lab_stack`); tests that change data or configuration get a stack of their own
(`make_stack`). The emulator is stopped when the session ends, with all its Lambda workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from browser_backend import _clean_environ, _new_stack, with_sessions
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


@pytest.fixture(scope="session")
def lab_stack(inventory: Inventory, backend_session: boto3.session.Session) -> DashboardStack:
    """One stack with the six lab files loaded, shared by the tests that only read it."""
    return _new_stack(inventory, backend_session, lab_files())


@pytest.fixture
def make_stack(inventory: Inventory, backend_session: boto3.session.Session,
               ) -> Callable[..., DashboardStack]:
    """A stack of this test's own, freshly provisioned (`threshold`: `provision
    --low-stock-threshold`), with `files` uploaded (default: the six lab files; () for none)."""

    def make(files: Sequence[Path] | None = None, *, threshold: int | None = None,
             signed_in: bool = True, access: str = "public") -> DashboardStack:
        return _new_stack(inventory, backend_session,
                          lab_files() if files is None else files, threshold, signed_in,
                          access=access)

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
    """A fresh browser context per test (no shared storage), desktop-sized; private stacks'
    pages open signed in as a member of every store (see `browser_backend._sessions`)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                  timezone_id="UTC")
    with_sessions(context)
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
