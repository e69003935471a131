"""The store's upload page in a real browser (headless Chromium) against the local emulator.

Each test opens upload.html as provision shipped it, on a stack provisioned by the installed
`inventory` command, with a key from `inventory stores add`; it picks a file and watches what
the page says, then checks the stack from outside: what was stored in the uploads bucket, what
the loader wrote to the table. Endpoint, S3 and loader are the emulator's (upload_site.py).
Screenshots of each state go to test-artifacts/dashboard/upload-*.png.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from dashboard_stack import REPO, DashboardStack
from playwright.sync_api import expect
from upload_site import UploadSite, write_bytes

pytestmark = pytest.mark.browser

INJECTION = "<img src=x onerror=alert(1)>"
DOCS_SCREENSHOT = REPO / "docs" / "store-upload-page.png"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def _patient_expect() -> Iterator[None]:
    # Each step waits on a real emulator, on a machine that may be busy: wait up to 30 s for what
    # the page should show (Playwright's default is 5 s), then the next test gets the default.
    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture(scope="session")
def upload_stack(inventory: Any, backend_session: boto3.session.Session) -> UploadSite:
    """One stack for the tests that upload; each test uses stores of its own."""
    return UploadSite(DashboardStack.provision(inventory, backend_session, "upload1"))


@pytest.fixture
def own_site(make_stack: Callable[..., DashboardStack]) -> Callable[[], UploadSite]:
    """A stack of this test's own, for tests that break or reconfigure it."""
    return lambda: UploadSite(make_stack(()))


def open_page(page: Any, site: UploadSite) -> None:
    page.goto(site.page_url)
    expect(page.locator("#status")).not_to_have_text(re.compile("Loading|Checking your key"))


def enter_key(page: Any, key: str) -> None:
    page.get_by_label("Store key", exact=True).fill(key)
    page.get_by_role("button", name="Use this key").click()
    expect(page.locator("#status")).not_to_have_text(re.compile("Checking your key"))


def sign_in(page: Any, site: UploadSite, store: str) -> str:
    key = site.add_store(store)
    open_page(page, site)
    enter_key(page, key)
    expect(page.locator("#store-name")).to_have_text(store)
    return key


def pick(page: Any, path: Path) -> None:
    page.locator("#file").set_input_files(str(path))
    expect(page.locator("#check-summary")).not_to_have_text("Checking…")


def stored_key(page: Any) -> list[str]:
    values: list[str] = page.evaluate(
        "() => Object.keys(localStorage).filter(k => k.startsWith('inventory.storeKey:'))"
        ".map(k => localStorage.getItem(k))")
    return values


def record_requests(page: Any) -> list[tuple[str, str]]:
    """Every request the page makes from now on, as (method, url)."""
    seen: list[tuple[str, str]] = []
    page.on("request", lambda request: seen.append((request.method, request.url)))
    return seen


def lines_shown(page: Any, table: str) -> list[tuple[str, str]]:
    rows = page.locator(f"#{table} tbody tr")
    return [(r.locator("td").nth(0).inner_text(), r.locator("td").nth(1).inner_text())
            for r in rows.all()]


