"""Loads that span invocations: a ticking fake Lambda context runs the loader out of time every
couple of thousand rows, and the hand-overs are run one after another like Lambda would."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError
from lambda_helpers import TABLE, Logs, s3_event_for, table_items

from lambda_src import inventory_csv, load_report
from lambda_src.continuation import CONTINUATION_FIELD, TimeBudget
from lambda_src.load_checkpoint import CHECKPOINT_PREFIX
from lambda_src.load_inventory import handle_event

ARN = "arn:aws:lambda:us-east-1:123456789012:function:inventory-load-inventory"


class TickingContext:
    """Each look at the clock costs `step_ms`: the loader runs short after a fixed number of
    looks (one per 256 rows), so where it stops does not depend on the machine's speed."""

    invoked_function_arn = ARN

    def __init__(self, total_ms: int = 10_000, step_ms: int = 1_000) -> None:
        self._remaining = total_ms
        self._step = step_ms
        self._lock = threading.Lock()

    def get_remaining_time_in_millis(self) -> int:
        with self._lock:
            remaining = self._remaining
            self._remaining -= self._step
            return remaining


@dataclass
class Chain:
    """Runs an event and every continuation it hands over, as Lambda's async queue would."""

    s3: Any
    dynamodb: Any
    table: str = TABLE
    context: Callable[[], TickingContext] = TickingContext
    logs: Logs = field(default_factory=Logs)
    queued: list[dict[str, Any]] = field(default_factory=list)
    invocations: int = 0
    # One call at a time by default: moto runs in this process, where threads only contend.
    max_workers: int = 1
    # Called before each invocation with its number and event; may raise to fail it.
    before: Callable[[int, dict[str, Any]], None] = lambda number, event: None
    # Invocations (by number) run a second time after they succeeded: Lambda retrying an
    # invocation that timed out just after it had handed over.
    run_again: frozenset[int] = frozenset()

    def hand_over(self, event: Any) -> None:
        self.queued.append(json.loads(json.dumps(event)))  # what the invoke payload carries

    def run(self, event: dict[str, Any], *, retries: int = 2) -> None:
        self.queued.append(event)
        while self.queued:
            current = self.queued.pop(0)
            for attempt in range(retries + 1):
                self.invocations += 1
                try:
                    self.before(self.invocations, current)
                    handle_event(current, s3=self.s3, dynamodb=self.dynamodb, table=self.table,
                                 log=self.logs, sleep=lambda seconds: None,
                                 max_workers=self.max_workers, budget=TimeBudget.of(self.context()),
                                 hand_over=self.hand_over)
                    if self.invocations in self.run_again:
                        self.queued.insert(0, current)
                    break
                except Exception:
                    if attempt == retries:
                        raise

    def continued(self) -> list[dict[str, Any]]:
        return self.logs.events("load_continued")

    def reports(self) -> list[dict[str, Any]]:
        return self.logs.events("load_report")


def quick() -> TickingContext:
    """Runs short after 1,024 rows: several hand-overs in a small file."""
    return TickingContext(10_000, 2_000)


