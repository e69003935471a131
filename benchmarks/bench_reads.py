"""Reads on a big catalogue: today's code next to the summaries and paging, in one run.

    python benchmarks/bench_reads.py                      # 100,000 items in 20 stores
    python benchmarks/bench_reads.py --items 10000 --repeats 1   # a quick smoke test

Two private emulators (own state folder and port, stopped afterwards), each with the same items
written into the inventory table (`batch_write_item` from 8 threads); on the second the stack is
then provisioned, which computes the summaries from the table:
- baseline: the emulator with moto's own Query/Scan paging (`INVENTORY_EMULATOR_PAGING=moto`),
  read the way the code before issue 10 did: `show --store` pages a Query, `show --totals`
  Scans the whole table and sums;
- new: the emulator as shipped (pages cost what they return), `show --totals` Queries the
  summary rows (one per item).
Each measurement is the median of `--repeats` runs of the core call behind the command (the
same code `inventory show` runs, without the process start-up). Goals: <= 1 s each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import os  # noqa: E402

from inventory_cli.aws import Aws, make_aws  # noqa: E402
from inventory_cli.config import Settings  # noqa: E402
from inventory_cli.local.dynamodb_reads import PAGING_VARIABLE  # noqa: E402
from inventory_cli.local.emulator import start_private  # noqa: E402
from inventory_cli.ops import query  # noqa: E402
from inventory_cli.stack.provision import provision  # noqa: E402
from inventory_cli.stack.resources import TABLE_SCHEMA  # noqa: E402

STACK = "readbench"
STORE = "Store007"


def write_items(aws: Aws, stores: int, items: int) -> None:
    per_store = items // stores
    requests = [{"PutRequest": {"Item": {"Store": {"S": f"Store{s:03}"},
                                         "Item": {"S": f"Item {i:05}"},
                                         "Count": {"N": str((s * 7 + i) % 50)}}}}
                for s in range(stores) for i in range(per_store)]
    ddb = aws.client("dynamodb")
    table = aws.names.table

    def send(start: int) -> None:
        pending: dict[str, Any] = {table: requests[start:start + 25]}
        while pending:
            pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(0, len(requests), 25)))


def median_time(call: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times = []
    result = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def measure(label: str, environ: dict[str, str], args: argparse.Namespace,
            ) -> dict[str, tuple[float, Any]]:
    with tempfile.TemporaryDirectory() as home, \
            start_private(Path(home), environ=environ) as info:
        aws = make_aws(Settings(stack=STACK, local=True), endpoint_url=info.endpoint)
        started = time.perf_counter()
        # The items go into the table before any function reads its stream (no stream yet):
        # the run measures reads, not the pipeline. `provision` then adopts the table, turns on
        # its stream and computes the summaries from it (the rebuild step).
        schema = {k: v for k, v in TABLE_SCHEMA.items() if k != "StreamSpecification"}
        aws.client("dynamodb").create_table(TableName=aws.names.table, **schema)
        write_items(aws, args.stores, args.items)
        if label == "new":
            provision(aws, threshold=5)
        print(f"{label}: {args.items:,} items ready in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)
        names = aws.names
        store = median_time(lambda: query.read_store(aws, names, STORE), args.repeats)
        if label == "baseline":
            totals = median_time(lambda: query.totals(query.read_all(aws, names)),
                                 args.repeats)
        else:
            totals = median_time(lambda: query.summary_totals(aws, names), args.repeats)
        return {"store": store, "totals": totals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    baseline = measure("baseline", {**os.environ, PAGING_VARIABLE: "moto"}, args)
    new = measure("new", {k: v for k, v in os.environ.items() if k != PAGING_VARIABLE}, args)
    # Same answers from both, or the comparison means nothing.
    assert baseline["store"][1] == new["store"][1]
    assert baseline["totals"][1] == new["totals"][1], "summaries differ from a full scan"
    per_store = args.items // args.stores
    rows = ((f"show --store ({per_store:,} rows)", "store", 1.0),
            ("show --totals", "totals", 1.0))
    print(f"{args.items:,} items in {args.stores} stores, median of {args.repeats}")
    print(f"{'read':<28}{'baseline':>10}{'new':>10}{'goal':>8}  met")
    for title, key, goal in rows:
        b, n = baseline[key][0], new[key][0]
        print(f"{title:<28}{b:>9.2f}s{n:>9.2f}s{goal:>7.1f}s  {'yes' if n <= goal else 'NO'}")


if __name__ == "__main__":
    main()
