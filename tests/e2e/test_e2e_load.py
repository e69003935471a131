"""End-to-end load, small: four files of 2,000 rows uploaded at once, nothing lost or doubled.

The CI-sized version of `benchmarks/bench_local_load.py` (20 files x 5,000 rows). Same targets
and variables as `test_e2e_pipeline.py` (default: an emulator of the test's own).
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from e2e_target import Target, loaded_rows, write_csv

pytestmark = pytest.mark.e2e

FILES = 4
ROWS = 2_000
SEED = 4242
EMAIL = "ops@example.com"


def generate(target: Target) -> tuple[list[str], dict[tuple[str, str], int]]:
    """FILES files, one store each, ROWS distinct items, about one count in 51 at zero."""
    rnd = random.Random(SEED)
    names, counts = [], {}
    for f in range(FILES):
        store = f"Load Store {f}"
        rows = [(store, f"Item {r:05d}", rnd.randint(0, 50)) for r in range(ROWS)]
        counts.update({(s, i): c for s, i, c in rows})
        names.append(write_csv(target.work / f"load-{f}.csv", rows).name)
    return names, counts


def test_files_uploaded_at_once_are_all_loaded_with_exact_alerts(e2e: Target) -> None:
    names, counts = generate(e2e)
    zeros = sorted(key for key, count in counts.items() if count == 0)
    assert len(counts) == FILES * ROWS and 100 < len(zeros) < 250

    e2e.run("provision")
    e2e.run("subscribe", EMAIL)
    # One command, all files: the CLI sends them concurrently.
    uploaded = e2e.run("upload", "--wait", *names)
    assert loaded_rows(uploaded.stdout) == {n: ("loaded", ROWS, ROWS, 0) for n in names}

    alerts = e2e.settle(expected_alerts=len(zeros))
    assert e2e.count_items() == FILES * ROWS
    sent = Counter((a["store"], a["item"]) for a in alerts)
    assert [key for key, n in sent.items() if n > 1] == []
    assert sorted(sent) == zeros
    assert {a["count"] for a in alerts} == {0}
    if e2e.is_local:
        check_outbox(e2e.outbox(), zeros)


def check_outbox(outbox: list[dict[str, Any]], zeros: list[tuple[str, str]]) -> None:
    """One alert line per zero count across the e-mails, none twice, under the right subject."""
    lines: Counter[tuple[str, str]] = Counter()
    for message in outbox:
        assert (message["protocol"], message["to"]) == ("email", EMAIL)
        for line in message["message"].splitlines():
            store, sep, item = line.partition(" is out of stock of ")
            assert sep, line
            assert message["subject"] == f"Inventory Alert: {store}"
            lines[(store, item)] += 1
    assert [key for key, n in lines.items() if n > 1] == []
    assert sorted(lines) == zeros
