"""The runtime publishes one record per finished invocation: what metrics and the meter read."""
from __future__ import annotations

from inventory_cli.local.invocation_records import InvocationRecord, InvocationRecords


def _record(**kw) -> InvocationRecord:
    base = dict(function_name="f", function_arn="arn:aws:lambda:us-east-1:1:function:f",
                memory_mb=128, duration_ms=100.2, ok=True, throttled=False, finished_at=1.0)
    base.update(kw)
    return InvocationRecord(**base)


def test_billed_duration_rounds_up_to_the_millisecond() -> None:
    assert _record(duration_ms=100.2).billed_ms == 101
    assert _record(duration_ms=0.0).billed_ms == 1
    assert _record(throttled=True).billed_ms == 0


def test_gb_seconds_of_128_mb_for_101_ms() -> None:
    assert abs(_record(duration_ms=100.2).gb_seconds - 0.125 * 0.101) < 1e-12


def test_a_failing_listener_does_not_stop_the_others() -> None:
    records = InvocationRecords()
    seen: list[InvocationRecord] = []

    def broken(_: InvocationRecord) -> None:
        raise RuntimeError("boom")

    records.add(broken)
    records.add(seen.append)
    records.publish(_record())
    assert [r.function_name for r in seen] == ["f"]
