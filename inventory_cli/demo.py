"""`inventory demo`: the whole product on a private emulator, in one command.

It starts an emulator of its own (own port and state folder, so a running one is never
disturbed), provisions a stack with the same code as on AWS, subscribes a demo address to the
alerts, uploads the six sample stores, waits for the pipeline (load -> stream -> check -> SNS) to
settle, and returns what the staff would see: the inventory, the alerts as delivered, and the
dashboard URL. The CLI renders it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from inventory_cli.errors import InventoryError

if TYPE_CHECKING:  # the modules themselves are imported lazily: `inventory --help` stays cheap
    from inventory_cli.local.outbox import OutboxMessage
    from inventory_cli.local.state import EmulatorInfo
    from inventory_cli.ops.query import StockRow

DEMO_STACK = "demo"
DEMO_RECIPIENT = "staff@example.com"
# The pipeline is asynchronous, as on AWS; on a 2-core machine it settles in a few seconds.
SETTLE_TIMEOUT_S = 120.0


class Progress(Protocol):
    def step(self, message: str) -> None: ...
    def done(self, detail: str) -> None: ...


@dataclass
class DemoResult:
    endpoint: str
    pid: int
    home: Path
    stack: str
    dashboard_url: str
    threshold: int
    rows: list[StockRow] = field(default_factory=list)
    alerts: list[OutboxMessage] = field(default_factory=list)
    loaded: int = 0
    rejected: int = 0
    files: int = 0
    seconds: float = 0.0
    # The one upload made as a store, through the stack's upload endpoint.
    store_upload: dict[str, Any] = field(default_factory=dict)


def sample_files(destination: Path) -> list[Path]:
    """Copy the packaged sample stores to `destination` (upload takes real files)."""
    destination.mkdir(parents=True, exist_ok=True)
    paths = []
    for entry in sorted(_samples_folder().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".csv"):
            target = destination / entry.name
            target.write_bytes(entry.read_bytes())
            paths.append(target)
    if not paths:
        raise InventoryError("the sample files are missing from this installation")
    return paths


def _samples_folder() -> resources.abc.Traversable:
    # An installed package carries the repository's samples/ as inventory_cli/samples/
    # (pyproject.toml maps it); a development checkout (editable install) reads samples/ itself.
    packaged = resources.files("inventory_cli").joinpath("samples")
    if packaged.is_dir():
        return packaged
    return resources.files("inventory_cli").joinpath("..", "samples")


@contextmanager
def demo_emulator(home: Path) -> Iterator[EmulatorInfo]:
    """A private emulator for the demo; stopped (no process left) when the block ends."""
    from inventory_cli.local.emulator import start_private

    with start_private(home / "emulator") as info:
        yield info


def run_demo(info: EmulatorInfo, work: Path, progress: Progress, *,
             clock: Callable[[], float] = time.monotonic) -> DemoResult:
    """Provision, upload the samples and collect what the staff would see."""
    from inventory_cli.aws import make_aws
    from inventory_cli.config import Settings
    from inventory_cli.local.emulator import wait_until_idle
    from inventory_cli.local.outbox import outbox_path, read_outbox
    from inventory_cli.ops.query import read_all
    from inventory_cli.ops.subscriptions import subscribe
    from inventory_cli.ops.upload import check_files, upload_files, wait_for_reports
    from inventory_cli.provisioning import provision

    started = clock()
    aws = make_aws(Settings(stack=DEMO_STACK, local=True), endpoint_url=info.endpoint)

    progress.step(f"Provisioning stack '{DEMO_STACK}' on the emulator")
    # The demo's page opens without an account: its emulator listens on 127.0.0.1 only and
    # holds the sample stores, so the guests' page exposes nothing (a real stack is private).
    provisioned = provision(aws, dashboard_access="public")
    resources_changed = len(provisioned.changed_resources)
    progress.done(f"{len(provisioned.plan.changes)} changes to {resources_changed} resources")
    names = provisioned.names

    progress.step(f"Subscribing {DEMO_RECIPIENT} to the alerts")
    subscribe(aws, names, DEMO_RECIPIENT, "email", None)
    progress.done("subscribed")

    files = sample_files(work / "samples")
    progress.step(f"Uploading {len(files)} sample files and waiting for the loads")
    checked = check_files(files)
    uploads = upload_files(aws, names.uploads_bucket, checked)
    outcomes = wait_for_reports(aws, names.uploads_bucket, uploads, timeout=SETTLE_TIMEOUT_S)
    missing = [o.upload.key for o in outcomes if o.report is None]
    if missing:
        raise InventoryError(f"no load report within {SETTLE_TIMEOUT_S:.0f} s for: "
                             f"{', '.join(missing)}",
                             hint=f"see the emulator log {info.log_file}")
    loaded = sum(int(o.report["loaded"]) for o in outcomes if o.report)
    rejected = sum(len(o.report["rejected"]) for o in outcomes if o.report)
    progress.done(f"{loaded} rows loaded, {rejected} rejected")

    progress.step(f"Uploading as store '{DEMO_STORE}' through the upload endpoint (a store "
                  "key, no AWS credentials)")
    store_upload = _store_upload(aws, names, work)
    progress.done(f"{store_upload['loaded']} row loaded, {store_upload['rejected_count']} row "
                  "of another store rejected")
    # The loads are done; the stream and the check function run after them.
    if not wait_until_idle(info, timeout_s=SETTLE_TIMEOUT_S):
        raise InventoryError("the pipeline did not settle in time",
                             hint=f"see the emulator log {info.log_file}")

    return DemoResult(
        endpoint=info.endpoint, pid=info.pid, home=info.home, stack=DEMO_STACK,
        dashboard_url=provisioned.dashboard_url, threshold=provisioned.threshold,
        rows=read_all(aws, names), alerts=read_outbox(outbox_path(info.home)),
        loaded=loaded, rejected=rejected, files=len(files), seconds=clock() - started,
        store_upload=store_upload,
    )


DEMO_STORE = "Berlin"
# Berlin's own row (the count it already has, so the inventory shown stays the samples') and a
# row of another store, which the loader refuses for a Berlin key.
DEMO_STORE_FILE = "store,item,count\nBerlin,Echo Dot,12\nPusan,Echo Dot,1\n"


def _store_upload(aws: Any, names: Any, work: Path) -> dict[str, Any]:
    """One nightly-job style upload: a store key from `stores add`, then the endpoint only."""
    from inventory_cli.ops import store_upload_client as client
    from inventory_cli.ops.stores import add_store
    from inventory_cli.ops.upload import check_files

    issued = add_store(aws, names, DEMO_STORE)
    path = work / "berlin-nightly.csv"
    path.write_text(DEMO_STORE_FILE, encoding="utf-8")
    uploads = client.upload_files(issued.upload_url, issued.key, check_files([path]))
    outcome, = client.wait_for_reports(issued.key, uploads, timeout=SETTLE_TIMEOUT_S)
    if outcome.report is None:
        raise InventoryError(f"no load report within {SETTLE_TIMEOUT_S:.0f} s for the store "
                             "upload")
    return {"store": DEMO_STORE, "key": outcome.upload.key, "upload_url": issued.upload_url,
            "page_url": issued.page_url, "loaded": outcome.report["loaded"],
            "rejected_count": outcome.report["rejected_count"],
            "rejected": outcome.report["rejected"]}
