"""`inventory dashboard [--open]`: the URL of this stack's page, or a clear error."""

from __future__ import annotations

from typing import Any

import pytest
from dashboard_stack import DashboardStack, Inventory
from typer.testing import CliRunner, Result

from inventory_cli.aws import Aws
from inventory_cli.cli.app import app

AWS_URL = "https://inventory-dashboard-123456789012-us-east-1.s3.us-east-1.amazonaws.com/index.html"
BUCKET = "inventory-dashboard-123456789012-us-east-1"


def run(aws: Aws, *args: str) -> Result:
    return CliRunner().invoke(app, ["dashboard", *args], obj=aws,
                              env={"COLUMNS": "40", "NO_COLOR": "1"})


def put_page(aws: Aws) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="index.html", Body=b"<!doctype html>")


def test_prints_the_s3_url_of_the_page_unwrapped(aws: Aws) -> None:
    put_page(aws)
    result = run(aws)
    assert result.exit_code == 0, result.output
    assert result.stdout == AWS_URL + "\n"  # longer than COLUMNS, still one line
    assert result.stderr == ""


def test_missing_bucket_is_a_stack_not_found_error(aws: Aws) -> None:
    result = run(aws)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: stack 'inventory' has no dashboard in us-east-1: bucket "
        f"{BUCKET} does not exist\n"
        "Hint: create the stack with `inventory provision` (or pick another --stack / "
        "--region)\n"
    )


def test_bucket_without_the_page_is_an_incomplete_stack(aws: Aws) -> None:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    result = run(aws)
    assert result.exit_code == 1
    assert result.stderr == (f"Error: the dashboard bucket {BUCKET} has no index.html\n"
                             "Hint: `inventory provision` uploads the page again\n")


def test_open_opens_the_url_in_a_new_browser_tab(aws: Aws,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    put_page(aws)
    opened: list[tuple[str, int]] = []

    def fake_open(url: str, new: int = 0) -> bool:
        opened.append((url, new))
        return True

    monkeypatch.setattr("webbrowser.open", fake_open)
    result = run(aws, "--open")
    assert result.exit_code == 0
    assert result.stdout == AWS_URL + "\n"
    assert opened == [(AWS_URL, 2)]


def test_open_without_a_browser_says_so_and_still_succeeds(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_page(aws)
    monkeypatch.setattr("webbrowser.open", lambda url, new=0: False)
    result = run(aws, "--open")
    assert result.exit_code == 0
    assert result.stdout == AWS_URL + "\n"
    assert result.stderr == (
        "No web browser could be opened here: open the URL above yourself.\n")


def test_on_an_emulator_the_url_is_served_by_the_emulator_and_shows_the_page(
    lab_stack: DashboardStack, inventory: Inventory, backend_endpoint: str, page: Any,
) -> None:
    # The installed command, against the emulator: the page of a provisioned, loaded stack.
    url = inventory.run(lab_stack.stack, "dashboard").strip()
    assert url == f"{backend_endpoint}/{lab_stack.names.dashboard_bucket}/index.html"
    page.goto(url)
    page.locator("#rows tr").first.wait_for()
    assert page.locator("#rows tr").count() == 6
