"""How fast `load_inventory` loads a CSV, next to two baselines measured in the same run.

    python benchmarks/bench_load.py            # the full run (about 15 minutes on 2 cores)
    python benchmarks/bench_load.py --quick    # small sizes, one repeat: a smoke test

Everything runs on in-process moto (no network, no AWS account), with the table's stream on as
in the real stack. Every run starts from a fresh mock: an empty table and the CSV in a bucket.
The loaders:

- `load_inventory`: our handler (`handle_event`), two streaming passes, concurrent batches;
- `per-row`: the original lab's loader: read the whole object, PutItem once per row;
- `floor`: BatchWriteItem of the already-parsed items, one call after another, no CSV at all.

Settings:
1. as is: moto's own cost per item dominates. Target: `load_inventory` takes at most 1.3x the
   floor's time (so parsing, validation and the extra GET cost little).
2. every AWS call (every HTTP request, S3 included) waits a simulated 10 ms network round trip,
   a botocore `before-send` hook: what a Lambda function sees talking to DynamoDB. Target:
   `load_inventory` at least 30x the rows per second of the per-row loader.

Medians over `--repeats` runs; the loaders alternate within each repeat so drift hits all alike.
The per-row loader at 100,000 rows runs once (`--per-row-repeats`): moto's PutItem slows down as
the table grows, and one run takes about six minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inventory_cli.stack.resources import TABLE_SCHEMA  # noqa: E402
from lambda_src.load_inventory import handle_event  # noqa: E402

REGION = "us-east-1"
BUCKET = "bench-uploads"
TABLE = "bench-inventory"
KEY = "bench/inventory.csv"
ROUND_TRIP = 0.010


@dataclass(frozen=True)
class Setting:
    number: int
    title: str
    round_trip: float
    sizes: tuple[int, ...]


def generate_csv(rows: int, seed: int = 7) -> bytes:
    """`rows` distinct (store, item) pairs across 50 stores, counts 0..100."""
    rnd = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["store", "item", "count"])
    stores = [f"Store {n:02d}" for n in range(50)]
    for index in range(rows):
        writer.writerow([stores[index % 50], f"Item {index // 50:06d}, model {index % 7}",
                         rnd.randint(0, 100)])
    return out.getvalue().encode("utf-8")


def parsed_items(data: bytes) -> list[dict[str, Any]]:
    """The floor's input: the items, parsed before the clock starts."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    return [{"Store": {"S": row["store"]}, "Item": {"S": row["item"]},
             "Count": {"N": str(int(row["count"]))}} for row in reader]


class Stack:
    """A fresh in-process mock with the bucket, the object and the streaming table."""

    def __init__(self, data: bytes, round_trip: float) -> None:
        from moto import mock_aws

        self._mock = mock_aws()
        self._data = data
        self._round_trip = round_trip
        self.requests = 0

    def __enter__(self) -> Stack:
        import boto3
        from botocore.config import Config

        self._mock.start()
        session = boto3.session.Session(region_name=REGION)
        config = Config(max_pool_connections=16)
        self.s3 = session.client("s3", config=config)
        self.dynamodb = session.client("dynamodb", config=config)
        self.s3.create_bucket(Bucket=BUCKET)
        self.s3.put_object(Bucket=BUCKET, Key=KEY, Body=self._data)
        self.dynamodb.create_table(TableName=TABLE, **TABLE_SCHEMA)
        # Registered after setup, so only the measured calls pay the round trip; first in line,
        # because moto answers from its own before-send handler.
        for client in (self.s3, self.dynamodb):
            client.meta.events.register_first("before-send", self._network)
        return self

    def _network(self, **_: Any) -> None:
        self.requests += 1
        if self._round_trip:
            time.sleep(self._round_trip)

    def __exit__(self, *exc: object) -> None:
        self._mock.stop()

    def item_count(self) -> int:
        return int(self.dynamodb.describe_table(TableName=TABLE)["Table"]["ItemCount"])


def s3_event() -> dict[str, Any]:
    from urllib.parse import quote_plus

    return {"Records": [{"eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": BUCKET}, "object": {"key": quote_plus(KEY)}}}]}


def run_ours(stack: Stack, data: bytes) -> None:
    summary = handle_event(s3_event(), s3=stack.s3, dynamodb=stack.dynamodb, table=TABLE,
                           log=lambda line: None)
    assert summary["files"][0]["status"] == "loaded", summary


def run_per_row(stack: Stack, data: bytes) -> None:
    """The lab's loader: whole object into memory, one PutItem per row."""
    body = stack.s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read().decode("utf-8")
    for row in csv.DictReader(body.splitlines()):
        stack.dynamodb.put_item(TableName=TABLE, Item={
            "Store": {"S": row["store"]}, "Item": {"S": row["item"]},
            "Count": {"N": str(int(row["count"]))}})


