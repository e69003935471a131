"""The page's guest sign-in in Chromium: Cognito's basic flow, used directly.

AWS scopes the enhanced flow's guest sessions down with
AmazonCognitoUnAuthedIdentitiesSessionPolicy, which lists no DynamoDB action, so the page signs
in with the basic flow from the start (GetId, GetOpenIdToken, STS AssumeRoleWithWebIdentity with
the dashboard role) and never asks for the enhanced flow's credentials. The emulator that refuses
enhanced-flow keys for DynamoDB (the test switch INVENTORY_LOCAL_DENY_ENHANCED_FLOW=1, as AWS's
scope-down does) shows the page reads at once, with no denied request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from browser_backend import _clean_environ, _new_stack
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


def test_the_basic_flow_is_used_directly(page: Any, lab_stack: DashboardStack,
                                         screenshot: Any) -> None:
    calls = SignInCalls(page)
    open_dashboard(page, lab_stack)
    expect_all_stores(page)
    # One sign-in with the basic flow, then the reads: no GetCredentialsForIdentity, no denial.
    assert calls.calls[:3] == [("GetId", 200), ("GetOpenIdToken", 200),
                               ("AssumeRoleWithWebIdentity", 200)]
    assert calls.calls[3:] and set(calls.calls[3:]) == {("Query", 200)}
    assert "GetCredentialsForIdentity" not in calls.names()
    assert lab_stack.config()["dashboardRoleArn"] == (
        f"arn:aws:iam::{lab_stack.names.account_id}:role/{lab_stack.names.dashboard_role}")
    screenshot(page, "signin-basic-flow")

    # A reload remembers the guest identity: no new GetId, the same basic flow.
    before = len(calls.calls)
    page.reload()
    expect_all_stores(page)
    assert [name for name, _ in calls.calls[before:before + 2]] == [
        "GetOpenIdToken", "AssumeRoleWithWebIdentity"]


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


def test_where_enhanced_flow_keys_cannot_read_the_page_reads_at_once(
        page: Any, denied_stack: DashboardStack, screenshot: Any) -> None:
    calls = SignInCalls(page)
    open_dashboard(page, denied_stack)
    expect_all_stores(page)
    # Not one denied read: the basic flow's credentials from the first request on.
    assert calls.calls[:3] == [("GetId", 200), ("GetOpenIdToken", 200),
                               ("AssumeRoleWithWebIdentity", 200)]
    assert calls.calls[3:] and set(calls.calls[3:]) == {("Query", 200)}
    screenshot(page, "signin-basic-flow-scoped-down-enhanced")

    # One store: Query and the store list, no new sign-in and no denied call.
    before = len(calls.calls)
    page.get_by_label("Store", exact=True).select_option("Berlin")
    expect(page.locator("#table-title")).to_have_text("Stock: Berlin")
    expect(page.locator("#rows tr")).to_have_count(6)
    expect(page.locator("#notice")).to_be_hidden()
    assert calls.calls[before:] and set(calls.calls[before:]) == {("Query", 200)}


def test_when_the_basic_flow_fails_the_page_says_so(page: Any, denied_stack: DashboardStack,
                                                    screenshot: Any) -> None:
    # Break the role's trust from outside: it names another pool, so STS refuses the token.
    denied_stack.client("iam").update_assume_role_policy(
        RoleName=denied_stack.names.dashboard_role,
        PolicyDocument=json.dumps(r.dashboard_trust_policy("us-east-1:another-pool")))
    calls = SignInCalls(page)
    open_dashboard(page, denied_stack)

    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("#notice-title")).to_have_text("Sign-in failed")
    reason = page.locator("#notice-reason")
    expect(reason).to_contain_text("Could not get guest credentials from Amazon Cognito: STS "
                                   "AssumeRoleWithWebIdentity: AccessDenied")
    expect(page.locator("#notice-hint")).to_contain_text("run `inventory provision` to repair")
    expect(page.locator("#status")).to_have_text("No data read yet.")
    assert ("AssumeRoleWithWebIdentity", 403) in calls.calls
    assert "GetCredentialsForIdentity" not in calls.names()
    assert "Query" not in calls.names()  # no read is tried without credentials
    screenshot(page, "signin-basic-flow-fails")
