"""check_stock with the alert log: every alert is published exactly once.

Each state transition of an alert's record (claimed -> sent, claimed -> failed -> claimed again,
an expired claim taken over), and the ways one stream record reaches the function more than
once: Lambda's retry after a failed publish, a crash between claiming and publishing, two
invocations with the same batch at the same time, a replay of records already handled.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from lambda_helpers import Logs, canned_event

from inventory_cli.local import moto_seam
from lambda_src.alert_log import RETENTION_S, AlertKey, AlertLog, Claim
from lambda_src.check_stock import CLAIM_WAIT_MARGIN_S, handle_event

ALERT_TABLE = "inventory-alert-log"
NOW = 1_800_000_000.0


def create_alert_table(dynamodb: Any, name: str = ALERT_TABLE) -> str:
    dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "Store", "KeyType": "HASH"},
                   {"AttributeName": "EventId", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "Store", "AttributeType": "S"},
                              {"AttributeName": "EventId", "AttributeType": "S"}])
    dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "ExpiresAt"})
    return name


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Outbox:
    """An SNS client that records what was published, and fails when told to."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.fail_next: dict[str, BaseException] = {}
        self._lock = threading.Lock()

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        store = kwargs["MessageAttributes"]["store"]["StringValue"]
        with self._lock:
            failure = self.fail_next.pop(store, None)
            if failure is not None:
                raise failure
            self.messages.append({"store": store, "Message": kwargs["Message"]})
            return {"MessageId": f"message-{len(self.messages)}"}

    def lines(self) -> Counter[str]:
        return Counter(line for m in self.messages for line in m["Message"].splitlines())


def publish_error() -> ClientError:
    return ClientError({"Error": {"Code": "InternalError", "Message": "try again"}}, "Publish")


def change(store: str, item: str, sequence: int, *, old: int = 5, new: int = 0) -> dict[str, Any]:
    image = {"Store": {"S": store}, "Item": {"S": item}}
    return {"eventID": f"event-{sequence}", "eventName": "MODIFY", "eventSource": "aws:dynamodb",
            "dynamodb": {"Keys": image, "SequenceNumber": str(sequence),
                         "OldImage": {**image, "Count": {"N": str(old)}},
                         "NewImage": {**image, "Count": {"N": str(new)}}}}


STORES = ["Berlin", "Karachi", "Pusan", "Springfield"]


def several_stores() -> list[dict[str, Any]]:
    """Two alerts per store, stores interleaved, so a retry from any record replays others."""
    records = []
    for n, store in enumerate(STORES * 2):
        records.append(change(store, f"Item {n // len(STORES)}", 100 + n))
    return records


def retry_from(records: list[dict[str, Any]], result: dict[str, Any]) -> list[dict[str, Any]]:
    """What Lambda redelivers: everything from the lowest failed sequence number on."""
    failed = [int(f["itemIdentifier"]) for f in result["batchItemFailures"]]
    if not failed:
        return []
    return [r for r in records if int(r["dynamodb"]["SequenceNumber"]) >= min(failed)]


def log_items(dynamodb: Any) -> dict[tuple[str, str], dict[str, Any]]:
    items = dynamodb.scan(TableName=ALERT_TABLE, ConsistentRead=True)["Items"]
    return {(i["Store"]["S"], i["EventId"]["S"]): {k: next(iter(v.values())) for k, v in i.items()}
            for i in items}


@pytest.fixture
def alert_log(dynamodb: Any) -> AlertLog:
    create_alert_table(dynamodb)
    return AlertLog(dynamodb, ALERT_TABLE, clock=Clock())


def run(event_records: list[dict[str, Any]], outbox: Outbox, alert_log: AlertLog,
        logs: Logs | None = None, *, claim_until: float = NOW + 30) -> dict[str, Any]:
    return handle_event({"Records": event_records}, sns=outbox, topic_arn="arn:topic",
                        threshold=0, alert_log=alert_log, claim_until=claim_until,
                        log=logs if logs is not None else Logs())