def floor_runner(items: list[dict[str, Any]]) -> Callable[[Stack, bytes], None]:
    def run_floor(stack: Stack, data: bytes) -> None:
        for start in range(0, len(items), 25):
            requests: list[dict[str, Any]] = [{"PutRequest": {"Item": item}}
                                              for item in items[start:start + 25]]
            while requests:
                response = stack.dynamodb.batch_write_item(RequestItems={TABLE: requests})
                requests = response.get("UnprocessedItems", {}).get(TABLE, [])
    return run_floor


def measure(run: Callable[[Stack, bytes], None], data: bytes, rows: int,
            round_trip: float) -> float:
    with Stack(data, round_trip) as stack:
        started = time.perf_counter()
        run(stack, data)
        elapsed = time.perf_counter() - started
        # A loader that wrote fewer items would look fast: count them (not timed).
        loaded = stack.item_count()
        if loaded != rows:
            raise SystemExit(f"{run.__name__} wrote {loaded} items, expected {rows}")
    return elapsed


def bench(settings: list[Setting], repeats: int,
          per_row_repeats: int) -> list[tuple[Setting, int, dict[str, float]]]:
    results = []
    for setting in settings:
        for rows in setting.sizes:
            data = generate_csv(rows)
            loaders = {"load_inventory": run_ours, "per-row": run_per_row,
                       "floor": floor_runner(parsed_items(data))}
            times: dict[str, list[float]] = {name: [] for name in loaders}
            for repeat in range(repeats):
                for name, run in loaders.items():
                    if name == "per-row" and rows >= 100_000 and repeat >= per_row_repeats:
                        continue
                    elapsed = measure(run, data, rows, setting.round_trip)
                    times[name].append(elapsed)
                    print(f"  setting {setting.number}, {rows:>7,} rows, {name:<14} "
                          f"run {repeat + 1}/{repeats}: {elapsed:8.2f} s", file=sys.stderr,
                          flush=True)
            results.append((setting, rows, {n: statistics.median(t) for n, t in times.items()}))
    return results


def report(results: list[tuple[Setting, int, dict[str, float]]], repeats: int) -> str:
    lines = [
        f"Median of {repeats} run(s); Python {sys.version.split()[0]}, {os.cpu_count()} CPU(s), "
        f"load average at the end {os.getloadavg()[0]:.1f}.",
        "",
        "| setting | rows | loader | median s | rows/s | x per-row | time / floor |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    verdicts = []
    for setting, rows, medians in results:
        for name in ("load_inventory", "floor", "per-row"):
            seconds = medians[name]
            lines.append(
                f"| {setting.number}: {setting.title} | {rows:,} | {name} | {seconds:.2f} | "
                f"{rows / seconds:,.0f} | {medians['per-row'] / seconds:.1f} | "
                f"{seconds / medians['floor']:.2f} |")
        ours = medians["load_inventory"]
        if setting.number == 1:
            ratio = ours / medians["floor"]
            verdict = "met" if ratio <= 1.3 else "MISSED"
            verdicts.append(f"- setting 1, {rows:,} rows: load_inventory takes {ratio:.2f}x the "
                            f"floor's time (target <= 1.30): {verdict}")
        else:
            speedup = medians["per-row"] / ours
            batching = medians["per-row"] / medians["floor"]
            verdict = "met" if speedup >= 30 else "MISSED"
            verdicts.append(f"- setting 2, {rows:,} rows: load_inventory is {speedup:.1f}x the "
                            f"per-row loader (target >= 30; sequential batching alone: "
                            f"{batching:.1f}x): {verdict}")
    return "\n".join([*lines, "", *verdicts])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and one repeat (a smoke test, not a measurement)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per loader and size (default 3, 1 with --quick)")
    parser.add_argument("--per-row-repeats", type=int, default=1,
                        help="runs of the per-row loader at 100,000 rows (default 1)")
    args = parser.parse_args(argv)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)  # moto does not intercept calls sent to an endpoint
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[name] = "bench"
    os.environ["AWS_DEFAULT_REGION"] = REGION
    if args.quick:
        settings = [Setting(1, "as is", 0.0, (2_000,)),
                    Setting(2, "10 ms round trip", ROUND_TRIP, (500,))]
    else:
        settings = [Setting(1, "as is", 0.0, (10_000, 100_000)),
                    Setting(2, "10 ms round trip", ROUND_TRIP, (2_000, 10_000))]
    repeats = args.repeats or (1 if args.quick else 3)
    print(report(bench(settings, repeats, args.per_row_repeats), repeats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
