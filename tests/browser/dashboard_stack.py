"""What the dashboard tests share: the lab's rows and a handle on one test stack."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inventory_cli.config import StackNames

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"

Row = tuple[str, str, int]


def sample_rows() -> list[Row]:
    """Every (store, item, count) of the six lab files."""
    rows: list[Row] = []
    for path in sorted(SAMPLES.glob("inventory-*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for record in csv.DictReader(handle):
                rows.append((record["store"], record["item"], int(record["count"])))
    return rows


@dataclass
class DashboardStack:
    """One stack's dashboard on the test backend, and a way to change its table."""

    names: StackNames
    url: str
    identity_pool_id: str
    dynamodb: Any

    def put_rows(self, rows: list[Row]) -> None:
        for start in range(0, len(rows), 25):
            requests = [
                {"PutRequest": {"Item": {"Store": {"S": store}, "Item": {"S": item},
                                         "Count": {"N": str(count)}}}}
                for store, item, count in rows[start:start + 25]
            ]
            self.dynamodb.batch_write_item(RequestItems={self.names.table: requests})