def test_a_sent_alert_is_recorded_with_its_message(dynamodb: Any, alert_log: AlertLog) -> None:
    outbox, logs = Outbox(), Logs()
    result = run(canned_event("ddb_stream.json")["Records"], outbox, alert_log, logs)
    assert result == {"batchItemFailures": []}
    assert [m["store"] for m in outbox.messages] == ["Berlin", "Karachi"]
    records = log_items(dynamodb)
    berlin = records[("Berlin", "c4ca4238a0b923820dcc509a6f75849b")]
    assert berlin == {
        "Store": "Berlin", "EventId": "c4ca4238a0b923820dcc509a6f75849b", "Item": "Echo Plus",
        "Count": "0", "Threshold": "0", "State": "sent", "Attempts": "1",
        "FirstSeen": "2027-01-15T08:00:00Z", "SentAt": "2027-01-15T08:00:00Z",
        "MessageId": "message-1", "ExpiresAt": str(int(NOW) + RETENTION_S)}
    assert {key: r["MessageId"] for key, r in records.items()} == {
        ("Berlin", "c4ca4238a0b923820dcc509a6f75849b"): "message-1",
        ("Berlin", "c81e728d9d4c2f636f067f89cc14862c"): "message-1",
        ("Karachi", "1679091c5a880faf6fb5e6087eb1b2dc"): "message-2"}
    # The log line per alert stays, with the message id the alert log holds.
    assert [(e["store"], e["item"], e["message_id"]) for e in logs.events("alert_sent")] == [
        ("Berlin", "Echo Plus", "message-1"), ("Berlin", "Echo Dot", "message-1"),
        ("Karachi", "Echo Dot", "message-2")]


def test_replaying_records_already_handled_sends_nothing(dynamodb: Any,
                                                         alert_log: AlertLog) -> None:
    outbox = Outbox()
    records = canned_event("ddb_stream.json")["Records"]
    run(records, outbox, alert_log)
    before = log_items(dynamodb)
    logs = Logs()
    assert run(records, outbox, alert_log, logs, claim_until=NOW + 3600) == {
        "batchItemFailures": []}
    assert len(outbox.messages) == 2  # only the first run's
    assert log_items(dynamodb) == before
    assert [(e["store"], e["item"]) for e in logs.events("alert_skipped")] == [
        ("Berlin", "Echo Plus"), ("Berlin", "Echo Dot"), ("Karachi", "Echo Dot")]
    assert logs.events("alert_sent") == []


def test_a_publish_failing_once_for_one_store_ends_with_every_alert_sent_once(
        dynamodb: Any, alert_log: AlertLog) -> None:
    outbox = Outbox()
    outbox.fail_next["Karachi"] = publish_error()
    records = several_stores()
    first = run(records, outbox, alert_log)
    assert first == {"batchItemFailures": [{"itemIdentifier": "101"},
                                           {"itemIdentifier": "105"}]}
    karachi = log_items(dynamodb)[("Karachi", "event-101")]
    assert (karachi["State"], karachi["Attempts"]) == ("failed", "1")
    assert "InternalError" in karachi["Error"] and "ClaimExpires" not in karachi
    # Lambda retries from Karachi's first record: Pusan's, Springfield's and Berlin's second
    # alerts come again, and must not be published twice.
    second = run(retry_from(records, first), outbox, alert_log)
    assert second == {"batchItemFailures": []}
    assert sorted(m["store"] for m in outbox.messages) == sorted(STORES)
    assert set(outbox.lines().values()) == {1}
    assert len(outbox.lines()) == 8
    states = log_items(dynamodb)
    assert {r["State"] for r in states.values()} == {"sent"}
    assert states[("Karachi", "event-101")]["Attempts"] == "2"
    assert "Error" not in states[("Karachi", "event-101")]
    assert states[("Pusan", "event-102")]["Attempts"] == "1"


def test_an_alert_claimed_by_a_live_invocation_is_retried_not_sent(
        dynamodb: Any, alert_log: AlertLog) -> None:
    records = several_stores()[:4]
    outcome, _ = alert_log.claim(AlertKey("Pusan", "event-102"), item="Item 0", count=0,
                                 threshold=0, claim_until=NOW + 30)
    assert outcome is Claim.CLAIMED
    outbox, logs = Outbox(), Logs()
    result = run(records, outbox, alert_log, logs)
    assert result == {"batchItemFailures": [{"itemIdentifier": "102"}]}
    assert [m["store"] for m in outbox.messages] == ["Berlin", "Karachi", "Springfield"]
    assert [e["store"] for e in logs.events("alert_busy")] == ["Pusan"]
    assert log_items(dynamodb)[("Pusan", "event-102")]["State"] == "in_progress"


