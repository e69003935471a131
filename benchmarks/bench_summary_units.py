"""Write units per row of the summaries alone: the function's handler on in-process moto, fed
the stream records of a load in batches as the mapping delivers them, next to the handler of
another git ref in the same run.

    python benchmarks/bench_summary_units.py --baseline-ref bf7de2b
    python benchmarks/bench_summary_units.py --rows 20000 --stores 20

Two orders of the same rows (counts 0..100, fixed seed, threshold 0):
- item-major: one file holding every store's row of an item together (as bench_scale_load's
  single file): a batch holds the 20 stores' records of each of its items;
- store-major: the stores one after another (20 files loaded one at a time): a batch holds one
  or two stores' records, each item once per store.
Units are counted by the emulator's meter (`inventory_cli/local/seam/meter.py`), as DynamoDB
bills them, from the calls moto served.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests" / "lambda")]
for variable, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
    os.environ[variable] = value


def handler_at(ref: str) -> ModuleType:
    """lambda_src/update_summaries.py as it is at `ref`, imported under another name."""
    source = subprocess.run(["git", "-C", str(REPO), "show",
                             f"{ref}:lambda_src/update_summaries.py"],
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp(prefix="bench-summary-units-")) / "baseline_summaries.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("baseline_summaries", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_summaries"] = module
    spec.loader.exec_module(module)
    return module


def records(rows: int, stores: int, order: str) -> list[dict[str, Any]]:
    from summary_helpers import StreamModel

    rnd = random.Random(7)
    model = StreamModel()
    pairs = [(s, i) for i in range(rows // stores) for s in range(stores)]
    if order == "store-major":
        pairs.sort()
    for s, i in pairs:
        model.put(f"Store {s:02d}", f"Item {i:06d}", rnd.randint(0, 100))
    return model.records


def measure(handler: ModuleType, stream: list[dict[str, Any]], batch: int) -> tuple[float, float]:
    """(write units per row, seconds) of delivering `stream` in batches to `handler`."""
    import boto3
    from moto import mock_aws
    from summary_helpers import create_summary_table

    from inventory_cli.local import moto_seam
    from inventory_cli.local.seam.meter import METER

    with mock_aws():
        moto_seam.install()  # the meter counts DynamoDB's writes from here on
        mark = f"bench-{time.monotonic_ns()}"
        METER.mark(mark)
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        table = create_summary_table(ddb, "bench-summaries")
        started = time.perf_counter()
        for start in range(0, len(stream), batch):
            answer = handler.handle_event({"Records": copy.deepcopy(stream[start:start + batch])},
                                          ddb=ddb, table=table, threshold=0,
                                          log=lambda _: None, sleep=lambda _: None)
            assert answer == {"batchItemFailures": []}, answer
        seconds = time.perf_counter() - started
        units = sum(row["write_units"] for row in METER.report(since=mark)["dynamodb"]
                    if row["table"] == table)
    return units / len(stream), seconds


def main(argv: list[str] | None = None) -> int:
    from inventory_cli.stack.resources import SUMMARY_MAPPING_SETTINGS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--batch", type=int, default=SUMMARY_MAPPING_SETTINGS["BatchSize"],
                        help="the summary mapping's BatchSize (default: the stack's)")
    parser.add_argument("--baseline-ref", default="", help="git ref of the baseline handler")
    parser.add_argument("--baseline-batch", type=int, default=100)
    args = parser.parse_args(argv)
    from lambda_src import update_summaries

    sides: list[tuple[str, ModuleType, int]] = []
    if args.baseline_ref:
        sides.append((f"baseline ({args.baseline_ref})", handler_at(args.baseline_ref),
                      args.baseline_batch))
    sides.append(("current", update_summaries, args.batch))
    print("| handler | batch | order | rows | write units per row | seconds |\n"
          "|---|---:|---|---:|---:|---:|")
    for order in ("item-major", "store-major"):
        stream = records(args.rows, args.stores, order)
        for name, handler, batch in sides:
            units, seconds = measure(handler, stream, batch)
            print(f"| {name} | {batch:,} | {order} | {len(stream):,} | {units:.2f} | "
                  f"{seconds:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
