"""What a function learns from the emulator about its limits: the remaining time from its
Timeout, and its peak memory in the REPORT line (also when the timeout killed it)."""

from __future__ import annotations

import json
import re
import textwrap
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from inventory_cli.local.lambda_runtime import LambdaRuntime
from inventory_cli.local.lambda_worker import RuntimeFunction

HANDLER = textwrap.dedent('''
    import time

    def handler(event, context):
        first = context.get_remaining_time_in_millis()
        time.sleep(0.3)
        later = context.get_remaining_time_in_millis()
        block = bytearray(event["megabytes"] * 1024 * 1024)  # touched: resident, not reserved
        for offset in range(0, len(block), 4096):
            block[offset] = 1
        if event.get("hang"):
            time.sleep(60)
        return {"first": first, "later": later}
''')


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def write(self, spec: RuntimeFunction, stream: str, events: Sequence[tuple[int, str]]) -> None:
        with self._lock:
            self.lines += [message for _, message in events]

    def peaks(self) -> list[int]:
        return [int(m) for m in re.findall(r"Max Memory Used: (\d+) MB", "\n".join(self.lines))]


@pytest.fixture
def sink() -> Lines:
    return Lines()


@pytest.fixture
def runtime(tmp_path: Path, sink: Lines) -> Iterator[LambdaRuntime]:
    rt = LambdaRuntime(home=tmp_path, endpoint="http://127.0.0.1:9", log_sink=sink)
    yield rt
    rt.shutdown()


@pytest.fixture
def spec(make_zip: Callable[[Mapping[str, str]], bytes], make_spec: Callable[..., RuntimeFunction]
         ) -> Callable[[float], RuntimeFunction]:
    code = make_zip({"limits.py": HANDLER})

    def for_timeout(timeout_s: float) -> RuntimeFunction:
        return make_spec(code, name="limits", handler="limits.handler", timeout_s=timeout_s)

    return for_timeout


def test_the_remaining_time_counts_down_from_the_function_timeout(
        runtime: LambdaRuntime, spec: Callable[[float], RuntimeFunction]) -> None:
    result = json.loads(runtime.invoke(spec(7.0), json.dumps({"megabytes": 1})).payload)
    assert 5_000 < result["first"] <= 7_000
    assert 250 <= result["first"] - result["later"] < 5_000


def test_the_report_line_shows_the_peak_memory_of_the_worker(
        runtime: LambdaRuntime, sink: Lines, spec: Callable[[float], RuntimeFunction]) -> None:
    runtime.invoke(spec(30.0), json.dumps({"megabytes": 1}))
    runtime.invoke(spec(30.0), json.dumps({"megabytes": 80}))
    small, large = sink.peaks()
    assert 5 < small < 80 <= large


def test_a_worker_killed_at_its_timeout_still_reports_its_peak(
        runtime: LambdaRuntime, sink: Lines, spec: Callable[[float], RuntimeFunction]) -> None:
    result = runtime.invoke(spec(2.0), json.dumps({"megabytes": 60, "hang": True}))
    assert not result.ok and "Task timed out" in result.log_text
    assert sink.peaks()[-1] >= 60