def test_a_crash_between_claim_and_publish_is_published_once_by_a_later_retry(
        dynamodb: Any) -> None:
    create_alert_table(dynamodb)
    clock = Clock()
    alert_log = AlertLog(dynamodb, ALERT_TABLE, clock=clock)
    records = several_stores()[:2]
    outbox = Outbox()
    # The runtime dies inside the publish call: nothing is released, nothing recorded as sent.
    outbox.fail_next["Berlin"] = SystemExit("the execution environment went away")
    with pytest.raises(SystemExit):
        run(records, outbox, alert_log, claim_until=NOW + 30)
    states = log_items(dynamodb)
    assert {k: (r["State"], r["ClaimExpires"]) for k, r in states.items()} == {
        ("Berlin", "event-100"): ("in_progress", str(int(NOW) + 30)),
        ("Karachi", "event-101"): ("in_progress", str(int(NOW) + 30))}
    # Lambda retries at once: the claims still count as that invocation's, so nothing is sent.
    clock.now = NOW + 2
    early = run(records, outbox, alert_log, claim_until=NOW + 32)
    assert early == {"batchItemFailures": [{"itemIdentifier": "100"},
                                           {"itemIdentifier": "101"}]}
    assert outbox.messages == []
    # Once the crashed invocation's time is up, the next retry takes the claims over.
    clock.now = NOW + 31
    late = run(records, outbox, alert_log, claim_until=NOW + 61)
    assert late == {"batchItemFailures": []}
    assert [m["store"] for m in outbox.messages] == ["Berlin", "Karachi"]
    states = log_items(dynamodb)
    assert {r["State"] for r in states.values()} == {"sent"}
    assert states[("Berlin", "event-100")]["Attempts"] == "2"
    assert "ClaimExpires" not in states[("Berlin", "event-100")]


def test_state_transitions_of_one_alert(dynamodb: Any) -> None:
    create_alert_table(dynamodb)
    clock = Clock()
    alert_log = AlertLog(dynamodb, ALERT_TABLE, clock=clock)
    key = AlertKey("Berlin", "e-1")

    def claim(until: float) -> tuple[Claim, int]:
        return alert_log.claim(key, item="Echo Dot", count=0, threshold=0, claim_until=until)

    def state() -> dict[str, Any]:
        return log_items(dynamodb)[("Berlin", "e-1")]

    outcome, mine = claim(NOW + 10)
    assert (outcome, state()["State"], state()["ClaimExpires"]) == (
        Claim.CLAIMED, "in_progress", str(int(NOW) + 10))
    assert claim(NOW + 10)[0] is Claim.BUSY  # live claim
    alert_log.release(key, claim_expires=mine, error="boom")
    assert (state()["State"], state()["Error"]) == ("failed", "boom")
    outcome, mine = claim(NOW + 20)  # a failed alert can be claimed again
    assert (outcome, state()["Attempts"]) == (Claim.CLAIMED, "2")
    clock.now = NOW + 21
    outcome, theirs = claim(NOW + 50)  # expired: taken over
    assert (outcome, state()["Attempts"]) == (Claim.CLAIMED, "3")
    # The first holder, late, cannot release a claim that is no longer its own.
    alert_log.release(key, claim_expires=mine, error="too late")
    assert (state()["State"], state()["ClaimExpires"]) == ("in_progress", str(int(NOW) + 50))
    alert_log.mark_sent(key, message_id="m-1")
    assert (state()["State"], state()["MessageId"]) == ("sent", "m-1")
    clock.now = NOW + 1000
    assert claim(NOW + 2000)[0] is Claim.ALREADY_SENT
    assert state()["FirstSeen"] == "2027-01-15T08:00:00Z"
    assert state()["ExpiresAt"] == str(int(NOW) + RETENTION_S)
    assert theirs == int(NOW) + 50