def test_upload_shows_progress_then_the_report_with_each_rejected_line(
    page: Any, upload_stack: UploadSite, tmp_path: Path, screenshot: Any
) -> None:
    sign_in(page, upload_stack, "Berlin")
    # A file big enough for the progress bar to move (a notes column the loader ignores).
    notes = "n" * 20_000
    rows = [f"Berlin,Echo {i},{i},{notes}" for i in range(1, 101)]
    data = ("store,item,count,notes\n" + "\n".join(rows) + "\nBerlin,Echo Bad,x,\n").encode()
    path = write_bytes(tmp_path, "berlin.csv", data)
    pick(page, path)

    expect(page.locator("#check-summary")).to_contain_text("101 rows read; 1 row would be rejected")
    assert lines_shown(page, "check-problems") == [("102", "count 'x' is not a whole number >= 0")]
    expect(page.locator("#send")).to_be_hidden()
    expect(page.locator("#status")).to_have_text(
        "berlin.csv: 1 row would be rejected; nothing was sent.")
    assert upload_stack.uploaded_keys() == []
    # Every value the bar takes, from the moment the upload starts.
    page.evaluate("""() => {
        window.progressSeen = [];
        const bar = document.getElementById('progress');
        new MutationObserver(() => window.progressSeen.push(bar.value))
            .observe(bar, {attributes: true});
        const set = Object.getOwnPropertyDescriptor(HTMLProgressElement.prototype, 'value').set;
        Object.defineProperty(bar, 'value', {set(v) { window.progressSeen.push(v);
            set.call(this, v); }, get() { return Number(this.getAttribute('value')); }});
    }""")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": 1_000_000})  # bytes/s: about 2 s for the 2 MB file
    page.get_by_role("button", name="Upload anyway").click()

    expect(page.locator("#report-panel")).to_be_visible(timeout=120_000)
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    seen = page.evaluate("window.progressSeen")
    assert seen[-1] == 100
    assert any(0 < value < 100 for value in seen), seen
    expect(page.locator("#report-status")).to_have_text("loaded")
    expect(page.locator("#report-read")).to_have_text("101")
    expect(page.locator("#report-loaded")).to_have_text("100")
    expect(page.locator("#report-rejected-count")).to_have_text("1")
    assert lines_shown(page, "report-rejected") == [("102", "count 'x' is not a whole number >= 0")]
    expect(page.locator("#status")).to_have_text(
        "Done: 100 rows loaded for Berlin, 1 line rejected.")
    expect(page.locator("#send-anyway")).to_be_hidden()  # sent once; a new pick sends again
    # What the stack holds: the file under Berlin's prefix, its rows in the table.
    [key] = upload_stack.uploaded_keys()
    assert key.startswith("stores/Berlin/") and key.endswith(".csv")
    assert upload_stack.report(key)["loaded"] == 100
    assert upload_stack.count_of("Berlin", "Echo 7") == 7
    # The store's own list of uploads now has this one.
    expect(page.locator("#history tbody tr")).to_have_count(1)
    expect(page.locator("#history tbody tr td")).to_have_text(
        [re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"), "loaded", "100", "1"])
    screenshot(page, "upload-report")
    if os.environ.get("INVENTORY_DOCS_SCREENSHOTS") == "1":  # refreshes the README's picture
        DOCS_SCREENSHOT.write_bytes(page.screenshot(full_page=True))


def test_the_check_refuses_a_bad_file_with_line_and_reason_and_sends_nothing(
    page: Any, upload_stack: UploadSite, tmp_path: Path, screenshot: Any
) -> None:
    sign_in(page, upload_stack, "Hamburg")
    requests = record_requests(page)
    before = upload_stack.uploaded_keys()
    latin1 = "store,item,count\nHamburg,Größe,1\n".encode("latin-1")
    pick(page, write_bytes(tmp_path, "hamburg.csv", latin1))

    assert lines_shown(page, "check-problems") == [
        ("2", "not valid UTF-8 (byte 11 of the line: b'\\xf6'); save the file as UTF-8")]
    expect(page.locator("#check-summary")).to_have_text(
        "hamburg.csv cannot be loaded, so nothing was sent. Fix it and choose it again.")
    expect(page.locator("#send")).to_be_hidden()
    expect(page.locator("#send-anyway")).to_be_hidden()
    screenshot(page, "upload-check-refused")

    for name, data, shown in [
        ("semicolons.csv", b"store;item;count\nHamburg;a;1\n",
         [("1", "missing columns store, item, count (the header must name store, item and "
                "count; found: 'store;item;count')")]),
        ("empty.csv", b"store,item,count\n\n", [("-", "the file has a header but no rows")]),
        ("notes.txt", b"store,item,count\nHamburg,a,1\n",
         [("-", "the file name must end in .csv (any letter case): the stack loads only those")]),
        ("notes.csv.txt", b"store,item,count\nHamburg,a,1\n",
         [("-", "the file name must end in .csv (any letter case): the stack loads only those")]),
    ]:
        pick(page, write_bytes(tmp_path, name, data))
        assert lines_shown(page, "check-problems") == shown
        expect(page.locator("#send")).to_be_hidden()
        expect(page.locator("#send-anyway")).to_be_hidden()

    assert [r for r in requests if "uploads" in r[1] or r[0] == "POST"] == []
    assert upload_stack.uploaded_keys() == before


def test_warnings_for_duplicates_and_rows_of_another_store(
    page: Any, upload_stack: UploadSite, tmp_path: Path, screenshot: Any
) -> None:
    sign_in(page, upload_stack, "Köln")
    data = "store,item,count\nKöln,a,1\nPusan,b,2\nKöln,a,3\n".encode()
    pick(page, write_bytes(tmp_path, "koeln.csv", data))

    expect(page.locator("#check-warnings li")).to_have_text([
        "Warning: line 4 repeats Köln / a from line 2; the later row wins",
        "Warning: rows naming another store than yours (Köln) are rejected: 1 row",
        "Warning: line 3: row of store 'Pusan': this file was uploaded with the key of store "
        "'Köln', which may change only its own stock",
    ])
    expect(page.locator("#check-summary")).to_have_text("3 rows read; 1 row will load for Köln.")
    expect(page.locator("#send")).to_be_visible()
    screenshot(page, "upload-check-warnings")

    # The loader says the same about line 3, and loads only Köln's row.
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#report-status")).to_have_text("loaded", timeout=120_000)
    assert lines_shown(page, "report-rejected") == [
        ("3", "row of store 'Pusan': this file was uploaded with the key of store 'Köln', "
              "which may change only its own stock")]
    expect(page.locator("#report-loaded")).to_have_text("1")
    assert upload_stack.count_of("Köln", "a") == 3
    assert upload_stack.count_of("Pusan", "b") is None


def test_a_csv_name_in_any_letter_case_passes_the_check(
    page: Any, upload_stack: UploadSite, tmp_path: Path
) -> None:
    """The page asks the same rule as the loader and `inventory upload`: `.csv` in any case."""
    sign_in(page, upload_stack, "Lübeck")
    for name in ("LUEBECK.CSV", "luebeck.Csv"):
        pick(page, write_bytes(tmp_path, name, "store,item,count\nLübeck,a,1\n".encode()))
        expect(page.locator("#check-summary")).to_have_text(
            "1 row read; 1 row will load for Lübeck.")
        expect(page.locator("#send")).to_be_visible()


def test_a_file_with_no_row_of_the_store_is_not_sent_without_asking(
    page: Any, upload_stack: UploadSite, tmp_path: Path
) -> None:
    sign_in(page, upload_stack, "Graz")
    pick(page, write_bytes(tmp_path, "linz.csv", b"store,item,count\nLinz,a,1\n"))

    expect(page.locator("#check-summary")).to_have_text(
        "1 row read; none of them is a row of Graz, so nothing would load.")
    expect(page.locator("#send")).to_be_hidden()
    expect(page.locator("#send-anyway")).to_be_visible()


def test_a_dropped_file_is_checked_like_a_picked_one(
    page: Any, upload_stack: UploadSite, screenshot: Any
) -> None:
    sign_in(page, upload_stack, "Wien")
    # What the browser hands the page when a file is dropped on the box.
    page.evaluate("""() => {
        const data = new DataTransfer();
        data.items.add(new File(['store,item,count\\nWien,a,1\\nWien,b,-2\\n'], 'wien.csv',
                                {type: 'text/csv'}));
        const drop = document.getElementById('drop');
        drop.dispatchEvent(new DragEvent('dragover', {dataTransfer: data, bubbles: true,
                                                      cancelable: true}));
        drop.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true,
                                                  cancelable: true}));
    }""")

    expect(page.locator("#check-title")).to_have_text("Check of wien.csv")
    assert lines_shown(page, "check-problems") == [("3", "count '-2' is not a whole number >= 0")]
    expect(page.locator("#send-anyway")).to_be_visible()


def test_picking_the_same_file_again_checks_it_again(
    page: Any, upload_stack: UploadSite, tmp_path: Path
) -> None:
    sign_in(page, upload_stack, "Linz")
    path = write_bytes(tmp_path, "linz.csv", b"store,item,count\nLinz,a,x\n")
    pick(page, path)
    assert lines_shown(page, "check-problems") == [("2", "count 'x' is not a whole number >= 0")]

    path.write_bytes(b"store,item,count\nLinz,a,1\n")  # fixed, same name
    pick(page, path)
    expect(page.locator("#check-problems-box")).to_be_hidden()
    expect(page.locator("#check-summary")).to_have_text("1 row read; 1 row will load for Linz.")


def test_the_key_is_remembered_until_forgotten(
    page: Any, upload_stack: UploadSite, screenshot: Any
) -> None:
    key = sign_in(page, upload_stack, "Lyon")
    assert stored_key(page) == [key]

    page.reload()
    expect(page.locator("#store-name")).to_have_text("Lyon")
    expect(page.locator("#key-panel")).to_be_hidden()
    expect(page.get_by_role("button", name="Forget this key")).to_be_visible()
    screenshot(page, "upload-remembered")

    page.get_by_role("button", name="Forget this key").click()
    expect(page.locator("#key-panel")).to_be_visible()
    expect(page.locator("#store-panel")).to_be_hidden()
    expect(page.locator("#file-panel")).to_be_hidden()
    expect(page.locator("#status")).to_have_text("The key was forgotten on this browser.")
    assert stored_key(page) == []
    page.reload()
    expect(page.locator("#key-panel")).to_be_visible()
    expect(page.get_by_label("Store key", exact=True)).to_have_value("")


@pytest.mark.parametrize("case", ["unknown", "wrong-secret", "malformed", "revoked", "rotated",
                                  "empty"])
def test_a_refused_key_says_why_and_is_not_remembered(
    page: Any, upload_stack: UploadSite, case: str, screenshot: Any
) -> None:
    store = f"Oslo {case}"
    no_longer = "This key no longer works"
    title, reason = {
        "unknown": ("This key is not known", "this key is not a key of this stack"),
        "wrong-secret": ("This key is not known", "this key is not a key of this stack"),
        "malformed": ("That is not a store key", "the Authorization header must be 'Bearer "
                      "sk1.<id>.<secret>', as 'inventory stores add' printed it"),
        "revoked": (no_longer, "this key no longer works: it was revoked"),
        "rotated": (no_longer, "this key no longer works: it was replaced by a newer key "
                    "('inventory stores rotate')"),
        "empty": ("Enter your store key", "The key field is empty."),
    }[case]
    if case == "unknown":
        key = "sk1." + "0" * 20 + "." + "A" * 43
    elif case == "malformed":
        key = "not a key"
    elif case == "empty":
        key = ""
    else:
        key = upload_stack.add_store(store)
        if case == "wrong-secret":
            key = key[:-1] + ("A" if key[-1] != "A" else "B")
        elif case == "revoked":
            upload_stack.revoke(store)
        elif case == "rotated":
            new_key = upload_stack.rotate(store)
    open_page(page, upload_stack)
    enter_key(page, key)

    expect(page.locator("#notice-title")).to_have_text(title)
    expect(page.locator("#notice-reason")).to_have_text(reason)
    expect(page.locator("#key-panel")).to_be_visible()
    expect(page.locator("#file-panel")).to_be_hidden()
    assert stored_key(page) == []
    screenshot(page, f"upload-key-{case}")
    if case == "rotated":  # the new key works
        enter_key(page, new_key)
        expect(page.locator("#store-name")).to_have_text(store)
        assert stored_key(page) == [new_key]


def test_a_remembered_key_revoked_later_is_forgotten_with_the_reason(
    page: Any, upload_stack: UploadSite
) -> None:
    sign_in(page, upload_stack, "Porto")
    upload_stack.revoke("Porto")
    page.reload()

    expect(page.locator("#notice-title")).to_have_text("This key no longer works")
    expect(page.locator("#notice-hint")).to_contain_text(
        "The key remembered on this browser was forgotten.")
    expect(page.locator("#key-panel")).to_be_visible()
    assert stored_key(page) == []


def test_a_file_over_the_limit_is_refused_by_the_endpoint(
    page: Any, upload_stack: UploadSite, tmp_path: Path, screenshot: Any
) -> None:
    sign_in(page, upload_stack, "Bergen")
    before = upload_stack.uploaded_keys()
    # 11 rows of about 1 MB each (ten long note columns): a valid file over the 10 MiB limit.
    notes = ",".join(["n" * 100_000] * 10)
    rows = "".join(f"Bergen,item {i},{i},{notes}\n" for i in range(11))
    path = write_bytes(tmp_path, "bergen.csv", ("store,item,count\n" + rows).encode())
    pick(page, path)
    expect(page.locator("#check-summary")).to_have_text(
        "11 rows read; 11 rows will load for Bergen.")
    page.get_by_role("button", name="Upload", exact=True).click()

    expect(page.locator("#notice-title")).to_have_text("The file is too large")
    expect(page.locator("#notice-reason")).to_have_text(
        f"the file has {path.stat().st_size} bytes; at most 10485760 are accepted")
    expect(page.locator("#progress-panel")).to_be_hidden()
    assert upload_stack.uploaded_keys() == before
    screenshot(page, "upload-too-large")


def test_s3_refuses_a_file_bigger_than_the_size_declared(
    page: Any, upload_stack: UploadSite, tmp_path: Path
) -> None:
    # A client that declares fewer bytes than it sends gets a POST policy for that many, and S3
    # itself refuses the file. The declared size is lowered on its way to the endpoint.
    sign_in(page, upload_stack, "Tromsø")
    before = upload_stack.uploaded_keys()

    def declare_less(route: Any) -> None:
        body = route.request.post_data_json
        route.continue_(post_data=json.dumps({**body, "size": body["size"] - 10}))

    page.route("**/uploads", declare_less)
    pick(page, write_bytes(tmp_path, "tromso.csv", "store,item,count\nTromsø,a,1\n".encode()))
    page.get_by_role("button", name="Upload", exact=True).click()

    expect(page.locator("#notice-title")).to_have_text("The file is too large")
    expect(page.locator("#notice-reason")).to_have_text(
        "S3 refused it: Your proposed upload exceeds the maximum allowed size")
    assert upload_stack.uploaded_keys() == before


@pytest.mark.parametrize("where", ["endpoint", "s3"])
def test_a_network_failure_is_explained(
    page: Any, upload_stack: UploadSite, tmp_path: Path, where: str, screenshot: Any
) -> None:
    sign_in(page, upload_stack, f"Net {where}")
    pick(page, write_bytes(tmp_path, "net.csv", f"store,item,count\nNet {where},a,1\n".encode()))
    bucket = upload_stack.stack.names.uploads_bucket
    target = "**/uploads" if where == "endpoint" else f"**/{bucket}"
    page.route(target, lambda route: route.abort("connectionreset"))
    page.get_by_role("button", name="Upload", exact=True).click()

    title = {"endpoint": "The upload endpoint could not be reached",
             "s3": "The file could not be sent"}[where]
    expect(page.locator("#notice-title")).to_have_text(title)
    expect(page.locator("#notice-hint")).to_have_text(
        re.compile("^Check your connection, then (try again|upload the file again).$"))
    # The page stays usable: the same file can be sent again once the network is back.
    page.unroute(target)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#report-status")).to_have_text("loaded", timeout=120_000)
    screenshot(page, f"upload-network-{where}")


def test_waiting_for_the_report_survives_a_dropped_connection(
    page: Any, upload_stack: UploadSite, tmp_path: Path
) -> None:
    sign_in(page, upload_stack, "Gent")
    dropped: list[str] = []

    def drop_first(route: Any) -> None:
        if not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/reports/**", drop_first)
    pick(page, write_bytes(tmp_path, "gent.csv", b"store,item,count\nGent,a,5\n"))
    page.get_by_role("button", name="Upload", exact=True).click()

    expect(page.locator("#report-status")).to_have_text("loaded", timeout=120_000)
    expect(page.locator("#notice")).to_be_hidden()
    assert len(dropped) == 1
    assert upload_stack.count_of("Gent", "a") == 5


def test_a_report_that_does_not_arrive_in_time_is_said_so(
    page: Any, own_site: Callable[[], UploadSite], tmp_path: Path, screenshot: Any
) -> None:
    site = own_site()
    site.stop_loading()
    page.clock.install()
    sign_in(page, site, "Lille")
    pick(page, write_bytes(tmp_path, "lille.csv", b"store,item,count\nLille,a,1\n"))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#progress-text")).to_have_text(
        re.compile("Waiting for the load report"), timeout=60_000)
    [key] = site.uploaded_keys()  # stored, never loaded

    page.clock.fast_forward("02:01")

    expect(page.locator("#notice-title")).to_have_text("No load report yet")
    expect(page.locator("#notice-reason")).to_have_text(f"no load report after 120 s for {key}")
    expect(page.locator("#report-panel")).to_be_hidden()
    screenshot(page, "upload-report-late")


def test_phone_width(browser: Any, upload_stack: UploadSite, tmp_path: Path,
                     screenshot: Any) -> None:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="en-GB", timezone_id="UTC")
    page = context.new_page()
    try:
        sign_in(page, upload_stack, "São Paulo")
        rows = "store,item,count\nSão Paulo,Echo Dot,4\nSão Paulo,Echo Show,-1\n"
        pick(page, write_bytes(tmp_path, "sao-paulo.csv", rows.encode()))
        page.get_by_role("button", name="Upload anyway").click()
        expect(page.locator("#report-status")).to_have_text("loaded", timeout=120_000)

        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width
        for selector in ("#store-name", "#forget", "#drop", "#progress", "#report-rejected"):
            box = page.locator(selector).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        forget = page.locator("#forget").bounding_box()
        assert forget is not None and forget["height"] >= 44  # a finger-sized target
        screenshot(page, "upload-phone")
    finally:
        context.close()


def test_no_upload_endpoint_says_so(page: Any, own_site: Callable[[], UploadSite],
                                    screenshot: Any) -> None:
    site = own_site()
    site.stack.rewrite_config(uploadUrl=None)
    open_page(page, site)

    expect(page.locator("#no-uploads")).to_be_visible()
    expect(page.locator("#no-uploads-title")).to_have_text("This stack has no store uploads")
    expect(page.locator("#key-panel")).to_be_hidden()
    screenshot(page, "upload-no-endpoint")


def test_names_are_shown_as_text(page: Any, upload_stack: UploadSite, tmp_path: Path) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, upload_stack, INJECTION)
    data = f"store,item,count\n{INJECTION},x,1\nOther,{INJECTION},2\n".encode()
    name = "a" + INJECTION.replace("/", "").replace("<", "").replace(">", "") + ".csv"
    pick(page, write_bytes(tmp_path, name, data))

    expect(page.locator("#store-name")).to_have_text(INJECTION)
    expect(page.locator("#check-warnings li")).to_have_text(
        [re.compile(re.escape(INJECTION))] * 2)
    assert page.locator("img").count() == 0
    assert dialogs == []



def test_a_403_from_the_function_url_itself_is_not_a_refused_key(
    page: Any, upload_stack: UploadSite, tmp_path: Path, screenshot: Any
) -> None:
    """Lambda answers {"Message": "Forbidden"} before the function runs when the URL's public
    permissions are missing: the key was never looked at, so it is not forgotten, and the
    operator's repair is named."""
    key = sign_in(page, upload_stack, "Gdansk")
    lambda_forbidden = {"status": 403, "content_type": "application/json",
                        "body": '{"Message":"Forbidden"}'}
    page.route("**/whoami", lambda route: route.fulfill(**lambda_forbidden))
    page.reload()

    expect(page.locator("#notice-title")).to_have_text("The upload endpoint is closed")
    expect(page.locator("#notice-reason")).to_have_text(
        "HTTP 403 Forbidden: the endpoint refused the request before looking at the key")
    expect(page.locator("#notice-hint")).to_contain_text(
        "This is not about your key. Ask your operator to run `inventory provision`")
    assert stored_key(page) == [key]
    screenshot(page, "upload-endpoint-closed")

    # The same answer while sending a file: the key stays, nothing is stored.
    page.unroute("**/whoami")
    page.reload()
    expect(page.locator("#store-name")).to_have_text("Gdansk")
    pick(page, write_bytes(tmp_path, "g.csv", b"store,item,count\nGdansk,a,1\n"))
    page.route("**/uploads", lambda route: route.fulfill(**lambda_forbidden))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#notice-title")).to_have_text("The upload endpoint is closed")
    expect(page.locator("#file-panel")).to_be_visible()
    assert stored_key(page) == [key]
    assert not [k for k in upload_stack.uploaded_keys() if "Gdansk" in k]


def test_a_private_stacks_page_is_served_beside_its_dashboard_and_takes_store_keys(
    page: Any, make_stack: Callable[..., DashboardStack], tmp_path: Path
) -> None:
    """A private dashboard (the default) serves the upload page beside it, where the emulator
    plays CloudFront; a store's key still checks and sends its files, no staff sign-in needed."""
    site = UploadSite(make_stack((), access="private", signed_in=False))
    assert "/_inventory/cdn/" in site.page_url
    sign_in(page, site, "Graz")
    pick(page, write_bytes(tmp_path, "graz.csv", b"store,item,count\nGraz,a,4\n"))
    expect(page.locator("#send")).to_be_visible()
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#report-status")).to_have_text("loaded", timeout=120_000)
    assert site.count_of("Graz", "a") == 4
