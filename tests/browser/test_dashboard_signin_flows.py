"""The page's guest sign-in in Chromium: the enhanced flow, and the fall back to the basic flow.

AWS scopes the enhanced flow's guest sessions down with a policy of its own
(AmazonCognitoUnAuthedIdentitiesSessionPolicy), which lists no DynamoDB action; the emulator
applies it, so the page's first reads are refused and it falls back to the basic flow
(GetOpenIdToken + STS AssumeRoleWithWebIdentity with the dashboard role). The test switch
INVENTORY_LOCAL_DENY_ENHANCED_FLOW=1 refuses the enhanced flow's keys even with role
enforcement off; the other cases run on an emulator process of their own started with it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from conftest import _clean_environ, _new_stack
from dashboard_stack import DashboardStack, Inventory, sample_rows
from playwright.sync_api import expect

from inventory_cli.local.emulator import EmulatorInfo, start_private
from inventory_cli.local.moto_seam import DENY_ENHANCED_FLOW_ENV
from inventory_cli.stack import resources as r

pytestmark = pytest.mark.browser


class SignInCalls:
    """The AWS calls the page makes, by name, with the HTTP status of each answer."""

    def __init__(self, page: Any) -> None:
        self.calls: list[tuple[str, int]] = []
        page.on("response", self._seen)

    def _seen(self, response: Any) -> None:
        request = response.request
        if request.method != "POST":
            return
        target = request.headers.get("x-amz-target", "")
        body = request.post_data or ""
        if target:
            self.calls.append((target.split(".")[-1], response.status))
        elif "Action=AssumeRoleWithWebIdentity" in body:
            self.calls.append(("AssumeRoleWithWebIdentity", response.status))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def open_dashboard(page: Any, stack: DashboardStack) -> None:
    page.goto(stack.url)
    expect(page.locator("#refresh")).to_be_enabled()
    expect(page.locator("#status")).not_to_have_text(re.compile("Loading|Signing in|Refreshing"))


def expect_all_stores(page: Any) -> None:
    items = {item for _, item, _ in sample_rows()}
    expect(page.locator("#rows tr")).to_have_count(len(items))
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("#content")).to_be_visible()


def test_the_enhanced_flow_is_scoped_down_as_on_aws_and_the_page_falls_back(
        page: Any, lab_stack: DashboardStack, screenshot: Any) -> None:
    calls = SignInCalls(page)
    open_dashboard(page, lab_stack)
    expect_all_stores(page)
    # AWS's scope-down policy for enhanced-flow guests lists no DynamoDB action, and the
    # emulator applies it: the first reads are refused (400), one basic sign-in follows, and
    # every read then succeeds with the dashboard role's own policy.
    names = [name for name, _ in calls.calls]
    assert calls.calls[:2] == [("GetId", 200), ("GetCredentialsForIdentity", 200)]
    switch = names.index("GetOpenIdToken")
    assert calls.calls[switch + 1] == ("AssumeRoleWithWebIdentity", 200)
    assert calls.calls[2:switch] and set(calls.calls[2:switch]) == {("Query", 400)}
    assert calls.calls[switch + 2:] and set(calls.calls[switch + 2:]) == {("Query", 200)}
    assert lab_stack.config()["dashboardRoleArn"] == (
        f"arn:aws:iam::{lab_stack.names.account_id}:role/{lab_stack.names.dashboard_role}")
    screenshot(page, "signin-enhanced-flow")


@pytest.fixture(scope="module")
def denying_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorInfo]:
    """An emulator whose DynamoDB refuses the enhanced flow's guest keys."""
    home = tmp_path_factory.mktemp("inventory-home-deny")
    environ = {**_clean_environ(home), DENY_ENHANCED_FLOW_ENV: "1"}
    with start_private(home, environ=environ) as info:
        yield info


@pytest.fixture(scope="module")
def denying_inventory(denying_emulator: EmulatorInfo,
                      tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    return Inventory(endpoint=denying_emulator.endpoint,
                     env=_clean_environ(denying_emulator.home),
                     cwd=tmp_path_factory.mktemp("inventory-cwd-deny"))


@pytest.fixture
def denied_stack(denying_inventory: Inventory,
                 backend_session: boto3.session.Session) -> DashboardStack:
    from dashboard_stack import lab_files

    return _new_stack(denying_inventory, backend_session, lab_files())


def test_a_denied_read_falls_back_to_the_basic_flow_and_stays_there(
        page: Any, denied_stack: DashboardStack, screenshot: Any) -> None:
    calls = SignInCalls(page)
    open_dashboard(page, denied_stack)
    expect_all_stores(page)
    # Reads denied under the enhanced flow (the page reads in parallel, so one or more), one
    # basic sign-in shared by them, then every read succeeds with its credentials.
    names = [name for name, _ in calls.calls]
    assert calls.calls[:2] == [("GetId", 200), ("GetCredentialsForIdentity", 200)]
    assert names.count("GetOpenIdToken") == names.count("AssumeRoleWithWebIdentity") == 1
    switch = names.index("GetOpenIdToken")
    assert calls.calls[switch + 1] == ("AssumeRoleWithWebIdentity", 200)
    assert calls.calls[2:switch] and set(calls.calls[2:switch]) == {("Query", 400)}
    assert calls.calls[switch + 2:] and set(calls.calls[switch + 2:]) == {("Query", 200)}
    screenshot(page, "signin-fallback-basic-flow")

    # One store: Query and the store list, both with the basic flow's credentials, no new
    # sign-in and no denied call.
    before = len(calls.calls)
    page.get_by_label("Store", exact=True).select_option("Berlin")
    expect(page.locator("#table-title")).to_have_text("Stock: Berlin")
    expect(page.locator("#rows tr")).to_have_count(6)
    expect(page.locator("#notice")).to_be_hidden()
    assert calls.calls[before:] and set(calls.calls[before:]) == {("Query", 200)}


def test_when_both_flows_fail_the_page_says_so(page: Any, denied_stack: DashboardStack,
                                               screenshot: Any) -> None:
    # Break the role's trust from outside: it names another pool, so STS refuses the token.
    denied_stack.client("iam").update_assume_role_policy(
        RoleName=denied_stack.names.dashboard_role,
        PolicyDocument=json.dumps(r.dashboard_trust_policy("us-east-1:another-pool")))
    calls = SignInCalls(page)
    open_dashboard(page, denied_stack)

    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("#notice-title")).to_have_text("Reading the inventory failed")
    reason = page.locator("#notice-reason")
    expect(reason).to_contain_text("DynamoDB denied the guest credentials (AccessDeniedException")
    expect(reason).to_contain_text("and the basic sign-in flow failed too: STS "
                                   "AssumeRoleWithWebIdentity: AccessDenied")
    expect(page.locator("#notice-hint")).to_contain_text("Run `inventory provision` to repair")
    expect(page.locator("#status")).to_have_text("No data read yet.")
    assert ("AssumeRoleWithWebIdentity", 403) in calls.calls
    screenshot(page, "signin-both-flows-fail")