def test_the_same_batch_in_two_invocations_at_once_sends_each_alert_once(
        dynamodb: Any, session: boto3.session.Session) -> None:
    moto_seam.install()  # moto's conditional writes are only atomic with the seam's lock
    create_alert_table(dynamodb)
    rounds = 5  # several rounds, so that the two invocations really overlap in some of them
    # Each invocation its own client, as another execution environment would have.
    logs_of = [AlertLog(session.client("dynamodb"), ALERT_TABLE) for _ in range(2)]
    for round_ in range(rounds):
        records = [change(store, f"Item {round_}-{n}", 1000 * round_ + n)
                   for n, store in enumerate(STORES * 2)]
        outbox = Outbox()
        results: list[dict[str, Any]] = []
        start = threading.Barrier(2)

        def invocation(log: AlertLog, batch: list[dict[str, Any]] = records,
                       sink: Outbox = outbox, done: list[dict[str, Any]] = results,
                       barrier: threading.Barrier = start) -> None:
            barrier.wait()
            done.append(handle_event({"Records": batch}, sns=sink, topic_arn="arn:topic",
                                     threshold=0, alert_log=log, claim_until=time.time() + 30,
                                     log=Logs()))

        threads = [threading.Thread(target=invocation, args=(log,)) for log in logs_of]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(results) == 2
        # Each of the 8 alerts exactly once, however the two interleaved.
        assert sorted(outbox.lines().values()) == [1] * 8
        # What one lost to the other it reports; Lambda's retry of it then sends nothing.
        for result in results:
            again = retry_from(records, result)
            if again:
                retried = run(again, outbox, logs_of[0], claim_until=time.time() + 30)
                assert retried == {"batchItemFailures": []}
        assert sorted(outbox.lines().values()) == [1] * 8
    assert {r["State"] for r in log_items(dynamodb).values()} == {"sent"}
    assert len(log_items(dynamodb)) == rounds * 8


class LogFailingFor(AlertLog):
    """An alert log whose table cannot be written for one store (throttled, deleted, ...)."""

    def __init__(self, dynamodb: Any, store: str) -> None:
        super().__init__(dynamodb, ALERT_TABLE, clock=Clock())
        self._store = store

    def claim(self, key: AlertKey, **kwargs: Any) -> tuple[Claim, int]:
        if key.store == self._store:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException",
                                         "Message": "Requested resource not found"}},
                              "UpdateItem")
        return super().claim(key, **kwargs)


def test_an_alert_log_that_cannot_be_written_fails_the_invocation_and_releases_its_claims(
        dynamodb: Any) -> None:
    create_alert_table(dynamodb)
    outbox = Outbox()
    records = several_stores()[:2]  # Berlin, then Karachi
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        run(records, outbox, LogFailingFor(dynamodb, "Karachi"))
    assert outbox.messages == []
    berlin = log_items(dynamodb)[("Berlin", "event-100")]
    assert berlin["State"] == "failed" and "ResourceNotFoundException" in berlin["Error"]
    # Lambda's retry (the log writable again) sends both at once: nothing waits for a claim.
    assert run(records, outbox, AlertLog(dynamodb, ALERT_TABLE, clock=Clock())) == {
        "batchItemFailures": []}
    assert [m["store"] for m in outbox.messages] == ["Berlin", "Karachi"]


def test_an_error_between_claim_and_publish_gives_the_claims_back_at_once(
        dynamodb: Any, alert_log: AlertLog) -> None:
    records = several_stores()[:2]
    outbox = Outbox()
    # A fault of the function's own (not AWS's answer), raised between claiming and publishing.
    outbox.fail_next["Berlin"] = RuntimeError("a bug between claim and publish")
    with pytest.raises(RuntimeError, match="a bug"):
        run(records, outbox, alert_log)
    states = log_items(dynamodb)
    assert {k: r["State"] for k, r in states.items()} == {
        ("Berlin", "event-100"): "failed", ("Karachi", "event-101"): "failed"}
    assert "RuntimeError: a bug" in states[("Berlin", "event-100")]["Error"]
    # Lambda's immediate retry (same moment) sends each alert once, with nothing to wait for.
    assert run(records, outbox, alert_log) == {"batchItemFailures": []}
    assert sorted(outbox.lines().values()) == [1, 1]


