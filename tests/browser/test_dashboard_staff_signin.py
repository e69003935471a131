"""A private dashboard in Chromium: staff sign in with SRP against the emulator (which checks the
password), the first sign-in sets a new password, a wrong password is refused, sign-out, the
session renewed from its refresh token and, once it is over, back to sign-in with the view
kept; a store member sees only its store."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from browser_backend import seeded_pools
from dashboard_stack import sample_rows
from playwright.sync_api import expect
from staff_pool import PASSWORD, StaffPool

pytestmark = pytest.mark.browser

NEW_PASSWORD = "Brand-New-Pass-7!"
WRONG = "Incorrect e-mail address or password."


class Traffic:
    """Every POST the page sends: its X-Amz-Target (or body), its body and the answer's status."""

    def __init__(self, page: Any) -> None:
        self.sent: list[tuple[str, str, int]] = []
        page.on("response", self._seen)

    def _seen(self, response: Any) -> None:
        request = response.request
        if request.method == "POST":
            target = request.headers.get("x-amz-target", "").split(".")[-1]
            self.sent.append((target, request.post_data or "", response.status))

    def calls(self) -> list[tuple[str, int]]:
        return [(target, status) for target, _, status in self.sent]

    def bodies(self) -> str:
        return "\n".join(body for _, body, _ in self.sent)

    def auth_flows(self) -> list[str]:
        return [json.loads(body).get("AuthFlow", "") for target, body, _ in self.sent
                if target == "InitiateAuth"]


@pytest.fixture
def staff(make_stack: Any) -> StaffPool:
    # A private stack as provision makes it: its own user pool, app client and staff role.
    return StaffPool.of(make_stack(signed_in=False, access="private"))


def sign_in(page: Any, email: str, password: str) -> None:
    expect(page.locator("#signin-form")).to_be_visible()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def expect_signed_in(page: Any, email: str) -> None:
    expect(page.locator("#who")).to_have_text(email)
    expect(page.locator("#signin")).to_be_hidden()
    expect(page.locator("#refresh")).to_be_enabled()
    expect(page.locator("#status")).not_to_have_text(re.compile("Loading|Signing in|Refreshing"))


def expect_sign_in_form(page: Any, message: str | re.Pattern[str] = "") -> None:
    expect(page.locator("#signin-form")).to_be_visible()
    for hidden in ("#controls", "#content", "#account"):
        expect(page.locator(hidden)).to_be_hidden()
    if message:
        expect(page.locator("#signin-error")).to_have_text(message)


def test_first_sign_in_sets_a_new_password_then_sign_out(page: Any, staff: StaffPool,
                                                         screenshot: Any) -> None:
    temporary = staff.invite("ana@example.com")  # no store: staff of every store
    traffic = Traffic(page)
    page.goto(staff.stack.url)
    expect_sign_in_form(page)
    screenshot(page, "staff-signin-form")

    sign_in(page, "ana@example.com", temporary)
    expect(page.locator("#newpass-form")).to_be_visible()
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD + "x")
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.locator("#signin-error")).to_have_text("The two passwords differ.")
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password and sign in").click()

    expect_signed_in(page, "ana@example.com")
    # Staff of every store: All stores, every item.
    expect(page.locator("#store option").first).to_have_text("All stores")
    expect(page.locator("#rows tr")).to_have_count(len({item for _, item, _ in sample_rows()}))
    screenshot(page, "staff-signed-in")
    # Signing in never sends the password (SRP); choosing one sends it once, to Cognito, as
    # NEW_PASSWORD_REQUIRED must.
    assert temporary not in traffic.bodies()
    assert [target for target, body, _ in traffic.sent if NEW_PASSWORD in body] == [
        "RespondToAuthChallenge"]
    assert '"ChallengeName":"NEW_PASSWORD_REQUIRED"' in traffic.bodies()
    assert ("RespondToAuthChallenge", 200) in traffic.calls()
    assert ("GetCredentialsForIdentity", 200) in traffic.calls()
    login = [json.loads(body) for target, body, _ in traffic.sent
             if target == "GetCredentialsForIdentity"][0]["Logins"]
    assert list(login) == [f"cognito-idp.us-east-1.amazonaws.com/{staff.pool_id}"]

    # A reload keeps the session (this tab's storage): no new sign-in.
    page.reload()
    expect_signed_in(page, "ana@example.com")

    page.get_by_role("button", name="Sign out").click()
    expect_sign_in_form(page, "You have signed out.")
    # Sessions of the other private stacks this test process made are seeded into every tab
    # (browser_backend.with_sessions; which ones depends on the tests run before in the same
    # worker): only this stack's own keys are the sign-out's to clear.
    other_pools = [f"inventory-dashboard:staff:{pool}:" for pool in seeded_pools()
                   if pool != staff.pool_id]
    assert page.evaluate("""(others) => Object.keys(sessionStorage)
        .filter((key) => key.startsWith("inventory-dashboard:"))
        .filter((key) => !others.some((prefix) => key.startsWith(prefix)))""",
        other_pools) == []
    page.reload()
    expect_sign_in_form(page)
    # The temporary password is spent; the new one signs in.
    sign_in(page, "ana@example.com", temporary)
    expect_sign_in_form(page, WRONG)
    before = len(traffic.sent)
    sign_in(page, "ana@example.com", NEW_PASSWORD)
    expect_signed_in(page, "ana@example.com")
    assert not any(NEW_PASSWORD in body for _, body, _ in traffic.sent[before:])