def big_file(rows: int = 20_000) -> tuple[bytes, dict[str, Any]]:
    """`rows` data rows in 20 stores, with duplicates far apart and a few rejected rows."""
    lines = ["store,item,count"]
    for n in range(rows):
        lines.append(f"Store{n % 20:02d},Item {n // 20:05d},{n % 97}")
    # lines[k] is line k + 1. An early key that comes back far later, across many hand-overs:
    # the chain 3 -> 12,001 -> 19,983 (where the key is anyway) -> 19,998.
    changes = {2: "Store01,Item 00999,5", 12_000: "Store01,Item 00999,6",
               19_997: "Store01,Item 00999,7",
               9: "Store08,Item 00003,1",       # line 10, the key of line 70
               100: "Store03,Item 00000,-4",    # rejected
               rows * 3 // 4: "Store03,Item 750,x"}  # rejected
    for index, line in changes.items():
        if index < len(lines):
            lines[index] = line
    body = ("\n".join(lines) + "\n").encode()
    check = inventory_csv.check_bytes(body)
    expected = {
        "items": {row.key: row.count for row in check.rows},
        "rejected": [{"line": r.line, "reason": r.reason} for r in check.rejected],
        "duplicates": [{"line": d.line, "store": d.store, "item": d.item,
                        "previous_line": d.previous_line} for d in check.duplicates],
        "rows_read": check.rows_read,
    }
    return body, expected


def _start(s3: Any, bucket: str, key: str, body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    put = s3.put_object(Bucket=bucket, Key=key, Body=body)
    return put, s3_event_for(bucket, key, version_id=put.get("VersionId"),
                             etag=put["ETag"].strip('"'))


def _report(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(
        s3.get_object(Bucket=bucket, Key=f"reports/{key}.json")["Body"].read())
    return report


def _checkpoints_left(s3: Any, bucket: str) -> list[str]:
    listed = s3.list_object_versions(Bucket=bucket, Prefix=CHECKPOINT_PREFIX)
    return [v["Key"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]


@pytest.mark.slow  # a scale test: 20,000 rows
def test_a_file_loads_across_many_invocations_with_one_report(
        s3: Any, dynamodb: Any, bucket: str, table: str) -> None:
    body, expected = big_file()
    put, event = _start(s3, bucket, "big.csv", body)
    chain = Chain(s3, dynamodb)
    chain.run(event)

    phases = [c["phase"] for c in chain.continued()]
    assert phases.count("scan") >= 5 and phases.count("write") >= 5  # really split both passes
    assert chain.invocations == len(phases) + 1
    assert table_items(dynamodb) == expected["items"]
    assert len(chain.reports()) == 1
    report = _report(s3, bucket, "big.csv")
    assert chain.reports()[0] == {"event": "load_report", **report}
    assert report["source"] == {"bucket": bucket, "key": "big.csv",
                                "version_id": put["VersionId"],
                                "etag": put["ETag"].strip('"')}
    assert (report["rows_read"], report["loaded"]) == (20_000, len(expected["items"]))
    # Rejected rows are counted once, though both passes met them in several invocations.
    assert report["rejected"] == expected["rejected"] and report["rejected_count"] == 2
    assert report["duplicates"] == expected["duplicates"]
    assert report["duplicate_count"] == len(expected["duplicates"])
    chain_of_lines = [(d["line"], d["previous_line"]) for d in report["duplicates"]
                      if d["item"] == "Item 00999" and d["store"] == "Store01"]
    assert chain_of_lines == [(12_001, 3), (19_983, 12_001), (19_998, 19_983)]
    assert table_items(dynamodb)[("Store01", "Item 00999")] == 7  # the last of the chain
    # The pairs above really lie in different invocations of the writing pass.
    write_stops = [c["line"] for c in chain.continued() if c["phase"] == "write"]
    assert any(12_001 <= line < 19_998 for line in write_stops)
    assert any(3 <= line < 12_001 for line in write_stops)
    assert _checkpoints_left(s3, bucket) == []


def test_the_report_equals_that_of_a_load_in_one_invocation(
        s3: Any, dynamodb: Any, bucket: str, table: str) -> None:
    body, _ = big_file(3_000)
    _, event = _start(s3, bucket, "one.csv", body)
    handle_event(event, s3=s3, dynamodb=dynamodb, table=table, log=Logs(),
                 sleep=lambda seconds: None)
    whole = _report(s3, bucket, "one.csv")
    _, event = _start(s3, bucket, "split.csv", body)
    chain = Chain(s3, dynamodb, context=quick)
    chain.run(event)
    assert len(chain.continued()) >= 4
    split = _report(s3, bucket, "split.csv")
    assert {k: v for k, v in split.items() if k != "source"} == {
        k: v for k, v in whole.items() if k != "source"}


def test_an_object_overwritten_between_invocations_still_loads_its_first_version(
        s3: Any, dynamodb: Any, bucket: str, table: str) -> None:
    body, expected = big_file(3_000)
    put, event = _start(s3, bucket, "v.csv", body)

    def overwrite_after_the_first(number: int, event: dict[str, Any]) -> None:
        if number == 2:
            s3.put_object(Bucket=bucket, Key="v.csv", Body=b"store,item,count\nNew,thing,1\n")

    chain = Chain(s3, dynamodb, context=quick, before=overwrite_after_the_first)
    chain.run(event)
    assert len(chain.continued()) >= 2
    assert table_items(dynamodb) == expected["items"]
    report = _report(s3, bucket, "v.csv")
    assert report["source"]["version_id"] == put["VersionId"]
    assert report["loaded"] == len(expected["items"])


def test_on_an_unversioned_bucket_an_overwritten_object_is_left_to_its_own_event(
        s3: Any, dynamodb: Any, table: str) -> None:
    s3.create_bucket(Bucket="plain")
    body, _ = big_file(3_000)
    _, event = _start(s3, "plain", "p.csv", body)

    def overwrite(number: int, event: dict[str, Any]) -> None:
        if number == 2:
            s3.put_object(Bucket="plain", Key="p.csv", Body=b"store,item,count\nNew,thing,1\n")

    chain = Chain(s3, dynamodb, context=quick, before=overwrite)
    chain.run(event)
    skipped = chain.logs.events("load_skipped")
    assert [s["reason"] for s in skipped] == ["s3://plain/p.csv changed while it was loading"]
    assert chain.reports() == []
    assert "Contents" not in s3.list_objects_v2(Bucket="plain", Prefix="reports/")


def test_a_continuation_that_fails_is_retried_and_the_file_loads_once(
        s3: Any, dynamodb: Any, bucket: str, table: str) -> None:
    body, expected = big_file(3_000)
    _, event = _start(s3, bucket, "retry.csv", body)
    failed: list[int] = []

    def fail_once_in_the_middle(number: int, event: dict[str, Any]) -> None:
        if CONTINUATION_FIELD in event and not failed and number > 3:
            failed.append(number)
            raise RuntimeError("the worker crashed")

    chain = Chain(s3, dynamodb, context=quick, before=fail_once_in_the_middle)
    chain.run(event)
    assert failed
    assert table_items(dynamodb) == expected["items"]
    assert len(chain.reports()) == 1
    report = _report(s3, bucket, "retry.csv")
    assert report["duplicates"] == expected["duplicates"]
    assert report["loaded"] == len(expected["items"])
    assert _checkpoints_left(s3, bucket) == []


class Throttling:
    """A DynamoDB client that answers like a table over its write capacity: every other call
    refused outright, and of the others only the first 5 items taken."""

    def __init__(self, dynamodb: Any) -> None:
        self._dynamodb = dynamodb
        self._calls = 0
        self._lock = threading.Lock()
        self.refused = 0
        self.unprocessed = 0

    def batch_write_item(self, RequestItems: dict[str, Any]) -> Any:  # noqa: N803
        with self._lock:
            self._calls += 1
            refuse = self._calls % 2 == 0
        if refuse:
            self.refused += 1
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                         "Message": "The level of configured provisioned "
                                                    "throughput for the table was exceeded."}},
                              "BatchWriteItem")
        ((table, requests),) = RequestItems.items()
        taken, left = requests[:5], requests[5:]
        self._dynamodb.batch_write_item(RequestItems={table: taken})
        self.unprocessed += len(left)
        return {"UnprocessedItems": {table: left} if left else {}}


def test_throttling_slows_a_load_down_and_never_fails_it(
        s3: Any, dynamodb: Any, bucket: str, table: str) -> None:
    body, expected = big_file(3_000)
    _, event = _start(s3, bucket, "t.csv", body)
    throttled = Throttling(dynamodb)
    chain = Chain(s3, throttled, context=quick, max_workers=4)
    chain.run(event, retries=0)  # no failed invocation at all
    assert throttled.refused > 100 and throttled.unprocessed > 1000
    assert table_items(dynamodb) == expected["items"]
    report = _report(s3, bucket, "t.csv")
    assert report["loaded"] == len(expected["items"])
    assert report["duplicates"] == expected["duplicates"]
    assert _checkpoints_left(s3, bucket) == []


def test_items_still_refused_when_time_runs_short_travel_in_the_checkpoint(
        s3: Any, dynamodb: Any, bucket: str, table: str) -> None:
    body = b"store,item,count\n" + b"".join(f"S,i{n},{n}\n".encode() for n in range(60))

    class RefusingAtFirst:
        """Refuses everything until the loader has handed over once."""

        def __init__(self) -> None:
            self.open = False

        def batch_write_item(self, RequestItems: dict[str, Any]) -> Any:  # noqa: N803
            if not self.open:
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}},
                                  "BatchWriteItem")
            return dynamodb.batch_write_item(RequestItems=RequestItems)

    refusing = RefusingAtFirst()
    _, event = _start(s3, bucket, "r.csv", body)
    chain = Chain(s3, refusing, before=lambda number, event: setattr(
        refusing, "open", number > 1))
    chain.run(event, retries=0)
    assert [c["phase"] for c in chain.continued()] == ["write"]
    assert table_items(dynamodb) == {("S", f"i{n}"): n for n in range(60)}
    assert _report(s3, bucket, "r.csv")["loaded"] == 60