@dataclass
class StreamRetries:
    """Lambda's stream mapping around the checker, on a simulated clock: the batch is invoked,
    and invoked again at once after a failure, at most `max_retries` times (the stack's
    MaximumRetryAttempts). Each invocation has `timeout_s`; waiting advances the clock."""

    alert_log: AlertLog
    clock: Clock
    outbox: Outbox
    timeout_s: float = 30.0
    max_retries: int = 5
    gap_s: float = 0.1  # between the end of one invocation and the start of the retry
    waits: bool = True  # False: the checker as it was, failing busy alerts at once
    invocations: int = 0
    sent_at: dict[str, float] = field(default_factory=dict)

    def sleep(self, seconds: float) -> None:
        self.clock.now += seconds

    def invoke(self, records: list[dict[str, Any]], *, killed: bool = False) -> dict[str, Any]:
        from lambda_src.check_stock import ClaimWait

        self.invocations += 1
        start = self.clock.now
        if killed:  # the execution environment dies inside the publish call
            self.outbox.fail_next["Berlin"] = SystemExit("killed")
        before = len(self.outbox.messages)
        result = handle_event(
            {"Records": records}, sns=self.outbox, topic_arn="arn:topic", threshold=0,
            alert_log=self.alert_log, claim_until=start + self.timeout_s + 1, log=Logs(),
            wait=ClaimWait(until=start + self.timeout_s - CLAIM_WAIT_MARGIN_S,
                           sleep=self.sleep, clock=self.clock) if self.waits else None)
        for message in self.outbox.messages[before:]:
            self.sent_at.setdefault(message["store"], self.clock.now)
        return result

    def run(self, records: list[dict[str, Any]], *, kill_first: bool) -> dict[str, Any]:
        try:
            result = self.invoke(records, killed=kill_first)
        except SystemExit:
            result = {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
                                            for r in records]}
        for _ in range(self.max_retries):
            if not result["batchItemFailures"]:
                return result
            self.clock.now += self.gap_s
            result = self.invoke(retry_from(records, result))
        return result


def test_a_checker_killed_between_claim_and_publish_costs_a_delay_and_no_operator_step(
        dynamodb: Any) -> None:
    create_alert_table(dynamodb)
    clock = Clock()
    mapping = StreamRetries(AlertLog(dynamodb, ALERT_TABLE, clock=clock), clock, Outbox())
    records = several_stores()[:2]  # Berlin, Karachi
    # Killed right after claiming, at the start of its 30 s: the longest its claims can outlive
    # it. Nothing is released; the retries wait for the claims instead of failing on them.
    final = mapping.run(records, kill_first=True)
    assert final == {"batchItemFailures": []}  # not kept: nothing for the operator to do
    assert sorted(mapping.outbox.lines().values()) == [1, 1]  # each alert exactly once
    assert {r["State"] for r in log_items(dynamodb).values()} == {"sent"}
    # What it cost (the numbers docs/faults.md gives): the first retry waits out its own
    # time, the second takes the expired claims over.
    assert mapping.invocations == 3  # the killed one and 2 of the 5 retries
    delay = mapping.sent_at["Berlin"] - NOW
    assert 31 < delay <= 34, delay
    # Without waiting, every one of the 5 retries finds the claims live and the batch is kept.
    create_alert_table(dynamodb, "no-wait")
    clock2 = Clock()
    impatient = StreamRetries(AlertLog(dynamodb, "no-wait", clock=clock2), clock2, Outbox(),
                              waits=False)
    assert impatient.run(records, kill_first=True)["batchItemFailures"] != []
    assert impatient.outbox.messages == []


def test_a_waiting_retry_skips_what_the_live_holder_sends(dynamodb: Any) -> None:
    from lambda_src.check_stock import ClaimWait

    create_alert_table(dynamodb)
    clock = Clock()
    alert_log = AlertLog(dynamodb, ALERT_TABLE, clock=clock)
    key = AlertKey("Pusan", "event-102")
    assert alert_log.claim(key, item="Item 0", count=0, threshold=0,
                           claim_until=NOW + 30)[0] is Claim.CLAIMED

    def sleep(seconds: float) -> None:
        clock.now += seconds
        if clock.now >= NOW + 3:  # the holder publishes 3 s in
            alert_log.mark_sent(key, message_id="theirs")

    outbox, logs = Outbox(), Logs()
    result = handle_event({"Records": several_stores()[2:3]}, sns=outbox, topic_arn="arn:topic",
                          threshold=0, alert_log=alert_log, claim_until=NOW + 31, log=logs,
                          wait=ClaimWait(until=NOW + 25, sleep=sleep, clock=clock))
    assert result == {"batchItemFailures": []}
    assert outbox.messages == []
    assert [(e["event"], e["waited_s"]) for e in logs.events() if "waited_s" in e] == [
        ("alert_skipped", 3.0)]
