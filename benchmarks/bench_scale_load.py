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
from inventory_cli.local.emulator import start_private, wait_until_idle  # noqa: E402
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--timeout", type=int, default=30, help="the load function's Timeout")
    parser.add_argument("--write-limit", type=int, default=4_000)
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