def test_a_load_without_a_context_never_hands_over(s3: Any, dynamodb: Any, bucket: str,
                                                   table: str) -> None:
    body, expected = big_file(3_000)
    _, event = _start(s3, bucket, "n.csv", body)
    logs = Logs()
    handle_event(event, s3=s3, dynamodb=dynamodb, table=table, log=logs,
                 sleep=lambda seconds: None)
    assert logs.events("load_continued") == []
    assert table_items(dynamodb) == expected["items"]
    assert _checkpoints_left(s3, bucket) == []


def test_the_checkpoint_never_starts_a_load(s3: Any, dynamodb: Any, bucket: str,
                                            table: str) -> None:
    from inventory_cli.stack.resources import NOTIFIED_SUFFIXES
    from lambda_src.load_checkpoint import checkpoint_key

    key = checkpoint_key("stores/x/Berlin.CSV", "3HL4kqtJ", 3)
    assert key.startswith("reports/.loading/")
    assert not key.endswith(NOTIFIED_SUFFIXES)
    assert not inventory_csv.is_inventory_key(key)


def test_remaining_records_of_the_event_follow_the_continuation(
        s3: Any, dynamodb: Any, bucket: str, table: str) -> None:
    body, expected = big_file(3_000)
    _, first = _start(s3, bucket, "a.csv", body)
    _, second = _start(s3, bucket, "b.csv", b"store,item,count\nZ,z,1\n")
    chain = Chain(s3, dynamodb, context=quick)
    chain.run({"Records": first["Records"] + second["Records"]})
    assert [r["source"]["key"] for r in chain.reports()] == ["a.csv", "b.csv"]
    assert table_items(dynamodb) == {**expected["items"], ("Z", "z"): 1}


