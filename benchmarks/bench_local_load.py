"""Load on the local stack: many big files uploaded at once, all loaded, exactly the right alerts.

    python benchmarks/bench_local_load.py              # 20 files x 5,000 rows, median of 3 runs
    python benchmarks/bench_local_load.py --quick      # 20 files x 500 rows, one run
    python benchmarks/bench_local_load.py --runs 1 --files 20 --rows 5000

Every run starts a private emulator (its own state folder and free port, stopped afterwards),
provisions a stack, subscribes one e-mail address, and uploads all files at once (one PUT per
file, all in flight together). The files are generated with a fixed seed: file i holds store
`Store NN` only, `--rows` distinct items, counts 0..100 with a known set of zero counts.

Phases (seconds from the start of the upload, except provision):
- provision: the whole stack on the emulator;
- upload:    every PUT answered;
- all loaded: every file's load report names the version we uploaded (polled every second);
- pipeline idle: the emulator has no queued S3 event or stream record left, i.e. the check
  function has seen every stream record and every alert is in the outbox.

Then it verifies, and exits 1 if anything is off: the table holds exactly files x rows items
(Select=COUNT scan, paginated), a sample of items has the generated counts, every load report says
"loaded" with `rows` items, and the outbox holds exactly one alert line per zero-count row, no
line twice, each in a mail whose subject names the line's store.

Baseline, measured in the same emulator in the same run: the same number of items written with
`batch_write_item` (25 a call) straight from this process into a table of the same schema with
its stream on and no function attached (no Lambda): once from one thread, once from 8 threads
(what the loader does). The ratio says how much the pipeline costs on top of the emulator's own
speed.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inventory_cli.aws import Aws, make_aws  # noqa: E402
from inventory_cli.config import Settings  # noqa: E402
from inventory_cli.local.emulator import start_private, wait_until_idle  # noqa: E402
from inventory_cli.local.outbox import outbox_path, read_outbox  # noqa: E402
from inventory_cli.local.state import EmulatorInfo  # noqa: E402
from inventory_cli.ops.subscriptions import subscribe  # noqa: E402
from inventory_cli.ops.upload import check_files, upload_files, wait_for_reports  # noqa: E402
from inventory_cli.provisioning import provision  # noqa: E402
from inventory_cli.stack.resources import TABLE_SCHEMA  # noqa: E402

STACK = "loadbench"
RECIPIENT = "ops@example.com"
SUBJECT_PREFIX = "Inventory Alert: "
RAW_TABLE = "loadbench-raw"
BATCH = 25
SAMPLE_SIZE = 500
TIMEOUT_S = 900.0


# -- the files ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dataset:
    files: list[Path]
    counts: dict[tuple[str, str], int]  # (store, item) -> count, every row of every file

    @property
    def zeros(self) -> set[tuple[str, str]]:
        return {key for key, count in self.counts.items() if count == 0}


def store_name(index: int) -> str:
    return f"Store {index:02d}"


def item_name(index: int) -> str:
    return f"Item {index:05d}"


def generate(folder: Path, files: int, rows: int, seed: int) -> Dataset:
    """`files` CSVs of `rows` rows, one store each; about 1 count in 101 is zero."""
    rnd = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[tuple[str, str], int] = {}
    paths = []
    for f in range(files):
        store = store_name(f)
        path = folder / f"load-{f:02d}.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["store", "item", "count"])
            for r in range(rows):
                count = rnd.randint(0, 100)
                writer.writerow([store, item_name(r), count])
                counts[(store, item_name(r))] = count
        paths.append(path)
    return Dataset(paths, counts)


# -- checks ------------------------------------------------------------------------------------

def count_items(aws: Aws, table: str) -> int:
    ddb = aws.client("dynamodb")
    total = 0
    for page in ddb.get_paginator("scan").paginate(TableName=table, Select="COUNT"):
        total += int(page["Count"])
    return total


def sample_mismatches(aws: Aws, table: str, data: Dataset, seed: int) -> list[str]:
    """Items of a random sample whose stored count differs from the generated one."""
    ddb = aws.client("dynamodb")
    keys = random.Random(seed + 1).sample(sorted(data.counts), min(SAMPLE_SIZE,
                                                                   len(data.counts)))
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table: {"Keys": [
            {"Store": {"S": s}, "Item": {"S": i}} for s, i in keys[start:start + 100]]}}
        while request:
            response = ddb.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(table, []):
                found[(item["Store"]["S"], item["Item"]["S"])] = int(item["Count"]["N"])
            request = response.get("UnprocessedKeys") or {}
    return [f"{s}/{i}: expected {data.counts[(s, i)]}, found {found.get((s, i))}"
            for s, i in keys if found.get((s, i)) != data.counts[(s, i)]]


@dataclass
class AlertCheck:
    messages: int = 0
    lines: int = 0
    duplicates: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    wrong_subject: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.duplicates or self.unexpected or self.missing or self.wrong_subject)


def check_alerts(info: EmulatorInfo, data: Dataset) -> AlertCheck:
    result = AlertCheck()
    seen: Counter[tuple[str, str]] = Counter()
    for message in read_outbox(outbox_path(info.home)):
        if message.to != RECIPIENT:
            result.unexpected.append(f"message to {message.to}")
            continue
        result.messages += 1
        for line in message.message.splitlines():
            store, sep, item = line.partition(" is out of stock of ")
            if not sep:
                result.unexpected.append(line)
                continue
            result.lines += 1
            seen[(store, item)] += 1
            if message.subject != SUBJECT_PREFIX + store:
                result.wrong_subject.append(f"{line!r} under {message.subject!r}")
    expected = data.zeros
    result.duplicates = [f"{s}/{i} x{n}" for (s, i), n in sorted(seen.items()) if n > 1]
    result.unexpected += [f"{s}/{i}" for s, i in sorted(set(seen) - expected)]
    result.missing = [f"{s}/{i}" for s, i in sorted(expected - set(seen))]
    return result


# -- the baseline ------------------------------------------------------------------------------

def raw_items(data: Dataset) -> list[dict[str, Any]]:
    return [{"Store": {"S": s}, "Item": {"S": i}, "Count": {"N": str(c)}}
            for (s, i), c in data.counts.items()]


def create_raw_table(aws: Aws, name: str) -> None:
    ddb = aws.client("dynamodb")
    ddb.create_table(TableName=name, **TABLE_SCHEMA)
    ddb.get_waiter("table_exists").wait(TableName=name)


def write_raw(aws: Aws, table: str, items: list[dict[str, Any]], threads: int) -> float:
    """Seconds to batch_write_item every item (retrying UnprocessedItems) from `threads`."""
    ddb = aws.client("dynamodb")
    batches = [items[i:i + BATCH] for i in range(0, len(items), BATCH)]

    def send(batch: list[dict[str, Any]]) -> None:
        requests = [{"PutRequest": {"Item": item}} for item in batch]
        while requests:
            response = ddb.batch_write_item(RequestItems={table: requests})
            requests = response.get("UnprocessedItems", {}).get(table, [])

    started = time.perf_counter()
    if threads == 1:
        for batch in batches:
            send(batch)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(send, batches))
    return time.perf_counter() - started


# -- one run -----------------------------------------------------------------------------------

@dataclass
class RunResult:
    provision: float
    upload: float
    loaded: float
    idle: float
    raw_1: float
    raw_8: float
    problems: list[str]
    alerts: AlertCheck


def run_once(work: Path, data: Dataset, *, rows: int, seed: int,
             say: Callable[[str], None]) -> RunResult:
    problems: list[str] = []
    with start_private(work / "emulator") as info:
        aws = make_aws(Settings(stack=STACK, local=True), endpoint_url=info.endpoint)
        t0 = time.perf_counter()
        provisioned = provision(aws)
        t_provision = time.perf_counter() - t0
        names = provisioned.names
        subscribe(aws, names, RECIPIENT, "email", None)
        checked = check_files(data.files)
        say(f"  provisioned in {t_provision:.1f} s on {info.endpoint}; uploading "
            f"{len(checked)} files")

        t0 = time.perf_counter()
        uploads = upload_files(aws, names.uploads_bucket, checked, max_parallel=len(checked))
        t_upload = time.perf_counter() - t0
        # Polled once a second, as `inventory upload --wait` does (20 GETs a poll): faster
        # polling would itself load the emulator it measures.
        outcomes = wait_for_reports(aws, names.uploads_bucket, uploads, timeout=TIMEOUT_S,
                                    poll_interval=1.0)
        t_loaded = time.perf_counter() - t0
        say(f"  all reports after {t_loaded:.1f} s; waiting for the pipeline to settle")
        if not wait_until_idle(info, timeout_s=TIMEOUT_S):
            problems.append(f"the emulator was not idle after {TIMEOUT_S:.0f} s")
        t_idle = time.perf_counter() - t0

        for outcome in outcomes:
            if outcome.report is None:
                problems.append(f"{outcome.upload.key}: no load report")
            elif (outcome.status, outcome.loaded, outcome.rejected) != ("loaded", rows, []):
                problems.append(f"{outcome.upload.key}: report {outcome.status}, "
                                f"loaded {outcome.loaded}, rejected {outcome.rejected}")
        items = count_items(aws, names.table)
        if items != len(data.counts):
            problems.append(f"table holds {items} items, expected {len(data.counts)}")
        problems += sample_mismatches(aws, names.table, data, seed)[:10]
        alerts = check_alerts(info, data)
        if not alerts.ok or alerts.lines != len(data.zeros):
            problems.append(
                f"alerts: {alerts.lines} lines for {len(data.zeros)} zero rows; duplicates "
                f"{alerts.duplicates[:5]}, unexpected {alerts.unexpected[:5]}, missing "
                f"{alerts.missing[:5]} ({len(alerts.missing)}), wrong subject "
                f"{alerts.wrong_subject[:3]}")
        if problems:
            say(f"  PROBLEMS (emulator log: {info.log_file}):")
            for problem in problems:
                say(f"    {problem}")
            _keep_log(info, work)

        say("  baseline: batch_write_item straight into a table with a stream, no Lambda")
        everything = raw_items(data)
        create_raw_table(aws, RAW_TABLE)
        raw_1 = write_raw(aws, RAW_TABLE, everything, threads=1)
        create_raw_table(aws, RAW_TABLE + "-8")
        raw_8 = write_raw(aws, RAW_TABLE + "-8", everything, threads=8)
        for table in (RAW_TABLE, RAW_TABLE + "-8"):
            if count_items(aws, table) != len(everything):
                problems.append(f"baseline table {table} lost items")
    return RunResult(t_provision, t_upload, t_loaded, t_idle, raw_1, raw_8, problems, alerts)


def _keep_log(info: EmulatorInfo, work: Path) -> None:
    target = Path(tempfile.gettempdir()) / f"bench_local_load-{int(time.time())}.log"
    try:
        target.write_bytes(info.log_file.read_bytes())
        print(f"    emulator log kept at {target}", file=sys.stderr)
    except OSError:
        pass


# -- report ------------------------------------------------------------------------------------

def table(results: list[RunResult], items: int) -> str:
    def median(values: list[float]) -> float:
        return statistics.median(values)

    def row(name: str, values: list[float], per_items: bool = True) -> str:
        m = median(values)
        rate = f"{items / m:>10,.0f}" if per_items and m > 0 else f"{'':>10}"
        spread = f"{min(values):.1f}-{max(values):.1f}" if len(values) > 1 else ""
        return f"| {name:<38} | {m:>8.1f} | {spread:>11} | {rate} |"

    lines = [
        f"| {'phase (median of ' + str(len(results)) + ' run(s))':<38} | {'seconds':>8} | "
        f"{'min-max':>11} | {'items/s':>10} |",
        f"|{'-' * 40}|{'-' * 9}:|{'-' * 12}:|{'-' * 11}:|",
        row("provision", [r.provision for r in results], per_items=False),
        row("upload (all PUTs answered)", [r.upload for r in results], per_items=False),
        row("all loaded (every load report)", [r.loaded for r in results]),
        row("pipeline idle (alerts delivered)", [r.idle for r in results]),
        row("baseline: batch_write_item, 1 thread", [r.raw_1 for r in results]),
        row("baseline: batch_write_item, 8 threads", [r.raw_8 for r in results]),
    ]
    loaded, idle = median([r.loaded for r in results]), median([r.idle for r in results])
    raw_1, raw_8 = median([r.raw_1 for r in results]), median([r.raw_8 for r in results])
    lines.append("")
    lines.append(f"all loaded / baseline 1 thread: {loaded / raw_1:.2f}x the time; "
                 f"pipeline idle / baseline 1 thread: {idle / raw_1:.2f}x; "
                 f"all loaded / baseline 8 threads: {loaded / raw_8:.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--rows", type=int, default=5000, help="rows per file")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--quick", action="store_true", help="one run of 500-row files")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.rows = 1, 500

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="bench-local-load-") as tmp:
        work = Path(tmp)
        data = generate(work / "files", args.files, args.rows, args.seed)
        say(f"{args.files} files x {args.rows} rows = {len(data.counts)} items, "
            f"{len(data.zeros)} at zero (seed {args.seed})")
        for run in range(1, args.runs + 1):
            say(f"run {run}/{args.runs}")
            results.append(run_once(work / f"run-{run}", data, rows=args.rows,
                                    seed=args.seed, say=say))
            last = results[-1]
            say(f"  loaded {last.loaded:.1f} s, idle {last.idle:.1f} s, raw 1 thread "
                f"{last.raw_1:.1f} s, raw 8 threads {last.raw_8:.1f} s; "
                f"{last.alerts.messages} mails, {last.alerts.lines} alert lines")

    items = len(data.counts)
    print(f"\n{args.files} files x {args.rows} rows = {items:,} items uploaded at once; "
          f"{len(data.zeros)} zero counts\n")
    print(table(results, items))
    failed = [p for r in results for p in r.problems]
    print("\nverification: " + ("OK in every run: all items loaded, sample counts right, "
                                "one alert line per zero count, no duplicates"
                                if not failed else f"FAILED ({len(failed)} problems)"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
