"""The announcer (lambda_src/announce_failures.py) on the provisioned stack: what the operators
receive, once, and never more than one message per interval.

The handler runs in-process with the stack's real resources (buckets, announcement table,
operators' topic) and the environment `provision` gave the deployed function. The operators'
topic and the staff's alerts topic each have an SQS queue subscribed, so every message either
receives is counted. The end-to-end runs on the emulator are in tests/e2e/test_e2e_ops.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from ops_doubles import canned, keep_load_failure, keep_stream_failure, write_report
from typer.testing import CliRunner

from inventory_cli.aws import Aws
from inventory_cli.cli.app import app
from inventory_cli.config import StackNames
from lambda_src import announce_failures as announcer
from lambda_src.kept_failures import KeptFailure, retry_line

ROWS = b"store,item,count\nBerlin,Echo Dot,3\n"
SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


@dataclass
class Inbox:
    """An SQS queue subscribed to a topic."""

    aws: Aws
    url: str
    seen: list[dict[str, Any]] = field(default_factory=list)

    def messages(self) -> list[dict[str, Any]]:
        sqs = self.aws.client("sqs")
        while True:
            got = sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                      WaitTimeSeconds=0).get("Messages", [])
            if not got:
                return self.seen
            for m in got:
                self.seen.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])


def inbox(aws: Aws, topic_arn: str, name: str) -> Inbox:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    aws.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs",
                                Endpoint=arn["Attributes"]["QueueArn"])
    return Inbox(aws, url)


@pytest.fixture
def ops(aws: Aws, stack: StackNames) -> Inbox:
    return inbox(aws, stack.ops_topic_arn, "ops")


@pytest.fixture
def staff(aws: Aws, stack: StackNames) -> Inbox:
    return inbox(aws, stack.topic_arn, "staff")


@dataclass
class Clock:
    """A clock the test moves; sleeping moves it too."""

    now: float = field(default_factory=time.time)
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def deployed_settings(aws: Aws, stack: StackNames) -> announcer.Settings:
    config = aws.client("lambda").get_function_configuration(
        FunctionName=stack.announce_function)
    return announcer.settings_from_env(config["Environment"]["Variables"])


@pytest.fixture
def run(aws: Aws, stack: StackNames, clock: Clock) -> Callable[..., dict[str, Any]]:
    settings = deployed_settings(aws, stack)

    def run_once(event: dict[str, Any], *, sns: Any = None, log: list[str] | None = None
                 ) -> dict[str, Any]:
        return announcer.handle_event(
            event, settings=settings, s3=aws.client("s3"), ddb=aws.client("dynamodb"),
            sns=sns or aws.client("sns"), clock=clock, sleep=clock.sleep,
            time_left_s=lambda: 85.0, log=(log if log is not None else []).append)

    return run_once


def failure_events(recorded: Any, stack: StackNames) -> list[dict[str, Any]]:
    """The S3 events the failures bucket sent the announcer (recorded, not run)."""
    return [json.loads(event) for name, event in recorded.events
            if name == stack.announce_function]


def upload(aws: Aws, names: StackNames, key: str) -> str:
    return str(aws.client("s3").put_object(Bucket=names.uploads_bucket, Key=key,
                                           Body=ROWS)["VersionId"])


def test_the_stack_runs_the_announcer_on_each_kept_record_and_every_minute(
        aws: Aws, stack: StackNames, lambda_invocations: Any) -> None:
    settings = deployed_settings(aws, stack)
    assert (settings.stack, settings.topic_arn, settings.grace.total_seconds(),
            settings.interval_s) == ("inventory", stack.ops_topic_arn, 600.0, 60.0)
    assert settings.logs[stack.load_function] == "load"
    events = aws.client("events")
    assert events.describe_rule(Name=stack.announce_rule)["ScheduleExpression"] == \
        "rate(1 minute)"
    [target] = events.list_targets_by_rule(Rule=stack.announce_rule)["Targets"]
    assert target["Arn"].endswith(f":function:{stack.announce_function}")
    upload(aws, stack, "berlin.csv")
    keep_load_failure(aws, stack, "berlin.csv", "load-1")
    [event] = failure_events(lambda_invocations, stack)
    assert event["Records"][0]["s3"]["bucket"]["name"] == stack.failures_bucket


def test_a_kept_load_failure_is_announced_once_with_the_retry_line_failures_prints(  # noqa: PLR0917
        aws: Aws, stack: StackNames, lambda_invocations: Any, run: Callable[..., Any],
        ops: Inbox, staff: Inbox, clock: Clock) -> None:
    version = upload(aws, stack, "north region/berlin.csv")
    keep_load_failure(aws, stack, "north region/berlin.csv", "load-1")
    [event] = failure_events(lambda_invocations, stack)
    assert run(event) == {"announced": 1}

    [message] = ops.messages()
    listed = json.loads(CliRunner().invoke(app, ["failures", "--output", "json"], obj=aws,
                                           env={"COLUMNS": "200"}).stdout)
    assert [f["retry"] for f in listed] == ["inventory --stack inventory retry load-1"]
    assert message["Subject"] == ("inventory inventory: the load of north region/berlin.csv "
                                  "failed for good")
    assert message["Message"] == (
        "Stack inventory: this needs an operator.\n"
        "\n"
        f"The load of north region/berlin.csv (version {version}) failed for good\n"
        "  why: ResourceNotFoundException: Requested resource not found\n"
        f"  when: 2024-05-14 09:24:52 UTC, function {stack.load_function}, after 3 "
        "attempt(s)\n"
        "  re-drive, once the cause is fixed: inventory --stack inventory retry load-1\n"
        "  log: inventory --stack inventory logs load\n"
        "\n"
        "`inventory --stack inventory failures` lists everything kept; `inventory --stack "
        "inventory retry --all` re-drives it all once the cause is fixed.\n")

    # Later runs, by event or by schedule, say nothing more about it.
    clock.now += 120
    assert run(event) == {"announced": 0}
    assert run(SCHEDULED) == {"announced": 0}
    assert ops.messages() == [message]
    assert staff.messages() == []  # never in the staff's alerts


def test_a_burst_is_one_digest_and_what_comes_within_the_minute_waits_for_the_schedule(  # noqa: PLR0917
        aws: Aws, stack: StackNames, lambda_invocations: Any, run: Callable[..., Any],
        ops: Inbox, clock: Clock) -> None:
    for n in range(3):
        upload(aws, stack, f"file-{n}.csv")
        keep_load_failure(aws, stack, f"file-{n}.csv", f"load-{n}")
    events = failure_events(lambda_invocations, stack)
    assert [run(e) for e in events] == [
        {"announced": 3}, {"announced": 0, "deferred": True}, {"announced": 0,
                                                               "deferred": True}]
    [digest] = ops.messages()
    assert digest["Subject"] == "inventory inventory: 3 failures to look at"
    assert digest["Message"].startswith("Stack inventory: 3 things need an operator.\n")
    for n in range(3):
        assert f"re-drive, once the cause is fixed: inventory --stack inventory retry load-{n}\n" \
            in digest["Message"]

    # Ten seconds later a fourth: its own event is deferred (a message went out 10 s ago) ...
    clock.now += 10
    upload(aws, stack, "file-3.csv")
    keep_load_failure(aws, stack, "file-3.csv", "load-3")
    log: list[str] = []
    assert run(failure_events(lambda_invocations, stack)[-1], log=log) == {
        "announced": 0, "deferred": True}
    assert json.loads(log[0])["event"] == "announce_deferred"
    # ... and the next scheduled run waits out the minute, then sends it.
    clock.now += 20
    assert run(SCHEDULED) == {"announced": 1}
    assert clock.slept == [pytest.approx(30.0, abs=0.01)]
    assert len(ops.messages()) == 2
    assert "retry load-3\n" in ops.messages()[1]["Message"]


def test_a_stream_batch_names_its_stores_and_items_and_the_checkers_log(
        aws: Aws, stack: StackNames, run: Callable[..., Any], ops: Inbox) -> None:
    keep_stream_failure(aws, stack, canned("ddb_stream.json")["Records"][:2], "batch-1")
    assert run(SCHEDULED) == {"announced": 1}
    [message] = ops.messages()
    text = message["Message"]
    assert "An alert batch failed for good: Berlin: Echo Plus, Berlin: Echo Dot\n" in text
    assert "  re-drive, once the cause is fixed: inventory --stack inventory retry batch-1\n" \
        in text
    assert "  log: inventory --stack inventory logs check\n" in text


def test_a_file_never_loaded_is_announced_once_after_the_grace(
        aws: Aws, stack: StackNames, run: Callable[..., Any], ops: Inbox,
        clock: Clock) -> None:
    upload(aws, stack, "never.csv")
    upload(aws, stack, "loaded.csv")
    write_report(aws, stack, "loaded.csv", {"source": {"version_id": aws.client("s3").head_object(
        Bucket=stack.uploads_bucket, Key="loaded.csv")["VersionId"]}})
    upload(aws, stack, "failed.csv")
    keep_load_failure(aws, stack, "failed.csv", "load-f")
    assert run(SCHEDULED) == {"announced": 1}  # the kept failure; never.csv is in its grace
    assert "never.csv" not in ops.messages()[0]["Message"]

    clock.now += 11 * 60
    assert run(SCHEDULED) == {"announced": 1}
    message = ops.messages()[1]
    assert message["Subject"] == "inventory inventory: never.csv was stored but never loaded"
    assert ("  re-drive, once the cause is fixed: inventory --stack inventory retry "
            "unloaded:never.csv\n") in message["Message"]
    assert "failed.csv" not in message["Message"]  # its kept failure said it already
    assert "loaded.csv" not in message["Message"]
    clock.now += 5 * 60
    assert run(SCHEDULED) == {"announced": 0}
    assert len(ops.messages()) == 2
    # A new upload of the same key that is never loaded either is a new thing to say.
    upload(aws, stack, "never.csv")
    clock.now += 11 * 60
    assert run(SCHEDULED) == {"announced": 1}


def test_a_failed_publish_is_sent_by_the_next_run(
        aws: Aws, stack: StackNames, run: Callable[..., Any], ops: Inbox,
        clock: Clock) -> None:
    upload(aws, stack, "berlin.csv")
    keep_load_failure(aws, stack, "berlin.csv", "load-1")

    class Refusing:
        def publish(self, **_: Any) -> Any:
            raise RuntimeError("SNS is down")

    with pytest.raises(RuntimeError, match="SNS is down"):
        run(SCHEDULED, sns=Refusing())
    assert ops.messages() == []
    clock.now += 61
    assert run(SCHEDULED) == {"announced": 1}
    assert "retry load-1" in ops.messages()[0]["Message"]


def failure(n: int) -> KeptFailure:
    return KeptFailure(id=f"id-{n}", kind="async", when=None, function="shop-load-inventory",
                       error="boom", object_key=f"k/{n}")


def test_a_digest_lists_twenty_in_full_and_counts_the_rest() -> None:
    settings = announcer.Settings(
        stack="shop", topic_arn="arn", failures_bucket="fb", uploads_bucket="ub",
        load_function="shop-load-inventory", table="t", grace=announcer.DEFAULT_GRACE,
        interval_s=60, logs={"shop-load-inventory": "load"})
    message = announcer.compose(settings, [failure(n) for n in range(25)])
    assert message.text.count("  re-drive, once the cause is fixed:") == 20
    assert "\n... and 5 more.\n" in message.text
    assert message.sms == "inventory shop: 25 failures to look at. inventory --stack shop failures"
    assert len(announcer.compose(settings, [failure(1)]).subject) < 100


def test_the_retry_line_is_quoted_for_a_shell() -> None:
    assert retry_line("shop", ["unloaded:north region/it's.csv"]) == (
        "inventory --stack shop retry 'unloaded:north region/it'\"'\"'s.csv'")
    assert retry_line("shop", ["a", "b"]) == "inventory --stack shop retry a b"


def test_a_summaries_batch_and_an_unreadable_record_say_what_they_are(
        aws: Aws, stack: StackNames, run: Callable[..., Any], ops: Inbox) -> None:
    settings = deployed_settings(aws, stack)
    batch = KeptFailure(id="b-1", kind="stream", when=None, function=stack.summarize_function,
                        error="boom", items=(("Berlin", "Echo Dot"),), object_key="k/b-1")
    assert announcer.describe(batch, settings)[0] == \
        "A summaries batch failed for good: Berlin: Echo Dot"
    assert f"  log: inventory --stack {stack.stack} logs summaries" in \
        announcer.describe(batch, settings)

    aws.client("s3").put_object(Bucket=stack.failures_bucket,
                                Key="aws/lambda/async/x/2024/05/14/garbage", Body=b"{not json")
    assert run(SCHEDULED) == {"announced": 1}
    text = ops.messages()[0]["Message"]
    assert ("A record in the failures bucket cannot be read "
            "(aws/lambda/async/x/2024/05/14/garbage)\n") in text
    assert (f"  inspect s3://{stack.failures_bucket}/aws/lambda/async/x/2024/05/14/garbage and "
            "delete it by hand (no retry can re-drive it)\n") in text
    assert "re-drive, once" not in text


def test_a_record_retried_away_between_listing_and_reading_is_not_announced(
        aws: Aws, stack: StackNames, run: Callable[..., Any], ops: Inbox,
        monkeypatch: pytest.MonkeyPatch) -> None:
    upload(aws, stack, "berlin.csv")
    key = keep_load_failure(aws, stack, "berlin.csv", "load-1")
    listing = announcer.KeptRecords.listing

    def listed_then_retried(self: Any) -> list[dict[str, Any]]:
        found = listing(self)
        aws.client("s3").delete_object(Bucket=stack.failures_bucket, Key=key)
        return found

    monkeypatch.setattr(announcer.KeptRecords, "listing", listed_then_retried)
    assert run(SCHEDULED) == {"announced": 0}
    assert ops.messages() == []


def test_a_long_load_still_handing_over_is_not_called_never_loaded(
        aws: Aws, stack: StackNames, ops: Inbox, clock: Clock) -> None:
    from dataclasses import replace

    from lambda_src.load_checkpoint import checkpoint_key

    # S3's times are the real clock's (whole seconds): a grace of 2 s, and a checkpoint written
    # 2.5 s after the upload, as a load handing over would.
    settings = replace(deployed_settings(aws, stack), grace=timedelta(seconds=2))
    version = upload(aws, stack, "long.csv")
    time.sleep(2.5)
    aws.client("s3").put_object(Bucket=stack.uploads_bucket,
                                Key=checkpoint_key("long.csv", version, 3), Body=b"state")

    def run() -> dict[str, Any]:
        return announcer.handle_event(SCHEDULED, settings=settings, s3=aws.client("s3"),
                                      ddb=aws.client("dynamodb"), sns=aws.client("sns"),
                                      clock=clock, sleep=clock.sleep, log=[].append)

    clock.now = time.time()
    assert run() == {"announced": 0}  # stored past the grace, but a hand-over just now
    clock.now += 10  # no hand-over for longer than the grace: stuck, so announced
    assert run() == {"announced": 1}
    assert "long.csv" in ops.messages()[0]["Subject"]