def test_a_wrong_password_is_refused_clearly(page: Any, staff: StaffPool,
                                             screenshot: Any) -> None:
    staff.member("ben@example.com")
    traffic = Traffic(page)
    page.goto(staff.stack.url)
    sign_in(page, "ben@example.com", PASSWORD + "-not")
    expect_sign_in_form(page, WRONG)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    assert ("RespondToAuthChallenge", 400) in traffic.calls()
    assert not any(target == "GetCredentialsForIdentity" for target, _ in traffic.calls())
    screenshot(page, "staff-wrong-password")
    # Someone who is no member gets the very same answer.
    sign_in(page, "nobody@example.com", PASSWORD)
    expect_sign_in_form(page, WRONG)
    sign_in(page, "ben@example.com", PASSWORD)
    expect_signed_in(page, "ben@example.com")


def test_the_session_is_renewed_and_an_ended_one_returns_to_sign_in_keeping_the_view(
        page: Any, staff: StaffPool) -> None:
    staff.member("cy@example.com")
    traffic = Traffic(page)
    page.clock.install()
    page.goto(staff.stack.url + "#store=Berlin")
    sign_in(page, "cy@example.com", PASSWORD)
    expect_signed_in(page, "cy@example.com")
    expect(page.locator("#table-title")).to_have_text("Stock: Berlin")
    assert traffic.auth_flows() == ["USER_SRP_AUTH"]

    # 56 minutes on, the id token (an hour) is renewed from the refresh token before it expires.
    page.clock.fast_forward("56:00")
    expect(page.locator("#who")).to_have_text("cy@example.com")
    for _ in range(100):  # the renewal's request goes out from the timer
        if "REFRESH_TOKEN_AUTH" in traffic.auth_flows():
            break
        page.wait_for_timeout(100)
    assert "REFRESH_TOKEN_AUTH" in traffic.auth_flows()
    assert ("InitiateAuth", 400) not in traffic.calls()
    expect(page.locator("#signin")).to_be_hidden()

    # The member's sessions end (an administrator's reset): the next renewal is refused, and
    # the page asks to sign in again with the view (the store in the address) kept.
    staff.end_sessions("cy@example.com")
    page.clock.fast_forward("56:00")
    expect_sign_in_form(page, "Your session has ended: please sign in again.")
    assert page.url.endswith("#store=Berlin")
    sign_in(page, "cy@example.com", PASSWORD)
    expect_signed_in(page, "cy@example.com")
    expect(page.locator("#table-title")).to_have_text("Stock: Berlin")
    expect(page.get_by_label("Store", exact=True)).to_have_value("Berlin")


