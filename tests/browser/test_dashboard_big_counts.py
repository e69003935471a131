"""Counts past a JavaScript number's 53 bits: the page shows them exactly, and keeps its layout.

The largest count the contract takes has 28 digits; three stores holding it make an item total of
29 digits. The page reads counts and summaries as BigInt, so what it shows equals, digit for
digit, what `inventory show --totals` (exact integers end to end) says; on a phone nothing
widens the page.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from browser_backend import with_sessions
from dashboard_stack import write_csv
from playwright.sync_api import expect
from test_dashboard_page import open_dashboard

from lambda_src.inventory_csv import MAX_COUNT

pytestmark = pytest.mark.browser

BIG = MAX_COUNT  # 28 nines
ODD = 2**53 + 1  # the first whole number a float cannot hold
ROWS = [("Berlin", "Echo", BIG), ("Pusan", "Echo", BIG), ("Lyon", "Echo", BIG),
        ("Berlin", "Tap", ODD), ("Pusan", "Tap", 1), ("Berlin", "Dot", 0)]


def shown_counts(page: Any) -> dict[str, int]:
    return {row.locator(".item-name").inner_text():
            int(row.locator(".count").inner_text().replace(",", "").replace("\n", ""))
            for row in page.locator("#rows tr").all()}


def test_big_counts_show_exactly_and_equal_the_clis_totals(
    browser: Any, make_stack: Any, tmp_path: Path, screenshot: Any
) -> None:
    stack = make_stack([write_csv(tmp_path / "big.csv", ROWS)])
    totals = {entry["item"]: entry for entry in stack.show_totals()}
    assert totals["Echo"]["count"] == 3 * BIG  # exact in the CLI's JSON, 29 digits
    assert totals["Tap"]["count"] == ODD + 1

    context = with_sessions(browser.new_context(viewport={"width": 390, "height": 844},
                                                is_mobile=True, has_touch=True,
                                                device_scale_factor=2))
    try:
        phone = context.new_page()
        open_dashboard(phone, stack)
        expect(phone.locator("#rows tr")).to_have_count(3)
        assert shown_counts(phone) == {item: t["count"] for item, t in totals.items()}
        expect(phone.locator("#stat-units")).to_have_text(f"{3 * BIG + ODD + 1:,}")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        assert phone.locator("#chart svg").bounding_box()["width"] <= 390
        # The chart's label has no room for 29 digits: the short form, the exact one in the
        # tooltip.
        echo = phone.locator('#chart .bar-row[data-item="Echo"]')
        expect(echo.locator(".value")).to_have_text("2.99×10²⁸")  # leading digits, cut
        assert echo.locator("title").text_content() == f"Echo: {3 * BIG:,}"
        ticks = phone.locator("#chart .tick").all_text_contents()
        assert ticks[0] == "0" and all(re.fullmatch(r"\d(\.\d+)?×10[⁰¹²³⁴⁵⁶⁷⁸⁹]+", t)
                                       for t in ticks[1:]), ticks
        screenshot(phone, "phone-big-counts-all")

        open_dashboard(phone, stack, "#store=Berlin")
        expect(phone.locator("#table-title")).to_have_text("Stock: Berlin")
        assert shown_counts(phone) == {"Echo": BIG, "Tap": ODD, "Dot": 0}
        expect(phone.locator("#stat-units")).to_have_text(f"{BIG + ODD:,}")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(phone, "phone-big-counts-berlin")
    finally:
        context.close()
