"""The price table (inventory_cli/local/prices.py): a meter report priced by hand, and price
files that replace prices or are refused with the file, line and reason."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from inventory_cli.errors import UsageError
from inventory_cli.local.prices import PRICES, bill, load_prices, total_usd

REPORT: dict[str, Any] = {
    "dynamodb": [{"table": "t", "caller": "a", "read_units": 2.5, "write_units": 3_000_000},
                 {"table": "u", "caller": "b", "read_units": 1_000_000, "write_units": 0}],
    "lambda": [{"function": "f", "requests": 10, "errors": 0, "billed_ms": 101,
                "gb_seconds": 0.012625}],
    "s3": [{"bucket": "b", "caller": "c", "put_copy_post_list": 2_000, "get_and_other": 10_000,
            "delete": 7}],
    "sns_publishes": [{"topic": "t", "caller": "f", "requests": 4}],
    "sns_deliveries": [{"topic": "t", "protocol": "email", "deliveries": 50_000},
                       {"topic": "t", "protocol": "lambda", "deliveries": 9},
                       {"topic": "t", "protocol": "carrier-pigeon", "deliveries": 1}],
}


def test_every_price_names_its_aws_pricing_page_and_the_table_its_date() -> None:
    assert PRICES.region == "us-east-1" and PRICES.as_of
    for name, price in PRICES.prices.items():
        assert price.source.startswith("https://aws.amazon.com/"), name


def test_a_report_is_priced_line_by_line() -> None:
    lines = {line.price: line for line in bill(REPORT)}
    # 3,000,000 write units at $0.625 a million; 1,000,002.5 read units at $0.125 a million
    assert lines["dynamodb_write_units"].usd == Decimal("1.875")
    assert lines["dynamodb_read_units"].quantity == Decimal("1000002.5")
    assert lines["dynamodb_read_units"].usd == Decimal("1000002.5") * Decimal("0.125") / 1_000_000
    assert lines["lambda_requests"].usd == Decimal("0.000002")
    assert lines["lambda_gb_seconds"].usd == Decimal("0.012625") * Decimal("0.0000166667")
    assert lines["s3_put_copy_post_list"].usd == Decimal("0.01")  # 2,000 at $0.005 a thousand
    assert lines["s3_get_and_other"].usd == Decimal("0.004")  # 10,000 at $0.0004 a thousand
    assert lines["sns_publishes"].usd == Decimal("0.000002")
    assert lines["sns_delivery_email"].usd == Decimal("1.00")  # 50,000 at $2 per 100,000
    assert lines["sns_delivery_lambda"].usd == 0
    assert lines["sns_delivery_carrier-pigeon"].usd == 0  # no price: shown, not guessed
    assert "s3_delete" not in lines  # free, so not a line
    assert total_usd(list(lines.values())) == sum((line.usd for line in lines.values()),
                                                  Decimal(0))


def test_a_price_file_replaces_the_prices_it_names(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text('{"as_of": "2030-01-01", "region": "eu-west-1", "prices": {\n'
                    '  "dynamodb_write_units": {"usd": "1.00", "per": 1000000}\n}}\n')
    table = load_prices(path)
    assert (table.region, table.as_of, table.origin) == ("eu-west-1", "2030-01-01", str(path))
    assert table.prices["dynamodb_write_units"].usd == Decimal("1.00")
    assert table.prices["dynamodb_read_units"] == PRICES.prices["dynamodb_read_units"]
    lines = {line.price: line for line in bill(REPORT, table)}
    assert lines["dynamodb_write_units"].usd == Decimal("3.00")
    assert load_prices(None) is PRICES


@pytest.mark.parametrize(("text", "line", "reason"), [
    ('{"prices": {\n  "dynamodb_write_units": {"usd": 1,}\n}}', 2, "not JSON"),
    ('{"prices": {\n  "s3_everything": {"usd": "1"}\n}}', 2, "unknown price 's3_everything'"),
    ('{"prices": {\n\n  "lambda_requests": {"usd": "-1"}\n}}', 3, "0 or more"),
    ('{"prices": {\n  "lambda_requests": {"usd": "cheap"}\n}}', 2, "must be a number"),
    ('{"prices": {\n  "lambda_requests": "0.2"\n}}', 2, 'with "usd"'),
])
def test_a_bad_price_file_is_refused_naming_file_line_and_reason(
        tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = tmp_path / "prices.json"
    path.write_text(text)
    with pytest.raises(UsageError) as refused:
        load_prices(path)
    assert f"{path}, line {line}:" in str(refused.value)
    assert reason in str(refused.value)
