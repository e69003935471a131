"""The browser tests' backend helpers: clean environments, new stacks (signed in when private)
and the signed-in sessions a tab starts with. A module of its own name, so that tests import it
whatever other folders' conftest modules are loaded."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from dashboard_stack import DashboardStack, Inventory

# A private dashboard opens with a sign-in form. So that the tests of what the page shows run
# signed in, every private stack made here gets a member of every store, signed in from Python
# (SRP, as the page does), and each test's tab starts with those sessions in its
# sessionStorage (where the page keeps them), served to the page by a route of the test's own.
# (test_dashboard_page.py runs every test on a public and on a private stack.)
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


_stack_numbers = itertools.count(1)


def _new_stack(inventory: Inventory, session: boto3.session.Session,
               files: Sequence[Path], threshold: int | None = None,
               signed_in: bool = True, *, access: str = "public") -> DashboardStack:
    stack = DashboardStack.provision(inventory, session, f"dash{next(_stack_numbers)}",
                                     threshold=threshold, access=access)
    if signed_in and stack.config().get("access") == "private":
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


def seeded_pools() -> list[str]:
    """The user pools whose sessions `with_sessions` seeds into every tab."""
    return [key.split(":")[2] for key in _sessions]


def with_sessions(context: Any) -> Any:
    """A browser context whose tabs start signed in to the private stacks made so far."""
    context.route(f"**{_SESSIONS_PATH}", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(_sessions)))
    context.add_init_script(_SEED_SCRIPT)
    return context
