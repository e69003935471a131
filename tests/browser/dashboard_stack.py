"""What the dashboard tests share: the lab's rows, the installed `inventory` command pointed at the
test emulator, and a handle on one provisioned stack."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from inventory_cli.config import LOCAL_ACCOUNT_ID, StackNames
from inventory_cli.dashboard import CONFIG_KEY, cdn_url, dashboard_url
from inventory_cli.local.emulator import wait_until_idle_at

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
REGION = "us-east-1"
INVENTORY = Path(sys.executable).with_name("inventory")

Row = tuple[str, str, int]


def lab_files() -> list[Path]:
    """The six lab files, in name order."""
    files = sorted(SAMPLES.glob("inventory-*.csv"))
    assert len(files) == 6, files
    return files


def sample_rows() -> list[Row]:
    """Every (store, item, count) of the six lab files."""
    rows: list[Row] = []
    for path in lab_files():
        with path.open(newline="", encoding="utf-8") as handle:
            for record in csv.DictReader(handle):
                rows.append((record["store"], record["item"], int(record["count"])))
    return rows


def write_csv(path: Path, rows: list[Row]) -> Path:
    """An inventory file in the CSV contract (the csv module quotes whatever needs it)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["store", "item", "count"])
        writer.writerows(rows)
    return path


@dataclass(frozen=True)
class Inventory:
    """The installed `inventory` command, run in a subprocess against one emulator."""

    endpoint: str
    env: Mapping[str, str]
    cwd: Path

    def run(self, stack: str, *args: str | Path, timeout: float = 120) -> str:
        argv = [str(INVENTORY), "--endpoint-url", self.endpoint, "--stack", stack,
                *map(str, args)]
        done = subprocess.run(argv, env=dict(self.env), cwd=self.cwd, capture_output=True,
                              text=True, timeout=timeout, check=False)
        assert done.returncode == 0, (
            f"{' '.join(argv)} exited {done.returncode}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}")
        return done.stdout


@dataclass
class DashboardStack:
    """One stack provisioned on the emulator, and ways to feed and bend it."""

    names: StackNames
    url: str
    inventory: Inventory
    session: boto3.session.Session

    @classmethod
    def provision(cls, inventory: Inventory, session: boto3.session.Session, stack: str,
                  *, threshold: int | None = None, access: str = "public") -> DashboardStack:
        # The public page (guests) unless asked: the private one signs in first.
        extra = (["--public-dashboard"] if access == "public" else []) + (
            [] if threshold is None else ["--low-stock-threshold", str(threshold)])
        output = inventory.run(stack, "provision", *extra)
        names = StackNames(stack=stack, account_id=LOCAL_ACCOUNT_ID, region=REGION)
        url = (dashboard_url(bucket=names.dashboard_bucket, region=REGION,
                             endpoint=inventory.endpoint) if access == "public"
               else cdn_url(bucket=names.dashboard_bucket, endpoint=inventory.endpoint))
        # provision prints where the page is; it must be the contract's URL.
        assert f"Dashboard            {url}\n" in output, output
        return cls(names=names, url=url, inventory=inventory, session=session)

    @property
    def stack(self) -> str:
        return self.names.stack

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.inventory.endpoint)

    def upload(self, *files: Path) -> str:
        """`inventory upload --wait FILE...`, then until the emulator is idle: `--wait` returns
        once the loader reported; the stream's consumers (alerts, and the summaries the
        dashboard reads) run after it."""
        output = self.inventory.run(self.stack, "upload", "--wait", *files)
        assert wait_until_idle_at(self.inventory.endpoint, 300), "the emulator was still busy"
        return output

    def upload_rows(self, folder: Path, name: str, rows: list[Row]) -> str:
        return self.upload(write_csv(folder / name, rows))

    def show_totals(self) -> list[dict[str, Any]]:
        """`inventory show --totals --output json`."""
        totals: list[dict[str, Any]] = json.loads(
            self.inventory.run(self.stack, "show", "--totals", "--output", "json"))
        return totals

    def config(self) -> dict[str, Any]:
        """The page's config.json, as provision wrote it to the dashboard bucket."""
        body = self.client("s3").get_object(Bucket=self.names.dashboard_bucket,
                                            Key=CONFIG_KEY)["Body"].read()
        config: dict[str, Any] = json.loads(body)
        return config

    def rewrite_config(self, **changes: Any) -> None:
        """Replace config.json in the dashboard bucket with these fields changed."""
        config = {**self.config(), **changes}
        self.client("s3").put_object(Bucket=self.names.dashboard_bucket, Key=CONFIG_KEY,
                                     Body=json.dumps(config).encode(),
                                     ContentType="application/json", CacheControl="no-cache")