@pytest.mark.parametrize("total_ms,margin_ms", [(3_000, 1_000), (5_000, 1_500),
                                                (30_000, 9_000), (60_000, 10_000),
                                                (1_500, 750)])
def test_the_margin_kept_back_grows_with_the_timeout(total_ms: int, margin_ms: int) -> None:
    budget = TimeBudget.of(TickingContext(total_ms, 0))
    assert budget is not None and budget.margin_ms == margin_ms


def test_report_lists_stay_capped_across_invocations(
        s3: Any, dynamodb: Any, bucket: str, table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load_report, "MAX_LISTED", 3)
    rows = [f"S,i{n % 1000},{n}" for n in range(5000)] + ["S,bad,-1"] * 10
    body = ("store,item,count\n" + "\n".join(rows) + "\n").encode()
    _, event = _start(s3, bucket, "cap.csv", body)
    chain = Chain(s3, dynamodb)
    chain.run(event)
    report = _report(s3, bucket, "cap.csv")
    assert (len(report["duplicates"]), report["duplicate_count"]) == (3, 4000)
    assert (len(report["rejected"]), report["rejected_count"]) == (3, 10)
    assert report["duplicates"][0] == {"line": 1002, "store": "S", "item": "i0",
                                       "previous_line": 2}
    assert table_items(dynamodb) == {("S", f"i{k}"): 4000 + k for k in range(1000)}


def test_an_invocation_retried_after_it_handed_over_starts_no_second_chain(
        s3: Any, dynamodb: Any, bucket: str, table: str) -> None:
    body, expected = big_file(3_000)
    _, event = _start(s3, bucket, "again.csv", body)
    chain = Chain(s3, dynamodb, context=quick, run_again=frozenset({2}))
    chain.run(event)
    # Each retry finds the next step taken and hands over once more, adopted (it cannot know
    # its first run did); the doubled runs meet at a later step and one of them stops.
    taken = chain.logs.events("load_step_taken")
    assert taken[0]["adopted"] is False and taken[0]["checkpoint"].endswith(".2.checkpoint")
    assert len(taken) <= 3
    assert table_items(dynamodb) == expected["items"]
    reports = chain.reports()
    assert reports and all(r == reports[0] for r in reports)
    assert _report(s3, bucket, "again.csv")["duplicates"] == expected["duplicates"]
    assert _checkpoints_left(s3, bucket) == []
    assert chain.invocations < 3 * (len(chain.continued()) + 1)


