"""The dashboard page in a real browser (headless Chromium) against the local emulator.

The stacks are provisioned by `inventory provision` and fed by `inventory upload --wait` (the six
lab files, loaded by the real loader Lambda). Every test runs twice: on a public stack (guests)
and on a private one as provision makes it, signed in as staff of every store (the page's own
session, seeded into the tab). Every test saves a screenshot of the state it checks under
test-artifacts/dashboard/.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import boto3
import pytest
from browser_backend import _new_stack, with_sessions
from dashboard_stack import SAMPLES, DashboardStack, Inventory, lab_files, sample_rows
from playwright.sync_api import expect

from inventory_cli.local.moto_seam import GUEST_KEY_PREFIX

pytestmark = pytest.mark.browser

INJECTION = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module", params=["public", "private"])
def dashboard_access(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def lab_stack(inventory: Inventory, backend_session: boto3.session.Session,
              dashboard_access: str) -> DashboardStack:
    """The six lab files on a stack of each access mode (this module's own)."""
    return _new_stack(inventory, backend_session, lab_files(), access=dashboard_access)


@pytest.fixture
def make_stack(inventory: Inventory, backend_session: boto3.session.Session,
               dashboard_access: str) -> Any:
    def make(files: Any = None, *, threshold: int | None = None) -> DashboardStack:
        return _new_stack(inventory, backend_session, lab_files() if files is None else files,
                          threshold, access=dashboard_access)

    return make


def open_dashboard(page: Any, stack: DashboardStack, fragment: str = "") -> None:
    """Open the page and wait until its first read finished (data, empty state or error)."""
    page.goto(stack.url + fragment)
    expect(page.locator("#refresh")).to_be_enabled()
    expect(page.locator("#status")).not_to_have_text(re.compile("Loading|Signing in|Refreshing"))


def table_rows(page: Any) -> list[tuple[str, str, int]]:
    """(store, item, count) of every body row, as shown."""
    shown = []
    for row in page.locator("#rows tr").all():
        store = row.locator("td").nth(0).inner_text()
        item = row.locator(".item-name").inner_text()
        count = int(row.locator(".count").inner_text().replace(",", ""))
        shown.append((store, item, count))
    return shown


def test_berlin_shows_six_rows_with_the_item_at_zero_highlighted(
    page: Any, lab_stack: DashboardStack, screenshot: Any
) -> None:
    open_dashboard(page, lab_stack)

    page.get_by_label("Store", exact=True).select_option("Berlin")

    expect(page.locator("#table-title")).to_have_text("Stock: Berlin")
    berlin = sorted((r for r in sample_rows() if r[0] == "Berlin"), key=lambda r: r[1].lower())
    assert table_rows(page) == berlin
    assert len(berlin) == 6
    low_rows = page.locator("#rows tr.low")
    expect(low_rows).to_have_count(1)
    expect(low_rows.locator(".item-name")).to_have_text("Echo Plus")
    expect(low_rows.locator(".count")).to_have_text("0")
    expect(low_rows.locator(".badge")).to_have_text("low")
    expect(page.locator("#stat-low")).to_have_text("1")
    expect(page.locator("#stat-low-label")).to_have_text("item at or below 0")
    # The chart: one bar per item, the same item marked, axis from 0.
    expect(page.locator("#chart .bar-row")).to_have_count(6)
    expect(page.locator("#chart .bar-row.low")).to_have_count(1)
    expect(page.locator('#chart .bar-row.low[data-item="Echo Plus"] .value')).to_have_text("0")
    assert page.locator("#chart .tick").first.text_content() == "0"
    assert page.url.endswith("#store=Berlin")
    screenshot(page, "berlin")


def test_all_stores_shows_per_item_totals_of_the_six_files(
    page: Any, lab_stack: DashboardStack, screenshot: Any
) -> None:
    open_dashboard(page, lab_stack)

    totals: dict[str, int] = defaultdict(int)
    for _store, item, count in sample_rows():
        totals[item] += count
    expected = sorted((("All stores", item, n) for item, n in totals.items()),
                      key=lambda r: r[1].lower())
    expect(page.get_by_label("Store", exact=True)).to_have_value("")
    shown = table_rows(page)
    # The page's totals are what `inventory show --totals` reads from the same table...
    cli_totals = sorted((("All stores", t["item"], t["count"]) for t in lab_stack.show_totals()),
                        key=lambda r: r[1].lower())
    assert shown == cli_totals
    # ...and what the six lab files add up to.
    assert shown == expected
    # Every store with rows is in the menu, after "All stores".
    options = page.locator("#store option").all_inner_texts()
    assert options == ["All stores", "Berlin", "Calcutta", "Karachi", "Pusan", "Shanghai",
                       "Springfield"]
    expect(page.locator("#stat-stores")).to_have_text("6")
    expect(page.locator("#stat-units")).to_have_text(str(sum(totals.values())))
    # Each lab file has exactly one item at 0: six store items, one per store.
    expect(page.locator("#stat-low")).to_have_text("6")
    expect(page.locator("#low-store-list li.has-low")).to_have_count(6)
    expect(page.locator('#low-store-list li[data-store="Berlin"]')).to_contain_text(
        "Echo Plus (0)")
    expect(page.locator('#rows tr[data-item="Echo Plus"] .note')).to_have_text(
        "low in Berlin, Karachi")
    # No total is at 0, but four items are out somewhere: marked (amber), not highlighted (red).
    expect(page.locator("#rows tr.low")).to_have_count(0)
    expect(page.locator("#chart .bar-row.warn")).to_have_count(4)
    expect(page.locator("#legend-warn")).to_be_visible()
    # Bars are drawn to scale from 0: width is proportional to the total.
    widths = {
        item: float(page.locator(f'#chart .bar-row[data-item="{item}"] .bar').get_attribute(
            "width"))
        for item in totals
    }
    ratio = {item: widths[item] / totals[item] for item in totals}
    assert max(ratio.values()) - min(ratio.values()) < 1e-6
    assert page.locator("#chart .tick").first.text_content() == "0"
    screenshot(page, "all-stores")


def test_reads_use_guest_credentials_and_only_the_page_origin(
    page: Any, lab_stack: DashboardStack, backend_endpoint: str
) -> None:
    """Public: the basic guest flow. Private (signed in): the member's login, nothing else."""
    stack = lab_stack
    calls: list[tuple[str, str, str]] = []
    page.on("request", lambda r: calls.append(
        (r.url, r.headers.get("x-amz-target", ""), r.headers.get("authorization", ""))))
    key_answers: list[Any] = []
    page.on("response", lambda r: key_answers.append(r) if (
        "Action=AssumeRoleWithWebIdentity" in (r.request.post_data or "")
        or r.request.headers.get("x-amz-target", "").endswith(".GetCredentialsForIdentity"))
        else None)
    open_dashboard(page, stack, "#store=Berlin")

    assert all(url.startswith(backend_endpoint + "/") for url, _, _ in calls), calls
    targets = [target for _, target, _ in calls if target]
    private = stack.config().get("access") == "private"
    if private:
        # Signed in already (the tab's session): the login gives the credentials at once.
        assert targets[:2] == ["AWSCognitoIdentityService.GetId",
                               "AWSCognitoIdentityService.GetCredentialsForIdentity"]
    else:
        # The basic guest flow: GetId, GetOpenIdToken, then STS (a form POST, no target).
        assert targets[:2] == ["AWSCognitoIdentityService.GetId",
                               "AWSCognitoIdentityService.GetOpenIdToken"]
    # One store: a Query for its rows and one of the summary table for the menu (no Scan).
    assert targets[2:] == ["DynamoDB_20120810.Query", "DynamoDB_20120810.Query"]
    answer, = key_answers
    found = re.search(r"<AccessKeyId>([^<]+)</AccessKeyId>", "" if private else answer.text())
    key = answer.json()["Credentials"]["AccessKeyId"] if private else found and found.group(1)
    assert key
    for _, target, authorization in calls:
        if target.startswith("AWSCognitoIdentityService."):
            assert authorization == ""  # Cognito's calls are unsigned
        elif target.startswith("DynamoDB_20120810."):
            # Signed with the session Cognito (private) or STS (public) handed out; a guest
            # never reads with an enhanced-flow key (recognisable on the emulator by its
            # prefix).
            assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={key}/"), authorization
            assert private or not authorization.startswith(
                f"AWS4-HMAC-SHA256 Credential={GUEST_KEY_PREFIX}")
            assert "/us-east-1/dynamodb/aws4_request" in authorization


def test_a_new_upload_appears_after_refresh(
    page: Any, make_stack: Any, screenshot: Any, tmp_path: Path
) -> None:
    stack = make_stack()
    open_dashboard(page, stack, "#store=Berlin")
    expect(page.locator("#rows tr")).to_have_count(6)
    first_read = page.locator("#read-at").get_attribute("datetime")

    stack.upload_rows(tmp_path, "inventory-berlin-new.csv", [("Berlin", "Fire TV Stick", 4)])
    expect(page.locator("#rows tr")).to_have_count(6)  # nothing changes until a refresh
    page.get_by_role("button", name="Refresh").click()

    expect(page.locator("#rows tr")).to_have_count(7)
    new_row = page.locator('#rows tr[data-item="Fire TV Stick"]')
    expect(new_row.locator(".count")).to_have_text("4")
    assert page.locator("#read-at").get_attribute("datetime") >= first_read
    screenshot(page, "after-refresh")


def test_refreshes_by_itself_every_30_seconds(
    page: Any, make_stack: Any, tmp_path: Path
) -> None:
    stack = make_stack([SAMPLES / "inventory-berlin.csv"])
    page.clock.install()
    open_dashboard(page, stack, "#store=Berlin")
    stack.upload_rows(tmp_path, "inventory-berlin-restock.csv", [("Berlin", "Echo Plus", 9)])

    page.clock.run_for(20_000)
    expect(page.locator('#rows tr[data-item="Echo Plus"] .count')).to_have_text("0")
    page.clock.run_for(11_000)

    expect(page.locator('#rows tr[data-item="Echo Plus"] .count')).to_have_text("9")
    expect(page.locator("#rows tr.low")).to_have_count(0)
    expect(page.locator("#stat-low")).to_have_text("0")


def test_names_are_rendered_as_text_and_run_nothing(
    page: Any, make_stack: Any, screenshot: Any, tmp_path: Path
) -> None:
    script_item = "<script>alert(2)</script>"
    stack = make_stack(())
    # Through the CSV contract (quoted as needed); `upload --wait` exits 1 if a row is rejected.
    stack.upload_rows(tmp_path, "inventory-injection.csv", [
        (INJECTION, script_item, 0), (INJECTION, "Echo Dot", 5), ("Berlin", INJECTION, 3)])
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_dashboard(page, stack)

    assert INJECTION in page.locator("#store option").all_inner_texts()
    expect(page.locator('#rows tr[data-item="<img src=x onerror=alert(1)>"] .item-name')
           ).to_have_text(INJECTION)
    page.get_by_label("Store", exact=True).select_option(INJECTION)
    expect(page.locator("#rows tr")).to_have_count(2)
    assert table_rows(page) == [(INJECTION, script_item, 0), (INJECTION, "Echo Dot", 5)]
    expect(page.locator(f'#chart .bar-row[data-item="{script_item}"] .label')).to_have_text(
        script_item)
    # Nothing was parsed as markup: no image element, no script beyond the page's own.
    assert page.locator("main img").count() == 0
    assert page.locator("script").count() == 1
    page.wait_for_timeout(300)  # an onerror handler would fire by now
    assert dialogs == []
    screenshot(page, "injection-as-text")


def test_wrong_identity_pool_shows_the_sign_in_error(
    page: Any, make_stack: Any, screenshot: Any
) -> None:
    stack = make_stack(())
    stack.rewrite_config(identityPoolId="us-east-1:00000000-0000-0000-0000-000000000000")
    open_dashboard(page, stack)

    notice = page.get_by_role("alert")
    expect(notice).to_be_visible()
    expect(page.locator("#notice-title")).to_have_text("Sign-in failed")
    expect(page.locator("#notice-reason")).to_contain_text(
        re.compile("Could not get (guest|your) credentials from Amazon Cognito: "))
    expect(page.locator("#notice-reason")).to_contain_text("ResourceNotFoundException")
    expect(page.locator("#notice-hint")).to_contain_text("identityPoolId in config.json")
    expect(page.locator("#status")).to_have_text("No data read yet.")
    expect(page.locator("#content")).to_be_hidden()
    screenshot(page, "error-wrong-identity-pool")


def test_a_failed_read_keeps_the_last_data_and_says_why(
    page: Any, make_stack: Any, screenshot: Any
) -> None:
    stack = make_stack([SAMPLES / "inventory-berlin.csv"])
    open_dashboard(page, stack, "#store=Berlin")

    stack.client("dynamodb").delete_table(TableName=stack.names.table)
    page.get_by_role("button", name="Refresh").click()

    expect(page.locator("#notice-title")).to_have_text("Reading the inventory failed")
    expect(page.locator("#notice-reason")).to_contain_text("ResourceNotFoundException")
    expect(page.locator("#notice-hint")).to_have_text(
        f"The table {stack.names.table} does not exist: run `inventory provision`.")
    expect(page.locator("#rows tr")).to_have_count(6)  # the last good read stays on screen
    expect(page.locator("#status")).to_contain_text("Last refresh failed; showing data read at ")
    screenshot(page, "error-read-failed")


def test_empty_table_shows_how_to_upload(
    page: Any, make_stack: Any, screenshot: Any
) -> None:
    stack = make_stack(())  # freshly provisioned, nothing uploaded
    open_dashboard(page, stack)

    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#empty-title")).to_have_text("No inventory yet")
    expect(page.locator("#empty-text")).to_have_text(
        f"The table {stack.names.table} has no rows yet.")
    # The stack is not the default one, so the suggested commands name it.
    expect(page.locator("#empty-command")).to_have_text(
        f"inventory --stack {stack.names.stack} upload inventory-berlin.csv")
    expect(page.locator("#empty-local")).to_be_visible()  # config.json names an endpoint
    expect(page.locator("#empty-local-command")).to_have_text(
        f"inventory --stack {stack.names.stack} --local upload inventory-berlin.csv")
    expect(page.locator("#content")).to_be_hidden()
    expect(page.locator("#notice")).to_be_hidden()
    assert page.locator("#store option").all_inner_texts() == ["All stores"]
    screenshot(page, "empty")


def test_usable_on_a_phone_sized_screen(
    browser: Any, lab_stack: DashboardStack, screenshot: Any
) -> None:
    stack = lab_stack
    context = with_sessions(browser.new_context(viewport={"width": 390, "height": 844},
                                                is_mobile=True, has_touch=True,
                                                device_scale_factor=2))
    try:
        phone = context.new_page()
        open_dashboard(phone, stack, "#store=Berlin")
        expect(phone.locator("#rows tr")).to_have_count(6)
        # Nothing wider than the screen: no sideways scrolling.
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        chart_width = phone.locator("#chart svg").bounding_box()["width"]
        assert chart_width <= 390
        # Controls are big enough to tap.
        assert phone.get_by_label("Store", exact=True).bounding_box()["height"] >= 44
        assert phone.get_by_role("button", name="Refresh").bounding_box()["height"] >= 44
        screenshot(phone, "phone-berlin")
    finally:
        context.close()


def test_controls_are_labelled_and_the_table_is_a_real_table(
    page: Any, lab_stack: DashboardStack
) -> None:
    open_dashboard(page, lab_stack)

    expect(page.get_by_role("combobox", name="Store", exact=True)).to_be_enabled()
    expect(page.get_by_role("button", name="Refresh")).to_be_enabled()
    table = page.get_by_role("table")
    expect(table).to_have_count(1)
    headers = table.get_by_role("columnheader").all_inner_texts()
    assert headers == ["Store", "Item", "Count"]
    expect(page.get_by_role("img", name=re.compile("count per item, axis from 0"))).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("refreshes every 30 s")


def test_threshold_from_config_marks_items_at_or_below_it(
    page: Any, make_stack: Any, screenshot: Any
) -> None:
    stack = make_stack([SAMPLES / "inventory-berlin.csv"], threshold=10)
    assert stack.config()["lowStockThreshold"] == 10  # provision wrote it for the page
    open_dashboard(page, stack, "#store=Berlin")

    # Berlin: Echo Look has exactly 10 (at the threshold), Echo Plus 0 (below it).
    low = page.locator("#rows tr.low .item-name").all_inner_texts()
    assert low == ["Echo Look", "Echo Plus"]
    expect(page.locator("#stat-low")).to_have_text("2")
    expect(page.locator("#stat-low-label")).to_have_text("items at or below 10")
    expect(page.locator("#chart .bar-row.low")).to_have_count(2)
    expect(page.locator("#chart line.threshold")).to_have_count(1)
    screenshot(page, "berlin-threshold-10")


def test_a_store_in_the_low_stock_list_opens_that_store(
    page: Any, lab_stack: DashboardStack
) -> None:
    open_dashboard(page, lab_stack)

    page.locator("#low-store-list").get_by_role("link", name="Karachi").click()

    expect(page.locator("#table-title")).to_have_text("Stock: Karachi")
    expect(page.get_by_label("Store", exact=True)).to_have_value("Karachi")
    expect(page.locator("#rows tr.low .item-name")).to_have_text(["Echo Plus"])
    expect(page.locator("#low-stores")).to_be_hidden()
