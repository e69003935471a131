"""Store uploads on the local emulator: what the endpoint adds to an upload, against baselines
measured in the same run.

On a private emulator with a provisioned stack and one store key, each case runs several times
(after a warm-up) and the medians are compared:

- the emulator's own HTTP round trip (`GET /_inventory/health`) vs `GET /whoami` through the
  function URL (HTTP -> event -> warm Lambda worker -> one GetItem -> response);
- a 1,000-row file sent by the operator (one S3 PutObject) vs sent as a store (POST /uploads,
  then the presigned S3 POST), and each until its load report is there.

    python benchmarks/bench_store_upload.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROWS = 1000


def median_ms(action: Callable[[], object], runs: int) -> tuple[float, float, float]:
    action()  # warm-up: worker start, connection set-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times), max(times)


def main() -> int:  # noqa: PLR0915 - a linear script
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs

    from inventory_cli.aws import make_aws
    from inventory_cli.config import Settings
    from inventory_cli.local.emulator import start_private
    from inventory_cli.ops import store_upload_client as client
    from inventory_cli.ops import upload as operator
    from inventory_cli.ops.stores import add_store
    from inventory_cli.provisioning import provision

    console = Console()
    with tempfile.TemporaryDirectory() as tmp, start_private(Path(tmp) / "emulator") as info:
        aws = make_aws(Settings(stack="bench", local=True), endpoint_url=info.endpoint)
        names = provision(aws).names
        issued = add_store(aws, names, "Berlin")
        csv = Path(tmp) / "berlin.csv"
        csv.write_text("store,item,count\n" + "".join(f"Berlin,Item {i},{i}\n"
                                                       for i in range(ROWS)), encoding="utf-8")
        checked = operator.check_files([csv])
        bucket = names.uploads_bucket

        def health() -> None:
            with urllib.request.urlopen(f"{info.endpoint}/_inventory/health") as answer:
                answer.read()

        def whoami() -> None:
            client.whoami(issued.upload_url, issued.key)

        def operator_send() -> object:
            return operator.upload_files(aws, bucket, checked)

        def store_send() -> object:
            return client.upload_files(issued.upload_url, issued.key, checked)

        def operator_loaded() -> None:
            sent = operator.upload_files(aws, bucket, checked)
            outcome, = operator.wait_for_reports(aws, bucket, sent, timeout=120,
                                                 poll_interval=0.05)
            assert outcome.report is not None

        def store_loaded() -> None:
            sent = client.upload_files(issued.upload_url, issued.key, checked)
            outcome, = client.wait_for_reports(issued.key, sent, timeout=120,
                                               poll_interval=0.05)
            assert outcome.report is not None and outcome.report["loaded"] == ROWS

        cases = [
            ("HTTP round trip (baseline)", "GET /_inventory/health", health),
            ("HTTP round trip", "GET /whoami via the function URL", whoami),
            ("send 1,000 rows (baseline)", "operator: S3 PutObject", operator_send),
            ("send 1,000 rows", "store: POST /uploads + S3 POST", store_send),
            ("until loaded (baseline)", "operator: put, poll the report in S3", operator_loaded),
            ("until loaded", "store: send, poll GET /reports/<key>", store_loaded),
        ]
        results = [(group, name, median_ms(action, runs)) for group, name, action in cases]

    table = Table(title=f"Store uploads on the local emulator, {runs} runs each",
                  title_justify="left")
    for column in ("case", "median ms", "min ms", "max ms", "x baseline"):
        table.add_column(column, justify="left" if column == "case" else "right")
    baseline = 0.0
    for group, name, (median, low, high) in results:
        if group.endswith("(baseline)"):
            baseline = median
        table.add_row(f"{group.removesuffix(' (baseline)')}: {name}", f"{median:.1f}",
                      f"{low:.1f}", f"{high:.1f}", f"{median / baseline:.2f}")
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
