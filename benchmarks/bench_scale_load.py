"""One big file through the real loader on the emulator, with a short timeout and a write limit,
next to the loader of another git ref (default `main`, before loads could continue) in the
same run.

    python benchmarks/bench_scale_load.py                     # 100,000 rows (20 x 5,000)
    python benchmarks/bench_scale_load.py --rows 1000000      # 20 x 50,000: the issue's target

Both loaders run on one private emulator started with `--ddb-write-limit` (default 4,000 a
second, a new on-demand table), each in a stack of its own, with the load function's Timeout set
to `--timeout` (default 30 s; memory stays 256 MB). One file of `--rows` rows (20 stores, a fixed
seed) is uploaded to each stack in turn. Measured per loader, from the upload:
- seconds until the load report names the uploaded version (or until the emulator is idle
  without one: the load failed);
- continuations (`load_continued` log lines), invocations and time-outs (REPORT lines);
- the worker's peak memory: the largest "Max Memory Used" of the function's REPORT lines (the
  worker process's VmHWM, also for a worker the timeout killed);
- rows/s, and whether the table holds exactly the file's items (counted when the report came).
The stream's consumers (alerts, summaries) are paused during the run unless
`--no-pause-stream-consumers`: on AWS they run beside the loader, here they would take its CPU.

The machine is shared: the table shows one run. The baseline's row says whether it finished at all.

    python benchmarks/bench_scale_load.py --pipeline --baseline-ref <ref>

`--pipeline`: the whole pipeline with every consumer running, on a private emulator without a
write limit: `--rows` rows in `--files` files (one store each, the same item names in every
store, counts 0..100, fixed seed) uploaded at once, as `bench_local_load.py` does. Measured:
seconds until every load report (as `upload --wait`), until the store summaries equal a full
computation (polled every second; the item summaries are compared in full at the end), and
until the emulator is idle; then the floor: the same items written with BatchWriteItem, one call
after another, into a table with a stream and no consumer, in the same emulator. Write units
per loaded row are the emulator's meter's (`inventory local meter`: units as DynamoDB bills
them), from a mark set before the uploads, split by table: inventory table (the loader), summary
table, alert log. With `--baseline-ref`, the same run first
on a second emulator with that ref's functions (and `--baseline-summary-batch` as the summary
mapping's BatchSize, the ref's own setting). `--summary-batch` and `--summary-timeout` set the
current side's summary mapping BatchSize and function Timeout (to compare batch sizes).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inventory_cli.aws import Aws, make_aws  # noqa: E402
from inventory_cli.config import Settings, StackNames  # noqa: E402
from inventory_cli.errors import EmulatorError  # noqa: E402
from inventory_cli.local.emulator import (  # noqa: E402
    mark_meter,
    read_meter,
    start_private,
    wait_until_idle,
)
from inventory_cli.local.server import WRITE_LIMIT_ENV  # noqa: E402
from inventory_cli.provisioning import provision  # noqa: E402
from inventory_cli.stack.packaging import build_zip  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
STORES = 20
SEED = 10
KEY = "scale.csv"


def generate(path: Path, rows: int) -> int:
    """`rows` rows: 20 stores x rows/20 items, counts 0..100. Returns the number of items."""
    rnd = random.Random(SEED)
    per_store = rows // STORES
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["store", "item", "count"])
        for item in range(per_store):
            for store in range(STORES):
                writer.writerow([f"Store{store:03d}", f"Item {item:06d}", rnd.randint(0, 100)])
    return per_store * STORES


def baseline_zip(ref: str) -> bytes:
    """The lambda_src package as it is at `ref`, zipped the way provision zips ours."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref,
                              "lambda_src"], check=True, capture_output=True).stdout
    folder = Path(tempfile.mkdtemp(prefix="bench-scale-baseline-"))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return build_zip(folder / "lambda_src").data


@dataclass
class Outcome:
    loader: str
    rows: int
    seconds: float
    finished: bool
    continuations: int
    invocations: int
    timeouts: int
    peak_mb: int
    items: int
    expected_items: int

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.finished and self.seconds else 0.0


