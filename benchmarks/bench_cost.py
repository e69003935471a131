"""What a million rows cost on AWS, as the emulator's meter counts it: ours beside the seed's.

    python benchmarks/bench_cost.py                  # 1,000,000 rows in 20 files
    python benchmarks/bench_cost.py --rows 20000     # a quick run (20 files x 1,000 rows)

One private emulator, two stacks, one after the other, the same 20 files (one store each,
counts 0..100, about one in 101 at zero, fixed seed; `bench_local_load.generate`):

- **seed**: today's stack running the seed's handlers (`--baseline-ref`, default 9b68164, the
  first handlers: a BatchWriteItem loader without continuations, the check function without
  the alert log, no summaries), deployed as `bench_scale_load.baseline_zip` deploys a
  baseline. The summaries' stream mapping is disabled (the seed had none) and the loader's
  timeout raised to Lambda's 900 s (it cannot continue a load in another invocation, and on
  a shared 2-core emulator 20 files at once would otherwise time out; the GB-seconds it is
  billed grow with that wall time);
- **ours**: the stack and handlers of this checkout as provisioned.

Per side, with an e-mail subscription of its own: the meter is marked, every file uploaded
at once, and the side is done when the emulator is idle (loaded, checked, summarized,
alerted). The meter's counts since the mark are the pipeline's cost: write and read units per
row (every table: items, summaries, alert log), Lambda GB-seconds and requests per million
rows, and dollars per million rows at the built-in list prices (`inventory_cli/local/prices.py`).
Then, each between marks of its own: the reads of one dashboard view, All stores and one
store, made with the requests `dashboard/src/dynamo.js` sends (with summaries: Queries of the
summary rows; without: a Scan of the table), and one `show --totals` (ours:
`query.summary_totals`; the seed's: a Scan summed, `query.totals(query.read_all(...))`).

Checked afterwards, off the meter's windows: every load report says "loaded" with all rows,
`show --totals` equals the generated counts summed per item, and each side's alert lines
(ours must be exactly one per zero count).

GB-seconds are the emulator's wall time (its handlers share two cores with moto), not what
the same code takes on AWS; units and requests are what AWS would count.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_local_load import Dataset, generate  # noqa: E402
from bench_scale_load import baseline_zip  # noqa: E402

from inventory_cli.aws import Aws, make_aws  # noqa: E402
from inventory_cli.config import Settings, StackNames  # noqa: E402
from inventory_cli.errors import EmulatorError  # noqa: E402
from inventory_cli.local.emulator import (  # noqa: E402
    mark_meter,
    read_meter,
    start_private,
    wait_until_idle,
)
from inventory_cli.local.outbox import outbox_path, read_outbox  # noqa: E402
from inventory_cli.local.prices import PRICES, bill, total_usd  # noqa: E402
from inventory_cli.local.state import EmulatorInfo  # noqa: E402
from inventory_cli.ops import query  # noqa: E402
from inventory_cli.ops.subscriptions import subscribe  # noqa: E402
from inventory_cli.ops.upload import check_files, upload_files  # noqa: E402
from inventory_cli.provisioning import provision  # noqa: E402
from lambda_src.update_summaries import ITEM_KIND, STORE_KIND  # noqa: E402

FILES = 20
SEED = 20240501
SEED_REF = "9b68164"
LAMBDA_MAX_TIMEOUT_S = 900
ALERT_SEPARATOR = " is out of stock of "
# "Count" is a reserved word: the dashboard names attributes through aliases, as here.
NAMES = {"#s": "Store", "#i": "Item", "#c": "Count"}


# -- the dashboard's reads (dashboard/src/dynamo.js), request for request -----------------------

def _pages(ddb: Any, operation: str, **request: Any) -> list[dict[str, Any]]:
    """Follow LastEvaluatedKey to the end, as `#paginate` does."""
    items: list[dict[str, Any]] = []
    start = None
    while True:
        body = {**request, **({"ExclusiveStartKey": start} if start else {})}
        page = getattr(ddb, operation)(**body)
        items += page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def _query_store(ddb: Any, names: StackNames, store: str) -> list[dict[str, Any]]:
    return _pages(ddb, "query", TableName=names.table, KeyConditionExpression="#s = :store",
                  ExpressionAttributeValues={":store": {"S": store}},
                  ProjectionExpression="#s, #i, #c", ExpressionAttributeNames=NAMES)


def _query_summaries(ddb: Any, names: StackNames, kind: str, names_only: bool = False
                     ) -> list[dict[str, Any]]:
    request: dict[str, Any] = {
        "KeyConditionExpression": "#k = :kind",
        "ExpressionAttributeNames": {"#k": "Kind",
                                     **({"#n": "Name", "#m": "Items"} if names_only else {})},
        "ExpressionAttributeValues": {":kind": {"S": kind}}}
    if names_only:
        request["ProjectionExpression"] = "#n, #m"
    return _pages(ddb, "query", TableName=names.summary_table, **request)


def dashboard_all_stores(ddb: Any, names: StackNames, *, summaries: bool) -> int:
    """All stores: the summary rows of both kinds, or (without summaries) a Scan of the
    table. Returns the rows read."""
    if summaries:
        return len(_query_summaries(ddb, names, STORE_KIND)) + len(
            _query_summaries(ddb, names, ITEM_KIND))
    return len(_pages(ddb, "scan", TableName=names.table, ProjectionExpression="#s, #i, #c",
                      ExpressionAttributeNames=NAMES))


def dashboard_one_store(ddb: Any, names: StackNames, store: str, *, summaries: bool) -> int:
    """One store: its rows, and the store menu (the store summary rows' names, or a Scan of
    the Store attribute)."""
    rows = len(_query_store(ddb, names, store))
    if summaries:
        menu = _query_summaries(ddb, names, STORE_KIND, names_only=True)
    else:
        menu = _pages(ddb, "scan", TableName=names.table, ProjectionExpression="#s",
                      ExpressionAttributeNames={"#s": "Store"})
    return rows + len(menu)


# -- one side -----------------------------------------------------------------------------------

@dataclass
class Side:
    name: str
    rows: int
    seconds: float = 0.0
    pipeline: dict[str, Any] = field(default_factory=dict)
    dashboard_all: dict[str, Any] = field(default_factory=dict)
    dashboard_store: dict[str, Any] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)
    alert_lines: int = 0
    duplicate_alerts: int = 0
    problems: list[str] = field(default_factory=list)

    def units(self, report: dict[str, Any] | None = None) -> tuple[float, float]:
        """(read units, write units) of a report (default: the pipeline's)."""
        rows = (report if report is not None else self.pipeline)["dynamodb"]
        return (sum(r["read_units"] for r in rows), float(sum(r["write_units"] for r in rows)))

    def write_units_by_table(self) -> dict[str, int]:
        by_table: dict[str, int] = defaultdict(int)
        for row in self.pipeline["dynamodb"]:
            by_table[row["table"]] += row["write_units"]
        return dict(by_table)

    @property
    def gb_seconds(self) -> float:
        return float(sum(r["gb_seconds"] for r in self.pipeline["lambda"]))

    @property
    def lambda_requests(self) -> int:
        return int(sum(r["requests"] for r in self.pipeline["lambda"]))

    @property
    def dollars(self) -> Decimal:
        return total_usd(bill(self.pipeline, PRICES))

    def per_million(self, value: float | Decimal) -> float:
        return float(value) * 1_000_000 / self.rows


def _metered(info: EmulatorInfo, mark: str, work: Callable[[], Any]) -> dict[str, Any]:
    mark_meter(info.endpoint, mark)
    work()
    return read_meter(info.endpoint, since=mark)


def _idle(info: EmulatorInfo, give_up_s: float) -> bool:
    try:
        return wait_until_idle(info, timeout_s=give_up_s)
    except EmulatorError:
        return False


def run_side(side: Side, aws: Aws, names: StackNames, *, info: EmulatorInfo, data: Dataset,
             recipient: str, summaries: bool, give_up_s: float,
             say: Callable[[str], None]) -> None:
    subscribe(aws, names, recipient, "email", None)
    checked = check_files(data.files)
    say(f"  {side.name}: uploading {len(checked)} files")
    mark_meter(info.endpoint, f"{side.name}-pipeline")
    started = time.perf_counter()
    upload_files(aws, names.uploads_bucket, checked, max_parallel=len(checked))
    if not _idle(info, give_up_s):
        side.problems.append(f"not idle after {give_up_s:.0f} s: the figures are partial")
    side.seconds = time.perf_counter() - started
    side.pipeline = read_meter(info.endpoint, since=f"{side.name}-pipeline")
    say(f"  {side.name}: idle after {side.seconds:.1f} s")

    ddb = aws.client("dynamodb")
    store = sorted({s for s, _ in data.counts})[0]
    side.dashboard_all = _metered(info, f"{side.name}-dashboard-all", lambda: (
        dashboard_all_stores(ddb, names, summaries=summaries)))
    side.dashboard_store = _metered(info, f"{side.name}-dashboard-store", lambda: (
        dashboard_one_store(ddb, names, store, summaries=summaries)))
    summed: list[query.ItemTotal] = []

    def show_totals() -> None:
        summed.extend(query.summary_totals(aws, names) if summaries
                      else query.totals(query.read_all(aws, names)))

    side.totals = _metered(info, f"{side.name}-totals", show_totals)
    _verify(side, aws, names, data=data, recipient=recipient, info=info, summed=summed)


def _verify(side: Side, aws: Aws, names: StackNames, *, data: Dataset, recipient: str,
            info: EmulatorInfo, summed: list[query.ItemTotal]) -> None:
    s3 = aws.client("s3")
    per_file = len(data.counts) // len(data.files)
    for path in data.files:
        try:
            report = json.loads(s3.get_object(Bucket=names.uploads_bucket,
                                              Key=f"reports/{path.name}.json")["Body"].read())
        except s3.exceptions.NoSuchKey:
            side.problems.append(f"{path.name}: no load report")
            continue
        if (report.get("status"), report.get("loaded")) != ("loaded", per_file):
            side.problems.append(f"{path.name}: {report.get('status')}, loaded "
                                 f"{report.get('loaded')} of {per_file}")
    expected: Counter[str] = Counter()
    for (_, item), count in data.counts.items():
        expected[item] += count
    if {t.item: t.count for t in summed} != dict(expected):
        side.problems.append("show --totals differs from the generated counts summed")
    lines: Counter[tuple[str, str]] = Counter()
    for message in read_outbox(outbox_path(info.home)):
        if message.to == recipient:
            for line in message.message.splitlines():
                store, sep, item = line.partition(ALERT_SEPARATOR)
                if sep:
                    lines[(store, item)] += 1
    side.alert_lines = sum(lines.values())
    side.duplicate_alerts = sum(n - 1 for n in lines.values() if n > 1)
    if set(lines) != data.zeros:
        side.problems.append(f"alerts for {len(lines)} rows, {len(data.zeros)} zero counts")


# -- the run ------------------------------------------------------------------------------------

def _deploy_seed(aws: Aws, names: StackNames, code: bytes) -> None:
    lam = aws.client("lambda")
    for function in (names.load_function, names.check_function):
        lam.update_function_code(FunctionName=function, ZipFile=code)
    lam.update_function_configuration(FunctionName=names.load_function,
                                      Timeout=LAMBDA_MAX_TIMEOUT_S)
    for mapping in lam.list_event_source_mappings(
            FunctionName=names.summarize_function)["EventSourceMappings"]:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)