def test_a_store_member_sees_only_its_store(page: Any, staff: StaffPool,
                                            screenshot: Any) -> None:
    staff.member("dee@example.com", "Berlin")
    traffic = Traffic(page)
    page.goto(staff.stack.url)
    sign_in(page, "dee@example.com", PASSWORD)
    expect_signed_in(page, "dee@example.com")
    # The menu is its store, and nothing else (no All stores).
    expect(page.locator("#store option")).to_have_count(1)
    expect(page.locator("#store option")).to_have_text(["Berlin"])
    expect(page.locator("#table-title")).to_have_text("Stock: Berlin")
    berlin = sorted(item for store, item, _ in sample_rows() if store == "Berlin")
    expect(page.locator("#rows tr")).to_have_count(len(berlin))
    expect(page.locator("#rows tr td:first-child")).to_have_text(["Berlin"] * len(berlin))
    assert page.url.endswith("#store=Berlin")
    screenshot(page, "staff-store-member")

    # An address naming another store shows its own store still.
    page.goto(staff.stack.url + "#store=Pusan")
    expect_signed_in(page, "dee@example.com")
    expect(page.locator("#table-title")).to_have_text("Stock: Berlin")
    # Every read was a Query of its own store: no Scan, no summaries, no other partition.
    reads = [json.loads(body) for target, body, _ in traffic.sent if target in ("Query", "Scan")]
    assert reads and all(r.get("ExpressionAttributeValues", {}).get(":store") == {"S": "Berlin"}
                         for r in reads), reads
    # The page keeps to its store, and AWS holds it there: the member's own credentials,
    # crafted into a Query of another store or a Scan, are refused by the emulator.
    dynamodb = staff.member_client("dee@example.com", "dynamodb")
    table = staff.stack.names.table
    for crafted in (lambda: dynamodb.query(
                        TableName=table, KeyConditionExpression="#s = :s",
                        ExpressionAttributeNames={"#s": "Store"},
                        ExpressionAttributeValues={":s": {"S": "Pusan"}}),
                    lambda: dynamodb.scan(TableName=table)):
        with pytest.raises(ClientError) as refused:
            crafted()
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert dynamodb.query(TableName=table, KeyConditionExpression="#s = :s",
                          ExpressionAttributeNames={"#s": "Store"},
                          ExpressionAttributeValues={":s": {"S": "Berlin"}})["Count"] == len(
                              berlin)


def test_a_member_of_two_stores_chooses_between_them(page: Any, staff: StaffPool) -> None:
    staff.member("fay@example.com", "Pusan", "Berlin")
    page.goto(staff.stack.url + "#store=Pusan")
    sign_in(page, "fay@example.com", PASSWORD)
    expect_signed_in(page, "fay@example.com")
    expect(page.locator("#store option")).to_have_text(["Berlin", "Pusan"])
    expect(page.locator("#table-title")).to_have_text("Stock: Pusan")
    page.get_by_label("Store", exact=True).select_option("Berlin")
    expect(page.locator("#table-title")).to_have_text("Stock: Berlin")
    assert page.url.endswith("#store=Berlin")


def test_sign_in_works_on_a_phone_sized_screen(browser: Any, staff: StaffPool,
                                               screenshot: Any) -> None:
    staff.member("eve.with.a.rather.long.address@example.com", "Berlin")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    try:
        phone = context.new_page()
        phone.goto(staff.stack.url)
        expect_sign_in_form(phone)
        wider = "() => document.documentElement.scrollWidth - window.innerWidth"
        assert phone.evaluate(wider) <= 0
        screenshot(phone, "staff-signin-phone")
        sign_in(phone, "eve.with.a.rather.long.address@example.com", PASSWORD)
        expect_signed_in(phone, "eve.with.a.rather.long.address@example.com")
        expect(phone.locator("#rows tr").first).to_be_visible()
        assert phone.evaluate(wider) <= 0
        expect(phone.get_by_role("button", name="Sign out")).to_be_in_viewport()
        screenshot(phone, "staff-signed-in-phone")
    finally:
        context.close()