def _log_lines(aws: Aws, group: str) -> list[str]:
    logs = aws.client("logs")
    lines: list[str] = []
    try:
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
            lines += [event["message"] for event in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        pass
    return lines


def _count(aws: Aws, table: str) -> int:
    pages = aws.client("dynamodb").get_paginator("scan").paginate(TableName=table,
                                                                  Select="COUNT")
    return sum(int(page["Count"]) for page in pages)


def _pause_stream_consumers(lam: Any, names: StackNames) -> None:
    """On AWS the stream's consumers run beside the loader; on a 2-core emulator they take its
    CPU (a million records for each of them), which measures the machine, not the loader."""
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    for mapping in mappings:
        if mapping["FunctionArn"].split(":")[-1] in (names.check_function,
                                                     names.summarize_function):
            lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)


def _report_for(aws: Aws, bucket: str, version: str | None) -> dict[str, Any] | None:
    s3 = aws.client("s3")
    try:
        body = s3.get_object(Bucket=bucket, Key=f"reports/{KEY}.json")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    report: dict[str, Any] = json.loads(body)
    return report if report["source"]["version_id"] == version else None


def _idle(info: Any, timeout_s: float) -> bool:
    """Whether the emulator is idle; a busy one may not answer in time: not idle then."""
    try:
        return wait_until_idle(info, timeout_s=timeout_s)
    except EmulatorError:
        return False


def run_loader(name: str, aws: Aws, names: StackNames, *, info: Any, data: Path, rows: int,
               items: int, give_up_s: float, say: Callable[[str], None]) -> Outcome:
    s3 = aws.client("s3")
    say(f"  {name}: uploading {data.stat().st_size / 1e6:.1f} MB")
    started = time.perf_counter()
    put = s3.put_object(Bucket=names.uploads_bucket, Key=KEY, Body=data.read_bytes())
    report = None
    while time.perf_counter() - started < give_up_s:
        report = _report_for(aws, names.uploads_bucket, put.get("VersionId"))
        if report is not None:
            break
        # Idle without a report: every attempt (and Lambda's two retries) has failed.
        if _idle(info, 2.0):
            report = _report_for(aws, names.uploads_bucket, put.get("VersionId"))
            break
        time.sleep(3.0)  # a busy emulator should not also answer a poll every moment
    seconds = time.perf_counter() - started
    # The report comes from the last invocation, after its last write: the table is complete
    # now if it ever will be. (Counted before waiting: the stream's consumers may still run.)
    in_table = _count(aws, names.table)
    while not _idle(info, 30.0) and time.perf_counter() - started < give_up_s:
        time.sleep(1.0)
    lines = _log_lines(aws, names.load_log_group)
    text = "\n".join(lines)
    peaks = [int(m) for m in re.findall(r"Max Memory Used: (\d+) MB", text)]
    finished = report is not None and report["status"] == "loaded" and report["loaded"] == items
    outcome = Outcome(
        loader=name, rows=rows, seconds=seconds, finished=finished,
        continuations=text.count('"event": "load_continued"'),
        invocations=text.count("REPORT RequestId:"), timeouts=text.count("Task timed out"),
        peak_mb=max(peaks, default=0), items=in_table, expected_items=items)
    say(f"  {name}: {'finished' if finished else 'NO REPORT'} after {seconds:.1f} s, "
        f"{outcome.continuations} continuations, {outcome.timeouts} time-outs, peak "
        f"{outcome.peak_mb} MB, {outcome.items:,} items in the table")
    return outcome