def table(sides: list[Side]) -> str:
    head = ("| side | rows | write units / row | read units / row | Lambda GB-s / 1M rows | "
            "Lambda requests / 1M rows | $ / 1M rows | dashboard All stores, read units | "
            "dashboard one store, read units | `show --totals`, read units | seconds to idle |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    body = []
    for s in sides:
        read, write = s.units()
        body.append(
            f"| {s.name} | {s.rows:,} | {write / s.rows:.3f} | {read / s.rows:.3f} | "
            f"{s.per_million(s.gb_seconds):,.0f} | {s.per_million(s.lambda_requests):,.0f} | "
            f"{s.per_million(s.dollars):,.2f} | {s.units(s.dashboard_all)[0]:,.1f} | "
            f"{s.units(s.dashboard_store)[0]:,.1f} | {s.units(s.totals)[0]:,.1f} | "
            f"{s.seconds:,.0f} |")
    return "\n".join([head, *body])


def breakdown(sides: list[Side]) -> str:
    lines = []
    for s in sides:
        tables = ", ".join(f"{name.split('-', 1)[-1]} {units / s.rows:.3f}"
                           for name, units in sorted(s.write_units_by_table().items()))
        priced = ", ".join(f"{line.price} {s.per_million(line.usd):,.3f}"
                           for line in bill(s.pipeline, PRICES))
        lines.append(f"{s.name}: write units per row by table: {tables}")
        lines.append(f"{s.name}: $ per 1M rows by price: {priced}")
        lines.append(f"{s.name}: alert lines {s.alert_lines:,} ({s.duplicate_alerts:,} "
                     f"duplicates)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help=f"rows in all, in {FILES} files (default 1,000,000)")
    parser.add_argument("--baseline-ref", default=SEED_REF,
                        help="git ref whose lambda_src is the seed's side ('' for none)")
    parser.add_argument("--give-up", type=float, default=7_200.0,
                        help="seconds to wait for one side's pipeline at most")
    parser.add_argument("--sides", choices=("both", "seed", "ours"), default="both",
                        help="run one side only (default: both, in one run)")
    parser.add_argument("--json-out", type=Path, help="also write the meter reports here")
    args = parser.parse_args(argv)
    if args.rows < FILES or args.rows % FILES:
        parser.error(f"--rows must be a multiple of {FILES}")

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-cost-") as folder:
        return run(args, Path(folder), say)


def run(args: argparse.Namespace, work: Path, say: Callable[[str], None]) -> int:
    data = generate(work / "files", FILES, args.rows // FILES, SEED)
    say(f"{FILES} files x {args.rows // FILES:,} rows = {len(data.counts):,} rows, "
        f"{len(data.zeros):,} at zero")
    plan: list[tuple[str, bytes | None]] = [("ours", None)] if args.sides != "seed" else []
    if args.baseline_ref and args.sides != "ours":
        plan.insert(0, (f"seed ({args.baseline_ref})", baseline_zip(args.baseline_ref)))
    if not plan:
        raise SystemExit("--sides seed needs a --baseline-ref")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    sides = []
    with start_private(work / "emulator", environ=environ) as info:
        for number, (name, code) in enumerate(plan):
            aws = make_aws(Settings(stack=f"cost{number}", local=True),
                           endpoint_url=info.endpoint)
            names = provision(aws).names
            if code is not None:
                _deploy_seed(aws, names, code)
            side = Side(name=name, rows=len(data.counts))
            run_side(side, aws, names, info=info, data=data,
                     recipient=f"side{number}@example.com", summaries=code is None,
                     give_up_s=args.give_up, say=say)
            sides.append(side)
            for problem in side.problems:
                say(f"  {name}: PROBLEM: {problem}")
    print(f"\n{len(data.counts):,} rows in {FILES} files, {len(data.zeros):,} at zero; "
          f"prices: {PRICES.region} list prices as of {PRICES.as_of}\n")
    print(table(sides))
    print()
    print(breakdown(sides))
    if args.json_out:
        args.json_out.write_text(json.dumps([{
            "side": s.name, "rows": s.rows, "seconds": s.seconds, "pipeline": s.pipeline,
            "dashboard_all": s.dashboard_all, "dashboard_store": s.dashboard_store,
            "totals": s.totals, "problems": s.problems} for s in sides], indent=1))
    # The seed's alerts may come twice (it has no alert log); ours must be exact.
    failed = [f"{s.name}: {p}" for s in sides for p in s.problems] + [
        f"{s.name}: {s.duplicate_alerts} duplicate alerts" for s in sides
        if s.duplicate_alerts and s.name == "ours"]
    print("\nverification: " + ("OK: every file loaded, totals exact, one alert line per zero "
                                "count" if not failed else f"FAILED: {failed}"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
