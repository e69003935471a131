"""Reads on a big catalogue: the reads before the summaries next to today's, in one run.

    python benchmarks/bench_reads.py                      # 100,000 items in 20 stores
    python benchmarks/bench_reads.py --items 10000 --repeats 1   # a quick smoke test
    python benchmarks/bench_reads.py --no-browser         # without the dashboard rows
    python benchmarks/bench_reads.py --stores 100 --items 500000 --no-baseline   # the issue's
                                                          # dashboard size, today's code only

Two private emulators (own state folder and port, stopped afterwards), each with the same items
written into the inventory table (`batch_write_item` from 8 threads), then provisioned (which
computes the summaries from the table):
- baseline: the emulator with moto's own DynamoDB reads (`INVENTORY_EMULATOR_PAGING=moto`:
  every page from the whole table, every item deep-copied and serialised through moto's shape
  walker), read the way the code before the summaries did: `show --store` pages a Query,
  `show --totals` Scans the whole table and sums;
- new: the emulator as shipped (a read costs what it returns), `show --totals` Queries the
  summary rows (one per item).
Measured, each the median of `--repeats` runs:
- the core call behind `inventory show` (the same code, without the process start-up);
- the whole installed command, `inventory --local show ... --output table` in a new process
  (start-up, finding the emulator and the stack, the read, the table as printed); on the
  baseline emulator the command is today's;
- the dashboard in headless Chromium (Debian's `chromium`, as the browser tests use it), a new
  browser context each time, from navigation until the first rows of the table are shown and
  the page says it is done loading: All stores, and one store. Both emulators serve today's
  dashboard (the dashboard before the summaries cannot be rebuilt here), so these rows compare the
  emulator's reads, not the two dashboards.
Goals: the reads <= 1 s, the dashboard views <= 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inventory_cli.aws import Aws, make_aws  # noqa: E402
from inventory_cli.config import Settings  # noqa: E402
from inventory_cli.dashboard import dashboard_url  # noqa: E402
from inventory_cli.local.dynamodb_reads import PAGING_VARIABLE  # noqa: E402
from inventory_cli.local.emulator import start_private  # noqa: E402
from inventory_cli.ops import query  # noqa: E402
from inventory_cli.provisioning import provision  # noqa: E402
from inventory_cli.stack.resources import TABLE_SCHEMA  # noqa: E402

STACK = "readbench"
STORE = "Store007"
INVENTORY = Path(sys.executable).with_name("inventory")
CHROMIUM = os.environ.get("INVENTORY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


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


def run_command(home: str, *args: str) -> str:
    """`inventory --local ...` as a user runs it, on this run's emulator (its state folder)."""
    done = subprocess.run([str(INVENTORY), "--local", "--stack", STACK, *args],
                          capture_output=True, text=True, check=False, timeout=600,
                          env={**os.environ, "INVENTORY_HOME": home, "NO_COLOR": "1",
                               "COLUMNS": "120"})
    if done.returncode:
        raise SystemExit(f"inventory {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def dashboard_times(url: str, repeats: int, per_store: int) -> dict[str, tuple[float, str]]:
    """Seconds until the first rows show: All stores, then one store (a new context each)."""
    from playwright.sync_api import expect, sync_playwright

    views = {"dashboard All stores": ("", "all stores"),
             f"dashboard one store ({per_store:,} items)": (f"#store={STORE}", f"Stock: {STORE}")}
    result = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            for label, (fragment, title) in views.items():
                times = []
                pager = ""
                for _ in range(repeats):
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    page = context.new_page()
                    started = time.perf_counter()
                    page.goto(url + fragment)
                    expect(page.locator("#rows tr").first).to_be_visible(timeout=600_000)
                    expect(page.locator("#refresh")).to_be_enabled(timeout=600_000)
                    times.append(time.perf_counter() - started)
                    title_shown = page.locator("#table-title").inner_text()
                    assert title in title_shown, (title, title_shown)
                    pager = page.locator("#pager-text").inner_text()
                    context.close()
                result[label] = (statistics.median(times), pager)
        finally:
            browser.close()
    return result


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
        written = time.perf_counter() - started
        provision(aws, threshold=5)
        print(f"{label}: {args.items:,} items written in {written:.0f} s, provisioned (with the "
              f"summaries) in {time.perf_counter() - started - written:.0f} s", file=sys.stderr)
        names = aws.names
        results: dict[str, tuple[float, Any]] = {}
        results["store"] = median_time(lambda: query.read_store(aws, names, STORE), args.repeats)
        if label == "baseline":
            results["totals"] = median_time(lambda: query.totals(query.read_all(aws, names)),
                                            args.repeats)
        else:
            results["totals"] = median_time(lambda: query.summary_totals(aws, names),
                                            args.repeats)
        results["store command"] = median_time(lambda: run_command(
            home, "show", "--store", STORE, "--output", "table"), args.repeats)
        results["totals command"] = median_time(lambda: run_command(
            home, "show", "--totals", "--output", "table"), args.repeats)
        if args.browser:
            url = dashboard_url(bucket=names.dashboard_bucket, region=names.region,
                                endpoint=info.endpoint)
            results.update(dashboard_times(url, args.repeats, args.items // args.stores))
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="measure the baseline side too (default: yes)")
    parser.add_argument("--browser", action=argparse.BooleanOptionalAction, default=True,
                        help="measure the dashboard in headless Chromium too (default: yes)")
    args = parser.parse_args()
    if args.browser and not Path(CHROMIUM).exists():
        raise SystemExit(f"no Chromium at {CHROMIUM} (set INVENTORY_CHROMIUM, or --no-browser)")
    new = measure("new", {k: v for k, v in os.environ.items() if k != PAGING_VARIABLE}, args)
    baseline = new
    if args.baseline:
        baseline = measure("baseline", {**os.environ, PAGING_VARIABLE: "moto"}, args)
        # Same answers from both, or the comparison means nothing.
        for key in ("store", "store command", "totals command"):
            assert baseline[key][1] == new[key][1], f"{key}: the two answers differ"
        assert baseline["totals"][1] == new["totals"][1], "summaries differ from a full scan"
    per_store = args.items // args.stores
    rows = [(f"show --store ({per_store:,} rows), core call", "store", 1.0),
            ("show --totals, core call", "totals", 1.0),
            (f"inventory show --store ({per_store:,} rows)", "store command", 1.0),
            ("inventory show --totals", "totals command", 1.0)]
    rows += [(key, key, 2.0) for key in new if key.startswith("dashboard")]
    print(f"{args.items:,} items in {args.stores} stores, median of {args.repeats}"
          + ("" if args.baseline else " (no baseline run)"))
    print(f"{'read':<44}{'baseline':>10}{'new':>10}{'ratio':>8}{'goal':>8}  met")
    for title, key, goal in rows:
        b, n = baseline[key][0], new[key][0]
        before = f"{b:>9.2f}s{b / n:>7.1f}x" if args.baseline else f"{'-':>10}{'-':>8}"
        print(f"{title:<44}{before[:10]}{n:>9.2f}s{before[10:]}{goal:>7.1f}s  "
              f"{'yes' if n <= goal else 'NO'}")
    for key in new:
        if key.startswith("dashboard"):
            print(f"  {key}: pager says {new[key][1]!r}")


if __name__ == "__main__":
    main()