def test_a_continuation_of_a_finished_load_does_nothing(
        s3: Any, dynamodb: Any, bucket: str, table: str) -> None:
    body, _ = big_file(3_000)
    _, event = _start(s3, bucket, "done.csv", body)
    chain = Chain(s3, dynamodb, context=quick)
    chain.run(event)
    first_continuation = chain.continued()[0]
    assert first_continuation["continuation"] == 1
    late = Chain(s3, dynamodb, context=quick)
    late.run({CONTINUATION_FIELD: {
        "bucket": bucket, "key": "done.csv",
        "checkpoint_key": f"{CHECKPOINT_PREFIX}done.csv.x.1.checkpoint",
        "checkpoint_version": None}, "Records": []}, retries=0)
    assert [e["event"] for e in late.logs.events()] == ["load_continuation_done"]


def test_each_hand_over_names_its_file_and_counts_the_chain(
        s3: Any, dynamodb: Any, bucket: str, table: str) -> None:
    body, _ = big_file(3_000)
    put, event = _start(s3, bucket, "north region/Berlin.csv", body)
    seen: list[dict[str, Any]] = []
    chain = Chain(s3, dynamodb, context=quick,
                  before=lambda number, current: seen.append(current))
    chain.run(event)
    pointers = [e[CONTINUATION_FIELD] for e in seen if CONTINUATION_FIELD in e]
    assert len(pointers) >= 3
    assert [p["hops"] for p in pointers] == list(range(1, len(pointers) + 1))
    assert {(p["key"], p["version_id"], p["etag"]) for p in pointers} == {
        ("north region/Berlin.csv", put["VersionId"], put["ETag"].strip('"'))}


def test_a_chain_that_cannot_finish_fails_visibly_and_goes_on_when_retried(
        s3: Any, dynamodb: Any, bucket: str, table: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from lambda_src import load_inventory
    from lambda_src.continuation import LoadCannotFinish

    body, expected = big_file(3_000)
    _, event = _start(s3, bucket, "long.csv", body)
    monkeypatch.setattr(load_inventory, "MAX_HAND_OVERS", 2)
    seen: list[dict[str, Any]] = []
    chain = Chain(s3, dynamodb, context=quick,
                  before=lambda number, current: seen.append(current))
    with pytest.raises(LoadCannotFinish, match=r"the load of s3://.*/long\.csv did not finish "
                                               r"in 2 hand-overs \(stopped in the \w+ pass at "
                                               r"line \d+, \d+ items written so far\)"):
        chain.run(event)
    # Lambda's own retries (2) fail the same way: what it keeps is the continuation event.
    kept = seen[-1]
    assert [e is kept for e in seen[-3:]] == [True, True, True]
    assert kept[CONTINUATION_FIELD]["key"] == "long.csv" and kept[CONTINUATION_FIELD]["hops"] == 3
    failed = chain.logs.events("load_failed")
    assert [f["key"] for f in failed] == ["long.csv"] * 3
    assert failed[0]["error"].startswith("LoadCannotFinish: the load of s3://")
    assert chain.reports() == [] and table_items(dynamodb) != expected["items"]

    # `inventory retry` re-drives the kept event with a new allowance: the load goes on from
    # its checkpoint and finishes with one report and every row.
    monkeypatch.setattr(load_inventory, "MAX_HAND_OVERS", 200)
    again = Chain(s3, dynamodb, context=quick)
    again.run({**kept, CONTINUATION_FIELD: {**kept[CONTINUATION_FIELD], "hops": 0}}, retries=0)
    assert len(again.reports()) == 1 and again.reports()[0]["loaded"] == len(expected["items"])
    assert table_items(dynamodb) == expected["items"]
    assert _checkpoints_left(s3, bucket) == []
