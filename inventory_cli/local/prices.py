"""What the emulator's meter counts would cost on AWS: one dated table of list prices.

The prices are the on-demand list prices of one region (us-east-1, US East (N. Virginia)), each
with the AWS pricing page it comes from; `PRICES` says the date they were read. They leave out
the free tier, storage, data transfer and everything else the meter does not count
(docs/emulator.md, "The meter"). A JSON file replaces any of them (`--prices FILE` or
`INVENTORY_PRICES=FILE`):

    {"as_of": "2026-12-01", "region": "eu-west-1",
     "prices": {"dynamodb_write_units": {"usd": "0.7625", "per": 1000000}}}

Amounts are `Decimal` from the file's text, so a bill adds up to the cent as a price list does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from inventory_cli.errors import UsageError

PRICES_ENV = "INVENTORY_PRICES"

_DYNAMODB = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_S3 = "https://aws.amazon.com/s3/pricing/"
_SNS = "https://aws.amazon.com/sns/pricing/"


@dataclass(frozen=True)
class Price:
    usd: Decimal  # for `per` of what `unit` names
    per: int
    unit: str
    source: str

    @property
    def each(self) -> Decimal:
        return self.usd / self.per


@dataclass(frozen=True)
class PriceTable:
    region: str
    as_of: str
    prices: Mapping[str, Price]
    origin: str = "built in"


PRICES = PriceTable(region="us-east-1", as_of="2024-11-01", prices={
    # On-demand, Standard table class (halved on 2024-11-01).
    "dynamodb_write_units": Price(Decimal("0.625"), 1_000_000, "write request units", _DYNAMODB),
    "dynamodb_read_units": Price(Decimal("0.125"), 1_000_000, "read request units", _DYNAMODB),
    # x86_64 (the stack's functions set no architecture), first pricing tier.
    "lambda_requests": Price(Decimal("0.20"), 1_000_000, "requests", _LAMBDA),
    "lambda_gb_seconds": Price(Decimal("0.0000166667"), 1, "GB-seconds", _LAMBDA),
    # S3 Standard.
    "s3_put_copy_post_list": Price(Decimal("0.005"), 1_000, "PUT, COPY, POST, LIST requests",
                                   _S3),
    "s3_get_and_other": Price(Decimal("0.0004"), 1_000, "GET and all other requests", _S3),
    # Standard topics: publishes in 64 KB chunks, deliveries by protocol.
    "sns_publishes": Price(Decimal("0.50"), 1_000_000, "publish requests", _SNS),
    "sns_delivery_email": Price(Decimal("2.00"), 100_000, "e-mail deliveries", _SNS),
    "sns_delivery_email-json": Price(Decimal("2.00"), 100_000, "e-mail deliveries", _SNS),
    "sns_delivery_http": Price(Decimal("0.60"), 1_000_000, "HTTP deliveries", _SNS),
    "sns_delivery_https": Price(Decimal("0.60"), 1_000_000, "HTTPS deliveries", _SNS),
    "sns_delivery_application": Price(Decimal("0.50"), 1_000_000, "mobile push deliveries",
                                      _SNS),
    "sns_delivery_sqs": Price(Decimal("0"), 1, "SQS deliveries (no charge)", _SNS),
    "sns_delivery_lambda": Price(Decimal("0"), 1, "Lambda deliveries (no charge)", _SNS),
    # SMS prices depend on the destination country and the origination identity; this is the
    # base price of a text to a US number, before carrier fees.
    "sns_delivery_sms": Price(Decimal("0.00581"), 1, "SMS to US numbers",
                              "https://aws.amazon.com/end-user-messaging/pricing/"),
})


def _bad(origin: str, line: int | None, reason: str) -> UsageError:
    where = f"{origin}, line {line}" if line else origin
    return UsageError(f"price file {where}: {reason}",
                      hint='expected {"prices": {"<name>": {"usd": "0.625", "per": 1000000}}}; '
                           f"names: {', '.join(sorted(PRICES.prices))}")


def _line_of(text: str, key: str) -> int | None:
    """The line of the file where `"key"` first appears (for messages)."""
    needle = json.dumps(key)
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return None


def load_prices(path: Path | None, base: PriceTable = PRICES) -> PriceTable:
    """`base` with the prices `path` gives replacing its own; `base` itself without a path."""
    if path is None:
        return base
    origin = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(origin, None, f"cannot be read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad(origin, exc.lineno, f"not JSON: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("prices", {}), dict):
        raise _bad(origin, None, 'must be an object whose "prices" is an object')
    prices = dict(base.prices)
    for name, given in data.get("prices", {}).items():
        line = _line_of(text, name)
        if name not in prices:
            raise _bad(origin, line, f"unknown price {name!r}")
        prices[name] = _price(given, prices[name], origin, line, name)
    return PriceTable(region=str(data.get("region", base.region)),
                      as_of=str(data.get("as_of", base.as_of)), prices=prices,
                      origin=origin)


def _price(given: Any, default: Price, origin: str, line: int | None, name: str) -> Price:
    if not isinstance(given, dict) or "usd" not in given:
        raise _bad(origin, line, f"{name}: must be an object with \"usd\" (and \"per\")")
    try:
        usd = Decimal(str(given["usd"]))
        per = int(given.get("per", default.per))
    except (InvalidOperation, ValueError, TypeError):
        raise _bad(origin, line, f"{name}: \"usd\" must be a number and \"per\" a whole "
                                 "number") from None
    if not usd.is_finite() or usd < 0 or per <= 0:
        raise _bad(origin, line, f"{name}: \"usd\" must be 0 or more and \"per\" 1 or more")
    return replace(default, usd=usd, per=per, source=str(given.get("source", origin)))


# -- a bill -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BillLine:
    price: str  # the price's name in the table
    quantity: Decimal
    usd: Decimal


def _quantities(report: Mapping[str, Any]) -> dict[str, Decimal]:
    """What a meter report (`/_inventory/meter`) counts, per price name."""
    def total(rows: str, field: str) -> Decimal:
        return sum((Decimal(str(row.get(field, 0))) for row in report.get(rows, [])),
                   Decimal(0))

    quantities = {
        "dynamodb_write_units": total("dynamodb", "write_units"),
        "dynamodb_read_units": total("dynamodb", "read_units"),
        "lambda_requests": total("lambda", "requests"),
        "lambda_gb_seconds": total("lambda", "gb_seconds"),
        "s3_put_copy_post_list": total("s3", "put_copy_post_list"),
        "s3_get_and_other": total("s3", "get_and_other"),
        "sns_publishes": total("sns_publishes", "requests"),
    }
    for row in report.get("sns_deliveries", []):
        name = f"sns_delivery_{row['protocol']}"
        quantities[name] = quantities.get(name, Decimal(0)) + Decimal(str(row["deliveries"]))
    return quantities


def bill(report: Mapping[str, Any], table: PriceTable = PRICES) -> list[BillLine]:
    """The report's counts priced, one line per price with something counted; a count without
    a price (a delivery protocol the table lacks) is a line of 0 dollars named after it."""
    lines = []
    for name, quantity in _quantities(report).items():
        if not quantity:
            continue
        price = table.prices.get(name)
        usd = quantity * price.each if price is not None else Decimal(0)
        lines.append(BillLine(name, quantity, usd))
    return lines


def total_usd(lines: list[BillLine]) -> Decimal:
    return sum((line.usd for line in lines), Decimal(0))
