"""Start-up cost of `inventory --help` against `python -c "import boto3"`.

The CLI imports boto3 only inside the commands that talk to AWS, so asking for help (or making
a typo in an option) must cost less than importing boto3 alone. Each command runs in a fresh
process, several times; the medians are compared.

    python benchmarks/bench_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table


def _inventory() -> list[str]:
    script = Path(sys.executable).with_name("inventory")
    if script.exists():
        return [str(script)]
    found = shutil.which("inventory")
    return [found] if found else [sys.executable, "-m", "inventory_cli"]


def median_seconds(command: list[str], runs: int) -> tuple[float, float, float]:
    """Median, min and max wall time of `command` over `runs` fresh processes (after a warm-up)."""
    env = {**os.environ, "NO_COLOR": "1"}
    subprocess.run(command, capture_output=True, env=env, check=False)  # warm the file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, env=env, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        'python -c "import boto3"': [sys.executable, "-c", "import boto3"],
        "inventory --help": [*_inventory(), "--help"],
        "inventory show --output xml (option error)": [*_inventory(), "show", "--output", "xml"],
    }
    results = {name: median_seconds(cmd, runs) for name, cmd in cases.items()}
    boto3_median = results['python -c "import boto3"'][0]
    table = Table(title=f"Start-up, {runs} runs each (median)", title_justify="left")
    for column in ("command", "median ms", "min ms", "max ms", "vs import boto3"):
        table.add_column(column, justify="left" if column == "command" else "right")
    for name, (median, low, high) in results.items():
        table.add_row(name, f"{median * 1000:.0f}", f"{low * 1000:.0f}", f"{high * 1000:.0f}",
                      f"{median / boto3_median:.2f}x")
    Console().print(table)
    help_median = results["inventory --help"][0]
    verdict = "faster" if help_median < boto3_median else "NOT faster"
    print(f"inventory --help is {verdict} than importing boto3 "
          f"({help_median * 1000:.0f} ms vs {boto3_median * 1000:.0f} ms, "
          f"ratio {help_median / boto3_median:.2f})")
    return 0 if help_median < boto3_median else 1


if __name__ == "__main__":
    sys.exit(main())