def table(outcomes: list[Outcome], timeout: int, limit: int) -> str:
    head = ("| loader | rows | timeout | seconds | continuations | invocations | time-outs | "
            "worker peak MB | rows/s | table |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    body = []
    for o in outcomes:
        seconds = f"{o.seconds:.1f}" if o.finished else f"failed ({o.seconds:.0f} s)"
        rate = f"{o.rows_per_s:,.0f}" if o.finished else "-"
        complete = "complete" if o.items == o.expected_items else (
            f"{o.items:,} of {o.expected_items:,}")
        body.append(f"| {o.loader} | {o.rows:,} | {timeout} s | {seconds} | {o.continuations} "
                    f"| {o.invocations} | {o.timeouts} | {o.peak_mb} | {rate} | {complete} |")
    return "\n".join([head, *body, f"\n(write limit {limit:,}/s per table, memory 256 MB)"])


# -- the pipeline with every consumer: write units, the summaries' lag, the ratio to the floor ---

RAW_TABLE = "scale-raw-floor"
RAW_BATCH = 25


def generate_files(folder: Path, rows: int, files: int) -> dict[tuple[str, str], int]:
    """`files` CSVs, file f holding store f only, rows/files items each (the same item names in
    every store), counts 0..100 from a fixed seed. Returns every (store, item) -> count."""
    rnd = random.Random(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[tuple[str, str], int] = {}
    for f in range(files):
        store = f"Store {f:02d}"
        with (folder / f"load-{f:02d}.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["store", "item", "count"])
            for r in range(rows // files):
                count = rnd.randint(0, 100)
                writer.writerow([store, f"Item {r:06d}", count])
                counts[(store, f"Item {r:06d}")] = count
    return counts


def expected_store_rows(counts: dict[tuple[str, str], int],
                        threshold: int) -> dict[str, tuple[int, int, int]]:
    rows: dict[str, tuple[int, int, int]] = {}
    for (store, _item), count in counts.items():
        items, units, low = rows.get(store, (0, 0, 0))
        rows[store] = (items + 1, units + count, low + int(count <= threshold))
    return rows


def expected_item_rows(counts: dict[tuple[str, str], int],
                       threshold: int) -> dict[str, tuple[int, int, int, dict[str, int]]]:
    rows: dict[str, tuple[int, int, int, dict[str, int]]] = {}
    for (store, item), count in counts.items():
        stores, units, low, low_stores = rows.get(item, (0, 0, 0, {}))
        if count <= threshold:
            low_stores = {**low_stores, store: count}
        rows[item] = (stores + 1, units + count, low + int(count <= threshold), low_stores)
    return rows


def _store_rows(aws: Aws, names: StackNames) -> dict[str, tuple[int, int, int]]:
    from inventory_cli.ops.summaries import read_store_summaries

    return {s.store: (s.items, s.units, s.low_count)
            for s in read_store_summaries(aws, names)}


def _item_rows(aws: Aws, names: StackNames) -> dict[str, tuple[int, int, int, dict[str, int]]]:
    from inventory_cli.ops.summaries import read_item_summaries

    return {i.item: (i.stores, i.units, i.low_count, i.low_stores)
            for i in read_item_summaries(aws, names)}


def _write_units_by_table(report: dict[str, Any]) -> dict[str, int]:
    """Write units per table in a report of the emulator's meter (`inventory local meter`)."""
    by_table: dict[str, int] = {}
    for row in report["dynamodb"]:
        by_table[row["table"]] = by_table.get(row["table"], 0) + int(row["write_units"])
    return by_table


@dataclass
class PipelineOutcome:
    side: str
    rows: int
    loaded: float
    exact: float | None
    idle: float
    floor: float
    units: dict[str, int]  # per role: loader, summaries, alerts, other
    problems: list[str]

    @property
    def lag(self) -> float | None:
        return None if self.exact is None else max(0.0, self.exact - self.loaded)


def _raw_floor(aws: Aws, counts: dict[tuple[str, str], int]) -> float:
    """Seconds to BatchWriteItem every item, one call after another, into a table with a stream
    and no consumer: the emulator's own speed (the floor the pipeline is compared with)."""
    from inventory_cli.stack.resources import TABLE_SCHEMA

    ddb = aws.client("dynamodb")
    ddb.create_table(TableName=RAW_TABLE, **TABLE_SCHEMA)
    ddb.get_waiter("table_exists").wait(TableName=RAW_TABLE)
    items = [{"PutRequest": {"Item": {"Store": {"S": s}, "Item": {"S": i},
                                      "Count": {"N": str(c)}}}} for (s, i), c in counts.items()]
    started = time.perf_counter()
    for start in range(0, len(items), RAW_BATCH):
        requests = items[start:start + RAW_BATCH]
        while requests:
            response = ddb.batch_write_item(RequestItems={RAW_TABLE: requests})
            requests = response.get("UnprocessedItems", {}).get(RAW_TABLE, [])
    return time.perf_counter() - started


def run_pipeline(side: str, code: bytes | None, summary_batch: int | None, *, work: Path,
                 summary_timeout: int | None,
                 folder: Path, counts: dict[tuple[str, str], int], environ: dict[str, str],
                 give_up_s: float, say: Callable[[str], None]) -> PipelineOutcome:
    from inventory_cli.ops.subscriptions import subscribe
    from inventory_cli.ops.upload import check_files, upload_files, wait_for_reports

    problems: list[str] = []
    rows = len(counts)
    with start_private(work / "emulator", environ=environ) as info:
        aws = make_aws(Settings(stack="pipe", local=True), endpoint_url=info.endpoint)
        names = provision(aws).names
        lam = aws.client("lambda")
        if code is not None:
            for function in (names.load_function, names.check_function,
                             names.summarize_function):
                lam.update_function_code(FunctionName=function, ZipFile=code)
        if summary_batch is not None:
            for mapping in lam.list_event_source_mappings()["EventSourceMappings"]:
                if mapping["FunctionArn"].split(":")[-1] == names.summarize_function:
                    lam.update_event_source_mapping(UUID=mapping["UUID"],
                                                    BatchSize=summary_batch)
        if summary_timeout is not None:
            lam.update_function_configuration(FunctionName=names.summarize_function,
                                              Timeout=summary_timeout)
        subscribe(aws, names, "ops@example.com", "email", None)
        checked = check_files(sorted(folder.glob("*.csv")))
        mark_meter(info.endpoint, f"{side}-pipeline")
        want = expected_store_rows(counts, 0)
        say(f"  {side}: uploading {len(checked)} files, {rows:,} rows")
        started = time.perf_counter()
        uploads = upload_files(aws, names.uploads_bucket, checked, max_parallel=len(checked))
        outcomes = wait_for_reports(aws, names.uploads_bucket, uploads, timeout=give_up_s,
                                    poll_interval=1.0)
        loaded = time.perf_counter() - started
        for outcome in outcomes:
            if outcome.report is None or outcome.status != "loaded":
                problems.append(f"{outcome.upload.key}: no load report or not loaded")
        say(f"  {side}: every load report after {loaded:.1f} s; polling the summaries")
        exact = None
        while time.perf_counter() - started < give_up_s:
            if _store_rows(aws, names) == want:
                exact = time.perf_counter() - started
                break
            time.sleep(1.0)
        say(f"  {side}: store summaries exact after "
            f"{'-' if exact is None else f'{exact:.1f}'} s; waiting for the pipeline")
        if not _idle(info, give_up_s):
            problems.append("the emulator was not idle in time")
        idle = time.perf_counter() - started
        units_by_table = _write_units_by_table(
            read_meter(info.endpoint, since=f"{side}-pipeline"))
        if _item_rows(aws, names) != expected_item_rows(counts, 0):
            problems.append("item summaries differ from a full computation")
        if _store_rows(aws, names) != want:
            problems.append("store summaries differ from a full computation")
        units = {"loader": units_by_table.pop(names.table, 0),
                 "summaries": units_by_table.pop(names.summary_table, 0),
                 "alerts": units_by_table.pop(names.alert_table, 0)}
        units["other"] = sum(units_by_table.values())
        say(f"  {side}: idle after {idle:.1f} s; write units {units}; measuring the floor")
        floor = _raw_floor(aws, counts)
        say(f"  {side}: floor {floor:.1f} s")
    return PipelineOutcome(side, rows, loaded, exact, idle, floor, units, problems)


def pipeline_table(outcomes: list[PipelineOutcome]) -> str:
    head = ("| side | rows | all loaded s | summaries exact s | lag after last report s | "
            "pipeline idle s | floor s | idle / floor | write units per row: loader | "
            "summaries | alerts | other | total |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    body = []
    for o in outcomes:
        per_row = {k: v / o.rows for k, v in o.units.items()}
        exact = "-" if o.exact is None else f"{o.exact:.1f}"
        lag = "-" if o.lag is None else f"{o.lag:.1f}"
        body.append(
            f"| {o.side} | {o.rows:,} | {o.loaded:.1f} | {exact} | {lag} | {o.idle:.1f} | "
            f"{o.floor:.1f} | {o.idle / o.floor:.2f} | {per_row['loader']:.2f} | "
            f"{per_row['summaries']:.2f} | {per_row['alerts']:.3f} | {per_row['other']:.3f} | "
            f"{sum(per_row.values()):.2f} |")
    return "\n".join([head, *body])


def pipeline_main(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    counts = generate_files(work / "files", args.rows, args.files)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    if args.write_limit:
        environ[WRITE_LIMIT_ENV] = str(args.write_limit)
    sides: list[tuple[str, bytes | None, int | None]] = []
    if args.baseline_ref:
        sides.append((f"baseline ({args.baseline_ref})", baseline_zip(args.baseline_ref),
                      args.baseline_summary_batch))
    sides.append(("current", None, args.summary_batch))
    outcomes = []
    for number, (side, code, batch) in enumerate(sides):
        outcomes.append(run_pipeline(side, code, batch, work=work / f"side-{number}",
                                     summary_timeout=args.summary_timeout if code is None
                                     else None,
                                     folder=work / "files", counts=counts, environ=environ,
                                     give_up_s=args.give_up, say=say))
    print(pipeline_table(outcomes))
    failed = [f"{o.side}: {p}" for o in outcomes for p in o.problems]
    for problem in failed:
        print(f"PROBLEM {problem}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--timeout", type=int, default=30, help="the load function's Timeout")
    parser.add_argument("--write-limit", type=int, default=None,
                        help="DynamoDB writes a second per table (default: 4,000 for the "
                             "loader comparison, none for --pipeline)")
    parser.add_argument("--pipeline", action="store_true",
                        help="every consumer running: write units per row, the summaries' lag "
                             "after the last load report, and the pipeline's time against the "
                             "raw BatchWriteItem floor")
    parser.add_argument("--files", type=int, default=20, help="--pipeline: files (one store each)")
    parser.add_argument("--summary-batch", type=int, default=None,
                        help="--pipeline: the summary mapping's BatchSize on the current side "
                             "(default: as provisioned)")
    parser.add_argument("--summary-timeout", type=int, default=None,
                        help="--pipeline: the summaries function's Timeout on the current side")
    parser.add_argument("--baseline-summary-batch", type=int, default=None,
                        help="--pipeline: the summary mapping's BatchSize on the baseline side")
    parser.add_argument("--baseline-ref", default="main",
                        help="git ref whose lambda_src is the baseline ('' for none)")
    parser.add_argument("--pause-stream-consumers", action=argparse.BooleanOptionalAction,
                        default=True,
                        help="disable the table's stream mappings (alerts, summaries) during the "
                             "load, so the emulator's cores go to the loader (default: yes)")
    parser.add_argument("--give-up", type=float, default=3_600.0,
                        help="seconds to wait for one loader at most")
    args = parser.parse_args(argv)

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    if args.pipeline:
        return pipeline_main(args, say)
    if args.write_limit is None:
        args.write_limit = 4_000
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    data = work / KEY
    items = generate(data, args.rows)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ[WRITE_LIMIT_ENV] = str(args.write_limit)
    loaders: list[tuple[str, bytes | None]] = [("continuing loader", None)]
    if args.baseline_ref:
        # First: its failure is quick to show, and a long run of ours should not delay it.
        loaders.insert(0, (f"baseline ({args.baseline_ref})", baseline_zip(args.baseline_ref)))
    outcomes = []
    say(f"{args.rows:,} rows, {items:,} items; timeout {args.timeout} s, write limit "
        f"{args.write_limit:,}/s")
    with start_private(work / "emulator", environ=environ) as info:
        for number, (name, code) in enumerate(loaders):
            aws = make_aws(Settings(stack=f"scale{number}", local=True),
                           endpoint_url=info.endpoint)
            names = provision(aws).names
            lam = aws.client("lambda")
            if code is not None:
                lam.update_function_code(FunctionName=names.load_function, ZipFile=code)
            lam.update_function_configuration(FunctionName=names.load_function,
                                              Timeout=args.timeout)
            if args.pause_stream_consumers:
                _pause_stream_consumers(lam, names)
            outcomes.append(run_loader(name, aws, names, info=info, data=data, rows=args.rows,
                                       items=items, give_up_s=args.give_up, say=say))
    print(table(outcomes, args.timeout, args.write_limit))
    ours = outcomes[-1]
    return 0 if ours.finished and ours.items == items else 1


if __name__ == "__main__":
    sys.exit(main())
