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
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from dashboard_stack import REGION, REPO, DashboardStack, Inventory, lab_files

from inventory_cli.local.emulator import EmulatorInfo, start_private

# A private dashboard opens with a sign-in form. So that the tests of what the page shows run
# signed in, every private stack made here gets a member of every store, signed in from Python
# (SRP, as the page does), and each test's tab starts with those sessions in its
# sessionStorage (where the page keeps them), served to the page by a route of the test's own.
# INVENTORY_TEST_DASHBOARD_ACCESS=private makes every stack private, even where provision makes
# them public (a way to run the page's tests signed in).
ACCESS_ENV = "INVENTORY_TEST_DASHBOARD_ACCESS"
SIGNED_IN_MEMBER = "all-stores@example.com"
_sessions: dict[str, str] = {}  # sessionStorage key -> the page's stored tokens
_SESSIONS_PATH = "/__inventory_test_sessions__"
_SEED_SCRIPT = """(() => {
  try {
    if (sessionStorage.getItem("inventory-test:seeded") !== null) return;
    sessionStorage.setItem("inventory-test:seeded", "1");
    const request = new XMLHttpRequest();
    request.open("GET", "SESSIONS_PATH", false);
    request.send();
    for (const [key, value] of Object.entries(JSON.parse(request.responseText))) {
      sessionStorage.setItem(key, value);
    }
  } catch (err) {
    // Not an emulator page (about:blank): nothing to seed.
  }
})();""".replace("SESSIONS_PATH", _SESSIONS_PATH)

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
               files: Sequence[Path], threshold: int | None = None,
               signed_in: bool = True) -> DashboardStack:
    stack = DashboardStack.provision(inventory, session, f"dash{next(_stack_numbers)}",
                                     threshold=threshold)
    if signed_in and (os.environ.get(ACCESS_ENV) == "private"
                      or stack.config().get("access") == "private"):
        _sign_in_for_the_page(stack)
    if files:
        stack.upload(*files)  # returns once the stream's consumers are done too
    return stack


def _sign_in_for_the_page(stack: DashboardStack) -> None:
    from staff_pool import StaffPool

    staff = StaffPool.of(stack)
    password = staff.member(SIGNED_IN_MEMBER)
    tokens = staff.tokens(SIGNED_IN_MEMBER, password)
    # The page's storage key and shape (dashboard/src/staff.js).
    _sessions[f"inventory-dashboard:staff:{staff.pool_id}:{staff.client_id}"] = json.dumps({
        "idToken": tokens["IdToken"], "accessToken": tokens["AccessToken"],
        "refreshToken": tokens["RefreshToken"]})


def with_sessions(context: Any) -> Any:
    """A browser context whose tabs start signed in to the private stacks made so far."""
    context.route(f"**{_SESSIONS_PATH}", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(_sessions)))
    context.add_init_script(_SEED_SCRIPT)
    return context


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
             signed_in: bool = True) -> DashboardStack:
        return _new_stack(inventory, backend_session,
                          lab_files() if files is None else files, threshold, signed_in)

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
    pages open signed in as a member of every store (see `_sessions`)."""
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
