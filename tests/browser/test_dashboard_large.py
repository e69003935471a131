"""A big catalogue in the dashboard: a search box, a paged table, a chart limited to
the lowest items, and All stores read from the summaries equal to `inventory show --totals`.

Real Chromium against the real emulator; the files go through the real loader, and the
summaries are kept by the real update-summaries function from the table's stream."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from dashboard_stack import DashboardStack, write_csv
from playwright.sync_api import expect
from test_dashboard_page import open_dashboard, table_rows

pytestmark = pytest.mark.browser

STORES = ("Store A", "Store B", "Store C")
ITEMS = 450


def count_of(store: int, item: int) -> int:
    return (store * 13 + item * 7) % 60


@pytest.fixture(scope="module")
def big_stack(tmp_path_factory: pytest.TempPathFactory, inventory: Any,
              backend_session: Any) -> DashboardStack:
    folder = tmp_path_factory.mktemp("big")
    files: list[Path] = []
    for s, store in enumerate(STORES):
        rows = [(store, f"Item {i:04}", count_of(s, i)) for i in range(ITEMS)]
        files.append(write_csv(folder / f"big-{s}.csv", rows))
    stack = DashboardStack.provision(inventory, backend_session, "dashbig", threshold=2)
    stack.upload(*files)  # returns once the summaries function has run too
    return stack


def all_pages(page: Any) -> list[tuple[str, str, int]]:
    shown = table_rows(page)
    while page.locator("#page-next").is_enabled():
        before = page.locator("#pager-text").inner_text()
        page.locator("#page-next").click()
        expect(page.locator("#pager-text")).not_to_have_text(before)
        shown += table_rows(page)
    return shown


def test_one_store_is_paged_searchable_and_charts_only_its_lowest_items(
        page: Any, big_stack: DashboardStack, screenshot: Any) -> None:
    open_dashboard(page, big_stack, "#store=Store%20B")
    expect(page.locator("#table-title")).to_have_text("Stock: Store B")
    expect(page.locator("#stat-items")).to_have_text("450")
    expect(page.locator("#rows tr")).to_have_count(100)
    expect(page.locator("#pager-text")).to_have_text("Rows 1–100 of 450")
    expect(page.locator("#page-previous")).to_be_disabled()
    page.locator("#page-next").click()
    expect(page.locator("#pager-text")).to_have_text("Rows 101–200 of 450")
    assert table_rows(page)[0] == ("Store B", "Item 0100", count_of(1, 100))

    # The chart: the 40 lowest counts of the store, not 450 bars.
    expect(page.locator("#chart .bar-row")).to_have_count(40)
    expect(page.locator("#chart-title")).to_have_text(
        "Count per item: Store B, the 40 lowest of 450")
    charted = [int((v or "").replace(",", ""))
               for v in page.locator("#chart .bar-row .value").all_text_contents()]
    assert max(charted) <= sorted(count_of(1, i) for i in range(ITEMS))[39]

    page.get_by_label("Search items").fill("item 042")
    expect(page.locator("#rows tr")).to_have_count(10)  # Item 0420 .. Item 0429
    expect(page.locator("#pager-text")).to_have_text(
        "Rows 1–10 of 10 matching (450 in all)")
    assert [r[1] for r in table_rows(page)] == [f"Item {i:04}" for i in range(420, 430)]
    expect(page.locator("#chart .bar-row")).to_have_count(10)
    page.get_by_label("Search items").fill("no such thing")
    expect(page.locator("#rows tr")).to_have_count(0)
    expect(page.locator("#pager-text")).to_have_text("No item matches the search")
    screenshot(page, "large-store-search")


def test_all_stores_from_the_summaries_equals_show_totals(
        page: Any, big_stack: DashboardStack, screenshot: Any) -> None:
    open_dashboard(page, big_stack)
    expect(page.locator("#table-title")).to_have_text("Stock: totals over all stores")
    expect(page.locator("#pager-text")).to_have_text("Rows 1–100 of 450")
    shown = sorted(all_pages(page))
    expected = sorted(("All stores", t["item"], t["count"]) for t in big_stack.show_totals())
    assert len(expected) == ITEMS
    assert shown == expected
    # "What is low where": stores with their low items, most first.
    low = {s: sum(count_of(n, i) <= 2 for i in range(ITEMS)) for n, s in enumerate(STORES)}
    entries = page.locator("#low-store-list li")
    expect(entries).to_have_count(3)
    first = entries.first
    top = max(low, key=lambda s: (low[s], -STORES.index(s)))
    expect(first).to_have_attribute("data-store", top)
    expect(first.locator(".low-detail")).to_have_text(
        re.compile(rf"^{low[top]} of 450 at or below 2: "))
    expect(page.locator("#stat-low")).to_have_text(str(sum(low.values())))
    screenshot(page, "large-all-stores")
