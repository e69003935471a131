"""`inventory local meter` through the installed command, on the emulator process: what three
uploaded rows cost, counted per table and caller, per function, per bucket and per topic.

The meter belongs to the built-in emulator: on any other target this test has nothing to run.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from e2e_target import Target, loaded_rows, write_csv

pytestmark = pytest.mark.e2e

EMAIL = "ops@example.com"
ROWS = [("Meter Store", "Apple", 0), ("Meter Store", "Pear", 5), ("Meter Store", "Fig", 7)]


def rows_of(report: dict[str, Any], kind: str, **match: str) -> list[dict[str, Any]]:
    return [row for row in report[kind] if all(row[k] == v for k, v in match.items())]


def test_the_meter_counts_what_an_upload_costs_since_a_mark(e2e: Target) -> None:
    if not e2e.is_local:
        pytest.skip("the meter is the built-in emulator's")
    e2e.run("provision")
    e2e.run("subscribe", EMAIL)
    first = e2e.json("local", "meter", "--mark", "before", "--output", "json", stack=False)
    assert first["since"] == "start" and "before" not in first["marks"]

    write_csv(e2e.work / "meter.csv", ROWS)
    uploaded = e2e.run("upload", "--wait", "meter.csv")
    assert loaded_rows(uploaded.stdout) == {"meter.csv": ("loaded", 3, 3, 0)}
    assert len(e2e.settle(expected_alerts=1)) == 1

    report = e2e.json("local", "meter", "--since", "before", "--mark", "after", "--output",
                      "json", stack=False)
    assert report["since"] == "before" and report["marks"] == ["before"]
    load, check = f"{e2e.stack}-load-inventory", f"{e2e.stack}-check-stock"
    # Three small items written by the load function: one write unit each.
    [inventory] = rows_of(report, "dynamodb", table=e2e.table(), caller=load)
    assert inventory["write_units"] == 3
    # One alert (one zero count): one publish by the check function, one e-mail delivered.
    topic = f"{e2e.stack}-alerts"
    assert [(r["caller"], r["requests"]) for r in report["sns_publishes"]
            if r["topic"].endswith(f":{topic}")] == [(check, 1)]
    assert [(r["protocol"], r["deliveries"]) for r in report["sns_deliveries"]
            if r["topic"].endswith(f":{topic}")] == [("email", 1)]
    # The operator's PUT of the file.
    bucket = e2e.uploads_bucket()
    assert rows_of(report, "s3", bucket=bucket, caller="operator")[0]["put_copy_post_list"] >= 1
    # GB-seconds: the function's configured memory x its billed milliseconds.
    lam = e2e.boto3_client("lambda")
    for row in report["lambda"]:
        if row["function"] in (load, check):
            memory = lam.get_function_configuration(FunctionName=row["function"])["MemorySize"]
            assert row["requests"] >= 1 and row["billed_ms"] >= row["requests"]
            assert math.isclose(row["gb_seconds"], memory / 1024 * row["billed_ms"] / 1000)
    assert {row["function"] for row in report["lambda"]} >= {load, check}
    # The bill prices exactly those counts.
    bill = {line["price"]: line for line in report["bill"]}
    assert bill["dynamodb_write_units"]["quantity"] == sum(
        r["write_units"] for r in report["dynamodb"])
    assert bill["dynamodb_write_units"]["usd"] == pytest.approx(
        bill["dynamodb_write_units"]["quantity"] * 0.625 / 1_000_000)
    assert report["total_usd"] == pytest.approx(sum(line["usd"] for line in report["bill"]))

    # Since the second mark nothing was uploaded or loaded.
    after = e2e.json("local", "meter", "--since", "after", "--output", "json", stack=False)
    assert rows_of(after, "dynamodb", table=e2e.table()) == []
    assert rows_of(after, "s3", bucket=bucket, caller="operator") == []
    refused = e2e.run("local", "meter", "--since", "never", stack=False, expect=1)
    assert "no mark named 'never'" in refused.stderr and "after" in refused.stderr
